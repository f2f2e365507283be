"""The integral problem (Eq. 4) as the strongest MILP alsel has: "mccormick" with M and v binary.

M and v are integral; z stays continuous in [0, 1]. That loses nothing: for binary v the row
z_ij >= v_i + v_j - 1 and z_ij >= 0 leave z_ij >= v_i v_j, and z_ij's cost lam (r_ij + r_ji) is
positive, so every optimal solution has z_ij = v_i v_j in {0, 1}, and any feasible solution costs
at least the Eq. 4 objective of its M. Hence the MILP's optimum is Eq. 4's, with N (C + 1)
integer columns instead of the N (C + 1) + N (N + 1) / 2 of "exact-literal". Its relaxation is
"mccormick"'s, tighter than Eq. 8's, so branch-and-bound proves optima at larger N
(docs/formulations.md has the timings). R may be dense or sparse.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..lp import LinearProgram
from ..problem import SelectionProblem
from . import mccormick

NAME = "exact"


def build(problem: SelectionProblem) -> LinearProgram:
    """The McCormick model with M and v integral (z continuous)."""
    lp = mccormick.build(problem)
    integrality = np.zeros(lp.num_cols, dtype=bool)
    integrality[: lp.index.v.stop] = True  # vec(M) then v
    return dataclasses.replace(lp, integrality=integrality, formulation=NAME)
