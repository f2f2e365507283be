"""A third-party backend as a plugin would ship it: scipy.optimize.linprog, LP only."""

from __future__ import annotations

import time

import numpy as np
from scipy.optimize import linprog

from alsel.solvers import LPSolution


class ToyLinprogBackend:
    name = "toy-linprog"
    supports_mip = False
    options = ("time_limit",)

    def unavailable_reason(self):
        return None

    def validate(self, options, mip):
        pass

    def solve(self, lp, options):
        started = time.perf_counter()
        upper = np.isfinite(lp.row_upper) & (lp.row_lower != lp.row_upper)
        equal = lp.row_lower == lp.row_upper
        result = linprog(
            lp.c, A_ub=lp.A[upper], b_ub=lp.row_upper[upper], A_eq=lp.A[equal],
            b_eq=lp.row_upper[equal], bounds=np.column_stack([lp.col_lower, lp.col_upper]),
            method="highs",
        )
        y = np.zeros(lp.num_rows)
        y[upper] = result.ineqlin.marginals
        y[equal] = result.eqlin.marginals
        return LPSolution(
            status="optimal" if result.status == 0 else "error", x=result.x, row_dual=y,
            col_dual=None, objective=float(result.fun), bound=float("nan"), iterations=result.nit,
            seconds=time.perf_counter() - started, handover_seconds=0.0, solver=self.name,
            algorithm="linprog-highs",
        )
