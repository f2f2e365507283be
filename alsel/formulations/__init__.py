"""Formulations: each turns a SelectionProblem into a LinearProgram (an LP, a MILP or a QP).

===============  ========================================================================
"paper"          Eq. 8 literally, z for every ordered pair (N^2 z); dense R
"symmetric"      Eq. 8 with z for i <= j only; same optimal value, about half the size; dense R
"sparse"         "symmetric" over the stored (nonzero) pairs of R only: grows with nnz(R)
"mccormick"      z >= v_i + v_j - 1 and the exact diagonal (lam r_ii on v_i): tighter
"qp"             the convex QP min Tr(MG) + lam v^T R v over (M, v), for a PSD R; no z
"exact"          "mccormick" with M and v binary: the integral problem (Eq. 4), strongest MILP
"exact-literal"  "symmetric" with every variable binary: Eq. 8 as a MILP, as the paper states it
===============  ========================================================================

"sparse", "mccormick", "exact" and "qp" accept R dense or scipy.sparse; the others need a dense R.
"""

from __future__ import annotations

from collections.abc import Callable

from .._validation import check_choice
from ..lp import LinearProgram
from ..problem import SelectionProblem
from . import exact, exact_literal, mccormick, paper, qp, sparse, symmetric

FORMULATIONS: dict[str, Callable[[SelectionProblem], LinearProgram]] = {
    paper.NAME: paper.build,
    symmetric.NAME: symmetric.build,
    exact.NAME: exact.build,
    sparse.NAME: sparse.build,
    mccormick.NAME: mccormick.build,
    qp.NAME: qp.build,
    exact_literal.NAME: exact_literal.build,
}
#: Formulations whose solution is already integral (no rounding).
INTEGRAL_FORMULATIONS = (exact.NAME, exact_literal.NAME)


def build_lp(problem: SelectionProblem, formulation: str = "symmetric") -> LinearProgram:
    """Build the LP (MILP for "exact" and "exact-literal", QP for "qp") of ``problem``.

    Parameters
    ----------
    problem : SelectionProblem
    formulation : {"symmetric", "paper", "exact", "sparse", "mccormick", "qp", "exact-literal"}

    Returns
    -------
    LinearProgram
        Columns ordered vec(M) row-major, then v, then z; ``lp.index`` maps them back.

    Raises
    ------
    ValueError
        For an unknown formulation, a sparse R given to a formulation that needs a dense one,
        or "qp" on an R that is not positive semidefinite.
    """
    if not isinstance(problem, SelectionProblem):
        raise TypeError(
            f"problem must be an alsel.SelectionProblem; got {type(problem).__name__}. "
            "Build one with alsel.SelectionProblem(G, R, B, C_max, lam)."
        )
    check_choice(formulation, "formulation", FORMULATIONS)
    return FORMULATIONS[formulation](problem)
