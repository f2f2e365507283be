"""Randomized rounding: sample from the relaxed M, repair to feasibility, keep the best draw."""

from __future__ import annotations

import numpy as np

from ..problem import SelectionProblem
from ._counts import CountState, CountTables, fill_greedily

DRAWS = 32


def randomized(problem: SelectionProblem, relaxed_M: np.ndarray, seed: int = 0,
               draws: int = DRAWS) -> np.ndarray:
    """Best of ``draws`` seeded samples of the relaxation.

    Each draw keeps query (i, j) with probability M_ij (independently), caps every image at
    C_max, takes each image's cheapest classes for its count (never worse), and repairs the total
    to B with the cheapest single additions or removals (as greedy). The draw with the lowest
    Eq. 4 objective wins; draws, and the order that breaks exact ties, are reproducible
    from ``seed``.
    """
    tables = CountTables(problem, seed)
    rng = np.random.default_rng(seed)
    probabilities = np.clip(np.asarray(relaxed_M, dtype=np.float64), 0.0, 1.0)
    best, best_value = None, np.inf
    for _ in range(draws):
        sample = rng.random(probabilities.shape) < probabilities
        state = CountState(tables, sample.sum(axis=1))
        fill_greedily(state, problem.B)
        value = state.objective()
        if value < best_value:
            best, best_value = state, value
    return best.matrix()
