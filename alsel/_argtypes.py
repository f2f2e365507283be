"""argparse types shared by every ``alsel`` subcommand: whole numbers, numbers, fractions.

argparse prefixes a refusal with the flag ("argument --budget: must be >= 1; got 0").
"""

from __future__ import annotations

import argparse
import math

__all__ = ["count", "fraction", "number"]


def count(minimum: int):
    """An argparse type: an integer >= ``minimum``."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum}; got {value}")
        return value

    parse.__name__ = "integer"
    return parse


def _float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number; got {text}")
    return value


def number(*, positive: bool):
    """An argparse type: a finite number > 0 (``positive``) or >= 0."""
    def parse(text: str) -> float:
        value = _float(text)
        if value < 0 or (positive and value == 0):
            raise argparse.ArgumentTypeError(f"must be {'> 0' if positive else '>= 0'}; got {text}")
        return value

    parse.__name__ = "number"
    return parse


def fraction(text: str) -> float:
    """An argparse type: a number strictly between 0 and 1 (a level, a significance)."""
    value = _float(text)
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"must be in (0, 1), e.g. 0.95; got {text}")
    return value
