"""Close a PDHG candidate's residual on its densest equality rows before judging it.

On the selection LP the tail of a PDLP solve is one row: the budget, sum M = B. The dual
residual is 0 and the gap ~1e-6 long before the end, while the iterate's sum M swings around B
(N = 300, cold: off by 0.02-0.4 between iterations 200 and 520): with the primal weight at
~1e-7 the primal steps are huge, and which of G's near-tied cheap entries carry the last units of
the budget is what PDHG settles last. Closing that residual by hand is a fractional knapsack:

For an equality row r (a_r x = b_r) with residual delta = b_r - a_r x, move the columns j of the
row, each in the direction sign(delta a_rj), within its bounds and within its share of every other
row's slack (a row's slack split evenly among its columns in r, so no row can be overshot),
buying the row activity |delta| at the least cost: columns in order of cost per unit of
activity c_j / a_rj, cheapest first when the activity must rise, dearest first when it must fall
(which lowers the objective). The repaired point is judged by the same certificate as every
candidate and ends the solve only if it is within tol; the iterates are never changed, so the
algorithm itself is untouched. Docs: docs/pdlp.md, "Closing the budget row".

Works in the scaled space (the knapsack's order and limits are invariant under the diagonal
scaling) on host arrays: only the rows' columns and the rows they touch travel to the host.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

#: At most this many equality rows are repaired: the densest (the budget row of a selection LP).
MAX_ROWS = 4


@dataclass(frozen=True)
class _DenseRow:
    """One equality row, and the block of the matrix its columns span."""

    row: int
    target: float
    columns: np.ndarray  # J: the row's columns
    a: np.ndarray  # A[row, J]
    by_unit_cost: np.ndarray  # positions in J, in order of c_j / a_j
    touched: np.ndarray  # the rows with a nonzero in A[:, J]
    block: sp.csc_array  # A[touched, J]
    nonzero_rows: np.ndarray  # for each stored entry of block: its row in `touched`
    shares: np.ndarray  # for each stored entry: 1 / (columns of J in its row); 0 on the row itself


class EqualityRepair:
    """The fractional-knapsack repair of an LP's densest equality rows (module docstring)."""

    def __init__(self, rows: list[_DenseRow], lp: Any) -> None:
        self.rows = rows
        self.row_indices = np.array([row.row for row in rows], dtype=np.int64)
        self.targets = np.array([row.target for row in rows])
        self.col_lower, self.col_upper = lp.col_lower, lp.col_upper
        self.row_lower, self.row_upper = lp.row_lower, lp.row_upper

    @classmethod
    def of(cls, lp: Any) -> EqualityRepair | None:
        """The repair for ``lp`` (anything with A, c and bounds: a LinearProgram or a ScaledLP),
        or None where it has no equality row."""
        A = sp.csr_array(lp.A)
        equal = np.flatnonzero(np.isfinite(lp.row_lower) & (lp.row_lower == lp.row_upper))
        sizes = np.diff(A.indptr)[equal]
        chosen = equal[np.argsort(-sizes, kind="stable")][:MAX_ROWS]
        chosen = chosen[np.diff(A.indptr)[chosen] > 0]
        rows = [_dense_row(A, lp.c, int(r), float(lp.row_upper[r])) for r in chosen]
        return cls(rows, lp) if rows else None

    def residuals(self, ctx: Any, Ax: Any) -> np.ndarray:
        """b_r - a_r x of each chosen row (host array): what a repair could close."""
        return self.targets - ctx.to_host(Ax[ctx.xp.asarray(self.row_indices)])

    def attempt(self, ctx: Any, x: Any, Ax: Any) -> tuple[Any, Any] | None:
        """(x', A x') with each chosen row's residual closed as far as its columns allow, on
        ``ctx``'s device; None where no row needed (or allowed) a change."""
        x_new = Ax_new = None
        for row in self.rows:
            x_cur = x if x_new is None else x_new
            Ax_cur = Ax if Ax_new is None else Ax_new
            columns, touched = ctx.xp.asarray(row.columns), ctx.xp.asarray(row.touched)  # on the device
            step = self._step(row, ctx.to_host(x_cur[columns]), ctx.to_host(Ax_cur[touched]))
            if step is None:
                continue
            if x_new is None:
                x_new, Ax_new = x.copy(), Ax.copy()
            x_new[columns] += ctx.asarray(step)
            Ax_new[touched] += ctx.asarray(row.block @ step)
        return None if x_new is None else (x_new, Ax_new)

    def _step(self, row: _DenseRow, x_J: np.ndarray, Ax_touched: np.ndarray) -> np.ndarray | None:
        """The change of x on J that closes the row's residual at least cost, or None."""
        position = int(np.searchsorted(row.touched, row.row))
        delta = row.target - Ax_touched[position]
        if delta == 0.0 or not np.isfinite(delta):
            return None
        direction = np.sign(delta) * np.sign(row.a)  # how each column moves: +1 up, -1 down
        J = row.columns
        bound_room = np.where(direction > 0, self.col_upper[J] - x_J, x_J - self.col_lower[J])
        # every other row touched: the slack on the side the column pushes it to, shared evenly
        change = row.block.data * np.repeat(direction, np.diff(row.block.indptr))
        rows = row.touched[row.nonzero_rows]
        slack = np.where(change > 0, self.row_upper[rows] - Ax_touched[row.nonzero_rows],
                         np.where(change < 0, Ax_touched[row.nonzero_rows] - self.row_lower[rows], np.inf))
        free = (row.shares == 0) | (change == 0)  # the repaired row itself, stored zeros
        with np.errstate(divide="ignore", invalid="ignore"):
            limit = np.where(free, np.inf, np.maximum(slack, 0.0) * row.shares / np.abs(change))
        column_limit = np.minimum(np.maximum(bound_room, 0.0), np.minimum.reduceat(limit, row.block.indptr[:-1]))
        capacity = column_limit * np.abs(row.a)  # row activity each column can supply
        order = row.by_unit_cost if delta > 0 else row.by_unit_cost[::-1]
        available = capacity[order]
        supplied = np.cumsum(available)
        need = abs(delta)
        full = int(np.searchsorted(supplied, need))  # columns that give all they can
        take = np.zeros(J.size)
        take[:full] = available[:full]
        if full < J.size:
            take[full] = need - (supplied[full - 1] if full else 0.0)
        activity = np.zeros(J.size)
        activity[order] = take
        if not activity.any():
            return None
        return direction * activity / np.abs(row.a)


def _dense_row(A: sp.csr_array, c: np.ndarray, r: int, target: float) -> _DenseRow:
    start, stop = A.indptr[r], A.indptr[r + 1]
    columns, a = A.indices[start:stop].copy(), A.data[start:stop].copy()
    keep = a != 0
    columns, a = columns[keep], a[keep]
    by_unit_cost = np.argsort(c[columns] / a, kind="stable")
    block_full = sp.csc_array(A[:, columns])
    touched = np.unique(block_full.indices)
    block = sp.csc_array(A[touched][:, columns])
    block.sort_indices()
    nonzero_rows = block.indices.copy()
    in_row = np.bincount(nonzero_rows, minlength=touched.size)
    shares = 1.0 / in_row[nonzero_rows]
    shares[touched[nonzero_rows] == r] = 0.0  # the row being repaired sets no limit
    return _DenseRow(row=r, target=target, columns=columns, a=a, by_unit_cost=by_unit_cost,
                     touched=touched, block=block, nonzero_rows=nonzero_rows, shares=shares)
