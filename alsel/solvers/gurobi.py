"""Gurobi through gurobipy's matrix API (addMVar / addMConstr with the sparse matrix), LP, MIP and
convex QP (the Hessian through ``x @ Q @ x``).

The pip package of gurobipy carries a size-limited license (2000 variables, 2000 constraints);
a model over the limit raises :class:`~alsel.errors.SolverLicenseError` naming its size, before
any Gurobi call fails. A full license just works.
"""

from __future__ import annotations

import functools
import time
from typing import Any

import numpy as np
import scipy.sparse as sp

from .._validation import check_choice
from ..errors import SolverError, SolverLicenseError
from ..lp import LinearProgram
from .base import LPSolution, missing_package

ALGORITHMS = {"auto": -1, "primal": 0, "dual": 1, "barrier": 2}
SIZE_LIMITED = (2000, 2000)  # variables, constraints of the pip license
SIZE_LIMITED_QP = 200  # variables of a model with quadratic terms (measured: 200 solves, 201 not)
_LICENSE_ERRNO = 10010

_STATUS = {
    2: "optimal",
    3: "infeasible",
    4: "infeasible_or_unbounded",
    5: "unbounded",
    7: "iteration_limit",
    8: "iteration_limit",
    9: "time_limit",
    11: "interrupted",
}


@functools.lru_cache(maxsize=1)
def _license() -> tuple[str | None, bool]:
    """(reason unusable or None, size-limited?), probed once with a model one past the limit."""
    try:
        import gurobipy as gp
    except ImportError as exc:
        return missing_package("gurobipy", "gurobi", exc), False
    try:
        with gp.Env(params={"OutputFlag": 0}) as env, gp.Model(env=env) as model:
            model.addMVar(SIZE_LIMITED[0] + 1)
            model.optimize()
    except gp.GurobiError as exc:
        if exc.errno == _LICENSE_ERRNO:
            return None, True
        return f"no usable Gurobi license ({exc})", False
    return None, False


def _over_limit(lp: LinearProgram, rows: int) -> bool:
    """Whether the size-limited license refuses this model."""
    if lp.is_qp and lp.num_cols > SIZE_LIMITED_QP:
        return True
    return lp.num_cols > SIZE_LIMITED[0] or rows > SIZE_LIMITED[1]


def _size_error(lp: LinearProgram, rows: int) -> SolverLicenseError:
    limit = (f"{SIZE_LIMITED_QP:,} variables when the objective is quadratic" if lp.is_qp else
             f"{SIZE_LIMITED[0]:,} variables and {SIZE_LIMITED[1]:,} constraints")
    return SolverLicenseError(
        f"this model has {lp.num_cols:,} variables and {rows:,} constraints; the installed "
        f"Gurobi license is size-limited to {limit}. Use a smaller pool, another solver "
        "(alsel.solvers.available()), or a full Gurobi license."
    )


class GurobiBackend:
    """Gurobi: simplex / barrier for LPs, branch-and-cut for MIPs."""

    name = "gurobi"
    supports_mip = True
    supports_qp = True
    options = ("time_limit", "threads", "verbose", "algorithm", "mip_rel_gap")

    def unavailable_reason(self) -> str | None:
        return _license()[0]

    def note(self) -> str | None:
        if _license() == (None, True):
            limit = SIZE_LIMITED
            return (f"size-limited license: at most {limit[0]} variables and {limit[1]} constraints "
                    f"({SIZE_LIMITED_QP} variables for a QP)")
        return None

    def validate(self, options: dict[str, Any], mip: bool) -> None:
        check_choice(options.get("algorithm", "auto"), "algorithm", ALGORITHMS)

    def solve(self, lp: LinearProgram, options: dict[str, Any]) -> LPSolution:
        import gurobipy as gp

        # Rows split by kind; a ranged row (both bounds finite and different) becomes two.
        equal = lp.row_lower == lp.row_upper
        upper = ~equal & np.isfinite(lp.row_upper)
        lower = ~equal & np.isfinite(lp.row_lower)
        n_rows = int(equal.sum() + upper.sum() + lower.sum())
        if _license()[1] and _over_limit(lp, n_rows):
            raise _size_error(lp, n_rows)

        started = time.perf_counter()
        A = sp.csr_matrix(lp.A)
        params = {"OutputFlag": int(bool(options.get("verbose", False)))}
        if options.get("time_limit") is not None:
            params["TimeLimit"] = float(options["time_limit"])
        if options.get("threads") is not None:
            params["Threads"] = int(options["threads"])
        params["Method"] = ALGORITHMS[options.get("algorithm", "auto")]
        if options.get("mip_rel_gap") is not None:
            params["MIPGap"] = float(options["mip_rel_gap"])
        try:
            with gp.Env(params=params) as env, gp.Model(env=env) as model:
                vtype = np.where(lp.integrality, "B", "C") if lp.is_mip else "C"
                x = model.addMVar(lp.num_cols, lb=lp.col_lower, ub=lp.col_upper, obj=lp.c, vtype=vtype)
                model.ObjCon = lp.offset
                if lp.is_qp:
                    Q = sp.csr_matrix(lp.hessian) * 0.5
                    model.setObjective(x @ Q @ x + lp.c @ x + lp.offset)
                blocks = [
                    (mask, model.addMConstr(A[mask], x, sense, bound[mask]))
                    for mask, sense, bound in (
                        (equal, "=", lp.row_upper),
                        (upper, "<", lp.row_upper),
                        (lower, ">", lp.row_lower),
                    )
                    if mask.any()
                ]
                handover = time.perf_counter() - started
                started = time.perf_counter()
                model.optimize()
                seconds = time.perf_counter() - started
                return self._result(lp, model, x, blocks, seconds, handover)
        except gp.GurobiError as exc:
            if exc.errno == _LICENSE_ERRNO:
                raise _size_error(lp, n_rows) from exc
            raise SolverError(f"Gurobi failed: {exc} (errno {exc.errno})") from exc

    def _result(self, lp, model, x, blocks, seconds, handover) -> LPSolution:
        status = _STATUS.get(model.Status, "error")
        has_point = model.SolCount > 0
        row_dual = col_dual = None
        if has_point and not lp.is_mip and model.Status == 2:
            row_dual = np.zeros(lp.num_rows)
            for mask, constraints in blocks:
                row_dual[mask] += constraints.Pi
            col_dual = np.asarray(x.RC)
        return LPSolution(
            status=status,
            x=np.asarray(x.X) if has_point else None,
            row_dual=row_dual,
            col_dual=col_dual,
            objective=float(model.ObjVal) if has_point else float("nan"),
            bound=float(model.ObjBound) if lp.is_mip else float("nan"),
            iterations=int(model.NodeCount if lp.is_mip else model.IterCount),
            seconds=seconds,
            handover_seconds=handover,
            solver=self.name,
            algorithm="branch-and-cut" if lp.is_mip else {v: k for k, v in ALGORITHMS.items()}[model.Params.Method],
            info={"gurobi_status": int(model.Status)},
        )
