"""The pipeline: SelectionProblem -> formulation -> LinearProgram -> backend -> rounding -> Selection."""

from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np

from . import solvers
from ._validation import as_count, check_choice, shown
from .certificate import certify
from .errors import SolverError
from .formulations import FORMULATIONS, INTEGRAL_FORMULATIONS, build_lp
from .problem import SelectionProblem
from .bounds import lower_bound as combinatorial_lower_bound
from .rounding import NEEDS_RELAXATION, ROUNDINGS
from .selection import Selection, selection_status

logger = logging.getLogger(__name__)

#: The default pipeline (docs/relaxation.md says why): no relaxation, greedy then local search,
#: the combinatorial lower bound.
DEFAULT_FORMULATION = None
DEFAULT_ROUNDING = {None: "greedy+local"}
PAPER_ROUNDING = "topb"
DEFAULT_SOLVER = "highs"
#: The largest cost a relaxation's LP may carry: above it the solvers fail or lose the small
#: costs entirely (HiGHS treats costs of 1e20 as infinite, OR-Tools PDLP refuses 1e50, PDLP's
#: norms overflow near 1e154; HiGHS's own "large matrix value" is 1e15).
LP_COST_LIMIT = 1e15
#: Where a backend's LPSolution.info says why it stopped, for the message of a failed solve.
_SOLVER_REASONS = ("model_status", "status_string", "termination", "clarabel_status",
                   "cvxpy_status", "gurobi_status")


def select(
    G: Any,
    R: Any,
    B: int,
    C_max: int,
    lam: float,
    *,
    formulation: str | None = DEFAULT_FORMULATION,
    rounding: str | None = None,
    solver: str | None = None,
    seed: int = 0,
    time_limit: float | None = None,
    solver_options: dict[str, Any] | None = None,
) -> Selection:
    """Choose B (image, class) queries by Eq. 4 of the paper.

    A pipeline is a relaxation (``formulation``, solved by ``solver``) and a ``rounding`` of it.
    The default optimizes Eq. 4 directly: no relaxation, greedy then local search, and a
    combinatorial lower bound (docs/relaxation.md measures why). The paper's own pipeline is
    ``formulation="paper", rounding="topb"``.

    Parameters
    ----------
    G : array (C, N)
        Confidence per (class, image), classes first as in the paper (:func:`alsel.scores.confidence`).
        Never changed, nor its flags: a float64 C-contiguous G is read through a read-only view
        (no copy), anything else converted to one. Masked arrays are refused (fill them).
    R : array (N, N) or scipy.sparse matrix (N, N)
        Redundancy between images, symmetric and >= 0 (:func:`alsel.scores.redundancy`; with
        ``knn=k`` it is sparse, for formulation "sparse"). Never changed, as G; every
        scipy.sparse format (array or matrix class) is accepted and copied to CSR. Values whose
        sums overflow float64 (sum|G| + lam * sum(R)) are refused, and with a formulation so are
        LP costs above 1e15 (``LP_COST_LIMIT``): rescale with :mod:`alsel.scores`.
    B : int
        Number of queries.
    C_max : int
        Largest number of queries for one image.
    lam : float
        Weight of the redundancy term.
    formulation : str or None
        None (default): no relaxation. "symmetric" and "paper": the LP relaxation of Eq. 8 (same
        value; "symmetric" is half the size); "sparse" the same over the stored pairs of a sparse
        R only; "mccormick" a tighter LP (z >= v_i + v_j - 1, exact diagonal); "qp" the convex QP
        relaxation (R positive semidefinite); each is then rounded. "exact" solves the integral
        problem to proven optimality (McCormick MILP with valid cuts); "exact-literal" does so
        on Eq. 8 with every variable binary. ``alsel.FORMULATIONS``; docs/formulations.md.
    rounding : str or None
        How the selection is made: "greedy+local" (default without a formulation), "greedy",
        "topb" (the paper's; default with a formulation), "randomized", "local" ("topb" then
        local search) or "<base>+local". "topb", "randomized" and "local" round a relaxation, so
        they need a formulation. Must be left unset for "exact" and "exact-literal".
    solver : str or None
        Backend for the relaxation (default "highs"): "highs", "glop", "ortools-pdlp", "gurobi",
        "cvxpy", "pdlp", "pdlp-cuda", "cupdlpx"; "highs", "gurobi", "scip" for "exact"; "highs",
        "cvxpy", "gurobi" for "qp" (``alsel.solvers.available()`` says which are usable here).
        Only with a formulation.
    seed : int
        Seed of the rounding's random choices: the order that breaks exact ties (between images
        or classes of equal cost in greedy and local search; between equal relaxed values in
        "topb"), local search's kicks and "randomized"'s samples. The same seed gives the same
        selection; on exact ties different seeds may give different selections of equal
        objective.
    time_limit : float or None
        Seconds for the solver (shorthand for ``solver_options={"time_limit": ...}``).
    solver_options : dict or None
        Backend options, each checked before any work (docs/solvers.md: ``mip_rel_gap`` in
        [0, 1), ``tol`` in (0, 1), ``threads`` >= 1 ...; a ValueError names the backend, the
        option and the fix), e.g. ``{"algorithm": "ipm", "threads": 2}`` for HiGHS, and
        ``working_set``: an LP relaxation is solved on a growing set of images (the LP of the
        images the optimum can use, grown by pricing, certified on the whole LP; exact, and
        4-30x faster at N = 300-1200; "qp" too) wherever that applies — not for "exact" or the
        "cvxpy" backend —; ``{"working_set": False}`` solves the whole LP (docs/solvers.md).

    Returns
    -------
    Selection
        ``pairs``, ``M``, ``images``, ``objective``, ``lower_bound`` (and ``bound_source``),
        ``gap``, ``status`` ("optimal" only for a proven optimum of Eq. 4; "heuristic",
        "gap_limit" or the limit the solver hit otherwise), ``solver_status`` (the solver's own,
        on the relaxation or MILP it solved; "none" without one), ``timings``, diagnostics ...

    Examples
    --------
    >>> import numpy as np, alsel
    >>> rng = np.random.default_rng(0)
    >>> G = rng.random((4, 10))                     # 4 classes, 10 images
    >>> F = rng.random((10, 3)); R = alsel.scores.redundancy(F)
    >>> sel = alsel.select(G, R, B=5, C_max=2, lam=1.0)
    >>> sel.pairs.shape
    (5, 2)
    """
    started = time.perf_counter()
    if formulation is not None:
        formulation = check_choice(formulation, "formulation", FORMULATIONS)
    integral = formulation in INTEGRAL_FORMULATIONS
    rounding_name = _rounding_for(formulation, rounding, integral)
    seed = as_count(seed, "seed", minimum=0)
    problem = SelectionProblem(G, R, B, C_max, lam)
    if formulation is None:
        for name, value in (("solver", solver), ("solver_options", solver_options), ("time_limit", time_limit)):
            if value is not None:
                raise ValueError(
                    f"{name} has no effect without a relaxation (formulation=None, rounding="
                    f"{rounding_name!r}); pass formulation='symmetric' (or another) to solve one, "
                    f"or drop {name}."
                )
        return _select_without_relaxation(problem, rounding_name, seed, started)
    solver = DEFAULT_SOLVER if solver is None else solver
    backend = solvers.require(solver)
    solver = backend.name
    options = solvers.check_options(backend, solver_options, mip=integral)
    if time_limit is not None:
        options = solvers.check_options(backend, {**options, "time_limit": time_limit}, integral)
    _check_lp_costs(problem, formulation)

    lp = build_lp(problem, formulation)
    if "working_set" not in options and solvers.working_set.applies(lp, backend):
        options["working_set"] = True  # exact, and 4-30x faster at N = 300-1200 (docs/solvers.md)
    built = time.perf_counter()
    logger.info("built %s LP: %s in %.3f s", formulation, lp.size(), built - started)

    solution = solvers.solve(lp, solver, options)
    solved = time.perf_counter()
    logger.info("%s/%s: %s in %.3f s", solver, solution.algorithm, solution.status, solution.seconds)
    if solution.x is None:
        reason = "; ".join(f"{key}: {solution.info[key]}" for key in _SOLVER_REASONS
                           if solution.info.get(key) not in (None, ""))
        raise SolverError(
            f"solver {solver!r} returned no solution (status {solution.status!r}"
            f"{'; ' + reason if reason else ''}"
            f"{'; raise time_limit' if solution.status == 'time_limit' else ''})."
        )

    relaxed_M = None
    if integral:
        certificate = certify(lp, solution.x, bound=solution.bound)
        relaxation_bound = solution.bound
        M = lp.index.M_of(solution.x) > 0.5
        if not problem.is_feasible(M):
            raise SolverError(
                f"solver {solver!r} returned an integral point that violates the constraints "
                f"(status {solution.status!r})."
            )
    else:
        certificate = certify(lp, solution.x, solution.row_dual)
        relaxation_bound = (lp.dual_bound(solution.row_dual, x=solution.x)
                            if solution.row_dual is not None else -np.inf)
        relaxed_M = np.clip(lp.index.M_of(solution.x), 0.0, 1.0)
        M = ROUNDINGS[rounding_name](problem, relaxed_M, seed)
    rounded = time.perf_counter()
    lower_bound, bound_source = _best_bound(
        problem, float(relaxation_bound),
        "MIP dual bound" if integral else f"weak duality on the {formulation} relaxation")
    bounded = time.perf_counter()
    return _selection(
        problem, M, started,
        {"build": built - started, "solve": solved - built, "round": rounded - solved, "bound": bounded - rounded},
        lower_bound=lower_bound, bound_source=bound_source, solver_status=solution.status,
        integral=integral, formulation=formulation, solver=solver, rounding=rounding_name, seed=seed,
        relaxed_M=relaxed_M, relaxation_value=float("nan") if integral else solution.objective,
        certificate=certificate, solution=solution,
        info={
            "algorithm": solution.algorithm,
            "iterations": solution.iterations,
            "solver_seconds": solution.seconds,
            "handover_seconds": solution.handover_seconds,
            "lp_size": lp.size(),
            "relaxation_bound": float(relaxation_bound),
            **solution.info,
        },
    )


def _rounding_for(formulation: str | None, rounding: str | None, integral: bool) -> str:
    """The rounding's name, checked against the formulation."""
    if integral:
        if rounding is not None:
            raise ValueError(
                f"rounding={shown(rounding)} does not apply to formulation={formulation!r}, whose "
                "solution is already integral; leave rounding unset."
            )
        return "none"
    if rounding is None:
        return DEFAULT_ROUNDING[None] if formulation is None else PAPER_ROUNDING
    rounding = check_choice(rounding, "rounding", ROUNDINGS)
    if formulation is None and rounding in NEEDS_RELAXATION:
        raise ValueError(
            f"rounding={rounding!r} rounds a relaxation, and formulation=None solves none; pass "
            "formulation='symmetric' (or another), or a rounding that needs none: "
            f"{', '.join(repr(r) for r in ROUNDINGS if r not in NEEDS_RELAXATION)}."
        )
    return rounding


def _best_bound(problem: SelectionProblem, relaxation_bound: float, relaxation_source: str) -> tuple[float, str]:
    """The larger of the relaxation's proven bound and the combinatorial one, and its source."""
    combinatorial, source = combinatorial_lower_bound(problem)
    if np.isfinite(relaxation_bound) and relaxation_bound >= combinatorial:
        return relaxation_bound, relaxation_source
    return combinatorial, source


def _select_without_relaxation(problem: SelectionProblem, rounding: str, seed: int, started: float) -> Selection:
    M = ROUNDINGS[rounding](problem, None, seed)
    rounded = time.perf_counter()
    lower_bound, bound_source = _best_bound(problem, -np.inf, "")
    bounded = time.perf_counter()
    return _selection(
        problem, M, started, {"build": 0.0, "solve": 0.0, "round": rounded - started, "bound": bounded - rounded},
        lower_bound=lower_bound, bound_source=bound_source, solver_status="none",
        integral=False, formulation="none", solver="none", rounding=rounding, seed=seed,
    )


def _check_lp_costs(problem: SelectionProblem, formulation: str) -> None:
    """ValueError naming G or lam * R when the relaxation's LP would carry costs above
    LP_COST_LIMIT (its pair costs are lam * (r_ij + r_ji))."""
    g_max = float(np.abs(problem.G).max())
    r_values = problem.R.data if problem.R_is_sparse else problem.R
    r_cost = 2.0 * problem.lam * float(r_values.max()) if r_values.size else 0.0
    for name, largest, fix in (
        ("G", g_max, "rescale G, e.g. into [0, 1] with alsel.scores.confidence"),
        ("lam * R", r_cost, "lower lam or rescale R, e.g. into [0, 1] with alsel.scores.redundancy"),
    ):
        if largest > LP_COST_LIMIT:
            raise ValueError(
                f"{name} gives the LP of formulation={formulation!r} costs up to {largest:.3g}, "
                f"above {LP_COST_LIMIT:.0e}, the largest its solvers handle (HiGHS treats costs of 1e20 "
                f"as infinite; all of them lose the small costs next to such large ones): {fix}, "
                "or use the default pipeline (formulation=None), which has no such limit."
            )


def _selection(problem: SelectionProblem, M: np.ndarray, started: float, timings: dict[str, float],
               solver_status: str, integral: bool, **fields: Any) -> Selection:
    uncertainty, redundancy = problem.objective_terms(M)
    images, classes = np.nonzero(M)  # row-major: sorted by image, then class
    objective = uncertainty + problem.lam * redundancy
    status = selection_status(solver_status, objective, fields["lower_bound"], integral)
    return Selection(
        pairs=np.column_stack([images, classes]).astype(np.int64),
        M=M,
        images=np.unique(images),
        objective=objective,
        uncertainty=uncertainty,
        redundancy=redundancy,
        timings={**timings, "total": time.perf_counter() - started},
        lam=problem.lam,
        status=status,
        solver_status=solver_status,
        **fields,
    )
