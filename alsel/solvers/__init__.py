"""Solver backends: one registry, one result type (:class:`LPSolution`).

Each backend is a small class with ``name``, ``supports_mip``, ``options``,
``unavailable_reason()`` and ``solve(lp, options)``; it sees only a LinearProgram.
"""

from __future__ import annotations

from typing import Any

from .._validation import check_choice
from ..errors import SolverUnavailable
from ..lp import LinearProgram
from .base import COMMON_OPTIONS, STATUSES, Backend, LPSolution
from .highs import HighsBackend

BACKENDS: dict[str, Backend] = {backend.name: backend for backend in (HighsBackend(),)}

__all__ = ["BACKENDS", "COMMON_OPTIONS", "STATUSES", "Backend", "LPSolution", "available", "get", "solve"]


def available() -> dict[str, str | None]:
    """Map each backend name to None (usable here) or the reason it is not."""
    return {name: backend.unavailable_reason() for name, backend in BACKENDS.items()}


def get(name: str) -> Backend:
    """The backend called ``name``; ValueError listing the valid names otherwise."""
    return BACKENDS[check_choice(name, "solver", BACKENDS)]


def check_options(
    backend: Backend, options: dict[str, Any] | None, mip: bool = False
) -> dict[str, Any]:
    """Validate option names and values against what ``backend`` understands."""
    if options is None:
        return {}
    if not isinstance(options, dict):
        raise TypeError(f"solver_options must be a dict; got {type(options).__name__}.")
    unknown = sorted(set(options) - set(backend.options))
    if unknown:
        raise ValueError(
            f"unknown solver option(s) {', '.join(map(repr, unknown))} for solver "
            f"{backend.name!r}; valid: {', '.join(map(repr, backend.options))}."
        )
    time_limit = options.get("time_limit")
    if time_limit is not None and not (isinstance(time_limit, (int, float)) and time_limit > 0):
        raise ValueError(f"time_limit must be a positive number of seconds; got {time_limit!r}.")
    threads = options.get("threads")
    if threads is not None and not (isinstance(threads, int) and threads >= 1):
        raise ValueError(f"threads must be a positive integer; got {threads!r}.")
    backend.validate(options, mip)
    return dict(options)


def solve(lp: LinearProgram, solver: str = "highs", options: dict[str, Any] | None = None) -> LPSolution:
    """Solve ``lp`` with the named backend; raises SolverUnavailable when it cannot run here."""
    backend = get(solver)
    options = check_options(backend, options, mip=lp.is_mip)
    reason = backend.unavailable_reason()
    if reason is not None:
        raise SolverUnavailable(f"solver {solver!r} is not usable here: {reason}")
    if lp.is_mip and not backend.supports_mip:
        raise ValueError(f"solver {solver!r} cannot solve integral problems; use 'highs'.")
    return backend.solve(lp, options)
