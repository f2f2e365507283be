"""cuPDLPx (MIT-Lu-Lab): restarted Halpern PDHG in CUDA C, through its Python package ``cupdlpx``.

The GPU reference beside alsel's own "pdlp-cuda". The LP goes over as a ``cupdlpx.Model`` built
from our CSR matrix and bounds. ``tol`` sets both its relative optimality and feasibility
tolerances (default 1e-4; cuPDLPx measures them in the l2 norm, as alsel's certificate does).
``presolve`` (default False) turns on its PSLP presolve; alsel's own PDLP has none, so it is
off for like-for-like comparisons. ``cupdlpx`` is published as source only: building it needs
CUDA's compiler (``pip install cupdlpx`` on a machine with nvcc).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from ..lp import LinearProgram
from .base import LPSolution
from .options import check_warm_start

DEFAULT_TOL = 1e-4

_STATUS = {
    "OPTIMAL": "optimal",
    "FEAS_POLISH_SUCCESS": "optimal",
    "PRIMAL_INFEASIBLE": "infeasible",
    "DUAL_INFEASIBLE": "unbounded",
    "INFEASIBLE_OR_UNBOUNDED": "infeasible_or_unbounded",
    "TIME_LIMIT": "time_limit",
    "ITERATION_LIMIT": "iteration_limit",
}


class CupdlpxBackend:
    """cuPDLPx on an NVIDIA GPU (first-order; LPs only)."""

    name = "cupdlpx"
    supports_mip = False
    default_tol = DEFAULT_TOL  # what working_set holds its answers to (alsel's certificate)
    options = ("time_limit", "verbose", "tol", "iteration_limit", "presolve", "warm_start")

    def unavailable_reason(self) -> str | None:
        try:
            import cupdlpx  # noqa: F401
        except ImportError as exc:
            return (f"cupdlpx is not installed ({exc}); it builds from source with CUDA's "
                    "compiler: pip install cupdlpx on a machine with an NVIDIA GPU and nvcc")
        from .pdlp.arrays import cuda_unavailable_reason

        return cuda_unavailable_reason()

    def validate(self, options: dict[str, Any], mip: bool) -> None:
        # presolve, tol and the limits follow the shared rules (solvers.options)
        if options.get("warm_start") is not None:
            check_warm_start(self.name, options["warm_start"])

    def solve(self, lp: LinearProgram, options: dict[str, Any]) -> LPSolution:
        from cupdlpx import Model

        started = time.perf_counter()
        model = Model(
            objective_vector=lp.c,
            constraint_matrix=lp.A,
            constraint_lower_bound=lp.row_lower,
            constraint_upper_bound=lp.row_upper,
            variable_lower_bound=lp.col_lower,
            variable_upper_bound=lp.col_upper,
            objective_constant=lp.offset,
        )
        tol = float(options.get("tol", DEFAULT_TOL))
        model.setParams(
            OptimalityTol=tol,
            FeasibilityTol=tol,
            Presolve=bool(options.get("presolve", False)),
            OutputFlag=bool(options.get("verbose", False)),
        )
        if options.get("time_limit") is not None:
            model.setParam("TimeLimit", float(options["time_limit"]))
        if options.get("iteration_limit") is not None:
            model.setParam("IterationLimit", int(options["iteration_limit"]))
        warm = options.get("warm_start")
        if warm is not None:
            x, y = (warm.x, warm.row_dual) if isinstance(warm, LPSolution) else warm
            model.setWarmStart(primal=x, dual=y)
        handover = time.perf_counter() - started

        started = time.perf_counter()
        model.optimize()
        seconds = time.perf_counter() - started

        x = None if model.X is None else np.asarray(model.X, dtype=np.float64)
        y = None if model.Pi is None else np.asarray(model.Pi, dtype=np.float64)
        return LPSolution(
            status=_STATUS.get(model.StatusName, "error"),
            x=x,
            row_dual=y,
            col_dual=None if model.RC is None else np.asarray(model.RC, dtype=np.float64),
            objective=lp.objective_value(x) if x is not None else float("nan"),
            bound=float("nan"),
            iterations=int(model.IterCount),
            seconds=seconds,
            handover_seconds=handover,
            solver=self.name,
            algorithm="halpern-pdhg/cuda",
            info={"termination": model.StatusName, "tol": tol, "runtime": float(model.Runtime),
                  "rescaling_seconds": float(model.RescalingTime)},
        )
