"""The literal integral problem: the "symmetric" model with every variable binary (Eq. 8 as a MILP).

This was alsel's "exact" before the McCormick model replaced it; it stays available so that the
two MILPs can be compared. With M, v and z binary, the pair row v_i + v_j <= 1 + 2 z_ij forces
z_ij = 1 exactly when both images are chosen, and R >= 0 drives every other z and every unused v
to 0 (Theorem 1), so the MILP's optimum is the optimum of Eq. 4. z must be integral here:
relaxed, it would sit at 1/2. Its relaxation is the degenerate one of "symmetric", which makes
branch-and-bound slow beyond a few dozen images.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..lp import LinearProgram
from ..problem import SelectionProblem
from . import symmetric
from ._pairs import require_dense

NAME = "exact-literal"


def build(problem: SelectionProblem) -> LinearProgram:
    """The symmetric model with all columns integral (needs a dense R)."""
    require_dense(problem, NAME)
    lp = symmetric.build(problem)
    return dataclasses.replace(lp, integrality=np.ones(lp.num_cols, dtype=bool), formulation=NAME)
