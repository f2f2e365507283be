"""HiGHS through highspy: the whole LP handed over in one array call, LP, MIP and convex QP.

A QP (formulation "qp") gets its Hessian's lower triangle in a second array call
(``passHessian``) and is solved by HiGHS's active-set QP solver, the only one this build has for
QPs (``algorithm`` does not apply to it).

Options: ``algorithm`` ("simplex" — dual simplex, the default —, "ipm", "pdlp", "choose"),
``time_limit`` (seconds), ``threads``, ``mip_rel_gap``, ``presolve`` (bool), ``verbose`` (bool),
``tol`` (with algorithm="pdlp": HiGHS's pdlp_optimality_tolerance, default 1e-7).
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from typing import Any

import numpy as np
import scipy.sparse as sp

from .._validation import check_choice
from ..errors import SolverError
from ..lp import LinearProgram
from .base import COMMON_OPTIONS, LPSolution

ALGORITHMS = ("simplex", "ipm", "pdlp", "choose")

_STATUS = {
    "kOptimal": "optimal",
    "kTimeLimit": "time_limit",
    "kIterationLimit": "iteration_limit",
    "kInfeasible": "infeasible",
    "kUnbounded": "unbounded",
    "kUnboundedOrInfeasible": "infeasible_or_unbounded",
    "kInterrupt": "interrupted",
    "kHighsInterrupt": "interrupted",
}


@contextlib.contextmanager
def _stdout_silenced():
    """Silence C-level stdout: highspy prints its banner when the first Highs() is made, which
    would corrupt output such as a CSV on stdout."""
    sys.stdout.flush()
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):
        yield
        return
    saved = os.dup(fd)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), fd)
            yield
    finally:
        os.dup2(saved, fd)
        os.close(saved)


class HighsBackend:
    """HiGHS (dual simplex, IPM, PDLP; branch-and-cut for MIPs)."""

    name = "highs"
    supports_mip = True
    supports_qp = True
    options = COMMON_OPTIONS + ("algorithm", "mip_rel_gap", "presolve", "tol")

    def unavailable_reason(self) -> str | None:
        try:
            import highspy  # noqa: F401
        except ImportError as exc:
            return f"highspy is not installed ({exc}); pip install highspy"
        return None

    def validate(self, options: dict[str, Any], mip: bool) -> None:
        check_choice(options.get("algorithm", "simplex"), "algorithm", ALGORITHMS)
        if "tol" in options and options.get("algorithm") != "pdlp":
            raise ValueError(
                "tol is the tolerance of HiGHS's first-order method; pass it with "
                "algorithm='pdlp' (simplex and IPM use HiGHS's own tolerances)."
            )
        if mip and "algorithm" in options:
            raise ValueError(
                "algorithm applies to LP relaxations only; HiGHS solves integral problems by "
                "branch-and-cut. Leave algorithm unset for formulation='exact'."
            )

    def solve(self, lp: LinearProgram, options: dict[str, Any]) -> LPSolution:
        import highspy

        algorithm = options.get("algorithm", "simplex")
        if lp.is_qp and ("algorithm" in options or "tol" in options):
            raise ValueError(
                "algorithm and tol apply to HiGHS's LP solvers; a QP (formulation 'qp') is "
                "solved by its active-set QP solver. Leave them unset."
            )
        if lp.A.indices.dtype != np.int32:
            raise SolverError(
                f"the LP has {lp.nnz} nonzeros, more than HiGHS's 32-bit indices hold; use the "
                "'symmetric' formulation or a smaller pool."
            )
        started = time.perf_counter()
        with _stdout_silenced():
            highs = highspy.Highs()
        highs.setOptionValue("output_flag", bool(options.get("verbose", False)))
        if options.get("time_limit") is not None:
            highs.setOptionValue("time_limit", float(options["time_limit"]))
        if options.get("threads") is not None:
            # HiGHS's thread pool is global and fixed at its first solve; rebuild it so that
            # each call gets the threads it asks for instead of an error.
            highspy.Highs.resetGlobalScheduler(True)
            highs.setOptionValue("threads", int(options["threads"]))
        if options.get("mip_rel_gap") is not None:
            highs.setOptionValue("mip_rel_gap", float(options["mip_rel_gap"]))
        if options.get("presolve") is not None:
            highs.setOptionValue("presolve", "on" if options["presolve"] else "off")
        if not lp.is_mip and not lp.is_qp:
            highs.setOptionValue("solver", algorithm)
        if options.get("tol") is not None:
            highs.setOptionValue("pdlp_optimality_tolerance", float(options["tol"]))

        integrality = (
            lp.integrality.astype(np.int32)
            if lp.is_mip
            else np.zeros(lp.num_cols, dtype=np.int32)
        )
        status = highs.passModel(
            lp.num_cols,
            lp.num_rows,
            lp.nnz,
            int(highspy.MatrixFormat.kRowwise),
            int(highspy.ObjSense.kMinimize),
            float(lp.offset),
            lp.c,
            lp.col_lower,
            lp.col_upper,
            lp.row_lower,
            lp.row_upper,
            lp.A.indptr,
            lp.A.indices,
            lp.A.data,
            integrality,
        )
        if status == highspy.HighsStatus.kError:
            raise SolverError("HiGHS rejected the model in passModel (kError).")
        if lp.is_qp:
            self._pass_hessian(highs, lp)
        handover = time.perf_counter() - started

        started = time.perf_counter()
        highs.solve()
        seconds = time.perf_counter() - started

        model_status = highs.getModelStatus()
        info = highs.getInfo()
        has_point = info.primal_solution_status != 0
        solution = highs.getSolution() if has_point else None
        x = np.asarray(solution.col_value) if has_point else None
        has_duals = (not lp.is_mip) and has_point and info.dual_solution_status != 0
        row_dual = np.asarray(solution.row_dual) if has_duals else None
        col_dual = np.asarray(solution.col_dual) if has_duals else None
        if lp.is_mip:
            iterations = int(info.mip_node_count)
            bound = float(info.mip_dual_bound)
            used = "branch-and-cut"
        elif lp.is_qp:
            iterations = int(info.qp_iteration_count)
            bound = float("nan")
            used = "qp-active-set"
        else:
            iterations = max(
                int(info.simplex_iteration_count),
                int(info.ipm_iteration_count),
                int(info.pdlp_iteration_count),
                0,
            )
            bound = float("nan")
            used = algorithm
        return LPSolution(
            status=_STATUS.get(model_status.name, "error"),
            x=x,
            row_dual=row_dual,
            col_dual=col_dual,
            objective=float(info.objective_function_value) if has_point else float("nan"),
            bound=bound,
            iterations=iterations,
            seconds=seconds,
            handover_seconds=handover,
            solver=self.name,
            algorithm=used,
            info={"model_status": highs.modelStatusToString(model_status)},
        )

    @staticmethod
    def _pass_hessian(highs: Any, lp: LinearProgram) -> None:
        """Q's lower triangle, column-wise (HiGHS's triangular format: 1/2 x^T Q x)."""
        import highspy

        lower = sp.tril(lp.hessian, format="csc")
        lower.sort_indices()
        if lower.nnz >= np.iinfo(np.int32).max:
            raise SolverError(
                f"the Hessian has {lower.nnz} nonzeros, more than HiGHS's 32-bit indices hold."
            )
        status = highs.passHessian(
            lp.num_cols,
            int(lower.nnz),
            int(highspy.HessianFormat.kTriangular),
            lower.indptr.astype(np.int32),
            lower.indices.astype(np.int32),
            lower.data.astype(np.float64),
        )
        if status == highspy.HighsStatus.kError:
            raise SolverError("HiGHS rejected the Hessian in passHessian (kError).")
