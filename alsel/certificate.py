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

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

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


@dataclass(frozen=True, eq=False)
class KKTData:
    """The LP data the certificate reads, as arrays of one array module (NumPy or CuPy)."""

    c: Any
    offset: float
    row_lower: Any
    row_upper: Any
    col_lower: Any
    col_upper: Any
    bounds_norm: float
    c_norm: float

    @classmethod
    def from_lp(cls, lp: LinearProgram, asarray: Callable[[np.ndarray], Any] = np.asarray) -> KKTData:
        return cls(
            c=asarray(lp.c), offset=lp.offset,
            row_lower=asarray(lp.row_lower), row_upper=asarray(lp.row_upper),
            col_lower=asarray(lp.col_lower), col_upper=asarray(lp.col_upper),
            bounds_norm=combined_bounds_norm(lp), c_norm=float(np.linalg.norm(lp.c)),
        )


def combined_bounds_norm(lp: LinearProgram) -> float:
    """||b||_2 with b_r the largest finite |bound| of row r (0 if none)."""
    lower = np.where(np.isfinite(lp.row_lower), np.abs(lp.row_lower), 0.0)
    upper = np.where(np.isfinite(lp.row_upper), np.abs(lp.row_upper), 0.0)
    return float(np.linalg.norm(np.maximum(lower, upper)))


def project_duals(xp: Any, row_lower: Any, row_upper: Any, y: Any) -> Any:
    """y clipped to the signs its rows allow (y_r > 0 needs a finite l_r, y_r < 0 a finite u_r)."""
    return xp.clip(y, xp.where(xp.isfinite(row_upper), -xp.inf, 0.0),
                   xp.where(xp.isfinite(row_lower), xp.inf, 0.0))


def row_and_column_terms(xp: Any, data: KKTData, y_allowed: Any, ATy_allowed: Any) -> tuple[Any, Any, Any]:
    """(row terms, finite column terms, parts of d against infinite bounds) of a sign-feasible y."""
    finite, wrong = column_terms(xp, data, data.c - ATy_allowed)
    return row_terms(xp, data, y_allowed), finite, wrong


def row_terms(xp: Any, data: KKTData, y: Any) -> Any:
    """y_r l_r where y_r > 0, y_r u_r where y_r < 0 (y already sign-feasible)."""
    low = xp.where(xp.isfinite(data.row_lower), data.row_lower, 0.0)
    up = xp.where(xp.isfinite(data.row_upper), data.row_upper, 0.0)
    return xp.where(y > 0, y * low, y * up)


def column_terms(xp: Any, data: KKTData, d: Any) -> tuple[Any, Any]:
    """(d_j lo_j or d_j up_j over the finite bounds, the parts of d against infinite bounds)."""
    lower_finite, upper_finite = xp.isfinite(data.col_lower), xp.isfinite(data.col_upper)
    low = xp.where(lower_finite, data.col_lower, 0.0)
    up = xp.where(upper_finite, data.col_upper, 0.0)
    finite = xp.where(d > 0, d * low, d * up)
    wrong = xp.where((d > 0) & ~lower_finite, d, xp.where((d < 0) & ~upper_finite, d, 0.0))
    return finite, wrong


def relative_kkt(xp: Any, data: KKTData, x: Any, y: Any, Ax: Any, ATy_allowed: Any) -> Certificate:
    """The certificate of (x, y) given A x and A^T proj(y), in any array module.

    The one implementation of the formulas above: :func:`certify` calls it with NumPy, alsel's
    PDLP with its device arrays, so PDLP's "optimal" and the certificate cannot disagree.
    """
    row_excess = Ax - xp.clip(Ax, data.row_lower, data.row_upper)
    col_excess = x - xp.clip(x, data.col_lower, data.col_upper)
    primal = float(xp.sqrt(xp.sum(row_excess**2) + xp.sum(col_excess**2))) / (1.0 + data.bounds_norm)
    allowed = project_duals(xp, data.row_lower, data.row_upper, y)
    rows, finite, wrong = row_and_column_terms(xp, data, allowed, ATy_allowed)
    dual = float(xp.sqrt(xp.sum((y - allowed) ** 2) + xp.sum(wrong**2))) / (1.0 + data.c_norm)
    p = float(data.c @ x) + data.offset
    q = float(xp.sum(rows) + xp.sum(finite)) + data.offset
    gap = abs(p - q) / (1.0 + abs(p) + abs(q))
    return Certificate(primal, dual, gap, p, q)


def certify(
    lp: LinearProgram, x: np.ndarray, y: np.ndarray | None = None, bound: float | None = None
) -> Certificate:
    """The certificate of primal x and row duals y (or, without y, of x and a proven ``bound``)."""
    x = np.asarray(x, dtype=np.float64)
    if x.shape != (lp.num_cols,):
        raise ValueError(f"x must have shape ({lp.num_cols},); got {x.shape}.")
    data = KKTData.from_lp(lp)
    if y is None:
        activity = lp.A @ x
        primal = np.sqrt(
            np.sum((activity - np.clip(activity, lp.row_lower, lp.row_upper)) ** 2)
            + np.sum((x - np.clip(x, lp.col_lower, lp.col_upper)) ** 2)
        )
        p = lp.objective_value(x)
        q = float("nan") if bound is None else float(bound)
        gap = abs(p - q) / (1.0 + abs(p) + abs(q)) if np.isfinite(q) else float("inf")
        return Certificate(float(primal / (1.0 + data.bounds_norm)), float("nan"), float(gap), p, q)
    y = np.asarray(y, dtype=np.float64)
    if y.shape != (lp.num_rows,):
        raise ValueError(f"y must have shape ({lp.num_rows},); got {y.shape}.")
    return relative_kkt(np, data, x, y, lp.A @ x, lp.A.T @ lp.project_duals(y))
