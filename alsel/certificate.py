"""One solver-independent certificate for every LP answer, computed by alsel.

The definitions follow PDLP's relative termination criteria (Applegate et al., "Practical
large-scale linear programming using primal-dual hybrid gradient", and OR-Tools' termination.cc),
with eps_abs / eps_rel = 1. For  min c'x + offset  s.t.  l <= Ax <= u,  lo <= x <= up  and a
primal point x and row duals y:

* relative primal residual  = || (Ax - proj_[l,u](Ax),  x - proj_[lo,up](x)) ||_2 / (1 + ||b||_2)
  where b holds, for every row, the largest finite |bound| (PDLP's "combined bounds");
* relative dual residual    = || (y_wrong,  d_wrong) ||_2 / (1 + ||c||_2)
  where y_wrong are the parts of y with a sign its row cannot have (y_r > 0 needs a finite l_r,
  y_r < 0 a finite u_r) and d_wrong the parts of the reduced costs d = c - A'y_+ (y_+ = y
  projected onto the allowed signs) that no finite column bound can absorb;
* relative duality gap      = |p - q| / (1 + |p| + |q|)
  with p = c'x + offset and q = LinearProgram.dual_objective(y), PDLP's dual objective (the
  reduced costs that meet an infinite column bound are left out of q and counted in the dual
  residual). Where every column is bounded, q is LinearProgram.dual_bound(y), a valid lower
  bound whatever y is.

Every backend's answer is judged by these same three numbers. For an integral problem there are
no duals: the dual residual is nan and the gap uses the solver's proven bound as q.

For a convex QP (``lp.hessian`` Q, objective 1/2 x'Qx + c'x + offset) the certificate of (x, y)
is that of the LP linearized at x (LinearProgram.linearized): cost c + Qx and offset
offset - 1/2 x'Qx. So p is the QP's objective f(x), the reduced costs are d = c + Qx - A'y
(the QP's dual residual), and q is the Wolfe dual objective of (x, y), a valid lower bound on the
QP; ||c|| in the dual residual's scale becomes ||c + Qx||.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .lp import LinearProgram


@dataclass(frozen=True)
class Certificate:
    """Relative KKT errors of an LP answer (see the module docstring for the formulas)."""

    primal_residual: float
    dual_residual: float
    gap: float
    primal_objective: float
    dual_objective: float

    @property
    def kkt_error(self) -> float:
        """The largest of the three relative errors (nan parts ignored)."""
        return float(np.nanmax([self.primal_residual, self.dual_residual, self.gap]))

    def within(self, tol: float) -> bool:
        """Whether every relative error is at most ``tol``."""
        return self.kkt_error <= tol

    def __str__(self) -> str:
        return (
            f"primal {self.primal_residual:.2e}, dual {self.dual_residual:.2e}, "
            f"gap {self.gap:.2e} (relative)"
        )


def dual_sign_bounds(row_lower: np.ndarray, row_upper: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(floor, ceiling) of each row dual: y_r > 0 needs a finite l_r, y_r < 0 a finite u_r."""
    return (np.where(np.isfinite(row_upper), -np.inf, 0.0),
            np.where(np.isfinite(row_lower), np.inf, 0.0))


def _finite_or_zero(values: np.ndarray) -> np.ndarray:
    return np.where(np.isfinite(values), values, 0.0)


@dataclass(frozen=True, eq=False)
class KKTData:
    """The LP data the certificate reads, as arrays of one array module (NumPy or CuPy), with
    the masks and cleaned bounds the formulas need computed once."""

    c: Any
    offset: float
    row_lower: Any
    row_upper: Any
    col_lower: Any
    col_upper: Any
    bounds_norm: float
    c_norm: float
    dual_floor: Any
    dual_ceiling: Any
    row_lower_0: Any  # bounds with the infinite ones replaced by 0
    row_upper_0: Any
    col_lower_0: Any
    col_upper_0: Any
    col_lower_infinite: Any
    col_upper_infinite: Any
    boxed: bool  # every column has two finite bounds: no reduced cost is ever "wrong"

    @classmethod
    def from_lp(cls, lp: LinearProgram, xp: Any = np, dtype: Any = np.float64) -> KKTData:
        """The data of ``lp`` as arrays of module ``xp`` (floats in ``dtype``)."""

        def asarray(values: np.ndarray) -> Any:
            return xp.asarray(values if values.dtype == bool else values.astype(dtype, copy=False))

        floor, ceiling = dual_sign_bounds(lp.row_lower, lp.row_upper)
        lower_infinite, upper_infinite = ~np.isfinite(lp.col_lower), ~np.isfinite(lp.col_upper)
        return cls(
            c=asarray(lp.c), offset=lp.offset,
            row_lower=asarray(lp.row_lower), row_upper=asarray(lp.row_upper),
            col_lower=asarray(lp.col_lower), col_upper=asarray(lp.col_upper),
            bounds_norm=combined_bounds_norm(lp), c_norm=float(np.linalg.norm(lp.c)),
            dual_floor=asarray(floor), dual_ceiling=asarray(ceiling),
            row_lower_0=asarray(_finite_or_zero(lp.row_lower)),
            row_upper_0=asarray(_finite_or_zero(lp.row_upper)),
            col_lower_0=asarray(_finite_or_zero(lp.col_lower)),
            col_upper_0=asarray(_finite_or_zero(lp.col_upper)),
            col_lower_infinite=asarray(lower_infinite), col_upper_infinite=asarray(upper_infinite),
            boxed=not (lower_infinite.any() or upper_infinite.any()),
        )


def combined_bounds_norm(lp: LinearProgram) -> float:
    """||b||_2 with b_r the largest finite |bound| of row r (0 if none)."""
    lower = np.where(np.isfinite(lp.row_lower), np.abs(lp.row_lower), 0.0)
    upper = np.where(np.isfinite(lp.row_upper), np.abs(lp.row_upper), 0.0)
    return float(np.linalg.norm(np.maximum(lower, upper)))


def _clip(xp: Any, values: Any, lower: Any, upper: Any) -> Any:
    # maximum + minimum: NumPy's clip with array bounds is several times slower
    return xp.minimum(xp.maximum(values, lower), upper)


def project_duals(xp: Any, floor: Any, ceiling: Any, y: Any) -> Any:
    """y clipped to the signs its rows allow (see :func:`dual_sign_bounds`)."""
    return _clip(xp, y, floor, ceiling)


def row_and_column_terms(xp: Any, data: KKTData, y_allowed: Any, ATy_allowed: Any) -> tuple[Any, Any, Any]:
    """(row terms, finite column terms, parts of d against infinite bounds or None) of a
    sign-feasible y."""
    finite, wrong = column_terms(xp, data, data.c - ATy_allowed)
    return row_terms(xp, data, y_allowed), finite, wrong


def row_terms(xp: Any, data: KKTData, y: Any) -> Any:
    """y_r l_r where y_r > 0, y_r u_r where y_r < 0 (y already sign-feasible)."""
    return xp.where(y > 0, y * data.row_lower_0, y * data.row_upper_0)


def column_terms(xp: Any, data: KKTData, d: Any) -> tuple[Any, Any]:
    """(d_j lo_j or d_j up_j over the finite bounds, the parts of d against infinite bounds —
    None when every column is boxed)."""
    finite = xp.where(d > 0, d * data.col_lower_0, d * data.col_upper_0)
    if data.boxed:
        return finite, None
    wrong = xp.where((d > 0) & data.col_lower_infinite, d,
                     xp.where((d < 0) & data.col_upper_infinite, d, 0.0))
    return finite, wrong


def _sum_of_squares(xp: Any, values: Any) -> float:
    return 0.0 if values is None else float(values @ values)


def relative_kkt(xp: Any, data: KKTData, x: Any, y: Any, Ax: Any, ATy_allowed: Any) -> Certificate:
    """The certificate of (x, y) given A x and A^T proj(y), in any array module.

    The one implementation of the formulas above: :func:`certify` calls it with NumPy, alsel's
    PDLP with its device arrays, so PDLP's "optimal" and the certificate cannot disagree.
    """
    row_excess = Ax - _clip(xp, Ax, data.row_lower, data.row_upper)
    col_excess = x - _clip(xp, x, data.col_lower, data.col_upper)
    primal = np.sqrt(_sum_of_squares(xp, row_excess) + _sum_of_squares(xp, col_excess))
    allowed = project_duals(xp, data.dual_floor, data.dual_ceiling, y)
    rows, finite, wrong = row_and_column_terms(xp, data, allowed, ATy_allowed)
    dual = np.sqrt(_sum_of_squares(xp, y - allowed) + _sum_of_squares(xp, wrong))
    return certificate_from_sums(data, float(primal), float(dual), float(data.c @ x),
                                 float(xp.sum(rows) + xp.sum(finite)))


def certificate_from_sums(data: KKTData, primal_norm: float, dual_norm: float, cx: float,
                          dual_terms: float) -> Certificate:
    """The certificate from its sums: ||primal excess||, ||dual excess||, c'x and the dual
    objective's terms (row and column terms, without the offset)."""
    p = cx + data.offset
    q = dual_terms + data.offset
    gap = abs(p - q) / (1.0 + abs(p) + abs(q))
    return Certificate(primal_norm / (1.0 + data.bounds_norm), dual_norm / (1.0 + data.c_norm), gap, p, q)


def certify(
    lp: LinearProgram, x: np.ndarray, y: np.ndarray | None = None, bound: float | None = None
) -> Certificate:
    """The certificate of primal x and row duals y (or, without y, of x and a proven ``bound``)."""
    x = np.asarray(x, dtype=np.float64)
    if x.shape != (lp.num_cols,):
        raise ValueError(f"x must have shape ({lp.num_cols},); got {x.shape}.")
    lp = lp.linearized(x)  # a QP is judged by its linearization at x (module docstring)
    data = KKTData.from_lp(lp)
    if y is None:
        activity = lp.A @ x
        primal = np.sqrt(
            np.sum((activity - np.clip(activity, lp.row_lower, lp.row_upper)) ** 2)
            + np.sum((x - np.clip(x, lp.col_lower, lp.col_upper)) ** 2)
        )
        p = lp.objective_value(x)
        q = float("nan") if bound is None else float(bound)
        gap = abs(p - q) / (1.0 + abs(p) + abs(q)) if np.isfinite(q) else float("inf")
        return Certificate(float(primal / (1.0 + data.bounds_norm)), float("nan"), float(gap), p, q)
    y = np.asarray(y, dtype=np.float64)
    if y.shape != (lp.num_rows,):
        raise ValueError(f"y must have shape ({lp.num_rows},); got {y.shape}.")
    return relative_kkt(np, data, x, y, lp.A @ x, lp.A.T @ lp.project_duals(y))
