"""k-nearest-neighbour sparse R, computed in row blocks on a device without ever holding N x N.

The neighbours are searched here, on the model's device; the matrix is built by
:func:`alsel.scores.knn_matrix`, so the convention is exactly that of
``alsel.scores.redundancy(features, knn=k)``: the union of each image's k nearest neighbours by
cosine (itself excluded from the search), symmetric, valued as the dense R (the "minmax" range
is the full cosine matrix's, tracked block by block), with the diagonal r_ii stored.
"""

from __future__ import annotations

import numbers

import numpy as np
import scipy.sparse as sp
import torch

from alsel import scores
from alsel._validation import as_count, as_float_array, check_choice
from alsel.torch.distributed import check_dst, gather_neighbours, resolve_group, row_range

SIMILARITY_BLOCK = 2**24  # entries of one (rows x N) block of similarities: 128 MiB in float64


def knn_redundancy(
    features: object,
    knn: int,
    mapping: str = "minmax",
    *,
    device: str | torch.device | None = None,
    chunk_size: int | None = None,
    distributed: bool | None = None,
    group: object | None = None,
    dst: int | None = None,
) -> sp.csr_matrix | None:
    """Sparse redundancy R (N, N): cosine similarity to each image's ``knn`` nearest neighbours.

    Parameters
    ----------
    features : array (N, d) or torch.Tensor
        One feature vector per image (no all-zero rows).
    knn : int
        Neighbours per image, 1 <= knn < N. The union over images is kept, so a row can hold
        more than ``knn`` entries (i is j's neighbour but not the other way round).
    mapping : {"minmax", "affine", "none"}
        As :func:`alsel.scores.redundancy`: "minmax" over the full cosine matrix's range,
        "affine" = (1 + cos) / 2.
    device : str, torch.device or None
        Where the similarities are computed; default the tensor's device, CPU for arrays. On the
        CPU they are float64, on CUDA float32 (neighbours whose cosines differ by less than
        about 1e-7 may then be ordered differently than in float64).
    chunk_size : int or None
        Rows per block: at most ``chunk_size`` x N similarities exist at once. Default: as many
        as fit 2**24 entries, at most 1024.
    distributed, group, dst : as :func:`alsel.torch.predict_pool`
        Under torch.distributed every process passes all the features and searches the
        neighbours of a contiguous share of the row blocks (the same blocks as one process
        would, so the same neighbours); the neighbour lists are gathered and the matrix is built
        on every process (``dst=None``) or on ``dst`` only (the others return None).

    Returns
    -------
    scipy.sparse.csr_matrix (N, N), float64, symmetric, the diagonal stored (as the dense R's);
    None on a process that is not ``dst``.
    """
    check_choice(mapping, "mapping", scores.R_MAPPINGS)
    unit = _unit_rows(features, device)
    n = unit.shape[0]
    check_knn(knn, n)
    if chunk_size is None:
        chunk_size = max(1, min(1024, SIMILARITY_BLOCK // n))
    chunk_size = as_count(chunk_size, "chunk_size", minimum=1)
    group = resolve_group(distributed, group)
    dst = check_dst(dst, group)

    starts = range(0, n, chunk_size)
    if group is not None:  # this process's contiguous share of the blocks one process would run
        share = row_range(len(starts), group)
        starts = starts[share.start : share.stop]
    first = starts[0] if starts else n
    neighbours = np.empty((min(n, first + len(starts) * chunk_size) - first, knn), dtype=np.int64)
    low = 1.0
    for start in starts:
        stop = min(n, start + chunk_size)
        block = unit[start:stop] @ unit.T
        low = min(low, float(block.min()))
        rows = torch.arange(stop - start, device=block.device)
        block[rows, rows + start] = -torch.inf  # an image is not its own neighbour
        top = torch.topk(block, knn, dim=1).indices
        neighbours[start - first : stop - first] = top.cpu().numpy()
    if group is not None:
        gathered = gather_neighbours(neighbours, low, n, group, dst)
        if gathered is None:
            return None
        neighbours, low = gathered
    return sp.csr_matrix(scores.knn_matrix(unit.double().cpu().numpy(), neighbours, low, mapping))


def check_knn(knn: object, n_images: int | None) -> int:
    """``knn`` as an int with 1 <= knn < n_images, else ValueError naming the valid range.

    ``n_images=None`` checks only what can be checked before the pool is known (an int >= 1).
    """
    upper = f"N = {n_images}" if n_images is not None else "N"
    valid = isinstance(knn, numbers.Integral) and not isinstance(knn, bool)
    if not valid or knn < 1 or (n_images is not None and knn >= n_images):
        raise ValueError(
            f"knn must be an integer with 1 <= knn < {upper} (the number of images); got {knn!r}."
        )
    return int(knn)


def _unit_rows(features: object, device: str | torch.device | None) -> torch.Tensor:
    if isinstance(features, torch.Tensor):
        if features.ndim != 2 or features.shape[0] == 0:
            raise ValueError(
                "features must be a non-empty 2-D tensor (N, d); "
                f"got shape {tuple(features.shape)}."
            )
        tensor = features.detach()
    else:
        tensor = torch.from_numpy(as_float_array(features, "features", ndim=2))
    device = torch.device(device) if device is not None else tensor.device
    tensor = tensor.to(
        device=device, dtype=torch.float32 if device.type == "cuda" else torch.float64
    )
    if not torch.isfinite(tensor).all():
        raise ValueError("features has NaN or infinite entries; every entry must be finite.")
    norms = torch.linalg.vector_norm(tensor, dim=1, keepdim=True)
    zero = torch.nonzero(norms[:, 0] == 0)
    if len(zero):
        raise ValueError(
            f"features has {len(zero)} all-zero rows (first: image {int(zero[0])}); the cosine is "
            "undefined for them. Drop those images or use features that are not all zero."
        )
    return tensor / norms
