"""LinearProgram: the solver-independent form every formulation produces and every backend reads.

    min  c^T x + offset   s.t.   row_lower <= A x <= row_upper,   col_lower <= x <= col_upper

with an optional integrality mask, and an optional convex quadratic term 1/2 x^T Q x in the
objective (``hessian``; formulation "qp") that only the backends with ``supports_qp`` accept.
Variable order is always vec(M) row-major (index i*C + j), then v (N), then the z block;
:class:`VariableIndex` maps columns back to M, v and the image pairs of each z.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import dataclasses

import numpy as np
import scipy.sparse as sp

if TYPE_CHECKING:
    from .problem import SelectionProblem


@dataclass(frozen=True, eq=False)
class VariableIndex:
    """Where M, v and z live in the LP's column vector.

    Attributes
    ----------
    n_images, n_classes : int
        N and C.
    m, v, z : slice
        Column ranges of vec(M) (row-major), v and z.
    pair_i, pair_j : int arrays
        The images (i, j) of each z column, in column order: z[k] linearizes v[pair_i[k]] *
        v[pair_j[k]].
    """

    n_images: int
    n_classes: int
    m: slice
    v: slice
    z: slice
    pair_i: np.ndarray
    pair_j: np.ndarray

    def M_of(self, x: np.ndarray) -> np.ndarray:
        """The (N, C) block of M in a column vector x."""
        return x[self.m].reshape(self.n_images, self.n_classes)

    def v_of(self, x: np.ndarray) -> np.ndarray:
        """The N entries of v in x."""
        return x[self.v]

    def z_of(self, x: np.ndarray) -> np.ndarray:
        """The z entries of x, in the order of (pair_i, pair_j)."""
        return x[self.z]


@dataclass(frozen=True, eq=False)
class LinearProgram:
    """A sparse LP in row-bounded form (a MILP when ``integrality`` is set, a convex QP with
    ``hessian``).

    Attributes
    ----------
    c : float array (n,)
        Objective coefficients.
    A : scipy.sparse.csr_array (m, n)
        Constraint matrix, canonical CSR (sorted indices, no duplicates).
    row_lower, row_upper : float arrays (m,)
        Row bounds; +-inf where a side is absent.
    col_lower, col_upper : float arrays (n,)
        Column bounds.
    index : VariableIndex
        Maps columns back to M, v and z.
    formulation : str
        Name of the formulation that built it.
    integrality : bool array (n,) or None
        True where a column must be integral; None for a pure LP.
    row_blocks : dict[str, slice]
        Named ranges of rows (e.g. "budget", "capacity", "link", "pair").
    offset : float
        Constant added to the objective.
    source : SelectionProblem or None
        The problem it was built from. Backends read only the arrays above; the one exception is
        the "cvxpy" backend, which restates the model from ``source`` in cvxpy's own algebra to
        cross-check the builder.
    hessian : scipy.sparse.csr_array (n, n) or None
        Q of a quadratic objective 1/2 x^T Q x + c^T x + offset: symmetric (both triangles
        stored) and positive semidefinite, so the problem is a convex QP. None for an LP.
    hessian_shift : float
        A mu >= 0 with Q + mu I positive semidefinite: 0 for a convex Q; the rounding-level
        negative curvature a formulation accepted otherwise (see :meth:`dual_bound`).
    """

    c: np.ndarray
    A: sp.csr_array
    row_lower: np.ndarray
    row_upper: np.ndarray
    col_lower: np.ndarray
    col_upper: np.ndarray
    index: VariableIndex
    formulation: str
    integrality: np.ndarray | None = None
    row_blocks: dict[str, slice] = field(default_factory=dict)
    offset: float = 0.0
    source: SelectionProblem | None = field(default=None, repr=False)
    hessian: sp.csr_array | None = field(default=None, repr=False)
    hessian_shift: float = 0.0

    @property
    def num_rows(self) -> int:
        return self.A.shape[0]

    @property
    def num_cols(self) -> int:
        return self.A.shape[1]

    @property
    def nnz(self) -> int:
        return int(self.A.nnz)

    @property
    def is_mip(self) -> bool:
        return self.integrality is not None and bool(self.integrality.any())

    @property
    def is_qp(self) -> bool:
        """Whether the objective has a (nonzero) quadratic term 1/2 x^T Q x."""
        return self.hessian is not None and self.hessian.nnz > 0

    def size(self) -> dict[str, int]:
        """Rows, columns and nonzeros (and the Hessian's nonzeros for a QP), for reports."""
        size = {"rows": self.num_rows, "cols": self.num_cols, "nnz": self.nnz}
        if self.hessian is not None:
            size["hessian_nnz"] = int(self.hessian.nnz)
        return size

    def objective_value(self, x: np.ndarray) -> float:
        """c^T x + offset (+ 1/2 x^T Q x for a QP)."""
        value = float(self.c @ x) + self.offset
        if self.is_qp:
            value += 0.5 * float(x @ (self.hessian @ x))
        return value

    def linearized(self, x: np.ndarray) -> LinearProgram:
        """The LP whose objective is the first-order expansion of this one's at ``x``.

        With g = c + Q x the gradient at x: cost g and offset ``offset - 1/2 x^T Q x``, so its
        objective g^T x' + offset - 1/2 x^T Q x equals f(x) + g^T (x' - x) and touches f at x.
        For a convex f it lies below f everywhere, so any lower bound on the linearized LP is one
        on the QP; its weak-duality bound at row duals y is the Wolfe dual objective of (x, y).
        An LP is returned unchanged.
        """
        if not self.is_qp:
            return self
        x = self._point(x)
        Qx = self.hessian @ x
        return dataclasses.replace(
            self, c=self.c + Qx, offset=self.offset - 0.5 * float(x @ Qx), hessian=None,
            hessian_shift=0.0,
        )

    def _point(self, x: object) -> np.ndarray:
        if x is None:
            raise ValueError(
                "this LinearProgram is a QP (formulation 'qp'): its dual bound and certificate "
                "linearize the objective at a primal point; pass x, e.g. "
                "dual_bound(y, x=solution.x)."
            )
        x = np.asarray(x, dtype=np.float64)
        if x.shape != (self.num_cols,):
            raise ValueError(f"x must have shape ({self.num_cols},); got {x.shape}.")
        return x

    def curvature_allowance(self, x: np.ndarray) -> float:
        """The most that Q's accepted negative curvature (``hessian_shift`` mu) can lower f below
        its linearization at x over the column box: mu/2 * sum_j max(x_j - lo_j, up_j - x_j)^2
        over the columns Q touches. 0 for a convex Q."""
        if not self.is_qp or self.hessian_shift <= 0:
            return 0.0
        columns = np.unique(self.hessian.indices)
        x = self._point(x)[columns]
        reach = np.maximum(x - self.col_lower[columns], self.col_upper[columns] - x)
        return 0.5 * self.hessian_shift * float(reach @ reach)

    def project_duals(self, y: np.ndarray) -> np.ndarray:
        """y with each entry clipped to the sign its row allows: y_r > 0 only where the lower
        bound l_r is finite, y_r < 0 only where the upper bound u_r is."""
        from .certificate import dual_sign_bounds, project_duals

        return project_duals(np, *dual_sign_bounds(self.row_lower, self.row_upper), y)

    def _dual_terms(self, y: np.ndarray) -> tuple[float, float, bool]:
        """(row term, finite column term, whether a nonzero d_j meets an infinite bound)."""
        from .certificate import KKTData, compiled_dual_terms, row_and_column_terms

        if self.is_qp:
            raise ValueError(
                "this LinearProgram is a QP: use dual_bound(y, x=...) or linearized(x), which "
                "account for the quadratic term."
            )
        y = np.asarray(y, dtype=np.float64)
        if y.shape != (self.num_rows,):
            raise ValueError(f"y must have shape ({self.num_rows},); got {y.shape}.")
        compiled = compiled_dual_terms(self, y)
        if compiled is not None:
            return compiled
        allowed = self.project_duals(y)
        rows, cols, wrong = row_and_column_terms(np, KKTData.from_lp(self), allowed, self.A.T @ allowed)
        unbounded = wrong is not None and bool(np.any(wrong != 0))
        return float(np.sum(rows)), float(np.sum(cols)), unbounded

    def dual_objective(self, y: np.ndarray) -> float:
        """PDLP's dual objective of y: the bound below without the reduced costs that meet an
        infinite column bound (those count in the dual residual instead, see alsel.certificate).
        Equal to :meth:`dual_bound` whenever every column with a nonzero d_j is bounded that way."""
        rows, cols, _ = self._dual_terms(y)
        return rows + cols + self.offset

    def dual_bound(self, y: np.ndarray, x: np.ndarray | None = None) -> float:
        """A lower bound on the LP (or convex QP) optimum from any row-dual vector y (weak duality).

        y is first projected onto the signs its rows allow (:meth:`project_duals`). With reduced
        costs d = c - A^T y, every feasible x satisfies
        c^T x >= sum_r (y_r^+ l_r - y_r^- u_r) + sum_j min(d_j lo_j, d_j up_j),
        which is the bound returned (-inf where an infinite column bound meets a nonzero d_j).
        It holds whatever solver produced y and however inexact y is; it is PDLP's "corrected
        dual objective". ``x`` is ignored for an LP.

        For a QP, f(x') >= f(x) + grad f(x)^T (x' - x) for every x' (f is convex), so the bound
        of the linearized LP at ``x`` (:meth:`linearized`, required) bounds the QP: it is the
        Wolfe dual objective of (x, y), and equals the optimum at an optimal (x, y). Where Q is
        PSD only up to rounding (``hessian_shift`` mu > 0), :meth:`curvature_allowance` is
        subtracted, which keeps the bound valid for every x' in the column box.
        """
        if self.is_qp:
            point = self._point(x)
            return self.linearized(point).dual_bound(y) - self.curvature_allowance(point)
        rows, cols, unbounded = self._dual_terms(y)
        return -np.inf if unbounded else rows + cols + self.offset
