"""Peak resident memory of predict_pool over a generated pool of N images (run in a fresh process).

    python benchmarks/torch_memory.py N [model]

Prints JSON: the peak RSS after a warm-up pass over 160 images (imports, weights, a few batches'
activations and the allocator's steady state) and after the pass over N images, in MiB, and
what keeping the pool's logits would have needed.
"""

from __future__ import annotations

import json
import resource
import sys
import time

import torch
from torch_models import CLASSES, SIZE, generated_batches, model

from alsel.torch import predict_pool


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def main(n_images: int, model_name: str = "tiny U-Net") -> None:
    torch.set_num_threads(1)
    network = model(model_name)
    predict_pool(network, generated_batches(160), num_classes=CLASSES, progress=False)
    warm = peak_rss_mib()
    started = time.perf_counter()
    prediction = predict_pool(
        network, generated_batches(n_images), num_classes=CLASSES, progress=False
    )
    print(
        json.dumps(
            {
                "n_images": n_images,
                "peak_rss_after_warmup_mib": warm,
                "peak_rss_after_pass_mib": peak_rss_mib(),
                "pass_seconds": time.perf_counter() - started,
                "outputs_mib": (prediction.p.nbytes + prediction.features.nbytes) / 2**20,
                "pool_logits_would_need_mib": n_images * CLASSES * SIZE * SIZE * 4 / 2**20,
            }
        )
    )


if __name__ == "__main__":
    main(int(sys.argv[1]), *sys.argv[2:])
