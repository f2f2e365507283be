"""Roundings: a relaxed M (N, C) with entries in [0, 1] -> a feasible binary selection.

=====================  ======================================================================
"topb"                 the paper's: the B largest entries of M, at most C_max per image
"greedy"               B cheapest single additions of Eq. 4 (reads no relaxation)
"randomized"           best of 32 seeded samples of M, each repaired to feasibility
"local"                "topb", then iterated local search (moves and swaps until none lowers
                       Eq. 4, then 8 seeded kicks)
"<base>+local"         any base rounding above, then local search; "greedy+local" (the
                       default without a relaxation) is multi-start: greedy from 8 starts
=====================  ======================================================================

A rounding sees the problem and the relaxed M, never a solver, and returns a bool (N, C) matrix
with exactly B ones and at most C_max in every row.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..problem import SelectionProblem
from ._counts import CountState, CountTables
from .greedy import greedy, greedy_state, starting_images
from .local import KICKS, descend, improve
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
    start = CountState.from_matrix(CountTables(problem, seed), M)
    return improve(start, max_moves, kicks, seed).matrix()


STARTS = 8


def greedy_local(problem: SelectionProblem, relaxed_M: np.ndarray | None = None, seed: int = 0) -> np.ndarray:
    """Multi-start greedy + local search: greedy from scratch and from the ``STARTS - 1`` images
    of :func:`starting_images`, each descended to a local optimum; the best then gets the kicks
    of iterated local search. Reads no relaxation. ``seed`` draws the kicks and the order that
    breaks exact ties (:class:`CountTables`)."""
    tables = CountTables(problem, seed)
    best, best_value = None, np.inf
    for start in [None, *starting_images(tables, STARTS - 1)]:
        state = greedy_state(tables, None if start is None else int(start))
        descend(state)
        value = state.objective()
        if value < best_value:
            best, best_value = state, value
    return improve(best, kicks=KICKS, seed=seed).matrix()


def _then_local(base: Rounding) -> Rounding:
    def rounding(problem, relaxed_M, seed=0):
        return local_search(problem, base(problem, relaxed_M, seed), seed)

    return rounding


ROUNDINGS: dict[str, Rounding] = {
    **BASE_ROUNDINGS,
    "local": _then_local(topb),
    "topb+local": _then_local(topb),
    "greedy+local": greedy_local,  # multi-start, not greedy then local search
    "randomized+local": _then_local(randomized),
}

__all__ = ["NEEDS_RELAXATION", "ROUNDINGS", "TIE_DECIMALS", "greedy", "local_search", "randomized", "topb"]
