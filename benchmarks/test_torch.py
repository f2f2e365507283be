"""PyTorch adapters: predict_pool's overhead over the model's own forward passes, and its peak
memory at two pool sizes. `make bench`; figures in docs/benchmarks.md.

Overhead is counted in CPU seconds of the process with one intra-op thread: on a shared 2-core
machine the wall clock of a multi-threaded pass measures the neighbours' load more than the
adapter. Two figures per case:

* in-pass: the model is wrapped so that the CPU time inside its forward calls is counted during
  the adapted pass itself; overhead = (pass - inside the model) / inside the model. Both halves
  are measured batch by batch in the same pass, so load from elsewhere affects them alike.
* against bare: the whole adapted pass against a plain ``for batch in pool: model(batch)`` loop
  under ``torch.inference_mode``, alternating round by round, minimum over the rounds.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402
from torch_models import CLASSES, FEATURE_MODULE, MODELS, SIZE, model  # noqa: E402

from alsel.torch import predict_pool  # noqa: E402

N_IMAGES = 1000
BATCH = 32
ROUNDS = 5
VARIANTS = ("pooled logits", "hooked features", "progress bar")


class CPUTimed(nn.Module):
    """The model, with the process CPU seconds spent inside its forward calls added up."""

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner
        self.seconds = 0.0

    def forward(self, x):
        started = time.process_time()
        out = self.inner(x)
        self.seconds += time.process_time() - started
        return out


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def pool():
    x = torch.randn(N_IMAGES, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(0))
    return [x[i : i + BATCH] for i in range(0, N_IMAGES, BATCH)]


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("model_name", list(MODELS))
def test_adapter_overhead(benchmark, pool, model_name, variant):
    network = model(model_name)
    timed = CPUTimed(network)
    options = {"num_classes": CLASSES, "progress": variant == "progress bar"}
    if variant == "hooked features":
        options["features"] = "inner." + FEATURE_MODULE[model_name]

    def bare():
        with torch.inference_mode():
            for batch in pool:
                network(batch)

    bare_cpu, adapter_cpu, in_pass = [], [], []

    def one_round():
        started = time.process_time()
        bare()
        bare_cpu.append(time.process_time() - started)
        timed.seconds = 0.0
        started = time.process_time()
        predict_pool(timed, pool, **options)
        adapter_cpu.append(time.process_time() - started)
        in_pass.append(adapter_cpu[-1] / timed.seconds - 1)

    benchmark.group = (
        f"torch adapter overhead: {N_IMAGES} images {SIZE}x{SIZE}, C={CLASSES}, "
        f"batch {BATCH}, 1 thread"
    )
    benchmark.pedantic(one_round, rounds=ROUNDS, warmup_rounds=1)
    del bare_cpu[0], adapter_cpu[0], in_pass[0]  # the warm-up round
    benchmark.extra_info.update(
        overhead_in_pass_pct=100 * statistics.median(in_pass),
        overhead_vs_bare_pct=100 * (min(adapter_cpu) / min(bare_cpu) - 1),
        bare_cpu_s=min(bare_cpu),
        adapter_cpu_s=min(adapter_cpu),
    )


@pytest.mark.parametrize("n_images", [1000, 4000])
def test_peak_memory(benchmark, n_images):
    script = Path(__file__).with_name("torch_memory.py")

    def run():
        out = subprocess.run(
            [sys.executable, str(script), str(n_images)], check=True, capture_output=True, text=True
        )
        return json.loads(out.stdout)

    benchmark.group = "torch adapter peak memory (tiny U-Net, 64x64, batch 32, fresh process)"
    result = benchmark.pedantic(run, rounds=1)
    result["pass_growth_mib"] = (
        result["peak_rss_after_pass_mib"] - result["peak_rss_after_warmup_mib"]
    )
    benchmark.extra_info.update(result)
