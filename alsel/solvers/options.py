"""The value rules of the solver options that several backends share.

Each rule says what a value must be and gives an example, so that every message names the
option, the backend and the fix. A backend checks its own options (``algorithm``, ``device``,
``warm_start`` ...) in its ``validate``; :func:`alsel.solvers.check_options` prefixes those
messages with the backend's name too. Every option error is a ValueError.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._validation import plain, shown
from .base import LPSolution


def _real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def _integer(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def _flag(value: Any) -> bool:
    return isinstance(value, (bool, np.bool_))


@dataclass(frozen=True)
class Rule:
    """What an option's value must be (``accepts``), in words (``must``), and the fix."""

    accepts: Callable[[Any], bool]
    must: str
    fix: str
    #: whether None stands for "unset" (the backend's default) rather than a wrong value
    none_is_unset: bool = True


RULES: dict[str, Rule] = {
    "time_limit": Rule(lambda v: _real(v) and 0 < v < math.inf,
                       "must be a positive number of seconds",
                       "Pass e.g. 60, or leave it unset for no limit."),
    "threads": Rule(lambda v: _integer(v) and v >= 1, "must be a positive integer", "Pass e.g. 2."),
    "iteration_limit": Rule(lambda v: _integer(v) and v >= 1, "must be a positive integer",
                            "Pass e.g. 100000, or leave it unset for no limit."),
    "tol": Rule(lambda v: _real(v) and 0 < v < 1, "must lie in (0, 1)", "Pass e.g. 1e-4 or 1e-8."),
    "mip_rel_gap": Rule(lambda v: _real(v) and 0 <= v < 1, "must lie in [0, 1)",
                        "Pass e.g. 1e-4, or 0 for a proven optimum."),
    "primal_weight": Rule(lambda v: _real(v) and 0 < v < math.inf, "must be a positive finite number",
                          "Pass e.g. 1e-6, or leave it unset for the estimate."),
    "verbose": Rule(_flag, "must be True or False", "Pass True to see the solver's log."),
    "presolve": Rule(_flag, "must be True or False", "Pass True or False."),
    "repair": Rule(_flag, "must be True or False", "Pass True (the default) or False.", none_is_unset=False),
    "working_set": Rule(_flag, "must be True or False", "Pass False to solve the whole LP.",
                        none_is_unset=False),
}


def describe(value: Any) -> str:
    """A short account of a value for a message: the repr of a scalar or a short string, the
    type (and shape) of anything bigger."""
    value = plain(value)
    if value is None or isinstance(value, (bool, numbers.Number)) or (
            isinstance(value, str) and len(value) <= 40):
        return shown(value)
    shape = getattr(value, "shape", None)
    return ("a " + type(value).__name__
            + (f" of shape {tuple(int(n) for n in shape)}" if shape is not None else ""))


def option_error(backend: str, name: str, must: str, value: Any, fix: str = "") -> ValueError:
    """The ValueError for option ``name`` of ``backend``: what it must be, what it got, the fix."""
    return ValueError(f"solver {backend!r}: {name} {must}; got {describe(value)}.{' ' + fix if fix else ''}")


def check_rules(backend: str, options: dict[str, Any]) -> dict[str, Any]:
    """Check every option that has a rule; return the options with NumPy scalars as Python
    numbers (``np.int64(2)`` -> ``2``)."""
    for name, value in options.items():
        rule = RULES.get(name)
        if rule is not None and not (value is None and rule.none_is_unset) and not rule.accepts(value):
            raise option_error(backend, name, rule.must, value, rule.fix)
    return {name: plain(value) for name, value in options.items()}


def check_warm_start(backend: str, warm_start: Any) -> None:
    """ValueError unless ``warm_start`` is an LPSolution with a point, or a pair (x, y) of
    numeric vectors (y may be None). The shapes are checked against the LP at solve time."""
    must = "must be an LPSolution (e.g. selection.solution) or a pair (x, y) of vectors"
    fix = "Pass x and y in the LP's column and row order, or leave warm_start unset."
    if isinstance(warm_start, LPSolution):
        if warm_start.x is None:
            raise option_error(backend, "warm_start", must, warm_start,
                               f"This LPSolution (status {warm_start.status!r}) has no point x; "
                               "leave warm_start unset.")
        return
    if not isinstance(warm_start, (tuple, list)) or len(warm_start) != 2:
        raise option_error(backend, "warm_start", must, warm_start, fix)
    for part, vector in zip("xy", warm_start):
        if vector is None and part == "y":
            continue
        array = np.asarray(None if isinstance(vector, (str, bytes)) else vector)
        if array.ndim != 1 or array.dtype == bool or not np.issubdtype(array.dtype, np.number):
            raise option_error(backend, "warm_start", must, warm_start,
                               f"Its {part} is not a vector of numbers. {fix}")
        if not np.isfinite(array).all():
            raise option_error(backend, "warm_start", must, warm_start,
                               f"Its {part} has NaN or infinite entries. {fix}")
