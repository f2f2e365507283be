"""cvxpy: an independent cross-check of alsel's LP builder.

This backend does not read our matrix. It restates the relaxation from the SelectionProblem the
LP was built from (``lp.source``), in cvxpy's own algebra — M (N, C), v (N), z over the same
image pairs, or for "qp" lam v^T R v itself (a dense R through its eigen-factor) — solves it
with an installed cvxpy solver (Clarabel, an interior-point method, by default, so that nothing
is shared with HiGHS), and maps the primal and dual answers back to the LP's column and row
order so that alsel's certificate judges them on our matrix. A disagreement therefore exposes
a bug in either statement of the model.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import scipy.sparse as sp

from .._validation import shown
from ..errors import SolverError
from ..lp import LinearProgram
from .base import LPSolution, missing_package

DEFAULT_SOLVER = "CLARABEL"
#: The keyword each cvxpy solver takes for a time limit in seconds.
TIME_LIMIT_KEYWORD = {"CLARABEL": "time_limit", "HIGHS": "time_limit", "SCS": "time_limit_secs",
                      "GUROBI": "TimeLimit"}
FORMULATIONS = ("paper", "symmetric", "sparse", "mccormick", "qp")

_STATUS = {
    "optimal": "optimal",
    "optimal_inaccurate": "inaccurate",
    "infeasible": "infeasible",
    "infeasible_inaccurate": "infeasible",
    "unbounded": "unbounded",
    "unbounded_inaccurate": "unbounded",
    "user_limit": "time_limit",
}


def _nonzero_pairs(R) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(images with r_ii != 0, and i < j with r_ij + r_ji != 0 row-major, with r_ij + r_ji),
    found through COO and a lexsort (not the builder's code path)."""
    R = sp.csr_array(R)
    upper = sp.coo_array(sp.triu(R + R.T, k=1))
    order = np.lexsort((upper.col, upper.row))
    rows, cols, sums = upper.row[order], upper.col[order], upper.data[order]
    keep = sums != 0
    return np.flatnonzero(R.diagonal()), rows[keep], cols[keep], sums[keep]


#: Eigenvalues below this fraction of the largest are dropped from a dense R's factor.
FACTOR_RTOL = 1e-10


def _redundancy(v, R, lam: float):
    """lam * v^T R v in cvxpy: a dense R through a low-rank factor L (R ~ L L^T from its
    eigenvalues above FACTOR_RTOL * the largest, rank d + 1 for the affine R of d-dimensional
    features; 15x faster for Clarabel than quad_form at N = 1200), a sparse one as is. alsel's
    certificate and bound judge the answer on the exact Q."""
    import cvxpy as cp

    if sp.issparse(R):
        return lam * cp.quad_form(v, R, assume_PSD=True)
    values, vectors = np.linalg.eigh(R)
    keep = values > FACTOR_RTOL * max(values[-1], 0.0)
    if not keep.any():
        return 0
    return lam * cp.sum_squares((vectors[:, keep] * np.sqrt(values[keep])).T @ v)


def _restate(lp: LinearProgram):
    """The relaxation of lp.source in cvxpy, and the constraints in our row-block order."""
    import cvxpy as cp

    problem = lp.source
    n, c = problem.n_images, problem.n_classes
    M = cp.Variable((n, c))
    v = cp.Variable(n)
    R = problem.R
    z_vars, z_rows = [], []
    if lp.formulation == "paper":
        Z = cp.Variable((n, n))
        z_cost = cp.sum(cp.multiply(R, Z))
        v_col = cp.reshape(v, (n, 1), order="C")
        z_rows = [v_col @ np.ones((1, n)) + (v_col @ np.ones((1, n))).T <= 1 + 2 * Z]
        z_vars = [Z]
    elif lp.formulation in ("symmetric", "sparse"):
        # one z per unordered pair, diagonal first, then i < j row-major ("sparse": nonzero only)
        if lp.formulation == "symmetric":
            upper_i, upper_j = np.triu_indices(n, 1)
            diagonal = np.arange(n)
            weights = np.concatenate([np.diagonal(R), R[upper_i, upper_j] + R[upper_j, upper_i]])
        else:
            diagonal, upper_i, upper_j, sums = _nonzero_pairs(R)
            weights = np.concatenate([R.diagonal()[diagonal], sums])
        pair_i = np.concatenate([diagonal, upper_i])
        pair_j = np.concatenate([diagonal, upper_j])
        z = cp.Variable(len(pair_i))
        z_cost = weights @ z
        z_rows = [v[pair_i] + v[pair_j] <= 1 + 2 * z]
        z_vars = [z]
    elif lp.formulation == "mccormick":  # z for nonzero i < j, z >= v_i + v_j - 1; r_ii on v_i
        _, upper_i, upper_j, sums = _nonzero_pairs(R)
        z = cp.Variable(len(upper_i))
        z_cost = sums @ z + R.diagonal() @ v
        z_rows = [v[upper_i] + v[upper_j] - z <= 1]
        z_vars = [z]
    else:  # qp: no z
        z_cost = _redundancy(v, R, 1.0)
    objective = cp.sum(cp.multiply(problem.G.T, M)) + problem.lam * z_cost
    budget = cp.sum(M) == problem.B
    capacity = cp.sum(M, axis=1) <= problem.C_max
    link = M <= cp.reshape(v, (n, 1), order="C") @ np.ones((1, c))
    bounds = [M >= 0, M <= 1, v >= 0, v <= 1] + [b for z in z_vars for b in (z >= 0, z <= 1)]
    rows = (budget, capacity, link, *z_rows)
    model = cp.Problem(cp.Minimize(objective), [*rows, *bounds])
    return model, (M, v, *z_vars), rows


def _row_duals(lp: LinearProgram, constraints) -> np.ndarray:
    """cvxpy's multipliers in our convention: cvxpy's Lagrangian adds +dual * (lhs - rhs), ours
    subtracts y * (A x), so y = -dual for every row (y <= 0 on <= rows)."""
    budget, capacity, link, *pair = constraints
    n = lp.source.n_images
    parts = [-np.atleast_1d(budget.dual_value), -capacity.dual_value, -link.dual_value.ravel()]
    if pair:
        pair_dual = -np.asarray(pair[0].dual_value)
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
    needs_source = True  # restates the model from lp.source: no sliced LPs (working_set)
    supports_qp = True
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
        if not isinstance(solver, str) or solver not in cp.installed_solvers():
            raise ValueError(
                f"cvxpy_solver {shown(solver)} is not installed; installed: "
                f"{', '.join(cp.installed_solvers())}."
            )
        if options.get("time_limit") is not None and solver not in TIME_LIMIT_KEYWORD:
            raise ValueError(
                f"time_limit is supported with cvxpy_solver in {', '.join(TIME_LIMIT_KEYWORD)}; "
                f"got {shown(solver)}."
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
        model, (M, v, *z), constraints = _restate(lp)
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
        x = None
        if has_point:
            x = np.concatenate([M.value.ravel(), v.value, *(np.ravel(z_k.value) for z_k in z)])
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
