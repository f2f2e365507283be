"""Clarabel: an interior-point solver for LPs and convex QPs, called on alsel's arrays.

The LinearProgram goes over in Clarabel's standard form  min 1/2 x'Px + c'x  s.t.  Kx + s = b,
s in a product of cones: an equality row (l = u) is a zero-cone row, every finite row and column
bound a nonnegative-cone row (a x <= u as  a x + s = u;  a x >= l as  -a x + s = -l), P the upper
triangle of the Hessian. Clarabel's cone duals z map back to alsel's row duals as
y = z_lower - z_upper (and -z on equality rows), so alsel's certificate judges the answer.

Unlike the "cvxpy" backend, which restates the model from the SelectionProblem (also with
Clarabel, by default), this one reads only the matrix: it takes the working set's sliced LPs,
where its QP solves are fast (docs/solvers.md). On a whole "qp" LP it is slow: the Hessian over v
is dense (N² nonzeros; N = 1200: 16 s against 1.4 s through cvxpy, which factors R).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import scipy.sparse as sp

from ..lp import LinearProgram
from .base import LPSolution, missing_package

#: Clarabel's own default for its gap and feasibility tolerances.
DEFAULT_TOL = 1e-8

_STATUS = {
    "Solved": "optimal",
    "AlmostSolved": "inaccurate",
    "PrimalInfeasible": "infeasible",
    "AlmostPrimalInfeasible": "infeasible",
    "DualInfeasible": "unbounded",
    "AlmostDualInfeasible": "unbounded",
    "MaxIterations": "iteration_limit",
    "MaxTime": "time_limit",
}


class ClarabelBackend:
    """Clarabel (interior point; LPs and convex QPs) on the LP's own matrix."""

    name = "clarabel"
    supports_mip = False
    supports_qp = True
    options = ("time_limit", "threads", "verbose", "tol", "iteration_limit")

    def unavailable_reason(self) -> str | None:
        try:
            import clarabel  # noqa: F401
        except ImportError as exc:
            return missing_package("clarabel", "clarabel", exc)
        return None

    def validate(self, options: dict[str, Any], mip: bool) -> None:
        pass  # every option is checked with the common ones

    def solve(self, lp: LinearProgram, options: dict[str, Any]) -> LPSolution:
        import clarabel

        started = time.perf_counter()
        form = StandardForm.of(lp)
        settings = clarabel.DefaultSettings()
        settings.verbose = bool(options.get("verbose", False))
        tol = float(options.get("tol", DEFAULT_TOL))
        settings.tol_gap_abs = settings.tol_gap_rel = settings.tol_feas = tol
        if options.get("time_limit") is not None:
            settings.time_limit = float(options["time_limit"])
        if options.get("iteration_limit") is not None:
            settings.max_iter = int(options["iteration_limit"])
        if options.get("threads") is not None:
            settings.max_threads = int(options["threads"])
        solver = clarabel.DefaultSolver(form.P, lp.c.astype(np.float64), form.K, form.b, form.cones, settings)
        handover = time.perf_counter() - started

        started = time.perf_counter()
        result = solver.solve()
        seconds = time.perf_counter() - started

        status = _STATUS.get(str(result.status), "error")
        has_point = status in ("optimal", "inaccurate", "time_limit", "iteration_limit")
        x = np.asarray(result.x, dtype=np.float64) if has_point else None
        return LPSolution(
            status=status,
            x=x,
            row_dual=form.row_duals(np.asarray(result.z, dtype=np.float64)) if has_point else None,
            col_dual=None,
            objective=lp.objective_value(x) if has_point else float("nan"),
            bound=float("nan"),
            iterations=int(result.iterations),
            seconds=seconds,
            handover_seconds=handover,
            solver=self.name,
            algorithm="interior point",
            info={"clarabel_status": str(result.status), "tol": tol},
        )


class StandardForm:
    """A LinearProgram as Clarabel's (P, K, b, cones), and the map of its duals back."""

    def __init__(self, P: sp.csc_matrix, K: sp.csc_matrix, b: np.ndarray, cones: list,
                 equal: np.ndarray, upper: np.ndarray, lower: np.ndarray) -> None:
        self.P, self.K, self.b, self.cones = P, K, b, cones
        self.equal, self.upper, self.lower = equal, upper, lower

    @classmethod
    def of(cls, lp: LinearProgram) -> StandardForm:
        import clarabel

        A = sp.csr_matrix(lp.A)
        n = lp.num_cols
        finite_lower, finite_upper = np.isfinite(lp.row_lower), np.isfinite(lp.row_upper)
        equal = finite_lower & finite_upper & (lp.row_lower == lp.row_upper)
        upper, lower = finite_upper & ~equal, finite_lower & ~equal
        identity = sp.identity(n, format="csr")
        column_upper, column_lower = np.isfinite(lp.col_upper), np.isfinite(lp.col_lower)
        K = sp.vstack([A[equal], A[upper], -A[lower], identity[column_upper], -identity[column_lower]],
                      format="csc")
        b = np.concatenate([lp.row_upper[equal], lp.row_upper[upper], -lp.row_lower[lower],
                            lp.col_upper[column_upper], -lp.col_lower[column_lower]]).astype(np.float64)
        inequalities = int(upper.sum() + lower.sum() + column_upper.sum() + column_lower.sum())
        cones = ([clarabel.ZeroConeT(int(equal.sum()))] if equal.any() else []) + (
            [clarabel.NonnegativeConeT(inequalities)] if inequalities else [])
        P = sp.csc_matrix((n, n)) if lp.hessian is None else sp.triu(lp.hessian, format="csc")
        return cls(P, K, b, cones, equal, upper, lower)

    def row_duals(self, z: np.ndarray) -> np.ndarray:
        """alsel's row duals (y_r > 0 on an active lower bound, < 0 on an upper) from Clarabel's z."""
        y = np.zeros(self.equal.size)
        equal, upper = int(self.equal.sum()), int(self.upper.sum())
        lower = int(self.lower.sum())
        y[self.equal] = -z[:equal]
        y[self.upper] -= z[equal:equal + upper]
        y[self.lower] += z[equal + upper:equal + upper + lower]
        return y
