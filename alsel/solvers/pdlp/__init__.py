"""alsel's own PDLP: restarted PDHG (adaptive/averaged by default, or reflected Halpern) on
NumPy (CPU) or CuPy (GPU).

Backends "pdlp" (``device="cpu"`` by default) and "pdlp-cuda" (``device="cuda"``). Options:

``tol``             relative KKT tolerance of alsel's certificate, in (0, 1); default 1e-4
``time_limit``      seconds; ``iteration_limit``: iterations
``device``          "cpu" (NumPy/SciPy) or "cuda" (CuPy); never a silent fallback
``dtype``           "float64" (default) or "float32" (GPU only)
``algorithm``       "adaptive" (default: restarted averaged PDHG, adaptive steps, as PDLP and
                    cuPDLP.jl) or "halpern" (reflected Halpern PDHG, constant steps, as cuPDLPx)
``operator``        "sparse" (stored CSR matrix and its transpose) or "structured" (computed
                    from the selection LP's structure; alsel's formulations only)
``warm_start``      an LPSolution (e.g. ``Selection.solution``) or a pair (x, y) in the LP's
                    column and row order; a PDLP answer also hands over its step size, its age
                    (iterations so far, ``info["age"]``) and its primal weight (used only where
                    this LP has no estimate, see ``primal_weight``). A start that already
                    certifies within tol is returned after 0 iterations.
``primal_weight``   the primal weight omega the solve starts from (step sizes tau = eta / omega,
                    sigma = eta * omega in the scaled problem), a positive number. Default: an
                    estimate of ||y*|| / ||x*|| by one exact line search of the dual
                    (``weight.py``), cold or warm; where that does not apply, the weight a PDLP
                    warm start hands over, else 1 (PDLP's default). ``info["initial_primal_weight"]``
                    and ``info["initial_primal_weight_from"]`` say which. docs/pdlp.md, "Primal
                    weight at the start"
``repair``          close the residual of the LP's densest equality rows (a selection LP's
                    budget) on each candidate by a fractional knapsack before judging it;
                    the solve stops on the repaired point only if it certifies within tol
                    (``info["repaired"]``). Default True; docs/pdlp.md, "Closing the budget row"
``verbose``         print progress (iteration, KKT error, restarts, primal weight) to stderr;
                    it is always logged at DEBUG level on logger "alsel.solvers.pdlp"

The design, and why, is in docs/pdlp.md.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np

from ..._validation import check_choice
from ...lp import LinearProgram
from ..base import LPSolution
from ..options import check_warm_start
from .arrays import DEVICES, DTYPES, context, cuda_unavailable_reason
from .operators import OPERATORS, make_operator
from .repair import EqualityRepair
from .scaling import ScaledLP, scale
from .solver import PdlpParameters, logger, solve_adaptive, solve_halpern
from .termination import Evaluator
from .weight import estimate_primal_weight

DEFAULT_TOL = 1e-4
ALGORITHMS = {"adaptive": solve_adaptive, "halpern": solve_halpern}


def _warm_start(warm_start: Any, lp: LinearProgram) -> tuple[np.ndarray, np.ndarray, dict]:
    """(x, y, state): the point, and PDLP's primal weight and step size when it left them."""
    state = {}
    if isinstance(warm_start, LPSolution):
        x, y = warm_start.x, warm_start.row_dual
        if warm_start.solver in ("pdlp", "pdlp-cuda"):
            state = {"initial_primal_weight": warm_start.info.get("primal_weight"),
                     "initial_step_size": warm_start.info.get("step_size"),
                     "prior_iterations": warm_start.info.get("age", warm_start.iterations)}
    else:
        x, y = warm_start
    if x is None:
        raise ValueError("warm_start has no primal point x.")
    x = np.asarray(x, dtype=np.float64)
    y = np.zeros(lp.num_rows) if y is None else np.asarray(y, dtype=np.float64)
    return x, y, state


def _starting_weight(given: float | None, inherited: float | None, scaled: ScaledLP) -> tuple[float, str]:
    """The primal weight the loop starts from, and where it came from: the option; else the
    estimate for this LP, for warm starts too (docs/pdlp.md, "Primal weight at the start");
    else the weight a PDLP warm start hands over; else PDLP's 1."""
    if given is not None:
        return float(given), "given"
    estimate = estimate_primal_weight(scaled)
    if estimate is not None:
        return estimate, "estimate"
    if inherited is not None:
        return float(inherited), "warm start"
    return 1.0, "default"


class PdlpBackend:
    """alsel's PDLP (first-order; LPs only) on the CPU or an NVIDIA GPU."""

    supports_mip = False
    default_tol = DEFAULT_TOL
    options = ("time_limit", "verbose", "tol", "iteration_limit", "device", "dtype", "operator",
               "algorithm", "warm_start", "primal_weight", "repair")

    def __init__(self, name: str = "pdlp", device: str = "cpu") -> None:
        self.name = name
        self.default_device = device

    def unavailable_reason(self) -> str | None:
        return cuda_unavailable_reason() if self.default_device == "cuda" else None

    def validate(self, options: dict[str, Any], mip: bool) -> None:
        device = check_choice(options.get("device", self.default_device), "device", DEVICES)
        dtype = check_choice(options.get("dtype", "float64"), "dtype", DTYPES)
        if dtype == "float32" and device != "cuda":
            raise ValueError("dtype='float32' is for device='cuda'; on the CPU PDLP runs in float64.")
        check_choice(options.get("algorithm", "adaptive"), "algorithm", ALGORITHMS)
        check_choice(options.get("operator", "sparse"), "operator", OPERATORS)
        # primal_weight, repair, tol and iteration_limit follow the shared rules (solvers.options)
        if options.get("warm_start") is not None:
            check_warm_start(self.name, options["warm_start"])
        if device == "cuda":
            context("cuda", dtype)  # raises SolverUnavailable, never falls back to the CPU

    def solve(self, lp: LinearProgram, options: dict[str, Any]) -> LPSolution:
        device = options.get("device", self.default_device)
        dtype = options.get("dtype", "float64")
        kind = options.get("operator", "sparse")
        warm_state: dict = {}
        if options.get("warm_start") is not None:
            x_warm, y_warm, warm_state = _warm_start(options["warm_start"], lp)
            if x_warm.shape != (lp.num_cols,) or y_warm.shape != (lp.num_rows,):
                raise ValueError(
                    f"solver {self.name!r}: warm_start must give x of shape ({lp.num_cols},) and "
                    f"y of shape ({lp.num_rows},); got {x_warm.shape} and {y_warm.shape}. Pass "
                    "the answer of an LP of the same size (same images, classes, formulation)."
                )
        started = time.perf_counter()
        ctx = context(device, dtype)
        scaled = scale(lp)
        warm_state["initial_primal_weight"], weight_source = _starting_weight(
            options.get("primal_weight"), warm_state.get("initial_primal_weight"), scaled)
        params = PdlpParameters(
            tol=float(options.get("tol", DEFAULT_TOL)),
            time_limit=options.get("time_limit"),
            iteration_limit=options.get("iteration_limit"),
            **warm_state,
        )
        s = scaled.scaling
        operator = make_operator(kind, lp, scaled.A, s.row, s.col, ctx)
        evaluator = Evaluator(lp, scaled, ctx, EqualityRepair.of(scaled) if options.get("repair", True) else None)
        problem = tuple(ctx.asarray(a) for a in (scaled.c, scaled.col_lower, scaled.col_upper,
                                                 scaled.row_lower, scaled.row_upper))
        if options.get("warm_start") is not None:
            x_start = ctx.asarray(x_warm * s.bound / s.col)
            y_start = ctx.asarray(y_warm * s.objective / s.row)
        else:
            x_start = ctx.xp.zeros(lp.num_cols, dtype=ctx.dtype)
            y_start = ctx.xp.zeros(lp.num_rows, dtype=ctx.dtype)
        handover = time.perf_counter() - started

        level = logger.level
        handler = logging.StreamHandler() if options.get("verbose") else None
        if handler is not None:
            logger.addHandler(handler)
            logger.setLevel(logging.DEBUG)
        started = time.perf_counter()
        try:
            algorithm = options.get("algorithm", "adaptive")
            result = ALGORITHMS[algorithm](problem, operator, evaluator, ctx, params, x_start, y_start)
        finally:
            logger.setLevel(level)
            if handler is not None:
                logger.removeHandler(handler)
        seconds = time.perf_counter() - started

        x = ctx.to_host(evaluator.x(result.x))
        y = ctx.to_host(evaluator.y(result.y))
        kkt = result.kkt
        return LPSolution(
            status=result.status,
            x=x,
            row_dual=y,
            col_dual=None,
            objective=lp.objective_value(x),
            bound=float("nan"),
            iterations=result.iterations,
            seconds=seconds,
            handover_seconds=handover,
            solver=self.name,
            algorithm=f"{algorithm}/{operator.name}/{device}",
            info={
                "restarts": result.restarts,
                "repaired": result.repaired,
                "age": result.age,
                "kernels": result.kernels,
                "primal_weight": result.primal_weight,
                "initial_primal_weight": params.initial_primal_weight,
                "initial_primal_weight_from": weight_source,
                "step_size": result.step_size,
                "kkt": None if kkt is None else {"primal": kkt.primal_residual, "dual": kkt.dual_residual,
                                                 "gap": kkt.gap},
                "tol": params.tol,
                "history": result.history,
            },
        )
