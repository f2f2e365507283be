"""Score the pool across processes with torch.distributed, then select on rank 0.

    torchrun --nproc-per-node 2 examples/torch_distributed.py                  # 2 CPU processes
    torchrun --nproc-per-node 4 examples/torch_distributed.py --backend nccl   # 4 GPUs (untested)

Each process loads and scores only its shard of the pool (a DataLoader with a
DistributedSampler); alsel gathers p and the features in pool order, every process searches
the nearest neighbours of its share of the rows for the sparse R, and rank 0 receives G and R,
the same as one process would compute, and runs alsel.select. The model and the generated pool
are those of examples/torch_select.py. Needs ``pip install 'alsel[torch]'``.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, DistributedSampler
from torch_select import GeneratedPool, SmallSegmenter, train_briefly

import alsel
from alsel.torch import pool_scores


def pool_loader(
    images: int, size: int, classes: int, batch_size: int, sharded: bool = False
) -> DataLoader:
    """The pool; ``sharded``: this process's shard (a DistributedSampler, no shuffling)."""
    pool = GeneratedPool(images, size, classes)
    sampler = DistributedSampler(pool, shuffle=False) if sharded else None
    return DataLoader(pool, batch_size=batch_size, sampler=sampler)


def load_model(path: Path, classes: int) -> SmallSegmenter:
    model = SmallSegmenter(classes)
    model.load_state_dict(torch.load(path, weights_only=True))
    return model


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=200, help="pool size N")
    parser.add_argument("--classes", type=int, default=6, help="number of classes C")
    parser.add_argument("--size", type=int, default=64, help="image side in pixels")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--knn", type=int, default=10, help="neighbours per image in R")
    parser.add_argument("--budget", type=int, default=40, help="queries B")
    parser.add_argument("--cmax", type=int, default=3, help="most queries for one image")
    parser.add_argument("--train-steps", type=int, default=40)
    parser.add_argument("--backend", default="gloo", help="gloo (CPU) or nccl (one GPU each)")
    parser.add_argument("--out", type=Path, help="save the model and G, R here (rank 0)")
    args = parser.parse_args(argv)

    dist.init_process_group(args.backend)
    rank = dist.get_rank()
    if args.backend == "nccl":
        torch.cuda.set_device(int(os.environ["LOCAL_RANK"]))
    torch.manual_seed(0)
    model = SmallSegmenter(args.classes)
    if rank == 0:  # stands in for loading your trained checkpoint
        train_briefly(model, args.train_steps, args.size, args.classes)
    if args.backend == "nccl":
        model = model.cuda()
    for tensor in model.state_dict().values():  # every process must run the same model
        dist.broadcast(tensor, src=0)

    loader = pool_loader(args.images, args.size, args.classes, args.batch_size, sharded=True)
    scores = pool_scores(model, loader, features="encoder", knn=args.knn, progress=False, dst=0)
    if rank == 0:
        G, R = scores
        print(f"rank 0 received G {G.shape} and R {R.shape} ({R.nnz} entries)")
        selection = alsel.select(G, R, B=args.budget, C_max=args.cmax, lam=1.0)
        print(f"{len(selection.pairs)} questions on {len(selection.images)} images:")
        for image in selection.images:
            classes = selection.pairs[selection.pairs[:, 0] == image, 1]
            print(f"  image {image:4d}: classes {', '.join(map(str, classes))}")
        if args.out is not None:
            torch.save(model.cpu().state_dict(), args.out / "model.pt")
            np.savez(args.out / "scores.npz", G=G, R_data=R.data, R_indices=R.indices,
                     R_indptr=R.indptr)  # fmt: skip
    else:
        assert scores is None  # dst=0: the other processes receive nothing
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
