"""Which image pairs carry redundancy: the nonzero entries of R, dense or sparse, vectorized.

A pair (i, j) with r_ij + r_ji = 0 adds nothing to v^T R v, so its z (and its row) can be left
out of any formulation without changing the optimum: with a zero cost, z = 1 always satisfies
its row. The "sparse", "mccormick", "exact" and "qp" formulations therefore work on these pairs
only; "paper", "symmetric" and "exact-literal" keep the paper's z for every pair and need a
dense R (:func:`require_dense`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ..problem import SelectionProblem


@dataclass(frozen=True)
class Pairs:
    """The nonzero redundancy of R, split into the diagonal and the strict upper triangle.

    Attributes
    ----------
    diagonal : int array
        Images i with r_ii != 0, increasing.
    diagonal_cost : float array
        r_ii of those images.
    upper_i, upper_j : int arrays
        Pairs i < j with r_ij + r_ji != 0, in row-major order (as ``np.triu_indices``).
    upper_cost : float array
        r_ij + r_ji of those pairs.
    """

    diagonal: np.ndarray
    diagonal_cost: np.ndarray
    upper_i: np.ndarray
    upper_j: np.ndarray
    upper_cost: np.ndarray


def index_dtype(n: int) -> type:
    """int32 while N^2 fits, int64 beyond."""
    return np.int32 if n * n < np.iinfo(np.int32).max else np.int64


def nonzero_pairs(R: np.ndarray | sp.csr_array) -> Pairs:
    """The pairs of ``R`` with nonzero redundancy (a dense R is read as sparse of its nonzeros)."""
    n = R.shape[0]
    dtype = index_dtype(n)
    diagonal_all = R.diagonal()
    diagonal = np.flatnonzero(diagonal_all).astype(dtype)
    if sp.issparse(R):
        upper = sp.triu(R + R.T, k=1, format="csr")
        upper.sum_duplicates()
        upper.sort_indices()
        upper.eliminate_zeros()
        upper_i = np.repeat(np.arange(n, dtype=dtype), np.diff(upper.indptr))
        upper_j = upper.indices.astype(dtype)
        upper_cost = upper.data.astype(np.float64)
    else:
        upper_i, upper_j = (a.astype(dtype) for a in np.triu_indices(n, 1))
        upper_cost = R[upper_i, upper_j] + R[upper_j, upper_i]
        keep = upper_cost != 0
        upper_i, upper_j, upper_cost = upper_i[keep], upper_j[keep], upper_cost[keep]
    return Pairs(diagonal, diagonal_all[diagonal], upper_i, upper_j, upper_cost)


def require_dense(problem: SelectionProblem, formulation: str) -> np.ndarray:
    """The dense R of ``problem``; ValueError naming the sparse-aware formulations otherwise."""
    if problem.R_is_sparse:
        raise ValueError(
            f"formulation {formulation!r} creates a z for every pair of images and needs a dense "
            f"R; this R is sparse ({problem.R.nnz:,} stored entries for N = {problem.n_images}). "
            "Use formulation='sparse' (one z per stored pair), 'mccormick', 'exact' or 'qp', "
            "which accept a sparse R, or pass R.toarray()."
        )
    return problem.R
