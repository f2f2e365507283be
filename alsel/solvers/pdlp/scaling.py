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


class _ArrayPasses:
    """A scaling pass in whole-array NumPy operations: the reference."""

    def __init__(self, A: sp.csr_array) -> None:
        self.pattern = _Pattern(A)
        self.rows = np.repeat(np.arange(A.shape[0]), np.diff(A.indptr))
        self.indices = A.indices

    def reduce(self, ufunc: np.ufunc, data: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(row reductions, column reductions) of ``data`` by ``ufunc`` (np.maximum or np.add)."""
        return self.pattern.row_reduce(ufunc, data), self.pattern.col_reduce(ufunc, data)

    def apply(self, data: np.ndarray, d1: np.ndarray, d2: np.ndarray) -> np.ndarray:
        return data * d1[self.rows] * d2[self.indices]


class _CompiledPasses:
    """The same passes as Numba loops over the CSR arrays: one pass reduces rows and columns
    together, one applies the factors, in the array version's order of arithmetic (equal to
    rounding: NumPy may associate a long row's sum differently). N = 1200: the whole scaling
    0.61 s in NumPy, 0.17 s compiled."""

    _loops = None

    def __init__(self, A: sp.csr_array) -> None:
        if _CompiledPasses._loops is None:
            _CompiledPasses._loops = _compile_passes()
        self.indptr, self.indices, self.n = A.indptr, A.indices, A.shape[1]

    def reduce(self, ufunc: np.ufunc, data: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self._loops[0](self.indptr, self.indices, data, self.n, ufunc is np.add)

    def apply(self, data: np.ndarray, d1: np.ndarray, d2: np.ndarray) -> np.ndarray:
        return self._loops[1](self.indptr, self.indices, data, d1, d2)


def _compile_passes():
    from numba import njit

    @njit(cache=True)
    def reduce(indptr, indices, data, n, add):
        m = indptr.size - 1
        by_row, by_col = np.zeros(m), np.zeros(n)
        for i in range(m):
            total = 0.0
            for k in range(indptr[i], indptr[i + 1]):
                value, j = data[k], indices[k]
                if add:
                    total += value
                    by_col[j] += value
                else:
                    total = max(total, value)
                    by_col[j] = max(by_col[j], value)
            by_row[i] = total
        return by_row, by_col

    @njit(cache=True)
    def apply(indptr, indices, data, d1, d2):
        out = np.empty_like(data)
        for i in range(indptr.size - 1):
            for k in range(indptr[i], indptr[i + 1]):
                out[k] = data[k] * d1[i] * d2[indices[k]]
        return out

    return reduce, apply


def _passes(A: sp.csr_array, compiled: bool | None) -> _ArrayPasses | _CompiledPasses:
    from .kernels import numba_available

    if compiled is None:
        compiled = numba_available()
    return _CompiledPasses(A) if compiled else _ArrayPasses(A)


def _inverse_sqrt(values: np.ndarray) -> np.ndarray:
    out = np.ones_like(values)
    positive = values > 0
    out[positive] = 1.0 / np.sqrt(values[positive])
    return out


def scale(lp: LinearProgram, ruiz_iterations: int = 10, pock_chambolle: bool = True,
          bound_objective: bool = True, compiled: bool | None = None) -> ScaledLP:
    """Precondition ``lp``; returns the scaled data and the factors to undo it. ``compiled``:
    the passes as Numba loops (default where Numba is installed) or in NumPy; the same result
    to rounding."""
    A = lp.A.tocsr()
    passes = _passes(A, compiled)
    data = np.abs(A.data.astype(np.float64))
    row_factor = np.ones(A.shape[0])
    col_factor = np.ones(A.shape[1])

    def apply(reduced: tuple[np.ndarray, np.ndarray]) -> None:
        nonlocal data
        d1, d2 = _inverse_sqrt(reduced[0]), _inverse_sqrt(reduced[1])
        data = passes.apply(data, d1, d2)
        row_factor[:] *= d1
        col_factor[:] *= d2

    for _ in range(ruiz_iterations):
        apply(passes.reduce(np.maximum, data))
    if pock_chambolle:
        apply(passes.reduce(np.add, data))

    scaled_A = sp.csr_array(
        (passes.apply(A.data.astype(np.float64), row_factor, col_factor), A.indices, A.indptr), shape=A.shape
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
