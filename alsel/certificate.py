"""One solver-independent certificate for every LP answer, computed by alsel.

The definitions follow PDLP's relative termination criteria (Applegate et al., "Practical
large-scale linear programming using primal-dual hybrid gradient", and OR-Tools' termination.cc),
with eps_abs / eps_rel = 1. For  min c'x + offset  s.t.  l <= Ax <= u,  lo <= x <= up  and a
primal point x and row duals y:

* relative primal residual  = || (Ax - proj_[l,u](Ax),  x - proj_[lo,up](x)) ||_2 / (1 + ||b||_2)
  where b holds, for every row, the largest finite |bound| (PDLP's "combined bounds");
* relative dual residual    = || (y_wrong,  d_wrong) ||_2 / (1 + ||c||_2)
  where y_wrong are the parts of y with a sign its row cannot have (y_r > 0 needs a finite l_r,
  y_r < 0 a finite u_r) and d_wrong the parts of the reduced costs d = c - A'y_+ (y_+ = y
  projected onto the allowed signs) that no finite column bound can absorb;
* relative duality gap      = |p - q| / (1 + |p| + |q|)
  with p = c'x + offset and q = LinearProgram.dual_objective(y), PDLP's dual objective (the
  reduced costs that meet an infinite column bound are left out of q and counted in the dual
  residual). Where every column is bounded, q is LinearProgram.dual_bound(y), a valid lower
  bound whatever y is.

Every backend's answer is judged by these same three numbers. For an integral problem there are
no duals: the dual residual is nan and the gap uses the solver's proven bound as q.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .lp import LinearProgram


@dataclass(frozen=True)
class Certificate:
    """Relative KKT errors of an LP answer (see the module docstring for the formulas)."""

    primal_residual: float
    dual_residual: float
    gap: float
    primal_objective: float
    dual_objective: float

    @property
    def kkt_error(self) -> float:
        """The largest of the three relative errors (nan parts ignored)."""
        return float(np.nanmax([self.primal_residual, self.dual_residual, self.gap]))

    def within(self, tol: float) -> bool:
        """Whether every relative error is at most ``tol``."""
        return self.kkt_error <= tol

    def __str__(self) -> str:
        return (
            f"primal {self.primal_residual:.2e}, dual {self.dual_residual:.2e}, "
            f"gap {self.gap:.2e} (relative)"
        )


def _excess(value: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """value - proj_[lower, upper](value)."""
    return value - np.clip(value, lower, upper)


def combined_bounds_norm(lp: LinearProgram) -> float:
    """||b||_2 with b_r the largest finite |bound| of row r (0 if none)."""
    lower = np.where(np.isfinite(lp.row_lower), np.abs(lp.row_lower), 0.0)
    upper = np.where(np.isfinite(lp.row_upper), np.abs(lp.row_upper), 0.0)
    return float(np.linalg.norm(np.maximum(lower, upper)))


def certify(
    lp: LinearProgram, x: np.ndarray, y: np.ndarray | None = None, bound: float | None = None
) -> Certificate:
    """The certificate of primal x and row duals y (or, without y, of x and a proven ``bound``)."""
    x = np.asarray(x, dtype=np.float64)
    if x.shape != (lp.num_cols,):
        raise ValueError(f"x must have shape ({lp.num_cols},); got {x.shape}.")
    activity = lp.A @ x
    primal = np.sqrt(
        np.sum(_excess(activity, lp.row_lower, lp.row_upper) ** 2)
        + np.sum(_excess(x, lp.col_lower, lp.col_upper) ** 2)
    )
    primal_residual = float(primal / (1.0 + combined_bounds_norm(lp)))
    p = lp.objective_value(x)

    if y is None:
        q = float("nan") if bound is None else float(bound)
        gap = abs(p - q) / (1.0 + abs(p) + abs(q)) if np.isfinite(q) else float("inf")
        return Certificate(primal_residual, float("nan"), float(gap), p, q)

    y = np.asarray(y, dtype=np.float64)
    if y.shape != (lp.num_rows,):
        raise ValueError(f"y must have shape ({lp.num_rows},); got {y.shape}.")
    allowed = lp.project_duals(y)
    d = lp.c - lp.A.T @ allowed
    d_wrong = np.where(
        (d > 0) & ~np.isfinite(lp.col_lower), d, np.where((d < 0) & ~np.isfinite(lp.col_upper), d, 0.0)
    )
    dual = np.sqrt(np.sum((y - allowed) ** 2) + np.sum(d_wrong**2))
    dual_residual = float(dual / (1.0 + np.linalg.norm(lp.c)))
    q = lp.dual_objective(y)
    gap = abs(p - q) / (1.0 + abs(p) + abs(q)) if np.isfinite(q) else float("inf")
    return Certificate(primal_residual, dual_residual, float(gap), p, q)
