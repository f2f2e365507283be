"""Greedy: add one query at a time, always the one that raises Eq. 4 least, respecting C_max."""

from __future__ import annotations

import numpy as np

from ..problem import SelectionProblem
from ._counts import CountState, CountTables, fill_greedily


def greedy(problem: SelectionProblem, relaxed_M: np.ndarray | None = None, seed: int = 0,
           start: int | None = None) -> np.ndarray:
    """Build the selection from nothing, B steps of the cheapest single addition.

    A query at an image already used costs its G; the first query at a new image also pays that
    image's redundancy lam * (r_ii + 2 sum_{k used} r_ik). Each step is one vector operation over
    the images. The relaxation is not used (``relaxed_M`` is accepted for the common signature).
    Exact ties (equal costs) go by a random order of the images and classes drawn from
    ``seed`` (:class:`CountTables`). ``start``: an image given its first query before the
    greedy steps (multi-start).
    """
    return greedy_state(CountTables(problem, seed), start).matrix()


def greedy_state(tables: CountTables, start: int | None = None) -> CountState:
    """The greedy selection as a CountState (optionally from a forced first image)."""
    state = CountState(tables, np.zeros(tables.n, dtype=np.int64))
    if start is not None:
        state.set_count(start, 1)
    fill_greedily(state, tables.B)
    return state


def starting_images(tables: CountTables, count: int) -> np.ndarray:
    """The ``count`` images whose most dissimilar partner is most dissimilar: r_ii + min_j r_ij
    (j != i) smallest first, exact ties in the seeded order. Greedy started there finds the best
    pair when two images suffice."""
    n = tables.n
    if tables.sparse:
        off = tables.R.tocsr(copy=True)
        off.setdiag(np.inf)
        partner = np.asarray(off.min(axis=1).toarray()).ravel()
        partner[np.diff(off.indptr) < n] = np.minimum(partner[np.diff(off.indptr) < n], 0.0)
    elif n > 1:
        # by bands of rows: a band's copy with its diagonal at inf, never an N x N copy of R
        partner = np.empty(n)
        band = max(1, (1 << 19) // n)
        for start in range(0, n, band):
            rows = np.arange(start, min(start + band, n))
            block = np.array(tables.R[start:start + rows.size], dtype=np.float64)
            block[rows - start, rows] = np.inf
            partner[rows] = block.min(axis=1)
    else:
        partner = np.zeros(n)
    return tables.smallest(tables.diag + partner, count)
