"""What every backend returns, and the small interface a backend implements."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from ..lp import LinearProgram

#: The status vocabulary shared by all backends. "inaccurate": the solver returned a point it
#: flags as inaccurate (e.g. an interior-point method stopped early); its certificate says how.
STATUSES = (
    "optimal",
    "time_limit",
    "iteration_limit",
    "infeasible",
    "unbounded",
    "infeasible_or_unbounded",
    "interrupted",
    "inaccurate",
    "error",
)

#: Options most backends understand (each lists its own in ``Backend.options``).
COMMON_OPTIONS = ("time_limit", "threads", "verbose")


def missing_package(package: str, extra: str, exc: Exception) -> str:
    """The reason string for a backend whose package cannot be imported."""
    return f"{package} is not installed ({exc}); pip install 'alsel[{extra}]'"


@dataclass(frozen=True, eq=False)
class LPSolution:
    """A backend's answer for one LinearProgram.

    Attributes
    ----------
    status : str
        One of :data:`STATUSES`.
    x : float array (n,) or None
        Primal point (None when the solver produced none).
    row_dual, col_dual : float arrays or None
        Row duals y and reduced costs d = c - A^T y (c + Q x - A^T y for a QP), where the
        solver gives them (not for integral problems).
    objective : float
        c^T x + offset (+ 1/2 x^T Q x for a QP) as the solver reports it (nan without a point).
    bound : float
        The solver's own proven lower bound where it has one (a MIP's dual bound); nan otherwise.
    iterations : int or None
        Simplex/IPM/PDLP iterations, or branch-and-bound nodes for a MIP; None where the solver
        does not report them.
    seconds : float
        Time inside the solver's run call.
    handover_seconds : float
        Time to hand the LP to the solver (copies, model construction).
    solver, algorithm : str
        Backend name and the algorithm it ran.
    """

    status: str
    x: np.ndarray | None
    row_dual: np.ndarray | None
    col_dual: np.ndarray | None
    objective: float
    bound: float
    iterations: int | None
    seconds: float
    handover_seconds: float
    solver: str
    algorithm: str
    info: dict[str, Any] = field(default_factory=dict)


class Backend(Protocol):
    """A solver backend: a LinearProgram in, an LPSolution out."""

    name: str
    supports_mip: bool
    options: tuple[str, ...]
    #: Optional (False when absent): whether ``solve`` accepts a convex QP (``lp.hessian``).
    supports_qp: bool

    def unavailable_reason(self) -> str | None:
        """None when usable here, else a sentence saying why not (package, license, device)."""

    def validate(self, options: dict[str, Any], mip: bool) -> None:
        """Raise ValueError for an option value that is wrong (``mip``: for an integral LP)."""

    def solve(self, lp: LinearProgram, options: dict[str, Any]) -> LPSolution:
        """Solve ``lp`` with already-validated ``options``."""
