"""alsel: active learning for semantic segmentation with binary (yes/no) feedback.

Choose which "is class j in image i?" questions to ask by solving Eq. 4 of Goswami et al.
(uncertainty G against redundancy R) as an LP, then rounding.

>>> import alsel
>>> sel = alsel.select(G, R, B=200, C_max=5, lam=1.0)      # doctest: +SKIP
>>> sel.pairs[:3]                                             # doctest: +SKIP
"""

from . import scores, solvers
from .certificate import Certificate, certify
from .errors import AlselError, SolverError, SolverLicenseError, SolverUnavailable
from .formulations import FORMULATIONS, build_lp
from .lp import LinearProgram, VariableIndex
from .problem import SelectionProblem
from .rounding import ROUNDINGS
from .pipeline import select
from .selection import Selection

__version__ = "0.1.0"

__all__ = [
    "FORMULATIONS",
    "ROUNDINGS",
    "AlselError",
    "Certificate",
    "LinearProgram",
    "Selection",
    "SelectionProblem",
    "SolverError",
    "SolverLicenseError",
    "SolverUnavailable",
    "VariableIndex",
    "build_lp",
    "certify",
    "scores",
    "select",
    "solvers",
]
