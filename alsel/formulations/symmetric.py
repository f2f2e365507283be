"""Eq. 8 with one z per unordered pair: z_ii for every image, and z_ij for i < j with cost
lam (r_ij + r_ji).

z_ij and z_ji obey the same constraint v_i + v_j <= 1 + 2 z, so merging them changes neither the
feasible set of (M, v) nor the optimal value, integral or relaxed; the LP is about half the size
of "paper". z columns: the N diagonal pairs first, then the strict upper triangle in row-major
order (np.triu_indices(N, 1)); rows in the same order.
"""

from __future__ import annotations

import numpy as np

from ..lp import LinearProgram
from ..problem import SelectionProblem
from ._assembly import assemble, pair_rows, self_pair_rows, standard_blocks, variable_index
from ._pairs import require_dense

NAME = "symmetric"


def build(problem: SelectionProblem) -> LinearProgram:
    """Eq. 8 relaxed to [0, 1], one z per unordered image pair (diagonal included)."""
    n, R = problem.n_images, require_dense(problem, NAME)
    dtype = np.int32 if n * n < np.iinfo(np.int32).max else np.int64
    images = np.arange(n, dtype=dtype)
    upper_i, upper_j = (a.astype(dtype) for a in np.triu_indices(n, 1))
    index = variable_index(
        problem, np.concatenate([images, upper_i]), np.concatenate([images, upper_j])
    )
    z0, n_pairs = index.z.start, len(upper_i)
    cost = np.concatenate([np.diagonal(R), R[upper_i, upper_j] + R[upper_j, upper_i]])
    blocks = standard_blocks(problem) + [
        self_pair_rows(images, z0 + images, index.v.start),
        pair_rows(upper_i, upper_j, np.arange(z0 + n, z0 + n + n_pairs), index.v.start),
    ]
    return assemble(problem, blocks, index, problem.lam * cost, NAME)
