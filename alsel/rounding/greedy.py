"""Greedy: add one query at a time, always the one that raises Eq. 4 least, respecting C_max."""

from __future__ import annotations

import numpy as np

from ..problem import SelectionProblem
from ._counts import CountState, CountTables, fill_greedily


def greedy(problem: SelectionProblem, relaxed_M: np.ndarray | None = None, seed: int = 0) -> np.ndarray:
    """Build the selection from nothing, B steps of the cheapest single addition.

    A query at an image already used costs its G; the first query at a new image also pays that
    image's redundancy lam * (r_ii + 2 sum_{k used} r_ik). Each step is one vector operation over
    the images. The relaxation is not used (``relaxed_M`` and ``seed`` are accepted for the
    common signature); ties go to the lowest image index.
    """
    state = CountState(CountTables(problem), np.zeros(problem.n_images, dtype=np.int64))
    fill_greedily(state, problem.B)
    return state.matrix()
