"""The two products PDHG needs, K x and K^T y, for the scaled matrix K = D1 A D2.

``SparseOperator`` stores K (and K^T, so that both products are row-parallel CSR SpMVs on a GPU).
``SelectionOperator`` stores nothing of the matrix: for an LP built by alsel's formulations it
computes the budget, capacity and link blocks by reshaping and broadcasting over the (N, C) grid
and the pair block v_i + v_j - 2 z_k by gathering v at the pairs' images (K^T y scatters back
with weighted bincounts), then applies the diagonal scalings.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from ...lp import LinearProgram
from .arrays import ArrayContext

OPERATORS = ("sparse", "structured")
_SELECTION_BLOCKS = ("budget", "capacity", "link", "self_pair", "pair")


class SparseOperator:
    """K as a device CSR matrix, with its transpose stored too."""

    name = "sparse"

    def __init__(self, K: sp.csr_array, ctx: ArrayContext) -> None:
        K = sp.csr_matrix(K, dtype=ctx.dtype)
        self.shape = K.shape
        self._K = ctx.sparse.csr_matrix(K) if ctx.xp is not np else K
        KT = K.T.tocsr()
        self._KT = ctx.sparse.csr_matrix(KT) if ctx.xp is not np else KT

    def matvec(self, x: Any) -> Any:
        return self._K @ x

    def rmatvec(self, y: Any) -> Any:
        return self._KT @ y


def selection_layout_reason(lp: LinearProgram) -> str | None:
    """None if ``lp`` has the row blocks of alsel's selection formulations, else why not."""
    if tuple(lp.row_blocks) != _SELECTION_BLOCKS:
        return f"its row blocks are {tuple(lp.row_blocks)}, not {_SELECTION_BLOCKS}"
    n, c = lp.index.n_images, lp.index.n_classes
    A = lp.A
    for name, length in (("self_pair", 2), ("pair", 3)):
        rows = lp.row_blocks[name]
        if not np.all(np.diff(A.indptr[rows.start : rows.stop + 1]) == length):
            return f"block {name!r} does not have {length} entries a row"
    expected = {"budget": n * c, "capacity": n, "link": n * c}
    for name, count in expected.items():
        rows = lp.row_blocks[name]
        if rows.stop - rows.start != (1 if name == "budget" else count):
            return f"block {name!r} has the wrong number of rows"
    return None


class SelectionOperator:
    """K = D1 A D2 for the selection LP, computed from its structure (no stored matrix)."""

    name = "structured"

    def __init__(self, lp: LinearProgram, row_scale: np.ndarray, col_scale: np.ndarray,
                 ctx: ArrayContext) -> None:
        reason = selection_layout_reason(lp)
        if reason is not None:
            raise ValueError(f"operator='structured' needs an LP built by alsel's formulations; {reason}.")
        xp = ctx.xp
        self.xp = xp
        self.shape = lp.A.shape
        self.n, self.c = lp.index.n_images, lp.index.n_classes
        self.v0 = lp.index.v.start
        A = lp.A
        # The pair rows' columns, read once from the CSR pattern: (v_lo, v_hi, z) and (v, z).
        pair = lp.row_blocks["pair"]
        cols = A.indices[A.indptr[pair.start] : A.indptr[pair.stop]].reshape(-1, 3)
        self_pair = lp.row_blocks["self_pair"]
        self_cols = A.indices[A.indptr[self_pair.start] : A.indptr[self_pair.stop]].reshape(-1, 2)
        as_index = lambda a: xp.asarray(np.ascontiguousarray(a, dtype=np.int64))  # noqa: E731
        self.pair_lo = as_index(cols[:, 0] - self.v0)
        self.pair_hi = as_index(cols[:, 1] - self.v0)
        self.pair_z = as_index(cols[:, 2])
        self.self_v = as_index(self_cols[:, 0] - self.v0)
        self.self_z = as_index(self_cols[:, 1])
        self.n_pairs = len(cols)
        self.rows = {name: (s.start, s.stop) for name, s in lp.row_blocks.items()}
        self.d1 = ctx.asarray(row_scale)
        self.d2 = ctx.asarray(col_scale)
        self.dtype = ctx.dtype

    def matvec(self, x: Any) -> Any:
        xp, n, c = self.xp, self.n, self.c
        u = self.d2 * x
        M = u[: n * c].reshape(n, c)
        v = u[self.v0 : self.v0 + n]
        out = xp.empty(self.shape[0], dtype=self.dtype)
        r = self.rows
        out[r["budget"][0]] = M.sum()
        out[r["capacity"][0] : r["capacity"][1]] = M.sum(axis=1)
        out[r["link"][0] : r["link"][1]] = (M - v[:, None]).ravel()
        out[r["self_pair"][0] : r["self_pair"][1]] = 2.0 * (v[self.self_v] - u[self.self_z])
        out[r["pair"][0] : r["pair"][1]] = v[self.pair_lo] + v[self.pair_hi] - 2.0 * u[self.pair_z]
        return self.d1 * out

    def rmatvec(self, y: Any) -> Any:
        xp, n, c = self.xp, self.n, self.c
        w = self.d1 * y
        r = self.rows
        budget = w[r["budget"][0]]
        capacity = w[r["capacity"][0] : r["capacity"][1]]
        link = w[r["link"][0] : r["link"][1]].reshape(n, c)
        self_pair = w[r["self_pair"][0] : r["self_pair"][1]]
        pair = w[r["pair"][0] : r["pair"][1]]
        out = xp.zeros(self.shape[1], dtype=self.dtype)
        out[: n * c] = (budget + capacity[:, None] + link).ravel()
        v = -link.sum(axis=1)
        v += 2.0 * xp.bincount(self.self_v, weights=self_pair, minlength=n)
        v += xp.bincount(self.pair_lo, weights=pair, minlength=n)
        v += xp.bincount(self.pair_hi, weights=pair, minlength=n)
        out[self.v0 : self.v0 + n] = v
        out[self.self_z] = -2.0 * self_pair
        out[self.pair_z] = -2.0 * pair
        return self.d2 * out


def make_operator(kind: str, lp: LinearProgram, scaled_A: sp.csr_array, row_scale: np.ndarray,
                  col_scale: np.ndarray, ctx: ArrayContext):
    """The operator called ``kind`` for the scaled LP."""
    if kind == "structured":
        return SelectionOperator(lp, row_scale, col_scale, ctx)
    return SparseOperator(scaled_A, ctx)
