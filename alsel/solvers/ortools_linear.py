"""OR-Tools through model_builder: GLOP (simplex, LP) and SCIP (branch-and-cut, MIP).

The CSR matrix, bounds and costs go over in one ``fill_model_from_sparse_data`` call.
SCIP is alsel's OR-Tools MIP backend: on our exact MILP it beat CP-SAT, which must scale the
fractional costs to integers (docs/solvers.md has the comparison).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import scipy.sparse as sp

from ..errors import SolverError
from ..lp import LinearProgram
from .base import LPSolution, missing_package

_STATUS = {
    "OPTIMAL": "optimal",
    "INFEASIBLE": "infeasible",
    "UNBOUNDED": "unbounded",
    "CANCELLED_BY_USER": "interrupted",
}


class _ModelBuilderBackend:
    solver_id: str
    name: str
    supports_mip: bool
    options: tuple[str, ...] = ("time_limit", "verbose")

    def unavailable_reason(self) -> str | None:
        try:
            from ortools.linear_solver.python import model_builder_helper as mbh
        except ImportError as exc:
            return missing_package("ortools", "ortools", exc)
        if not mbh.ModelSolverHelper(self.solver_id).solver_is_supported():
            return f"this OR-Tools build has no {self.solver_id}"
        return None

    def validate(self, options: dict[str, Any], mip: bool) -> None:
        pass

    def _configure(self, solver: Any, options: dict[str, Any]) -> None:
        pass

    def solve(self, lp: LinearProgram, options: dict[str, Any]) -> LPSolution:
        from ortools.linear_solver.python import model_builder_helper as mbh

        started = time.perf_counter()
        model = mbh.ModelBuilderHelper()
        model.fill_model_from_sparse_data(
            lp.col_lower, lp.col_upper, lp.c, lp.row_lower, lp.row_upper, sp.csr_matrix(lp.A)
        )
        if lp.offset:
            model.set_objective_offset(lp.offset)
        if lp.is_mip:
            for column in np.flatnonzero(lp.integrality):  # no bulk setter in model_builder
                model.set_var_integrality(int(column), True)
        solver = mbh.ModelSolverHelper(self.solver_id)
        solver.enable_output(bool(options.get("verbose", False)))
        if options.get("time_limit") is not None:
            solver.set_time_limit_in_seconds(float(options["time_limit"]))
        self._configure(solver, options)
        handover = time.perf_counter() - started

        started = time.perf_counter()
        solver.solve(model)
        seconds = time.perf_counter() - started

        status_name = solver.status().name
        if status_name in ("FEASIBLE", "NOT_SOLVED") and options.get("time_limit") is not None:
            status = "time_limit"
        else:
            status = _STATUS.get(status_name, "error")
        if status_name in ("MODEL_INVALID", "INVALID_SOLVER_PARAMETERS", "INCOMPATIBLE_OPTIONS"):
            raise SolverError(f"OR-Tools {self.solver_id} refused the model: {status_name}")
        has_point = solver.has_solution()
        row_dual = col_dual = None
        if has_point and not lp.is_mip and status == "optimal":
            row_dual = np.asarray(solver.dual_values(), dtype=np.float64)
            col_dual = np.asarray(solver.reduced_costs(), dtype=np.float64)
            if row_dual.shape != (lp.num_rows,):  # SCIP returns no LP duals
                row_dual = col_dual = None
        return LPSolution(
            status=status,
            x=np.asarray(solver.variable_values(), dtype=np.float64) if has_point else None,
            row_dual=row_dual,
            col_dual=col_dual,
            objective=float(solver.objective_value()) if has_point else float("nan"),
            bound=float(solver.best_objective_bound()) if lp.is_mip else float("nan"),
            iterations=None,
            seconds=seconds,
            handover_seconds=handover,
            solver=self.name,
            algorithm=self.solver_id.lower(),
            info={"status_string": solver.status_string()},
        )


class GlopBackend(_ModelBuilderBackend):
    """OR-Tools GLOP: primal/dual simplex for LPs (single-threaded)."""

    name = "glop"
    solver_id = "GLOP"
    supports_mip = False


class ScipBackend(_ModelBuilderBackend):
    """SCIP through OR-Tools: branch-and-cut for the integral problem (and LPs)."""

    name = "scip"
    solver_id = "SCIP"
    supports_mip = True
    returns_duals = False  # no LP duals through model_builder (working_set needs them)
    options = ("time_limit", "verbose", "mip_rel_gap")

    def _configure(self, solver: Any, options: dict[str, Any]) -> None:
        if options.get("mip_rel_gap") is not None:
            solver.set_solver_specific_parameters(f"limits/gap = {float(options['mip_rel_gap'])}")
