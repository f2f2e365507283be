"""OR-Tools PDLP: the restarted primal-dual hybrid gradient method, multithreaded on the CPU.

The LP goes over as a ``pdlp.QuadraticProgram`` built from our arrays (CSC matrix, bounds,
costs) in bulk. ``tol`` sets PDLP's relative and absolute optimality tolerances (default 1e-4).

PDLP's duality gap is taken on the corrected dual objective, the bound that alsel's certificate
uses (``handle_some_primal_gradients_on_finite_bounds_as_residuals = False``). OR-Tools' default
moves the reduced costs of some bounded columns into the dual residual instead; on the selection
LP its answers then stopped "optimal" at tol 1e-4 with certified gaps of 1e-3 to 3e-2
(docs/benchmarks.md).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import scipy.sparse as sp

from ..lp import LinearProgram
from .base import LPSolution, missing_package

DEFAULT_TOL = 1e-4

_STATUS = {
    "TERMINATION_REASON_OPTIMAL": "optimal",
    "TERMINATION_REASON_TIME_LIMIT": "time_limit",
    "TERMINATION_REASON_ITERATION_LIMIT": "iteration_limit",
    "TERMINATION_REASON_KKT_MATRIX_PASS_LIMIT": "iteration_limit",
    "TERMINATION_REASON_PRIMAL_INFEASIBLE": "infeasible",
    "TERMINATION_REASON_DUAL_INFEASIBLE": "unbounded",
    "TERMINATION_REASON_PRIMAL_OR_DUAL_INFEASIBLE": "infeasible_or_unbounded",
    "TERMINATION_REASON_INTERRUPTED_BY_USER": "interrupted",
}


class OrtoolsPdlpBackend:
    """OR-Tools PDLP (first-order; LPs only)."""

    name = "ortools-pdlp"
    supports_mip = False
    default_tol = DEFAULT_TOL  # what working_set holds its answers to (alsel's certificate)
    options = ("time_limit", "threads", "verbose", "tol", "iteration_limit")

    def unavailable_reason(self) -> str | None:
        try:
            from ortools.pdlp.python import pdlp  # noqa: F401
        except ImportError as exc:
            return missing_package("ortools", "ortools", exc)
        return None

    def validate(self, options: dict[str, Any], mip: bool) -> None:
        pass  # tol and iteration_limit are checked with the common options

    def solve(self, lp: LinearProgram, options: dict[str, Any]) -> LPSolution:
        from ortools.pdlp import solve_log_pb2, solvers_pb2
        from ortools.pdlp.python import pdlp

        started = time.perf_counter()
        qp = pdlp.QuadraticProgram()
        qp.objective_vector = lp.c
        qp.objective_offset = lp.offset
        qp.constraint_lower_bounds = lp.row_lower
        qp.constraint_upper_bounds = lp.row_upper
        qp.variable_lower_bounds = lp.col_lower
        qp.variable_upper_bounds = lp.col_upper
        qp.constraint_matrix = sp.csc_matrix(lp.A)
        params = solvers_pb2.PrimalDualHybridGradientParams()
        params.handle_some_primal_gradients_on_finite_bounds_as_residuals = False
        tol = float(options.get("tol", DEFAULT_TOL))
        criteria = params.termination_criteria.simple_optimality_criteria
        criteria.eps_optimal_relative = tol
        criteria.eps_optimal_absolute = tol
        if options.get("time_limit") is not None:
            params.termination_criteria.time_sec_limit = float(options["time_limit"])
        if options.get("iteration_limit") is not None:
            params.termination_criteria.iteration_limit = int(options["iteration_limit"])
        if options.get("threads") is not None:
            params.num_threads = int(options["threads"])
        params.verbosity_level = 2 if options.get("verbose") else 0
        handover = time.perf_counter() - started

        started = time.perf_counter()
        result = pdlp.primal_dual_hybrid_gradient(qp, params)
        seconds = time.perf_counter() - started

        log = result.solve_log
        reason = solve_log_pb2.TerminationReason.Name(log.termination_reason)
        x = np.asarray(result.primal_solution, dtype=np.float64)
        y = np.asarray(result.dual_solution, dtype=np.float64)
        has_point = x.shape == (lp.num_cols,)
        return LPSolution(
            status=_STATUS.get(reason, "error"),
            x=x if has_point else None,
            row_dual=y if y.shape == (lp.num_rows,) else None,
            col_dual=np.asarray(result.reduced_costs, dtype=np.float64) if has_point else None,
            objective=lp.objective_value(x) if has_point else float("nan"),
            bound=float("nan"),
            iterations=int(log.iteration_count),
            seconds=seconds,
            handover_seconds=handover,
            solver=self.name,
            algorithm="pdhg",
            info={"termination": reason, "tol": tol},
        )
