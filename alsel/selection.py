"""Selection: the result of alsel.select(), with what a user needs to judge it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .certificate import Certificate
from .solvers.base import STATUSES as SOLVER_STATUSES
from .solvers.base import LPSolution

#: A selection is proven optimal when objective - lower_bound <= OPTIMALITY_TOL * max(1, |objective|)
#: (HiGHS's MIP stops at an absolute gap of 1e-6 when asked for mip_rel_gap = 0).
OPTIMALITY_TOL = 1e-6

#: What ``Selection.status`` can say: "optimal" (proven), "heuristic" (feasible, not proven),
#: "gap_limit" ("exact" stopped at its mip_rel_gap), or the solver's own status when it stopped
#: early ("time_limit", "iteration_limit", "interrupted", "inaccurate", ...).
STATUSES = ("optimal", "heuristic", "gap_limit", *(s for s in SOLVER_STATUSES if s != "optimal"))


def is_proven_optimal(objective: float, lower_bound: float) -> bool:
    """Whether a proven lower bound certifies ``objective`` as optimal (within OPTIMALITY_TOL)."""
    return bool(np.isfinite(lower_bound)
                and objective - lower_bound <= OPTIMALITY_TOL * max(1.0, abs(objective)))


def selection_status(solver_status: str, objective: float, lower_bound: float, integral: bool) -> str:
    """The Selection's status from the solver's (``"none"`` when no solver ran) and the gap.

    "optimal" only when the bound proves it; otherwise the solver's status when it stopped
    early, "gap_limit" when an integral solve stopped at its gap, and "heuristic" else.
    """
    if is_proven_optimal(objective, lower_bound):
        return "optimal"
    if solver_status in ("optimal", "none"):
        return "gap_limit" if integral else "heuristic"
    return solver_status


@dataclass(frozen=True, eq=False)
class Selection:
    """A batch of B (image, class) queries and how it was obtained.

    Attributes
    ----------
    pairs : int array (B, 2)
        Rows (image, class), sorted by image then class.
    M : bool array (N, C)
        The selection matrix of Eq. 4.
    images : int array
        Images with at least one query, ascending.
    objective : float
        Eq. 4 of this selection on the G and R given: uncertainty + lam * redundancy.
    uncertainty, redundancy : float
        The two terms, Tr(M G) and v^T R v (objective = uncertainty + lam * redundancy).
    lower_bound : float
        A proven lower bound on the optimum of Eq. 4: the larger of the relaxation's value
        certified by weak duality from the solver's duals (LP) or the MILP's dual bound
        ("exact"), and the combinatorial bound of :mod:`alsel.bounds`.
    bound_source : str
        Which of those the lower bound came from.
    status : str
        What is known about this selection as an answer to Eq. 4 (:data:`STATUSES`), for every
        pipeline: "optimal" only when it is a proven optimum, i.e. ``lower_bound`` (a proven
        bound) is within OPTIMALITY_TOL = 1e-6 (relative, at least absolute) of ``objective``,
        so ``gap`` is ~0; "heuristic" for a feasible selection not proven optimal, ``gap`` says
        how far from optimal it can be at most (the default pipeline; a rounded relaxation that
        its solver solved to optimality; the relaxation's optimality says nothing about the
        rounding); "gap_limit" when "exact" stopped at its ``mip_rel_gap`` before proving
        optimality; or the solver's status when it stopped early ("time_limit",
        "iteration_limit", "interrupted", "inaccurate"): the selection is feasible but comes
        from an unfinished solve.
    solver_status : str
        The solver's own status on the problem it solved (see alsel.solvers.STATUSES): the
        relaxation for a relaxation pipeline (its "optimal" is the relaxation's optimum, not
        the selection's), the MILP for "exact" ("optimal" there means within ``mip_rel_gap``);
        "none" when no solver ran (formulation "none"). (Up to alsel 0.1.0, ``status`` held
        this for relaxation pipelines.)
    timings : dict[str, float]
        Seconds for "build", "solve", "round", "bound" and "total".
    formulation, solver, rounding : str
        What produced it (formulation and solver "none" without a relaxation; rounding "none"
        for the integral "exact" formulation); ``pipeline`` joins them.
    seed : int
        Seed of the rounding's tie-breaking.
    relaxed_M : float array (N, C) or None
        The relaxation's M before rounding (None for "exact").
    relaxation_value : float
        Objective of the relaxed point the solver returned (nan for "exact").
    certificate : Certificate or None
        alsel's own relative primal residual, dual residual and duality gap of the solver's
        answer, the same formula for every backend (:mod:`alsel.certificate`).
    info : dict
        Solver details: algorithm, iterations, handover seconds, LP size.
    solution : LPSolution or None
        The backend's raw answer (x, duals, ...): pass it as ``solver_options={"warm_start":
        selection.solution}`` to warm-start PDLP on the next, similar problem.
    """

    pairs: np.ndarray
    M: np.ndarray
    images: np.ndarray
    objective: float
    uncertainty: float
    redundancy: float
    lower_bound: float
    bound_source: str
    status: str
    timings: dict[str, float]
    formulation: str
    solver: str
    rounding: str
    seed: int
    relaxed_M: np.ndarray | None = None
    relaxation_value: float = float("nan")
    certificate: Certificate | None = None
    info: dict[str, Any] = field(default_factory=dict)
    solution: LPSolution | None = field(default=None, repr=False)
    lam: float = float("nan")
    solver_status: str = "none"

    def __post_init__(self) -> None:
        for array in (self.pairs, self.M, self.images, self.relaxed_M):
            if array is not None:
                array.setflags(write=False)

    @property
    def pipeline(self) -> str:
        """"formulation/solver/rounding", e.g. "none/none/greedy+local" or "paper/highs/topb"."""
        return f"{self.formulation}/{self.solver}/{self.rounding}"

    @property
    def redundancy_share(self) -> float:
        """lam * redundancy / (|uncertainty| + lam * redundancy): how much of Eq. 4 is redundancy."""
        weighted = self.lam * self.redundancy
        total = abs(self.uncertainty) + weighted
        return weighted / total if total > 0 else 0.0

    @property
    def half_mass_share(self) -> float:
        """Share of the relaxed M's mass on entries at 1/2 (within 1e-6): the paper's relaxation
        puts nearly all of it there (docs/relaxation.md). nan without a relaxation."""
        if self.relaxed_M is None:
            return float("nan")
        mass = float(self.relaxed_M.sum())
        if mass <= 0:
            return 0.0
        halves = np.abs(self.relaxed_M - 0.5) <= 1e-6
        return float(self.relaxed_M[halves].sum()) / mass

    def diagnostics(self) -> dict[str, float | str]:
        """The figures to judge this selection by, in one dict."""
        return {
            "pipeline": self.pipeline,
            "objective": self.objective,
            "lower_bound": self.lower_bound,
            "bound_source": self.bound_source,
            "gap": self.gap,
            "redundancy_share": self.redundancy_share,
            "half_mass_share": self.half_mass_share,
        }

    @property
    def gap(self) -> float:
        """(objective - lower_bound) / |objective|: how far from optimal it can be, at most
        (relative to the objective; ``bound_source`` says which bound)."""
        if not np.isfinite(self.lower_bound):
            return float("inf")
        scale = max(abs(self.objective), 1e-12)
        return max(self.objective - self.lower_bound, 0.0) / scale

    def summary(self) -> str:
        """One line: size, objective, bound, gap, status and what produced it."""
        return (
            f"{len(self.pairs)} queries on {len(self.images)} images | objective {self.objective:.6g} "
            f"(uncertainty {self.uncertainty:.6g} + lam*redundancy "
            f"{self.objective - self.uncertainty:.6g}) | lower bound "
            f"{self.lower_bound:.6g} ({self.bound_source}) | gap {self.gap:.2%} | "
            f"{self.status}{'' if self.solver_status == 'none' else f' (solver: {self.solver_status})'}"
            f" | {self.pipeline} | {self.timings['total']:.2f} s"
        )
