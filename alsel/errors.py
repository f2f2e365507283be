"""Exceptions raised by alsel beyond plain ValueError/TypeError for bad arguments."""

from __future__ import annotations


class AlselError(Exception):
    """Base class of alsel's own exceptions."""


class SolverError(AlselError, RuntimeError):
    """A backend ran but produced nothing usable (no solution, a license limit, a crash)."""


class SolverUnavailable(AlselError, ImportError):
    """A backend was requested whose package, license or device is not usable here."""


class SolverLicenseError(SolverError):
    """The model is larger than the solver's license allows (e.g. Gurobi's pip license)."""
