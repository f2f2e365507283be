"""LinearProgram: the solver-independent form every formulation produces and every backend reads.

    min  c^T x + offset   s.t.   row_lower <= A x <= row_upper,   col_lower <= x <= col_upper

with an optional integrality mask. Variable order is always vec(M) row-major (index i*C + j),
then v (N), then the z block; :class:`VariableIndex` maps columns back to M, v and the image pairs
of each z.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

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
    """A sparse LP (or MILP when ``integrality`` is set) in row-bounded form.

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

    def size(self) -> dict[str, int]:
        """Rows, columns and nonzeros, for reports."""
        return {"rows": self.num_rows, "cols": self.num_cols, "nnz": self.nnz}

    def objective_value(self, x: np.ndarray) -> float:
        """c^T x + offset."""
        return float(self.c @ x) + self.offset

    def project_duals(self, y: np.ndarray) -> np.ndarray:
        """y with each entry clipped to the sign its row allows: y_r > 0 only where the lower
        bound l_r is finite, y_r < 0 only where the upper bound u_r is."""
        from .certificate import dual_sign_bounds, project_duals

        return project_duals(np, *dual_sign_bounds(self.row_lower, self.row_upper), y)

    def _dual_terms(self, y: np.ndarray) -> tuple[float, float, bool]:
        """(row term, finite column term, whether a nonzero d_j meets an infinite bound)."""
        from .certificate import KKTData, row_and_column_terms

        y = np.asarray(y, dtype=np.float64)
        if y.shape != (self.num_rows,):
            raise ValueError(f"y must have shape ({self.num_rows},); got {y.shape}.")
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

    def dual_bound(self, y: np.ndarray) -> float:
        """A lower bound on the LP optimum from any row-dual vector y (weak duality).

        y is first projected onto the signs its rows allow (:meth:`project_duals`). With reduced
        costs d = c - A^T y, every feasible x satisfies
        c^T x >= sum_r (y_r^+ l_r - y_r^- u_r) + sum_j min(d_j lo_j, d_j up_j),
        which is the bound returned (-inf where an infinite column bound meets a nonzero d_j).
        It holds whatever solver produced y and however inexact y is; it is PDLP's "corrected
        dual objective".
        """
        rows, cols, unbounded = self._dual_terms(y)
        return -np.inf if unbounded else rows + cols + self.offset
