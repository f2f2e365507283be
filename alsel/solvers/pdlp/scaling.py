"""Diagonal preconditioning of the LP (PDLP's defaults, as in OR-Tools PDLP and cuPDLPx):
Ruiz equilibration (10 passes), one Pock–Chambolle pass (alpha = 1), then HPR-LP's scalar
bound and objective scaling.

With row factors D1, column factors D2 and scalars theta_b, theta_c the solver works on

    A~ = D1 A D2,  c~ = theta_c D2 c,  [l~, u~] = theta_b D1 [l, u],  [lo~, up~] = theta_b D2^-1 [lo, up]

and maps back with x = D2 x~ / theta_b, y = D1 y~ / theta_c. Computed once on the CPU.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ...lp import LinearProgram


@dataclass(frozen=True)
class Scaling:
    """Row factors D1, column factors D2 and the bound/objective scalars."""

    row: np.ndarray
    col: np.ndarray
    bound: float
    objective: float


@dataclass(frozen=True)
class ScaledLP:
    """The preconditioned data the iterations see (host arrays)."""

    A: sp.csr_array
    c: np.ndarray
    row_lower: np.ndarray
    row_upper: np.ndarray
    col_lower: np.ndarray
    col_upper: np.ndarray
    scaling: Scaling
    offset: float = 0.0  # the objective's constant: kept in the original space only


class _Pattern:
    """Row and column reductions over a fixed CSR sparsity pattern, without re-sorting."""

    def __init__(self, A: sp.csr_array) -> None:
        m, n = A.shape
        self.shape = (m, n)
        self.row_ptr = A.indptr
        self.col_order = np.argsort(A.indices, kind="stable")
        counts = np.bincount(A.indices, minlength=n)
        self.col_ptr = np.concatenate([[0], np.cumsum(counts)])

    @staticmethod
    def _reduce(ufunc: np.ufunc, values: np.ndarray, ptr: np.ndarray) -> np.ndarray:
        out = np.zeros(len(ptr) - 1)
        nonempty = ptr[:-1] < ptr[1:]
        if values.size:
            out[nonempty] = ufunc.reduceat(values, ptr[:-1][nonempty])
        return out

    def row_reduce(self, ufunc: np.ufunc, values: np.ndarray) -> np.ndarray:
        return self._reduce(ufunc, values, self.row_ptr)

    def col_reduce(self, ufunc: np.ufunc, values: np.ndarray) -> np.ndarray:
        return self._reduce(ufunc, values[self.col_order], self.col_ptr)


def _inverse_sqrt(values: np.ndarray) -> np.ndarray:
    out = np.ones_like(values)
    positive = values > 0
    out[positive] = 1.0 / np.sqrt(values[positive])
    return out


def scale(lp: LinearProgram, ruiz_iterations: int = 10, pock_chambolle: bool = True,
          bound_objective: bool = True) -> ScaledLP:
    """Precondition ``lp``; returns the scaled data and the factors to undo it."""
    A = lp.A.tocsr()
    pattern = _Pattern(A)
    rows = np.repeat(np.arange(A.shape[0]), np.diff(A.indptr))
    data = np.abs(A.data.astype(np.float64))
    row_factor = np.ones(A.shape[0])
    col_factor = np.ones(A.shape[1])

    def apply(d1: np.ndarray, d2: np.ndarray) -> None:
        nonlocal data
        data = data * d1[rows] * d2[A.indices]
        row_factor[:] *= d1
        col_factor[:] *= d2

    for _ in range(ruiz_iterations):
        apply(_inverse_sqrt(pattern.row_reduce(np.maximum, data)),
              _inverse_sqrt(pattern.col_reduce(np.maximum, data)))
    if pock_chambolle:
        apply(_inverse_sqrt(pattern.row_reduce(np.add, data)),
              _inverse_sqrt(pattern.col_reduce(np.add, data)))

    scaled_A = sp.csr_array(
        (A.data * row_factor[rows] * col_factor[A.indices], A.indices, A.indptr), shape=A.shape
    )
    c = lp.c * col_factor
    row_lower, row_upper = lp.row_lower * row_factor, lp.row_upper * row_factor
    col_lower, col_upper = lp.col_lower / col_factor, lp.col_upper / col_factor
    theta_b = theta_c = 1.0
    if bound_objective:
        finite = np.concatenate([
            row_lower[np.isfinite(row_lower)],
            row_upper[np.isfinite(row_upper) & (row_upper != row_lower)],
        ])
        theta_b = 1.0 / (1.0 + np.linalg.norm(finite))
        theta_c = 1.0 / (1.0 + np.linalg.norm(c))
    return ScaledLP(
        A=scaled_A,
        c=theta_c * c,
        row_lower=theta_b * row_lower,
        row_upper=theta_b * row_upper,
        col_lower=theta_b * col_lower,
        col_upper=theta_b * col_upper,
        scaling=Scaling(row_factor, col_factor, theta_b, theta_c),
    )
