"""Eq. 8 of the paper, literally: one z_ij for every ordered pair (i, j), N^2 of them.

z column k = i*N + j (row-major Z) costs lam * r_ij. Rows: 2 v_i - 2 z_ii <= 1 for the N
diagonal pairs, then v_i + v_j - 2 z_ij <= 1 for the N(N-1) ordered pairs i != j in row-major
order. At N = 1200, C = 19: 1.464M rows, 1.464M columns, 4.41M nonzeros.
"""

from __future__ import annotations

import numpy as np

from ..lp import LinearProgram
from ..problem import SelectionProblem
from ._assembly import assemble, pair_rows, self_pair_rows, standard_blocks, variable_index
from ._pairs import require_dense

NAME = "paper"


def build(problem: SelectionProblem) -> LinearProgram:
    """Eq. 8 relaxed to [0, 1], one z per ordered image pair."""
    n, c = problem.n_images, problem.n_classes
    R = require_dense(problem, NAME)
    dtype = np.int32 if n * n < np.iinfo(np.int32).max else np.int64
    pair_i, pair_j = np.divmod(np.arange(n * n, dtype=dtype), dtype(n))
    index = variable_index(problem, pair_i, pair_j)
    z0 = index.z.start
    images = np.arange(n, dtype=dtype)
    # ordered pairs i != j, row-major: for image i, j runs over 0..N-1 skipping i
    off_i = np.repeat(images, n - 1)
    off_j = np.tile(np.arange(n - 1, dtype=dtype), n)
    off_j += off_j >= off_i
    blocks = standard_blocks(problem) + [
        self_pair_rows(images, z0 + images * (n + 1), index.v.start),
        pair_rows(off_i, off_j, z0 + off_i * n + off_j, index.v.start),
    ]
    return assemble(problem, blocks, index, problem.lam * R.ravel(), NAME)
