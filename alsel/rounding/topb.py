"""The paper's rounding: the B largest entries of the relaxed M."""

from __future__ import annotations

import numpy as np

from ..problem import SelectionProblem

#: Relaxed values closer than this count as ties (solver noise must not decide between 1/2s).
TIE_DECIMALS = 9


def topb(problem: SelectionProblem, relaxed_M: np.ndarray, seed: int = 0) -> np.ndarray:
    """The paper's rounding: the B largest entries of M become 1, at most C_max per image.

    Equivalent to scanning the entries from largest to smallest and keeping each one whose image
    has fewer than C_max kept so far, until B are kept. Entries equal to within 1e-9 are ties,
    broken by a random order drawn from ``seed`` (reproducible). Vectorized: an entry is kept iff
    it is among its image's C_max first in that order and among the B first of those.
    """
    n, c = problem.n_images, problem.n_classes
    relaxed_M = np.asarray(relaxed_M, dtype=np.float64)
    if relaxed_M.shape != (n, c):
        raise ValueError(f"relaxed_M must have shape (N, C) = {(n, c)}; got {relaxed_M.shape}.")
    values = np.round(relaxed_M.ravel(), TIE_DECIMALS)
    tie_breaker = np.random.default_rng(seed).permutation(n * c)
    order = np.lexsort((tie_breaker, -values))  # position in the scan, best first
    images = order // c
    # rank of each scanned entry within its image: stable sort by image keeps the scan order
    by_image = np.argsort(images, kind="stable")
    first_of_image = np.searchsorted(images[by_image], np.arange(n))
    rank = np.empty(n * c, dtype=np.int64)
    rank[by_image] = np.arange(n * c) - first_of_image[images[by_image]]
    candidates = order[rank < problem.C_max]  # still in scan order
    M = np.zeros(n * c, dtype=bool)
    M[candidates[: problem.B]] = True
    return M.reshape(n, c)

