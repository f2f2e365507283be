"""An alsel backend in one file: SciPy's linprog (HiGHS inside SciPy), LPs only.

Install it next to alsel and it is a backend like the built-in ones:

    pip install -e examples/plugin_backend
    alsel solvers                                   # lists scipy-linprog
    alsel verify --solver scipy-linprog             # the same checks as the built-in backends
    alsel bench --solvers highs,scipy-linprog --sizes 100,300
"""

from __future__ import annotations

import time

import numpy as np
from scipy.optimize import linprog

from alsel.solvers import LPSolution

_STATUS = {0: "optimal", 1: "iteration_limit", 2: "infeasible", 3: "unbounded"}


class ScipyLinprogBackend:
    """What alsel asks of a backend: a name, what it can solve, its options, and solve()."""

    name = "scipy-linprog"
    supports_mip = False
    options = ("time_limit",)

    def unavailable_reason(self) -> str | None:
        return None  # scipy is a dependency of alsel itself

    def validate(self, options, mip):
        pass  # time_limit is checked by alsel (solvers.check_options)

    def solve(self, lp, options):
        started = time.perf_counter()
        upper = np.isfinite(lp.row_upper) & (lp.row_lower != lp.row_upper)
        lower = np.isfinite(lp.row_lower) & (lp.row_lower != lp.row_upper)
        equal = lp.row_lower == lp.row_upper
        A_ub = lp.A[np.flatnonzero(upper)], -lp.A[np.flatnonzero(lower)]
        from scipy.sparse import vstack

        result = linprog(
            lp.c,
            A_ub=vstack(A_ub), b_ub=np.concatenate([lp.row_upper[upper], -lp.row_lower[lower]]),
            A_eq=lp.A[np.flatnonzero(equal)], b_eq=lp.row_upper[equal],
            bounds=np.column_stack([lp.col_lower, lp.col_upper]), method="highs",
            options={"time_limit": float(options["time_limit"])} if "time_limit" in options else None,
        )
        # row duals in alsel's convention (y = d objective / d row bound), one per row
        y = np.zeros(lp.num_rows)
        if result.status == 0:
            marginals = result.ineqlin.marginals
            y[upper] += marginals[: upper.sum()]
            y[lower] -= marginals[upper.sum():]
            y[equal] = result.eqlin.marginals
        return LPSolution(
            status=_STATUS.get(result.status, "error"),
            x=result.x, row_dual=y if result.status == 0 else None, col_dual=None,
            objective=lp.objective_value(result.x) if result.x is not None else float("nan"),
            bound=float("nan"), iterations=result.nit, seconds=time.perf_counter() - started,
            handover_seconds=0.0, solver=self.name, algorithm="linprog-highs",
        )
