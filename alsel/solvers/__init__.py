"""Solver backends: one registry, one result type (:class:`LPSolution`).

Built in: "highs", "glop", "ortools-pdlp", "gurobi", "cvxpy", "clarabel", "pdlp", "pdlp-cuda",
"cupdlpx" for the LP relaxation, "highs", "gurobi", "scip" for the integral problem and "highs",
"cvxpy", "clarabel", "gurobi" for the QP relaxation (formulation "qp"). Each backend is a small class with ``name``,
``supports_mip``, ``options``, ``unavailable_reason()``, ``validate(options, mip)`` and
``solve(lp, options)`` (optionally ``note()``, and ``supports_qp = True`` if it solves convex QPs;
a backend without it is never handed one); it sees only a LinearProgram.

Third-party backends register through the entry-point group ``alsel.solvers``: the entry point
names a backend class (instantiated without arguments) or instance, e.g. in pyproject.toml::

    [project.entry-points."alsel.solvers"]
    mysolver = "mypackage.alsel_backend:MyBackend"
"""

from __future__ import annotations

import functools
import logging
from importlib.metadata import entry_points
from typing import Any

from .._validation import check_choice
from ..errors import SolverUnavailable
from ..lp import LinearProgram
from .base import COMMON_OPTIONS, STATUSES, Backend, LPSolution
from .options import check_rules
from .clarabel_backend import ClarabelBackend
from .cupdlpx_backend import CupdlpxBackend
from .cvxpy_model import CvxpyBackend
from .gurobi import GurobiBackend
from .highs import HighsBackend
from .ortools_linear import GlopBackend, ScipBackend
from .ortools_pdlp import OrtoolsPdlpBackend
from .pdlp import PdlpBackend
from . import working_set

__all__ = [
    "COMMON_OPTIONS",
    "ENTRY_POINT_GROUP",
    "SOLVE_OPTIONS",
    "STATUSES",
    "Backend",
    "LPSolution",
    "available",
    "backends",
    "check_options",
    "get",
    "mip_backends",
    "qp_backends",
    "notes",
    "register",
    "require",
    "solve",
]

logger = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "alsel.solvers"
#: Options of the solve itself, accepted with every backend: ``working_set`` (bool, default
#: False) solves a selection LP on a growing set of images (:mod:`alsel.solvers.working_set`).
SOLVE_OPTIONS = ("working_set",)
BUILT_IN: tuple[Backend, ...] = (
    HighsBackend(),
    GlopBackend(),
    OrtoolsPdlpBackend(),
    GurobiBackend(),
    CvxpyBackend(),
    ClarabelBackend(),
    ScipBackend(),
    PdlpBackend("pdlp", device="cpu"),
    PdlpBackend("pdlp-cuda", device="cuda"),
    CupdlpxBackend(),
)
_registered: dict[str, Backend] = {}
_plugin_errors: dict[str, str] = {}


@functools.lru_cache(maxsize=1)
def _plugins() -> dict[str, Backend]:
    found: dict[str, Backend] = {}
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        if any(entry.name == backend.name for backend in BUILT_IN):
            logger.warning("ignoring entry point %r: a built-in backend has that name", entry.name)
            continue
        try:
            loaded = entry.load()
            backend = loaded() if isinstance(loaded, type) else loaded
            if backend.name != entry.name:
                raise ValueError(f"its name is {backend.name!r}, not {entry.name!r}")
        except Exception as exc:  # a broken plugin must not break alsel
            _plugin_errors[entry.name] = f"entry point {entry.value!r} failed to load: {exc}"
            continue
        found[entry.name] = backend
    return found


def register(backend: Backend) -> None:
    """Register a backend object in this process (entry points do it for installed packages)."""
    for attribute in ("name", "supports_mip", "options", "unavailable_reason", "validate", "solve"):
        if not hasattr(backend, attribute):
            raise TypeError(f"a backend needs {attribute!r}; {type(backend).__name__} has none.")
    if backend.name in backends():
        raise ValueError(f"a backend named {backend.name!r} is already registered.")
    _registered[backend.name] = backend


def backends() -> dict[str, Backend]:
    """Every known backend by name: built in, from entry points, then registered."""
    return {**{b.name: b for b in BUILT_IN}, **_plugins(), **_registered}


def available() -> dict[str, str | None]:
    """Map each backend name to None (usable here) or the reason it is not."""
    result = {name: backend.unavailable_reason() for name, backend in backends().items()}
    result.update(_plugin_errors)
    return result


def notes() -> dict[str, str]:
    """Caveats of usable backends (e.g. Gurobi's size-limited license), by name."""
    found = {}
    for name, backend in backends().items():
        note = getattr(backend, "note", None)
        text = note() if note is not None and backend.unavailable_reason() is None else None
        if text:
            found[name] = text
    return found


def mip_backends() -> list[str]:
    """Names of the backends that solve integral problems."""
    return [name for name, backend in backends().items() if backend.supports_mip]


def qp_backends() -> list[str]:
    """Names of the backends that solve convex QPs (``supports_qp``)."""
    return [name for name, backend in backends().items() if getattr(backend, "supports_qp", False)]


def check_qp(backend: Backend) -> None:
    """ValueError naming the QP backends unless ``backend`` solves convex QPs."""
    if not getattr(backend, "supports_qp", False):
        raise ValueError(
            f"solver {backend.name!r} does not solve QPs, and formulation 'qp' has a quadratic "
            f"objective: use one of {', '.join(map(repr, qp_backends()))}."
        )


def get(name: str) -> Backend:
    """The backend called ``name``; ValueError listing the valid names otherwise."""
    known = backends()
    if isinstance(name, str) and name in _plugin_errors:
        raise SolverUnavailable(f"solver {name!r} is not usable: {_plugin_errors[name]}")
    return known[check_choice(name, "solver", known)]


def check_options(
    backend: Backend, options: dict[str, Any] | None, mip: bool = False
) -> dict[str, Any]:
    """Validate option names and values against what ``backend`` understands.

    Every error is a ValueError (TypeError for ``options`` not a dict) that names the option,
    the backend and the fix (:mod:`alsel.solvers.options`). Returns a new dict, with NumPy
    scalars as Python numbers.
    """
    if mip and not backend.supports_mip:
        raise ValueError(
            f"solver {backend.name!r} solves LP relaxations only; for formulation='exact' use "
            f"one of {', '.join(map(repr, mip_backends()))}."
        )
    if options is None:
        options = {}
    if not isinstance(options, dict):
        raise TypeError(f"solver_options must be a dict; got {type(options).__name__}.")
    unknown = sorted(map(str, set(options) - set(backend.options) - set(SOLVE_OPTIONS)))
    if unknown:
        raise ValueError(
            f"unknown solver option(s) {', '.join(map(repr, unknown))} for solver "
            f"{backend.name!r}; valid: {', '.join(map(repr, (*backend.options, *SOLVE_OPTIONS)))}."
        )
    options = check_rules(backend.name, options)
    if options.get("working_set", False):
        working_set.check_backend(backend, mip)
    try:
        backend.validate({k: v for k, v in options.items() if k not in SOLVE_OPTIONS}, mip)
    except (ValueError, TypeError) as exc:
        if type(exc) not in (ValueError, TypeError) or str(exc).startswith(f"solver {backend.name!r}"):
            raise
        raise type(exc)(f"solver {backend.name!r}: {exc}") from exc
    return options


def require(name: str) -> Backend:
    """The backend called ``name`` if it is usable here; SolverUnavailable saying why otherwise."""
    backend = get(name)
    reason = backend.unavailable_reason()
    if reason is not None:
        raise SolverUnavailable(f"solver {backend.name!r} is not usable here: {reason}")
    return backend


def solve(lp: LinearProgram, solver: str = "highs", options: dict[str, Any] | None = None) -> LPSolution:
    """Solve ``lp`` with the named backend.

    ``options={"working_set": True}`` solves an LP built by alsel's formulations on a growing
    set of images and certifies the answer on the whole LP (:mod:`alsel.solvers.working_set`;
    ``select()`` does so by default, this function only when asked).

    Raises SolverUnavailable (naming the extra to install) when the backend cannot run here,
    and ValueError for options it does not know, or an integral LP or a QP it cannot solve.
    """
    backend = require(solver)
    if lp.is_qp:
        check_qp(backend)
    options = check_options(backend, options, mip=lp.is_mip)
    if options.pop("working_set", False):
        working_set.check_supported(lp, backend)
        return working_set.solve(lp, backend, options)
    return backend.solve(lp, options)
