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

Three codes compute these formulas: :func:`relative_kkt` (whole-array operations in any array
module: NumPy, or CuPy inside alsel's PDLP), the compiled loops :func:`certify` uses on the CPU
where Numba is installed (one pass over the rows, one over the columns, straight from the LP's
bounds), and PDLP's own compiled loops on its scaled iterates (``solvers/pdlp/kernels.py``).
Tests hold the compiled ones to the array one.
"""

from __future__ import annotations

import sys
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

    The reference implementation of the formulas above: alsel's PDLP calls it with its device
    arrays (on a GPU, or without Numba), :func:`certify` with NumPy where Numba is missing; the
    compiled loops that replace it elsewhere are tested against it, so PDLP's "optimal" and the
    certificate agree.
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
    if y is None:
        activity = lp.A @ x
        primal = np.sqrt(
            np.sum((activity - np.clip(activity, lp.row_lower, lp.row_upper)) ** 2)
            + np.sum((x - np.clip(x, lp.col_lower, lp.col_upper)) ** 2)
        )
        p = lp.objective_value(x)
        q = float("nan") if bound is None else float(bound)
        gap = abs(p - q) / (1.0 + abs(p) + abs(q)) if np.isfinite(q) else float("inf")
        return Certificate(float(primal / (1.0 + combined_bounds_norm(lp))), float("nan"), float(gap), p, q)
    y = np.asarray(y, dtype=np.float64)
    if y.shape != (lp.num_rows,):
        raise ValueError(f"y must have shape ({lp.num_rows},); got {y.shape}.")
    if _use_compiled(lp):
        return _compiled_certify(lp, x, y)
    return relative_kkt(np, KKTData.from_lp(lp), x, y, lp.A @ x, lp.A.T @ lp.project_duals(y))


_COMPILED: dict[str, Any] = {}
#: Rows + columns from which certify() imports Numba for its compiled loops; below, it uses them
#: only where Numba is loaded already (alsel's PDLP loads it). A certificate costs ~37 ns per
#: row or column with the array formulas and ~6 ns compiled (N = 1200, 1.5M: 47 against 8.5 ms),
#: and importing Numba ~0.35 s once per process: a solve on the working set certifies about three
#: times, so the import pays for itself in one solve from about 4M.
COMPILED_FROM = 4_000_000


def _use_compiled(lp: LinearProgram) -> bool:
    if "numba" not in sys.modules and lp.num_rows + lp.num_cols < COMPILED_FROM:
        return False
    return _compiled_loops() is not None


def _compiled_loops() -> Any:
    """The two loops of :func:`_loop_sums` where Numba is installed (``alsel[fast]``), else None."""
    if "loops" not in _COMPILED:
        try:
            _COMPILED["loops"] = _compile_loops()
        except ImportError:
            _COMPILED["loops"] = None
    return _COMPILED["loops"]


def compiled_dual_terms(lp: LinearProgram, y: np.ndarray) -> tuple[float, float, bool] | None:
    """LinearProgram's dual terms of y (row terms, finite column terms, whether a nonzero reduced
    cost meets an infinite bound) by the compiled loops, or None where certify() would not use
    them (:data:`COMPILED_FROM`)."""
    if not _use_compiled(lp):
        return None
    sums = _loop_sums(lp, np.zeros(lp.num_cols), y, np.zeros(lp.num_rows))  # x plays no part
    return sums["row_terms"], sums["column_terms"], sums["wrong_sq"] > 0


def _compiled_certify(lp: LinearProgram, x: np.ndarray, y: np.ndarray) -> Certificate:
    """:func:`relative_kkt`'s formulas in one pass over the rows and one over the columns, read
    straight from the LP's bounds: the array version makes ~25 whole-array passes and builds
    KKTData first, ~30 ms of the ~35 ms a certificate took at N = 1200 (744,601 rows), where the
    two products take 5 ms. The working set certifies on the whole LP every round."""
    sums = _loop_sums(lp, x, y, lp.A @ x)
    p = sums["cx"] + lp.offset
    q = sums["row_terms"] + sums["column_terms"] + lp.offset
    return Certificate(float(np.sqrt(sums["primal_sq"]) / (1.0 + np.sqrt(sums["bounds_sq"]))),
                       float(np.sqrt(sums["sign_sq"] + sums["wrong_sq"]) / (1.0 + np.sqrt(sums["c_sq"]))),
                       float(abs(p - q) / (1.0 + abs(p) + abs(q))), float(p), float(q))


def _loop_sums(lp: LinearProgram, x: np.ndarray, y: np.ndarray, Ax: np.ndarray) -> dict[str, float]:
    """The certificate's sums by the two compiled loops: squared primal excess, squared duals of a
    wrong sign, squared reduced costs against infinite bounds, the dual objective's row and
    column terms, c'x, ||b||^2 and ||c||^2."""
    rows, columns = _compiled_loops()
    allowed = np.empty_like(y)
    primal_rows, sign_sq, row_terms, bounds_sq = rows(
        lp.row_lower.astype(np.float64, copy=False), lp.row_upper.astype(np.float64, copy=False), Ax, y, allowed)
    primal_cols, wrong_sq, cx, column_terms, c_sq = columns(
        lp.c.astype(np.float64, copy=False), lp.col_lower.astype(np.float64, copy=False),
        lp.col_upper.astype(np.float64, copy=False), x, lp.A.T @ allowed)
    return {"primal_sq": float(primal_rows + primal_cols), "sign_sq": float(sign_sq),
            "wrong_sq": float(wrong_sq), "row_terms": float(row_terms), "column_terms": float(column_terms),
            "cx": float(cx), "bounds_sq": float(bounds_sq), "c_sq": float(c_sq)}


def _compile_loops() -> tuple[Any, Any]:
    from numba import njit

    @njit(cache=True)
    def rows(lower, upper, Ax, y, allowed):
        primal = 0.0
        dual = 0.0
        terms = 0.0
        bounds_sq = 0.0
        for i in range(y.shape[0]):
            lo, up = lower[i], upper[i]
            lo_finite, up_finite = np.isfinite(lo), np.isfinite(up)
            excess = Ax[i] - min(max(Ax[i], lo), up)
            primal += excess * excess
            a = y[i]
            if a > 0.0 and not lo_finite:
                a = 0.0
            elif a < 0.0 and not up_finite:
                a = 0.0
            allowed[i] = a
            dual += (y[i] - a) * (y[i] - a)
            if a > 0.0:
                terms += a * lo
            elif a < 0.0:
                terms += a * up
            b = max(abs(lo) if lo_finite else 0.0, abs(up) if up_finite else 0.0)
            bounds_sq += b * b
        return primal, dual, terms, bounds_sq

    @njit(cache=True)
    def columns(c, lower, upper, x, ATy):
        primal = 0.0
        dual = 0.0
        cx = 0.0
        terms = 0.0
        c_sq = 0.0
        for j in range(x.shape[0]):
            lo, up = lower[j], upper[j]
            excess = x[j] - min(max(x[j], lo), up)
            primal += excess * excess
            cx += c[j] * x[j]
            c_sq += c[j] * c[j]
            d = c[j] - ATy[j]
            if d > 0.0:
                if np.isfinite(lo):
                    terms += d * lo
                else:
                    dual += d * d
            elif d < 0.0:
                if np.isfinite(up):
                    terms += d * up
                else:
                    dual += d * d
        return primal, dual, cx, terms, c_sq

    return rows, columns
