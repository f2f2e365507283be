"""Eq. 4 linearized with McCormick's inequality and the exact diagonal.

For binary v, v_i^2 = v_i, so the diagonal of v^T R v is the linear cost lam * r_ii on v_i (no
z_ii). For i < j with r_ij + r_ji != 0, z_ij stands for v_i v_j with cost lam (r_ij + r_ji) and
the row v_i + v_j - z_ij <= 1 (z >= v_i + v_j - 1, the lower McCormick envelope of v_i v_j on
[0, 1]^2; z >= 0 is its column bound). Pairs without redundancy get no z (see ``_pairs``). The
upper envelope z <= v_i, z <= v_j is not needed: every z has a positive cost, so a minimizer
puts z at max(0, v_i + v_j - 1), which already satisfies it.

Valid for the integral problem (binary v gives z = v_i v_j at the optimum) and a tighter
relaxation than Eq. 8: McCormick's row implies v_i + v_j <= 1 + 2 z_ij for z >= 0, and a
fractional v_i pays lam r_ii v_i instead of nothing. R may be dense or sparse. Row blocks:
"budget", "capacity", "link", "mccormick" (PDLP's structured operator does not know this layout
and refuses it; the default sparse operator solves it).
"""

from __future__ import annotations

import numpy as np

from ..lp import LinearProgram
from ..problem import SelectionProblem
from ._assembly import assemble, mccormick_rows, standard_blocks, variable_index
from ._pairs import nonzero_pairs

NAME = "mccormick"


def build(problem: SelectionProblem) -> LinearProgram:
    """McCormick's relaxation of Eq. 4: z for the nonzero pairs i < j, diagonal cost on v."""
    pairs = nonzero_pairs(problem.R)
    index = variable_index(problem, pairs.upper_i, pairs.upper_j)
    z0 = index.z.start
    blocks = standard_blocks(problem) + [
        mccormick_rows(pairs.upper_i, pairs.upper_j,
                       np.arange(z0, z0 + len(pairs.upper_i)), index.v.start),
    ]
    v_cost = np.zeros(problem.n_images)
    v_cost[pairs.diagonal] = problem.lam * pairs.diagonal_cost
    return assemble(problem, blocks, index, problem.lam * pairs.upper_cost, NAME, v_cost=v_cost)
