"""Termination: the relative KKT errors of alsel's certificate, evaluated on the device in the
original (unscaled) space, and the infeasibility checks on iterate differences.

The formulas are those of :mod:`alsel.certificate` (PDLP's relative criteria), so a solve that
stops as "optimal" at tol has a certificate within tol when alsel recomputes it on the host.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .arrays import ArrayContext


def _max(values: Any) -> float:
    """max of an array as a float, 0 for an empty one."""
    return float(values.max()) if values.size else 0.0


@dataclass(frozen=True)
class KKT:
    """Relative primal residual, dual residual and gap of one primal-dual point."""

    primal: float
    dual: float
    gap: float
    primal_objective: float
    dual_objective: float

    @property
    def error(self) -> float:
        return max(self.primal, self.dual, self.gap)


class Evaluator:
    """Computes KKT errors and ray tests for points given in scaled space."""

    def __init__(self, lp, scaled, ctx: ArrayContext) -> None:
        xp = ctx.xp
        self.xp = xp
        s = scaled.scaling
        self.d1 = ctx.asarray(s.row)
        self.d2 = ctx.asarray(s.col)
        self.theta_b, self.theta_c = s.bound, s.objective
        self.c = ctx.asarray(lp.c)
        self.offset = lp.offset
        self.row_lower, self.row_upper = ctx.asarray(lp.row_lower), ctx.asarray(lp.row_upper)
        self.col_lower, self.col_upper = ctx.asarray(lp.col_lower), ctx.asarray(lp.col_upper)
        self.row_lower_finite = xp.isfinite(self.row_lower)
        self.row_upper_finite = xp.isfinite(self.row_upper)
        self.col_lower_finite = xp.isfinite(self.col_lower)
        self.col_upper_finite = xp.isfinite(self.col_upper)
        lower = np.where(np.isfinite(lp.row_lower), np.abs(lp.row_lower), 0.0)
        upper = np.where(np.isfinite(lp.row_upper), np.abs(lp.row_upper), 0.0)
        self.bounds_norm = float(np.linalg.norm(np.maximum(lower, upper)))
        self.c_norm = float(np.linalg.norm(lp.c))

    # maps from the scaled space
    def x(self, x_s):
        return self.d2 * x_s / self.theta_b

    def y(self, y_s):
        return self.d1 * y_s / self.theta_c

    def Ax(self, Ax_s):
        return Ax_s / (self.d1 * self.theta_b)

    def ATy(self, ATy_s):
        return ATy_s / (self.d2 * self.theta_c)

    def _row_term(self, y):
        xp = self.xp
        low = xp.where(self.row_lower_finite, self.row_lower, 0.0)
        up = xp.where(self.row_upper_finite, self.row_upper, 0.0)
        return xp.where(y > 0, y * low, y * up)

    def _column_terms(self, d):
        """(finite-bound term of the dual objective, parts of d against infinite bounds)."""
        xp = self.xp
        low = xp.where(self.col_lower_finite, self.col_lower, 0.0)
        up = xp.where(self.col_upper_finite, self.col_upper, 0.0)
        finite = xp.where(d > 0, d * low, d * up)
        wrong = xp.where((d > 0) & ~self.col_lower_finite, d,
                         xp.where((d < 0) & ~self.col_upper_finite, d, 0.0))
        return finite, wrong

    def kkt(self, x_s, y_s, Ax_s, ATy_s) -> KKT:
        """Certificate figures of the scaled point (x_s, y_s) with its products."""
        xp = self.xp
        x, y, Ax, ATy = self.x(x_s), self.y(y_s), self.Ax(Ax_s), self.ATy(ATy_s)
        row_excess = Ax - xp.clip(Ax, self.row_lower, self.row_upper)
        col_excess = x - xp.clip(x, self.col_lower, self.col_upper)
        primal = float(xp.sqrt(xp.sum(row_excess**2) + xp.sum(col_excess**2))) / (1 + self.bounds_norm)
        allowed = xp.clip(y, xp.where(self.row_upper_finite, -xp.inf, 0.0),
                          xp.where(self.row_lower_finite, xp.inf, 0.0))
        d = self.c - ATy
        finite, wrong = self._column_terms(d)
        dual = float(xp.sqrt(xp.sum((y - allowed) ** 2) + xp.sum(wrong**2))) / (1 + self.c_norm)
        p = float(self.c @ x) + self.offset
        q = float(xp.sum(self._row_term(allowed)) + xp.sum(finite)) + self.offset
        gap = abs(p - q) / (1 + abs(p) + abs(q))
        return KKT(primal, dual, gap, p, q)

    def primal_infeasible(self, dy_s, ATdy_s, tol: float) -> bool:
        """Whether the dual direction dy certifies that no x is feasible (a Farkas ray)."""
        xp = self.xp
        ray = self.y(dy_s)
        scale = _max(xp.abs(ray))
        if not scale > 0:
            return False
        allowed = xp.clip(ray, xp.where(self.row_upper_finite, -xp.inf, 0.0),
                          xp.where(self.row_lower_finite, xp.inf, 0.0)) / scale
        d = -self.ATy(ATdy_s) / scale
        finite, wrong = self._column_terms(d)
        objective = float(xp.sum(self._row_term(allowed)) + xp.sum(finite))
        violation = max(_max(xp.abs(wrong)), _max(xp.abs(ray / scale - allowed)))
        return objective > tol and violation <= tol * objective

    def dual_infeasible(self, dx_s, Adx_s, tol: float) -> bool:
        """Whether the primal direction dx is an improving ray (the LP is unbounded or infeasible)."""
        xp = self.xp
        ray = self.x(dx_s)
        scale = _max(xp.abs(ray))
        if not scale > 0:
            return False
        ray = ray / scale
        Aray = self.Ax(Adx_s) / scale
        descent = -float(self.c @ ray)
        violation = max(
            _max(xp.where(self.row_lower_finite, xp.maximum(-Aray, 0.0), 0.0)),
            _max(xp.where(self.row_upper_finite, xp.maximum(Aray, 0.0), 0.0)),
            _max(xp.where(self.col_lower_finite, xp.maximum(-ray, 0.0), 0.0)),
            _max(xp.where(self.col_upper_finite, xp.maximum(ray, 0.0), 0.0)),
        )
        return descent > tol and violation <= tol * descent
