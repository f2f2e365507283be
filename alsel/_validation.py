"""Input checks shared by the public entry points.

Every check raises before any work is done, names the argument, says what was wrong and how to
fix it (TypeError for a wrong type, ValueError for a wrong value).
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable

import numpy as np


def plain(value: object) -> object:
    """``value`` with NumPy scalars as the Python numbers they hold, for messages: ``2``, not
    ``np.int64(2)``."""
    return value.item() if isinstance(value, np.generic) else value


def shown(value: object) -> str:
    """``repr`` of :func:`plain` ``(value)``: how a message quotes a value it got."""
    return repr(plain(value))


def as_float_array(value: object, name: str, ndim: int) -> np.ndarray:
    """Return ``value`` as a C-contiguous float64 array with ``ndim`` dimensions.

    The caller's own array comes back (not a copy) where it already is one; never change its
    flags or values, take a ``.view()`` first. Rejects sparse matrices, masked arrays (their
    mask would be ignored), non-numeric data, empty arrays and NaN/inf.
    """
    if hasattr(value, "tocsr") or hasattr(value, "toarray"):
        raise TypeError(
            f"{name} must be a dense array; got {type(value).__name__}. "
            f"Pass {name}.toarray()."
        )
    if isinstance(value, np.ma.MaskedArray):
        raise TypeError(
            f"{name} is a masked array; its mask would be ignored. Fill it: pass "
            f"{name}.filled(value) with the value a masked entry should have."
        )
    try:
        array = np.asarray(value)
    except Exception as exc:  # ragged lists and the like
        raise TypeError(f"{name} must be an array of numbers; could not convert it: {exc}") from exc
    if array.dtype == bool or not np.issubdtype(array.dtype, np.number):
        raise TypeError(f"{name} must hold real numbers; got dtype {array.dtype}.")
    if np.iscomplexobj(array):
        raise TypeError(f"{name} must be real; got complex dtype {array.dtype}. Pass {name}.real.")
    if array.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-dimensional; got shape {array.shape}.")
    if array.size == 0:
        raise ValueError(f"{name} is empty (shape {array.shape}); it needs at least one entry.")
    array = np.ascontiguousarray(array, dtype=np.float64)
    if not np.isfinite(array).all():
        bad = np.argwhere(~np.isfinite(array))
        raise ValueError(
            f"{name} has {len(bad)} NaN or infinite entries (first at index {tuple(int(i) for i in bad[0])}); "
            f"every entry must be finite."
        )
    return array


def as_count(value: object, name: str, minimum: int, hint: str = "") -> int:
    """Return ``value`` as a Python int >= ``minimum`` (integral floats such as 200.0 accepted)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be an integer; got {type(value).__name__} {shown(value)}.")
    if not float(value).is_integer():
        raise ValueError(f"{name} must be a whole number; got {shown(value)}. Pass round({name}).")
    count = int(value)
    if count < minimum:
        raise ValueError(f"{name} must be >= {minimum}; got {count}.{' ' + hint if hint else ''}")
    return count


def as_nonnegative_float(value: object, name: str) -> float:
    """Return ``value`` as a finite float >= 0."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number; got {type(value).__name__} {shown(value)}.")
    number = float(value)
    if not np.isfinite(number):
        raise ValueError(f"{name} must be finite; got {number}.")
    if number < 0:
        raise ValueError(f"{name} must be >= 0; got {number}.")
    return number


def check_choice(value: object, name: str, valid: Iterable[str]) -> str:
    """Return ``value`` (as a plain str) if it is one of ``valid``; otherwise list the valid names."""
    valid = list(valid)
    if not isinstance(value, str) or value not in valid:
        raise ValueError(f"unknown {name} {shown(value)}; valid: {', '.join(map(repr, valid))}.")
    return str(value)  # a plain str, also for a NumPy string
