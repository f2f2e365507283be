"""Run under ``torchrun --nproc-per-node 2`` by tests/test_torch_distributed.py (gloo, CPU).

Each process runs every scenario of ``scenarios()`` and writes what it got to
``OUT/rank{r}.npz`` (arrays) and ``OUT/rank{r}.json`` (errors, Nones); the test compares them
with one process's results, computed in the test itself from the same ``model()`` and pools.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import scipy.sparse as sp
import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from alsel.torch import knn_redundancy, pool_scores, predict_pool

N_IMAGES, C, SIZE = 23, 4, 12
LIST_BATCHES = (4, 4, 4, 4, 4, 3)  # 23 images in 6 batches: 3 to one process, 3 to the other


class Segmenter(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.backbone = nn.Sequential(nn.Conv2d(3, 6, 3, padding=1), nn.ReLU())
        self.classifier = nn.Conv2d(6, C, 1)
        self.fail = False
        self.images_seen = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.images_seen += len(x)
        if self.fail:
            raise RuntimeError("this process's model fails")
        return self.classifier(self.backbone(x))


def model() -> Segmenter:
    return Segmenter()


def images() -> torch.Tensor:
    return torch.randn(N_IMAGES, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(7))


def list_pool() -> list[torch.Tensor]:
    bounds = np.cumsum((0, *LIST_BATCHES))
    x = images()
    return [x[a:b] for a, b in zip(bounds[:-1], bounds[1:])]


class Pool(Dataset):
    def __len__(self) -> int:
        return N_IMAGES

    def __getitem__(self, index: int) -> torch.Tensor:
        return images()[index]


def sharded_loader(shuffle: bool) -> DataLoader:
    return DataLoader(Pool(), batch_size=5, sampler=DistributedSampler(Pool(), shuffle=shuffle))


def main(out: Path) -> None:
    dist.init_process_group("gloo")
    rank = dist.get_rank()
    arrays: dict[str, np.ndarray] = {}
    notes: dict[str, object] = {}

    def keep(name: str, prediction) -> None:
        notes[f"{name}.none"] = prediction is None
        if prediction is not None:
            arrays[f"{name}.p"], arrays[f"{name}.features"] = prediction.p, prediction.features

    def keep_scores(name: str, result) -> None:
        notes[f"{name}.none"] = result is None
        if result is not None:
            G, R = result
            arrays[f"{name}.G"] = G
            arrays[f"{name}.R"] = R.toarray() if sp.issparse(R) else R

    def error(name: str, call) -> None:
        try:
            call()
        except Exception as exc:  # noqa: BLE001 - the test reads the type and message
            notes[f"{name}.error"] = [type(exc).__name__, str(exc)]
        else:
            notes[f"{name}.error"] = None

    net = model()
    keep("list", predict_pool(net, list_pool(), features="backbone", progress=False))
    notes["list.images_seen"] = net.images_seen
    net.images_seen = 0
    keep("sampler", predict_pool(net, sharded_loader(False), features="backbone", progress=False))
    notes["sampler.images_seen"] = net.images_seen
    keep("list_dst1", predict_pool(net, list_pool(), features="backbone", progress=False, dst=1))
    keep("shuffled", predict_pool(net, sharded_loader(True), features="backbone", progress=False))
    keep("alone", predict_pool(net, list_pool(), progress=False, distributed=False))
    keep_scores("dense", pool_scores(net, list_pool(), features="backbone", progress=False))
    keep_scores(
        "knn", pool_scores(net, sharded_loader(False), features="backbone", knn=3, progress=False)
    )
    keep_scores(
        "knn_dst0",
        pool_scores(net, list_pool(), features="backbone", knn=3, progress=False, dst=0),
    )
    features = images().flatten(1)[:, :10]
    R = knn_redundancy(features, 4, chunk_size=3)  # 8 blocks of rows: 4 to each process
    arrays["knn_blocks.R"] = R.toarray()

    # A pool sharded by hand (each process its own half) is refused on both processes.
    halves = list_pool()[rank::2]
    error("by_hand", lambda: predict_pool(net, halves, progress=False))
    # One process's model fails: it raises its error, the other DistributedPassError.
    failing = model()
    failing.fail = rank == 1
    error("failure", lambda: predict_pool(failing, list_pool(), progress=False))
    # drop_last=True would leave out 23 % 2 = 1 image.
    dropping = DataLoader(Pool(), batch_size=5, sampler=DistributedSampler(Pool(), drop_last=True))
    error("drop_last", lambda: predict_pool(net, dropping, progress=False))

    np.savez(out / f"rank{rank}.npz", **arrays)
    (out / f"rank{rank}.json").write_text(json.dumps(notes))
    dist.destroy_process_group()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
