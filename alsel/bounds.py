"""A lower bound on Eq. 4 that needs no solver: each term at its own minimum.

For any feasible selection with image set S (|S| = s >= s_min = ceil(B / min(C, C_max))):

    Tr(M G)   >= the B smallest entries of G with at most min(C, C_max) per image
    sum r_ii  >= the s_min smallest diagonal entries of R
    sum_{i != j in S} r_ij  >= sum over i in S of the s - 1 smallest off-diagonal entries of
                               row i  >=  the s_min smallest such row sums (taken at s_min)

Every term grows with s (R >= 0), so s = s_min gives a bound for all s; the three minima need not
be attained by the same S, which is what makes it a bound rather than a solution. O(N^2) time
(one partial sort of R's rows); with a sparse R the missing entries are zeros.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp

from .problem import SelectionProblem


def _smallest_sum(values: np.ndarray, count: int) -> float:
    if count <= 0:
        return 0.0
    return float(np.partition(values, count - 1)[:count].sum())


def _row_smallest_off_diagonal(R, count: int) -> np.ndarray:
    """For every row i, the sum of the ``count`` smallest entries R[i, j], j != i."""
    n = R.shape[0]
    if count <= 0:
        return np.zeros(n)
    if sp.issparse(R):
        R = sp.csr_array(R)
        off = R - sp.diags_array(R.diagonal())
        off.eliminate_zeros()
        stored = np.diff(off.indptr)
        zeros = (n - 1) - stored  # implicit zeros of each row
        sums = np.zeros(n)
        for i in np.flatnonzero(zeros < count):  # only rows with too few zeros (dense-ish)
            row = off.data[off.indptr[i] : off.indptr[i + 1]]
            sums[i] = _smallest_sum(row, count - zeros[i])
        return sums
    off = np.array(R, dtype=np.float64)
    np.fill_diagonal(off, np.inf)
    return np.partition(off, count - 1, axis=1)[:, :count].sum(axis=1)


def combinatorial_bound(problem: SelectionProblem) -> float:
    """A proven lower bound on the optimum of Eq. 4 (see the module docstring)."""
    kmax = min(problem.n_classes, problem.C_max)
    Gt = problem.G.T
    cheapest = np.partition(Gt, kmax - 1, axis=1)[:, :kmax] if kmax < Gt.shape[1] else Gt
    uncertainty = _smallest_sum(cheapest.ravel(), problem.B)
    if problem.lam == 0:
        return uncertainty
    s = math.ceil(problem.B / kmax)
    R = problem.R
    diagonal = _smallest_sum(np.asarray(R.diagonal(), dtype=np.float64), s)
    pairs = _smallest_sum(_row_smallest_off_diagonal(R, s - 1), s)
    return uncertainty + problem.lam * (diagonal + pairs)
