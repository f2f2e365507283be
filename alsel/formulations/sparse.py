"""Eq. 8 over the stored pairs of R only: the "symmetric" model restricted to nonzero redundancy.

R may be a scipy.sparse matrix (e.g. ``alsel.scores.redundancy(features, knn=k)``) or dense (read
as sparse of its nonzeros). z_ii exists for each image with r_ii != 0 (cost lam r_ii, row
2 v_i - 2 z_ii <= 1, as in "symmetric"), and z_ij for each pair i < j with r_ij + r_ji != 0
(cost lam (r_ij + r_ji), row v_i + v_j - 2 z_ij <= 1). A pair without redundancy would get a
zero-cost z that z = 1 always satisfies, so leaving it out changes neither the feasible (M, v)
nor the optimum: on the same R, "sparse" and "symmetric" have the same optimal value, relaxed or
integral. The LP grows with nnz(R) instead of N^2. Row blocks and their layout are those of
"symmetric", so PDLP's structured operator accepts it.
"""

from __future__ import annotations

import numpy as np

from ..lp import LinearProgram
from ..problem import SelectionProblem
from ._assembly import assemble, pair_rows, self_pair_rows, standard_blocks, variable_index
from ._pairs import nonzero_pairs

NAME = "sparse"


def build(problem: SelectionProblem) -> LinearProgram:
    """Eq. 8 relaxed to [0, 1], one z per stored (nonzero) pair of R, diagonal first."""
    pairs = nonzero_pairs(problem.R)
    n_diagonal, n_upper = len(pairs.diagonal), len(pairs.upper_i)
    index = variable_index(
        problem,
        np.concatenate([pairs.diagonal, pairs.upper_i]),
        np.concatenate([pairs.diagonal, pairs.upper_j]),
    )
    z0 = index.z.start
    blocks = standard_blocks(problem) + [
        self_pair_rows(pairs.diagonal, np.arange(z0, z0 + n_diagonal), index.v.start),
        pair_rows(pairs.upper_i, pairs.upper_j,
                  np.arange(z0 + n_diagonal, z0 + n_diagonal + n_upper), index.v.start),
    ]
    cost = problem.lam * np.concatenate([pairs.diagonal_cost, pairs.upper_cost])
    return assemble(problem, blocks, index, cost, NAME)
