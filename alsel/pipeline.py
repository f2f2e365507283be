"""The pipeline: SelectionProblem -> formulation -> LinearProgram -> backend -> rounding -> Selection."""

from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np

from . import solvers
from ._validation import as_count, check_choice
from .certificate import certify
from .errors import SolverError
from .formulations import FORMULATIONS, INTEGRAL_FORMULATIONS, build_lp
from .problem import SelectionProblem
from .rounding import ROUNDINGS
from .selection import Selection

logger = logging.getLogger(__name__)


def select(
    G: Any,
    R: Any,
    B: int,
    C_max: int,
    lam: float,
    *,
    solver: str = "highs",
    formulation: str = "symmetric",
    rounding: str | None = None,
    seed: int = 0,
    time_limit: float | None = None,
    solver_options: dict[str, Any] | None = None,
) -> Selection:
    """Choose B (image, class) queries by Eq. 4 of the paper.

    Parameters
    ----------
    G : array (C, N)
        Confidence per (class, image), classes first as in the paper (:func:`alsel.scores.confidence`).
    R : array (N, N) or scipy.sparse matrix (N, N)
        Redundancy between images, symmetric and >= 0 (:func:`alsel.scores.redundancy`; with
        ``knn=k`` it is sparse, for formulation "sparse").
    B : int
        Number of queries.
    C_max : int
        Largest number of queries for one image.
    lam : float
        Weight of the redundancy term.
    solver : str
        Backend name: "highs", "glop", "ortools-pdlp", "gurobi", "cvxpy", "pdlp", "pdlp-cuda"
        for relaxations;
        "highs", "gurobi", "scip" for "exact"; "highs", "cvxpy", "gurobi" for "qp"
        (``alsel.solvers.available()`` says which are usable here).
    formulation : {"symmetric", "paper", "sparse", "mccormick", "qp", "exact", "exact-literal"}
        "symmetric" and "paper" solve the LP relaxation of Eq. 8 (same value; "symmetric" is
        half the size), "sparse" the same over the stored pairs of a sparse R only,
        "mccormick" a tighter LP (z >= v_i + v_j - 1, exact diagonal), "qp" the convex QP
        relaxation (R positive semidefinite); each is then rounded. "exact" solves the
        integral problem to proven optimality (McCormick MILP with valid cuts);
        "exact-literal" does so on Eq. 8 with every variable binary. docs/formulations.md.
    rounding : {"topb"} or None
        How the relaxed M becomes a selection; default "topb" (the paper's). Must be left unset
        for "exact" and "exact-literal", whose solution is already integral.
    seed : int
        Seed of the rounding's tie-breaking.
    time_limit : float or None
        Seconds for the solver (shorthand for ``solver_options={"time_limit": ...}``).
    solver_options : dict or None
        Backend options, e.g. ``{"algorithm": "ipm", "threads": 2}`` for HiGHS.

    Returns
    -------
    Selection
        ``pairs``, ``M``, ``images``, ``objective``, ``lower_bound``, ``status``, ``timings`` ...

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
    check_choice(formulation, "formulation", FORMULATIONS)
    integral = formulation in INTEGRAL_FORMULATIONS
    if rounding is not None and integral:
        raise ValueError(
            f"rounding={rounding!r} does not apply to formulation={formulation!r}, whose solution "
            "is already integral; leave rounding unset."
        )
    rounding_name = "none" if integral else check_choice(rounding or "topb", "rounding", ROUNDINGS)
    seed = as_count(seed, "seed", minimum=0)
    backend = solvers.require(solver)
    options = solvers.check_options(backend, solver_options, mip=integral)
    if time_limit is not None:
        options = solvers.check_options(backend, {**options, "time_limit": time_limit}, integral)
    problem = SelectionProblem(G, R, B, C_max, lam)

    lp = build_lp(problem, formulation)
    built = time.perf_counter()
    logger.info("built %s LP: %s in %.3f s", formulation, lp.size(), built - started)

    solution = solvers.solve(lp, solver, options)
    solved = time.perf_counter()
    logger.info("%s/%s: %s in %.3f s", solver, solution.algorithm, solution.status, solution.seconds)
    if solution.x is None:
        raise SolverError(
            f"solver {solver!r} returned no solution (status {solution.status!r}"
            f"{', raise time_limit' if solution.status == 'time_limit' else ''})."
        )

    relaxed_M = None
    if integral:
        certificate = certify(lp, solution.x, bound=solution.bound)
        lower_bound = solution.bound
        M = lp.index.M_of(solution.x) > 0.5
        if not problem.is_feasible(M):
            raise SolverError(
                f"solver {solver!r} returned an integral point that violates the constraints "
                f"(status {solution.status!r})."
            )
    else:
        certificate = certify(lp, solution.x, solution.row_dual)
        lower_bound = lp.dual_bound(solution.row_dual, x=solution.x) if solution.row_dual is not None else -np.inf
        relaxed_M = np.clip(lp.index.M_of(solution.x), 0.0, 1.0)
        M = ROUNDINGS[rounding_name](problem, relaxed_M, seed)
    rounded = time.perf_counter()

    uncertainty, redundancy = problem.objective_terms(M)
    images, classes = np.nonzero(M)  # row-major: sorted by image, then class
    return Selection(
        pairs=np.column_stack([images, classes]).astype(np.int64),
        M=M,
        images=np.unique(images),
        objective=uncertainty + problem.lam * redundancy,
        uncertainty=uncertainty,
        redundancy=redundancy,
        lower_bound=float(lower_bound),
        status=solution.status,
        timings={
            "build": built - started,
            "solve": solved - built,
            "round": rounded - solved,
            "total": rounded - started,
        },
        formulation=formulation,
        solver=solver,
        rounding=rounding_name,
        seed=seed,
        relaxed_M=relaxed_M,
        relaxation_value=float("nan") if integral else solution.objective,
        certificate=certificate,
        solution=solution,
        info={
            "algorithm": solution.algorithm,
            "iterations": solution.iterations,
            "solver_seconds": solution.seconds,
            "handover_seconds": solution.handover_seconds,
            "lp_size": lp.size(),
            **solution.info,
        },
    )
