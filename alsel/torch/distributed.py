"""The model pass across processes (torch.distributed): who scores which images, and the gather.

The contract (docs/torch.md, "Across processes"): alsel must know the pool index of every image
a process scores, and it learns it in one of two ways only.

* Every process passes **the same pool in the same order** (a list, a generator, a DataLoader
  without a DistributedSampler). alsel shards it by batch: process r runs the model on batches
  r, r + W, r + 2W, ... of the W processes and only parses the others (they are still iterated,
  so each process loads the whole pool; shard the loading with the next form). That every
  process saw the same pool is checked when the pass ends: the number of images and batches and
  a checksum of the images must agree, else ValueError on every process (a pool sharded by hand
  is refused there, not scored as if it were the whole pool).
* A ``DataLoader`` whose sampler is a ``torch.utils.data.DistributedSampler`` (shuffled or not)
  with ``num_replicas`` and ``rank`` matching the process group. The loader is the shard: every
  batch is scored, and the images' pool indices are read from the sampler. The sampler pads the
  last shard with repeats of the first images when the pool does not divide evenly; a repeated
  image is kept once (its first occurrence in rank order). ``drop_last=True`` would drop images
  and is refused unless the pool divides evenly.

Results are gathered in pool order on every process (``dst=None``) or on one (``dst=r``; the
others return None). Shards of different lengths are padded to the longest and gathered as
tensors (``all_gather`` / ``gather``), over the CPU for gloo and the current CUDA device for
NCCL. If one process fails during the pass, the others raise too instead of waiting forever in
the gather: every process reports success or failure in one small ``all_gather`` first.
"""

from __future__ import annotations

import contextlib
import numbers
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.distributed as dist
from torch.utils.data import DistributedSampler

from alsel.torch.batches import Batch

# Header of one process, all_gathered once after the pass: status, rows scored, widths, and
# what it saw of the pool (to check that every process iterated the same pool).
_FAILED, _ROWS, _CLASSES, _FEATURES, _IMAGES, _BATCHES, _CHECKSUM, _POOL = range(8)
_HEADER = 8


class DistributedPassError(RuntimeError):
    """Another process of the group failed during the pass; its own error is raised there."""


def resolve_group(distributed: bool | None, group: object) -> object | None:
    """The process group to shard over, or None for a single-process pass.

    ``distributed=None``: the default group when one is initialised with more than one process
    (or ``group`` when given); ``True``: required; ``False``: never (no collective is called).
    """
    if distributed is not None and not isinstance(distributed, bool):
        raise TypeError(f"distributed must be True, False or None; got {distributed!r}.")
    if distributed is False:
        if group is not None:
            raise ValueError(
                "group= was given with distributed=False; pass one or the other (distributed="
                "False runs this process alone on the whole pool)."
            )
        return None
    if not (dist.is_available() and dist.is_initialized()):
        if distributed or group is not None:
            raise ValueError(
                "distributed=True or group= was given but no torch.distributed process group "
                "is initialised. Launch with torchrun and call "
                "torch.distributed.init_process_group() first, or leave both unset."
            )
        return None
    chosen = dist.group.WORLD if group is None else group
    if dist.get_rank(chosen) < 0:
        raise ValueError("group=: this process is not a member of that process group.")
    if distributed is None and dist.get_world_size(chosen) == 1:
        return None
    return chosen


def check_dst(dst: object, group: object | None) -> int | None:
    """``dst`` (a rank within ``group``, or None for every process) checked against the group."""
    if dst is None:
        return None
    if isinstance(dst, bool) or not isinstance(dst, numbers.Integral):
        raise TypeError(f"dst must be None (every process) or a rank (int); got {dst!r}.")
    if group is None:
        raise ValueError(
            f"dst={dst} names a process that receives the result, but this pass is not "
            "distributed (no process group); leave dst unset."
        )
    size = dist.get_world_size(group)
    if not 0 <= dst < size:
        raise ValueError(f"dst must be a rank in 0..{size - 1} of the group; got {dst}.")
    return int(dst)


def distributed_sampler(images: Iterable) -> DistributedSampler | None:
    """The DistributedSampler of a DataLoader (its sampler or its batch sampler's), or None."""
    batch_sampler = getattr(images, "batch_sampler", None)
    for sampler in (getattr(images, "sampler", None), getattr(batch_sampler, "sampler", None)):
        if isinstance(sampler, DistributedSampler):
            return sampler
    return None


def refuse_sharded_loader(sampler: DistributedSampler | None) -> None:
    """A single-process pass over a loader that yields only 1/num_replicas of the pool: refused."""
    if sampler is not None and sampler.num_replicas > 1:
        raise ValueError(
            f"images is a DataLoader whose DistributedSampler gives this process 1/"
            f"{sampler.num_replicas} of the pool, but this pass is not distributed (no "
            "initialised process group, or distributed=False). Launch with torchrun and call "
            "torch.distributed.init_process_group() first, or use a DataLoader without it."
        )


@dataclass
class Shard:
    """This process's part of a distributed pass: which batches it scores, at which pool indices."""

    group: object
    rank: int
    size: int
    sampler_indices: np.ndarray | None
    pool_size: int | None
    positions: list[np.ndarray] = field(default_factory=list)
    seen_images: int = 0
    seen_batches: int = 0
    checksum: float = 0.0

    @classmethod
    def start(cls, images: Iterable, group: object) -> Shard:
        rank, size = dist.get_rank(group), dist.get_world_size(group)
        sampler = distributed_sampler(images)
        if sampler is None:
            return cls(group, rank, size, None, None)
        if sampler.num_replicas != size or sampler.rank != rank:
            raise ValueError(
                f"the DataLoader's DistributedSampler has num_replicas={sampler.num_replicas}, "
                f"rank={sampler.rank}, but this process is rank {rank} of {size} in the group; "
                "build the sampler with the group's size and rank (its defaults use the default "
                "group)."
            )
        pool_size = len(sampler.dataset)
        if sampler.drop_last and pool_size % size:
            raise ValueError(
                f"the DataLoader's DistributedSampler has drop_last=True, which leaves out "
                f"{pool_size % size} of the {pool_size} images; pass drop_last=False (the "
                "padding it adds instead is counted once)."
            )
        # The DataLoader iterates the sampler again and gets the same indices (DistributedSampler
        # seeds its shuffle with seed + epoch).
        indices = np.fromiter(iter(sampler), dtype=np.int64)
        return cls(group, rank, size, indices, pool_size)

    def owns(self, index: int, batch: Batch) -> bool:
        """Record batch ``index`` as seen; True when this process runs the model on it."""
        n = len(batch)
        first = self.seen_images
        self.seen_images += n
        self.seen_batches += 1
        if self.sampler_indices is not None:
            if self.seen_images > len(self.sampler_indices):
                raise ValueError(
                    f"batch {index}: the DataLoader yielded more images than its "
                    f"DistributedSampler gives this process ({len(self.sampler_indices)}); each "
                    "dataset item must be one image."
                )
            self.positions.append(self.sampler_indices[first : self.seen_images])
            return True
        self.checksum += (index + 1) * float(batch.images.detach().abs().sum(dtype=torch.float64))
        if index % self.size != self.rank:
            return False
        self.positions.append(np.arange(first, self.seen_images, dtype=np.int64))
        return True

    def gather(
        self, presence: torch.Tensor | None, pooled: torch.Tensor | None, dst: int | None
    ) -> tuple[torch.Tensor, torch.Tensor] | None:
        """p (N, C) and features (N, d), float32 in pool order, on the receiving process(es).

        ``presence`` and ``pooled`` are this process's rows (None when it scored no batch).
        Returns None on a process that does not receive (``dst`` set to another rank).
        """
        n_rows = 0 if presence is None else len(presence)
        header = np.zeros(_HEADER)
        header[_ROWS] = n_rows
        header[_CLASSES] = -1 if presence is None else presence.shape[1]
        header[_FEATURES] = -1 if pooled is None else pooled.shape[1]
        header[_IMAGES], header[_BATCHES] = self.seen_images, self.seen_batches
        header[_CHECKSUM] = self.checksum
        header[_POOL] = -1 if self.pool_size is None else self.pool_size
        headers = _all_gather_header(header, self.group)
        n_classes, n_features, pool_size = self._check_headers(headers)

        device = comm_device(self.group)
        if presence is None:
            rows = torch.zeros((0, n_classes + n_features), dtype=torch.float32, device=device)
        else:
            rows = torch.cat([presence, pooled], dim=1).to(device)
        mine = np.concatenate(self.positions) if self.positions else np.zeros(0, np.int64)
        counts = headers[:, _ROWS].astype(np.int64)
        parts = gather_padded(rows, counts, self.group, dst)
        position_parts = gather_padded(
            torch.from_numpy(mine).to(device)[:, None], counts, self.group, dst
        )
        if parts is None:
            return None
        positions = torch.cat(position_parts)[:, 0].cpu().numpy()
        unique, first = np.unique(positions, return_index=True)
        covered = len(unique) == pool_size and (unique[0], unique[-1]) == (0, pool_size - 1)
        if not covered:
            raise ValueError(
                f"the processes scored {len(unique)} distinct images of a pool of {pool_size}; "
                "every image must be scored once. Check that each DataLoader item is one image "
                "and that the sampler covers the dataset."
            )
        # unique is sorted: rows[first] is in pool order, a padded repeat kept once.
        gathered = torch.cat(parts)[torch.from_numpy(first).to(device)]
        return gathered[:, :n_classes], gathered[:, n_classes:]

    def _check_headers(self, headers: np.ndarray) -> tuple[int, int, int]:
        failed = np.flatnonzero(headers[:, _FAILED])
        if failed.size:
            raise DistributedPassError(
                f"process(es) {failed.tolist()} of the group failed during the model pass; "
                "their own error says why. No result."
            )
        if self.sampler_indices is None:
            seen = headers[:, [_IMAGES, _BATCHES]]
            checksums = headers[:, _CHECKSUM]
            if (seen != seen[0]).any() or not np.allclose(checksums, checksums[0], rtol=1e-9):
                described = "; ".join(
                    f"rank {r}: {int(h[_IMAGES])} images in {int(h[_BATCHES])} batches, "
                    f"checksum {h[_CHECKSUM]:.6g}"
                    for r, h in enumerate(headers)
                )
                raise ValueError(
                    "every process must pass the same pool in the same order (alsel shards it "
                    f"by batch), but they differ ({described}). To shard the loading, pass a "
                    "DataLoader with a DistributedSampler instead of a pool sharded by hand."
                )
            pool_size = int(headers[0, _IMAGES])
        else:
            pool_size = int(headers[0, _POOL])
            if (headers[:, _POOL] != pool_size).any():
                raise ValueError(
                    "the DistributedSamplers' datasets differ in length across processes "
                    f"({headers[:, _POOL].astype(int).tolist()}); every process must load the "
                    "same pool."
                )
        if pool_size == 0 or not headers[:, _ROWS].any():
            raise ValueError(
                "images yielded no batches: the pool is empty. Pass at least one image."
            )
        widths = headers[headers[:, _ROWS] > 0][:, [_CLASSES, _FEATURES]]
        if (widths != widths[0]).any():
            raise ValueError(
                "the processes' outputs differ in width (classes, features): "
                f"{widths.astype(int).tolist()}; every process must run the same model."
            )
        return int(widths[0, 0]), int(widths[0, 1]), pool_size


def comm_device(group: object) -> torch.device:
    """Where tensors must lie for the group's backend: the current CUDA device for NCCL."""
    if "nccl" in str(dist.get_backend(group)).lower():
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def gather_padded(
    tensor: torch.Tensor, counts: np.ndarray, group: object, dst: int | None
) -> list[torch.Tensor] | None:
    """Each process's (counts[r], w) rows, padded to the longest for the collective.

    Returns the list of every process's rows (in rank order) on the receiver(s), else None.
    """
    rank = dist.get_rank(group)
    longest = int(counts.max())
    padded = tensor.new_zeros((longest, *tensor.shape[1:]))
    padded[: len(tensor)] = tensor
    if dst is None:
        parts = [torch.empty_like(padded) for _ in counts]
        dist.all_gather(parts, padded, group=group)
    else:
        parts = [torch.empty_like(padded) for _ in counts] if rank == dst else None
        dist.gather(padded, parts, dst=dist.get_global_rank(group, dst), group=group)
        if parts is None:
            return None
    return [part[:count] for part, count in zip(parts, counts)]


def _all_gather_header(header: np.ndarray, group: object) -> np.ndarray:
    device = comm_device(group)
    mine = torch.from_numpy(header).to(device)
    parts = [torch.empty_like(mine) for _ in range(dist.get_world_size(group))]
    dist.all_gather(parts, mine, group=group)
    return torch.stack(parts).cpu().numpy()


def row_range(n_blocks: int, group: object) -> range:
    """This process's contiguous share of ``n_blocks`` blocks (as even as can be)."""
    rank, size = dist.get_rank(group), dist.get_world_size(group)
    bounds = np.linspace(0, n_blocks, size + 1).round().astype(int)
    return range(bounds[rank], bounds[rank + 1])


def gather_neighbours(
    neighbours: np.ndarray, low: float, n_images: int, group: object, dst: int | None
) -> tuple[np.ndarray, float] | None:
    """Every process's neighbour rows (in row order, the shares contiguous) and the smallest
    cosine over all of them, on the receiver(s); None elsewhere."""
    device = comm_device(group)
    counts = np.zeros(dist.get_world_size(group), dtype=np.int64)
    counts[dist.get_rank(group)] = len(neighbours)
    counts_tensor = torch.from_numpy(counts).to(device)
    dist.all_reduce(counts_tensor, group=group)
    counts = counts_tensor.cpu().numpy()
    low_tensor = torch.tensor([low], dtype=torch.float64, device=device)
    dist.all_reduce(low_tensor, op=dist.ReduceOp.MIN, group=group)
    parts = gather_padded(torch.from_numpy(neighbours).to(device), counts, group, dst)
    if parts is None:
        return None
    gathered = torch.cat(parts).cpu().numpy()
    if len(gathered) != n_images:  # pragma: no cover - the shares are built to cover every row
        raise RuntimeError(f"gathered {len(gathered)} neighbour rows for {n_images} images.")
    return gathered, float(low_tensor.item())


@contextlib.contextmanager
def reporting_failure(group: object | None) -> Iterator[None]:
    """Around a process's pass: on an error, tell the group before raising it here.

    The report is the same header all_gather that :meth:`Shard.gather` starts with, so the
    other processes, waiting there, raise :class:`DistributedPassError` instead of hanging.
    """
    try:
        yield
    except Exception:
        if group is not None:
            header = np.zeros(_HEADER)
            header[_FAILED] = 1
            with contextlib.suppress(Exception):  # the original error is the one to raise
                _all_gather_header(header, group)
        raise
