"""Roundings: a relaxed M (N, C) with entries in [0, 1] -> a feasible binary selection.

=====================  ======================================================================
"topb"                 the paper's: the B largest entries of M, at most C_max per image
"greedy"               B cheapest single additions of Eq. 4 (reads no relaxation)
"randomized"           best of 32 seeded samples of M, each repaired to feasibility
"local"                "topb", then iterated local search (moves and swaps until none lowers
                       Eq. 4, then 8 seeded kicks)
"<base>+local"         any base rounding above, then local search: "greedy+local", ...
=====================  ======================================================================

A rounding sees the problem and the relaxed M, never a solver, and returns a bool (N, C) matrix
with exactly B ones and at most C_max in every row.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..problem import SelectionProblem
from ._counts import CountState, CountTables
from .greedy import greedy
from .local import KICKS, improve
from .randomized import randomized
from .topb import TIE_DECIMALS, topb

Rounding = Callable[[SelectionProblem, "np.ndarray | None", int], np.ndarray]

BASE_ROUNDINGS: dict[str, Rounding] = {"topb": topb, "greedy": greedy, "randomized": randomized}

#: Roundings that read the relaxation (the others run without a formulation).
NEEDS_RELAXATION = frozenset({"topb", "randomized", "local", "topb+local", "randomized+local"})


def local_search(problem: SelectionProblem, M: np.ndarray, seed: int = 0, kicks: int = KICKS,
                 max_moves: int | None = None) -> np.ndarray:
    """Improve a feasible selection M by iterated local search (:mod:`alsel.rounding.local`);
    never worse than M."""
    start = CountState.from_matrix(CountTables(problem), M)
    return improve(start, max_moves, kicks, seed).matrix()


def _then_local(base: Rounding) -> Rounding:
    def rounding(problem, relaxed_M, seed=0):
        return local_search(problem, base(problem, relaxed_M, seed), seed)

    return rounding


ROUNDINGS: dict[str, Rounding] = {
    **BASE_ROUNDINGS,
    "local": _then_local(topb),
    **{f"{name}+local": _then_local(base) for name, base in BASE_ROUNDINGS.items()},
}

__all__ = ["NEEDS_RELAXATION", "ROUNDINGS", "TIE_DECIMALS", "greedy", "local_search", "randomized", "topb"]
