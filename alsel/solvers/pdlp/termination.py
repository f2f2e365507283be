"""Termination: alsel's certificate evaluated on the device in the original (unscaled) space,
and the infeasibility checks on iterate differences, in the scaled space.

The KKT figures come from :func:`alsel.certificate.relative_kkt`, the same function that
certifies every backend's answer, so a solve that stops as "optimal" at tol has a certificate
within tol when alsel recomputes it on the host.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ...certificate import (Certificate, KKTData, certificate_from_sums, column_terms, project_duals,
                            relative_kkt, row_terms)
from .arrays import ArrayContext
from .repair import EqualityRepair
from . import kernels


def _max(values: Any) -> float:
    """max of an array as a float, 0 for an empty one."""
    return float(values.max()) if values.size else 0.0


class Evaluator:
    """KKT errors and ray tests for points given in the scaled space."""

    def __init__(self, lp, scaled, ctx: ArrayContext, repair: EqualityRepair | None = None) -> None:
        self.ctx, self.xp = ctx, ctx.xp
        self.repair = repair
        self.failed_gap = math.inf  # the candidate's gap at the last attempt that did not certify
        s = scaled.scaling
        if repair is not None:  # a chosen row's residual in the original space: scaled / (d1 theta_b)
            self.repair_unscale = np.asarray(s.row)[repair.row_indices] * s.bound
        self.d1 = ctx.asarray(s.row)
        self.d2 = ctx.asarray(s.col)
        self.theta_b, self.theta_c = s.bound, s.objective
        self.data = KKTData.from_lp(lp, ctx.xp, ctx.dtype)
        # The ray tests weigh a ray's violation against its objective, two quantities in different
        # units; in the original space costs or bounds of 1e12 made near-feasible iterate
        # differences pass for rays (false "unbounded" / "infeasible"). In the scaled space
        # (Ruiz-equilibrated K, ||c|| and ||b|| below 1) the ratio means the same on every LP.
        self.scaled_data = KKTData.from_lp(scaled, ctx.xp, ctx.dtype)
        fused = ctx.xp is np and ctx.dtype == np.float64 and kernels.numba_available()
        self.fused = kernels.FusedKKT(self.data, self.d1, self.d2, self.theta_b, self.theta_c) if fused else None

    # maps from the scaled space: x = D2 x~ / theta_b, y = D1 y~ / theta_c
    def x(self, x_s):
        return self.d2 * x_s / self.theta_b

    def y(self, y_s):
        return self.d1 * y_s / self.theta_c

    def Ax(self, Ax_s):
        return Ax_s / (self.d1 * self.theta_b)

    def ATy(self, ATy_s):
        return ATy_s / (self.d2 * self.theta_c)

    def kkt(self, x_s, y_s, Ax_s, ATy_s) -> Certificate:
        """alsel's certificate of the scaled point (x_s, y_s), whose products are given."""
        if self.fused is not None:
            primal, dual, cx, dual_terms = self.fused.sums(x_s, y_s, Ax_s, ATy_s)
            return certificate_from_sums(self.data, math.sqrt(primal), math.sqrt(dual), cx, dual_terms)
        return relative_kkt(self.xp, self.data, self.x(x_s), self.y(y_s), self.Ax(Ax_s), self.ATy(ATy_s))

    def repaired(self, x_s, y_s, Ax_s, ATy_s, kkt: Certificate, tol: float) -> tuple[Any, Certificate] | None:
        """(x', its certificate): the candidate with its densest equality rows' residual closed
        (``repair.py``), where x' is within tol; else None. Tried where the candidate misses tol
        on its primal residual but not on its dual residual (y stays, so the repair cannot
        change it), where closing these rows could bring the primal residual within tol, and,
        after an attempt that failed, once the gap is within tol or has halved (the repair moves
        the gap by its cost, either way)."""
        if self.repair is None or kkt.primal_residual <= tol or kkt.dual_residual > tol:
            return None
        if kkt.gap > tol and kkt.gap > 0.5 * self.failed_gap:
            return None  # a gap a failed attempt could not close: retried once it has halved
        # what stays of the primal residual once these rows are closed (the repair makes no
        # other row worse): where that alone misses tol, the attempt is not worth its cost
        scale = 1.0 + self.data.bounds_norm
        closable = float(np.linalg.norm(self.repair.residuals(self.ctx, Ax_s) / self.repair_unscale))
        if (kkt.primal_residual * scale) ** 2 - closable ** 2 > (tol * scale) ** 2:
            return None
        fixed = self.repair.attempt(self.ctx, x_s, Ax_s)
        if fixed is None:
            return None
        certificate = self.kkt(fixed[0], y_s, fixed[1], ATy_s)
        if certificate.within(tol):
            return fixed[0], certificate
        self.failed_gap = kkt.gap
        return None

    def primal_infeasible(self, dy_s, ATdy_s, tol: float) -> bool:
        """Whether the dual direction dy (scaled, with K'dy) certifies that no x is feasible (a
        Farkas ray), judged in the scaled space."""
        xp, data = self.xp, self.scaled_data
        scale = _max(xp.abs(dy_s))
        if not scale > 0:
            return False
        ray = dy_s / scale
        allowed = project_duals(xp, data.dual_floor, data.dual_ceiling, ray)
        finite, wrong = column_terms(xp, data, -ATdy_s / scale)
        objective = float(xp.sum(row_terms(xp, data, allowed)) + xp.sum(finite))
        violation = max(0.0 if wrong is None else _max(xp.abs(wrong)), _max(xp.abs(ray - allowed)))
        return objective > tol and violation <= tol * objective

    def dual_infeasible(self, dx_s, Adx_s, tol: float) -> bool:
        """Whether the primal direction dx (scaled, with K dx) is an improving ray (the LP is
        unbounded or infeasible), judged in the scaled space. Never on an LP whose columns are
        all bounded: its feasible set is bounded."""
        xp, data = self.xp, self.scaled_data
        if data.boxed:
            return False
        scale = _max(xp.abs(dx_s))
        if not scale > 0:
            return False
        ray, Aray = dx_s / scale, Adx_s / scale
        descent = -float(data.c @ ray)
        violation = max(
            _max(xp.where(xp.isfinite(data.row_lower), xp.maximum(-Aray, 0.0), 0.0)),
            _max(xp.where(xp.isfinite(data.row_upper), xp.maximum(Aray, 0.0), 0.0)),
            _max(xp.where(xp.isfinite(data.col_lower), xp.maximum(-ray, 0.0), 0.0)),
            _max(xp.where(xp.isfinite(data.col_upper), xp.maximum(ray, 0.0), 0.0)),
        )
        return descent > tol and violation <= tol * descent
