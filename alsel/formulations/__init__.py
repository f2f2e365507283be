"""Formulations: each turns a SelectionProblem into a LinearProgram.

=============  ==========================================================================
"paper"        Eq. 8 literally, z for every ordered pair (N^2 z)
"symmetric"    Eq. 8 with z for i <= j only; same optimal value, about half the size
"exact"        "symmetric" with every variable binary: the integral problem (Eq. 4)
=============  ==========================================================================
"""

from __future__ import annotations

from collections.abc import Callable

from .._validation import check_choice
from ..lp import LinearProgram
from ..problem import SelectionProblem
from . import exact, paper, symmetric

FORMULATIONS: dict[str, Callable[[SelectionProblem], LinearProgram]] = {
    paper.NAME: paper.build,
    symmetric.NAME: symmetric.build,
    exact.NAME: exact.build,
}


def build_lp(problem: SelectionProblem, formulation: str = "symmetric") -> LinearProgram:
    """Build the LP (or MILP, for "exact") of ``problem`` in the named formulation.

    Parameters
    ----------
    problem : SelectionProblem
    formulation : {"symmetric", "paper", "exact"}

    Returns
    -------
    LinearProgram
        Columns ordered vec(M) row-major, then v, then z; ``lp.index`` maps them back.
    """
    if not isinstance(problem, SelectionProblem):
        raise TypeError(
            f"problem must be an alsel.SelectionProblem; got {type(problem).__name__}. "
            "Build one with alsel.SelectionProblem(G, R, B, C_max, lam)."
        )
    check_choice(formulation, "formulation", FORMULATIONS)
    return FORMULATIONS[formulation](problem)
