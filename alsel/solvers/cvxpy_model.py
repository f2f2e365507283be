"""cvxpy: an independent cross-check of alsel's LP builder.

This backend does not read our matrix. It restates the relaxation from the SelectionProblem the
LP was built from (``lp.source``), in cvxpy's own algebra — M (N, C), v (N), z over the same
image pairs — solves it with an installed cvxpy solver (Clarabel, an interior-point method, by
default, so that nothing is shared with HiGHS), and maps the primal and dual answers back to
the LP's column and row order so that alsel's certificate judges them on our matrix. A
disagreement therefore exposes a bug in either statement of the model.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from ..errors import SolverError
from ..lp import LinearProgram
from .base import LPSolution, missing_package

DEFAULT_SOLVER = "CLARABEL"
#: The keyword each cvxpy solver takes for a time limit in seconds.
TIME_LIMIT_KEYWORD = {"CLARABEL": "time_limit", "HIGHS": "time_limit", "SCS": "time_limit_secs",
                      "GUROBI": "TimeLimit"}
FORMULATIONS = ("paper", "symmetric")

_STATUS = {
    "optimal": "optimal",
    "optimal_inaccurate": "inaccurate",
    "infeasible": "infeasible",
    "infeasible_inaccurate": "infeasible",
    "unbounded": "unbounded",
    "unbounded_inaccurate": "unbounded",
    "user_limit": "time_limit",
}


def _restate(lp: LinearProgram):
    """The relaxation of lp.source in cvxpy, and the constraints in our row-block order."""
    import cvxpy as cp

    problem = lp.source
    n, c = problem.n_images, problem.n_classes
    M = cp.Variable((n, c))
    v = cp.Variable(n)
    R = problem.R
    if lp.formulation == "paper":
        Z = cp.Variable((n, n))
        z_cost = cp.sum(cp.multiply(R, Z))
        v_col = cp.reshape(v, (n, 1), order="C")
        pair = v_col @ np.ones((1, n)) + (v_col @ np.ones((1, n))).T <= 1 + 2 * Z
        z_vars = [Z]
    else:  # symmetric: one z per unordered pair, diagonal first, then i < j row-major
        upper_i, upper_j = np.triu_indices(n, 1)
        pair_i = np.concatenate([np.arange(n), upper_i])
        pair_j = np.concatenate([np.arange(n), upper_j])
        z = cp.Variable(len(pair_i))
        weights = np.concatenate([np.diagonal(R), R[upper_i, upper_j] + R[upper_j, upper_i]])
        z_cost = weights @ z
        pair = v[pair_i] + v[pair_j] <= 1 + 2 * z
        z_vars = [z]
    objective = cp.sum(cp.multiply(problem.G.T, M)) + problem.lam * z_cost
    budget = cp.sum(M) == problem.B
    capacity = cp.sum(M, axis=1) <= problem.C_max
    link = M <= cp.reshape(v, (n, 1), order="C") @ np.ones((1, c))
    bounds = [M >= 0, M <= 1, v >= 0, v <= 1] + [b for z in z_vars for b in (z >= 0, z <= 1)]
    model = cp.Problem(cp.Minimize(objective), [budget, capacity, link, pair, *bounds])
    return model, (M, v, z_vars[0]), (budget, capacity, link, pair)


def _row_duals(lp: LinearProgram, constraints) -> np.ndarray:
    """cvxpy's multipliers in our convention: cvxpy's Lagrangian adds +dual * (lhs - rhs), ours
    subtracts y * (A x), so y = -dual for every row (y <= 0 on <= rows)."""
    budget, capacity, link, pair = constraints
    n = lp.source.n_images
    parts = [-np.atleast_1d(budget.dual_value), -capacity.dual_value, -link.dual_value.ravel()]
    pair_dual = -np.asarray(pair.dual_value)
    if lp.formulation == "paper":
        off_diagonal = ~np.eye(n, dtype=bool)
        parts += [np.diagonal(pair_dual), pair_dual[off_diagonal]]  # row-major, as our rows
    else:
        parts += [pair_dual]
    return np.concatenate([np.ravel(p) for p in parts]).astype(np.float64)


class CvxpyBackend:
    """cvxpy restatement of the relaxation, solved by a chosen installed cvxpy solver."""

    name = "cvxpy"
    supports_mip = False
    options = ("time_limit", "verbose", "cvxpy_solver")

    def unavailable_reason(self) -> str | None:
        try:
            import cvxpy as cp
        except ImportError as exc:
            return missing_package("cvxpy", "cvxpy", exc)
        if DEFAULT_SOLVER not in cp.installed_solvers():
            return f"cvxpy's default solver {DEFAULT_SOLVER} is not installed"
        return None

    def validate(self, options: dict[str, Any], mip: bool) -> None:
        solver = options.get("cvxpy_solver", DEFAULT_SOLVER)
        try:
            import cvxpy as cp
        except ImportError:
            return
        if solver not in cp.installed_solvers():
            raise ValueError(
                f"cvxpy_solver {solver!r} is not installed; installed: "
                f"{', '.join(cp.installed_solvers())}."
            )
        if options.get("time_limit") is not None and solver not in TIME_LIMIT_KEYWORD:
            raise ValueError(
                f"time_limit is supported with cvxpy_solver in {', '.join(TIME_LIMIT_KEYWORD)}; "
                f"got {solver!r}."
            )

    def solve(self, lp: LinearProgram, options: dict[str, Any]) -> LPSolution:
        import cvxpy as cp

        if lp.source is None or lp.formulation not in FORMULATIONS:
            raise SolverError(
                f"the cvxpy backend restates the model from its SelectionProblem and knows the "
                f"formulations {', '.join(FORMULATIONS)}; got {lp.formulation!r}"
                f"{' without a source problem' if lp.source is None else ''}."
            )
        solver = options.get("cvxpy_solver", DEFAULT_SOLVER)
        started = time.perf_counter()
        model, (M, v, z), constraints = _restate(lp)
        handover = time.perf_counter() - started
        kwargs: dict[str, Any] = {}
        if options.get("time_limit") is not None:
            kwargs[TIME_LIMIT_KEYWORD[solver]] = float(options["time_limit"])
        started = time.perf_counter()
        try:
            model.solve(solver=solver, verbose=bool(options.get("verbose", False)), **kwargs)
        except cp.error.SolverError as exc:
            raise SolverError(f"cvxpy/{solver} failed: {exc}") from exc
        seconds = time.perf_counter() - started

        status = _STATUS.get(model.status, "error")
        has_point = M.value is not None
        x = np.concatenate([M.value.ravel(), v.value, np.ravel(z.value)]) if has_point else None
        has_duals = has_point and constraints[0].dual_value is not None
        stats = model.solver_stats
        return LPSolution(
            status=status,
            x=x,
            row_dual=_row_duals(lp, constraints) if has_duals else None,
            col_dual=None,
            objective=float(model.value) if has_point else float("nan"),
            bound=float("nan"),
            iterations=getattr(stats, "num_iters", None),
            seconds=seconds,
            handover_seconds=handover,
            solver=self.name,
            algorithm=solver.lower(),
            info={"cvxpy_status": model.status, "cvxpy_solve_time": getattr(stats, "solve_time", None)},
        )
