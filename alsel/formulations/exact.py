"""The integral problem (Eq. 4) as alsel's strongest MILP: "mccormick" with M and v binary, plus
two families of valid inequalities.

Columns, costs and the McCormick rows are those of "mccormick" (z_ij for the nonzero pairs
i < j, z >= v_i + v_j - 1; the diagonal as the linear cost lam r_ii on v_i). Rows added, both
valid for every binary solution and both cutting off fractional points of the relaxation:

* ``linked_capacity``: sum_j M_ij <= k v_i with k = min(C, C_max) (an unchosen image holds no
  query, a chosen one at most k). With the budget it gives sum_i v_i >= B / k in the relaxation.
* ``pair_count``: sum_{j != i} z_ij >= (K - 1 - o_i) v_i, where K = ceil(B / k) is the fewest
  images any selection uses and o_i the number of partners of i with no z (zero redundancy).
  It is the constraint sum_j v_j >= K multiplied by v_i (reformulation-linearization):
  for binary v, z_ij >= v_i v_j, so sum_j z_ij >= v_i (sum_j v_j - 1 - o_i) >= v_i (K - 1 - o_i).
  It makes the relaxation pay for at least K - 1 partners of every chosen image, where the
  McCormick row alone lets v = 1/2 pay nothing.

M and v are integral; z stays continuous in [0, 1]. That loses nothing: for binary v the rows
z_ij >= v_i + v_j - 1 and z_ij >= 0 leave z_ij >= v_i v_j, and z_ij's cost lam (r_ij + r_ji) is
positive, so every optimal solution has z_ij = v_i v_j in {0, 1}, and any feasible solution
costs at least the Eq. 4 objective of its M. Hence the MILP's optimum is Eq. 4's, with N (C + 1)
integer columns. R may be dense or sparse. docs/formulations.md has the timings against
"exact-literal".
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..lp import LinearProgram
from ..problem import SelectionProblem
from ._assembly import (
    assemble,
    budget_row,
    link_rows,
    linked_capacity_rows,
    mccormick_rows,
    pair_count_rows,
    variable_index,
)
from ._pairs import nonzero_pairs

NAME = "exact"


def build(problem: SelectionProblem) -> LinearProgram:
    """The McCormick model with the two valid row families above; M and v integral."""
    n, c = problem.n_images, problem.n_classes
    per_image = min(c, problem.C_max)
    fewest_images = -(-problem.B // per_image)
    pairs = nonzero_pairs(problem.R)
    index = variable_index(problem, pairs.upper_i, pairs.upper_j)
    z0, n_pairs = index.z.start, len(pairs.upper_i)
    partners = np.bincount(pairs.upper_i, minlength=n) + np.bincount(pairs.upper_j, minlength=n)
    v_coef = np.maximum(fewest_images - 1 - (n - 1 - partners), 0)
    counted = np.flatnonzero(v_coef)
    blocks = [
        budget_row(n, c, problem.B),
        linked_capacity_rows(n, c, per_image),
        link_rows(n, c),
        mccormick_rows(pairs.upper_i, pairs.upper_j, np.arange(z0, z0 + n_pairs), index.v.start),
        pair_count_rows(counted, v_coef, pairs.upper_i, pairs.upper_j, z0, index.v.start,
                        index.z.stop),
    ]
    v_cost = np.zeros(n)
    v_cost[pairs.diagonal] = problem.lam * pairs.diagonal_cost
    lp = assemble(problem, blocks, index, problem.lam * pairs.upper_cost, NAME, v_cost=v_cost)
    integrality = np.zeros(lp.num_cols, dtype=bool)
    integrality[: index.v.stop] = True  # vec(M) then v
    return dataclasses.replace(lp, integrality=integrality)
