"""Vectorized CSR assembly of the selection LP's constraint blocks.

Every block has rows of one constant length, so its slice of the CSR arrays is a dense
(rows x length) view: a block fills those views with a few strided NumPy writes, straight into
the final preallocated arrays, with no per-row work and no intermediate copies of the matrix.
There is no Python loop over images, classes or pairs.

Column layout (see alsel.lp): vec(M) at [0, N*C), v at [N*C, N*C + N), z after that. Within a
row, column indices increase (M < v < z, and the smaller image's v first).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ..lp import LinearProgram, VariableIndex
from ..problem import SelectionProblem

Fill = Callable[[np.ndarray, np.ndarray], None]


@dataclass(frozen=True)
class RowBlock:
    """``n_rows`` rows of ``row_length`` entries each; ``fill(indices, data)`` writes them into
    two (n_rows, row_length) views of the CSR arrays."""

    name: str
    n_rows: int
    row_length: int
    lower: float
    upper: float
    fill: Fill

    @property
    def nnz(self) -> int:
        return self.n_rows * self.row_length

    def write(self, indptr: np.ndarray, indices: np.ndarray, data: np.ndarray, pos: int) -> None:
        """Fill this block's slices: ``indptr`` (n_rows,) ends of its rows, ``indices`` and
        ``data`` its entries; ``pos`` is where its first entry lands."""
        indptr[:] = np.arange(pos + self.row_length, pos + self.nnz + 1, self.row_length)
        shape = (self.n_rows, self.row_length)
        self.fill(indices.reshape(shape), data.reshape(shape))


@dataclass(frozen=True)
class MatrixBlock:
    """Rows of varying length, given as a canonical CSR matrix over all the LP's columns (for
    the few blocks whose rows are not all alike, e.g. one row per image over its pairs)."""

    name: str
    matrix: sp.csr_array
    lower: float
    upper: float

    @property
    def n_rows(self) -> int:
        return self.matrix.shape[0]

    @property
    def nnz(self) -> int:
        return int(self.matrix.nnz)

    def write(self, indptr: np.ndarray, indices: np.ndarray, data: np.ndarray, pos: int) -> None:
        """As :meth:`RowBlock.write`."""
        indptr[:] = pos + self.matrix.indptr[1:]
        indices[:] = self.matrix.indices
        data[:] = self.matrix.data


def budget_row(n: int, c: int, B: int) -> RowBlock:
    """sum_ij M_ij = B."""

    def fill(indices: np.ndarray, data: np.ndarray) -> None:
        indices[0] = np.arange(n * c)
        data[0] = 1.0

    return RowBlock("budget", 1, n * c, float(B), float(B), fill)


def capacity_rows(n: int, c: int, c_max: int) -> RowBlock:
    """sum_j M_ij <= C_max for every image i."""

    def fill(indices: np.ndarray, data: np.ndarray) -> None:
        indices.ravel()[:] = np.arange(n * c)
        data[:] = 1.0

    return RowBlock("capacity", n, c, -np.inf, float(c_max), fill)


def link_rows(n: int, c: int) -> RowBlock:
    """M_ij - v_i <= 0 for every (i, j), row i*C + j."""

    def fill(indices: np.ndarray, data: np.ndarray) -> None:
        indices[:, 0] = np.arange(n * c)
        indices[:, 1].reshape(n, c)[:] = (n * c + np.arange(n))[:, None]
        data[:, 0] = 1.0
        data[:, 1] = -1.0

    return RowBlock("link", n * c, 2, -np.inf, 0.0, fill)


def self_pair_rows(images: np.ndarray, z_cols: np.ndarray, v_start: int) -> RowBlock:
    """2 v_i - 2 z_ii <= 1 for each listed image i (the diagonal of Eq. 8's pair constraint)."""

    def fill(indices: np.ndarray, data: np.ndarray) -> None:
        np.add(images, v_start, out=indices[:, 0])
        indices[:, 1] = z_cols
        data[:, 0] = 2.0
        data[:, 1] = -2.0

    return RowBlock("self_pair", len(images), 2, -np.inf, 1.0, fill)


def pair_rows(pair_i: np.ndarray, pair_j: np.ndarray, z_cols: np.ndarray, v_start: int) -> RowBlock:
    """v_i + v_j - 2 z_k <= 1 for each pair k of distinct images (pair_i[k], pair_j[k])."""
    return _pair_block("pair", -2.0, pair_i, pair_j, z_cols, v_start)


def mccormick_rows(
    pair_i: np.ndarray, pair_j: np.ndarray, z_cols: np.ndarray, v_start: int
) -> RowBlock:
    """v_i + v_j - z_k <= 1 for each pair k of distinct images: McCormick's z >= v_i + v_j - 1."""
    return _pair_block("mccormick", -1.0, pair_i, pair_j, z_cols, v_start)


def _pair_block(name: str, z_coefficient: float, pair_i: np.ndarray, pair_j: np.ndarray,
                z_cols: np.ndarray, v_start: int) -> RowBlock:
    """Rows v_lo + v_hi + z_coefficient * z_k <= 1, the v columns in ascending order."""

    def fill(indices: np.ndarray, data: np.ndarray) -> None:
        np.minimum(pair_i, pair_j, out=indices[:, 0])
        np.maximum(pair_i, pair_j, out=indices[:, 1])
        indices[:, :2] += v_start
        indices[:, 2] = z_cols
        data[:, :2] = 1.0
        data[:, 2] = z_coefficient

    return RowBlock(name, len(pair_i), 3, -np.inf, 1.0, fill)


def linked_capacity_rows(n: int, c: int, cap: int) -> RowBlock:
    """sum_j M_ij - cap v_i <= 0 for every image i (capacity and link in one row)."""

    def fill(indices: np.ndarray, data: np.ndarray) -> None:
        indices[:, :c] = np.arange(n * c).reshape(n, c)
        indices[:, c] = n * c + np.arange(n)
        data[:, :c] = 1.0
        data[:, c] = -float(cap)

    return RowBlock("linked_capacity", n, c + 1, -np.inf, 0.0, fill)


def pair_count_rows(
    images: np.ndarray, v_coef: np.ndarray, pair_i: np.ndarray, pair_j: np.ndarray,
    z_start: int, v_start: int, n_cols: int,
) -> MatrixBlock:
    """sum_{k: pair k has image i} z_k - v_coef[i] v_i >= 0 for each listed image i."""
    n = len(v_coef)
    z_cols = z_start + np.arange(len(pair_i))
    touched = np.concatenate([pair_i, pair_j, np.arange(n)])
    columns = np.concatenate([z_cols, z_cols, v_start + np.arange(n)])
    values = np.concatenate([np.ones(2 * len(pair_i)), -np.asarray(v_coef, dtype=np.float64)])
    per_image = sp.csr_array((values, (touched, columns)), shape=(n, n_cols))
    per_image.sum_duplicates()
    per_image.sort_indices()
    matrix = sp.csr_array(per_image[images])
    matrix.sort_indices()
    return MatrixBlock("pair_count", matrix, 0.0, np.inf)


def standard_blocks(problem: SelectionProblem) -> list[RowBlock]:
    """The rows every formulation shares: budget, per-image capacity, and M_ij <= v_i."""
    n, c = problem.n_images, problem.n_classes
    return [budget_row(n, c, problem.B), capacity_rows(n, c, problem.C_max), link_rows(n, c)]


def assemble(
    problem: SelectionProblem,
    blocks: list[RowBlock | MatrixBlock],
    index: VariableIndex,
    z_cost: np.ndarray,
    formulation: str,
    v_cost: np.ndarray | None = None,
    hessian: sp.csr_array | None = None,
    hessian_shift: float = 0.0,
) -> LinearProgram:
    """Stack row blocks into one canonical CSR LP over columns [vec(M), v, z], all in [0, 1].

    Costs: G on vec(M), ``v_cost`` on v (zeros by default), ``z_cost`` on z; ``hessian`` and
    ``hessian_shift`` go to the LinearProgram unchanged (formulation "qp")."""
    n_cols = index.z.stop
    n_rows = sum(block.n_rows for block in blocks)
    nnz = sum(block.nnz for block in blocks)
    index_dtype = np.int32 if max(nnz, n_cols) < np.iinfo(np.int32).max else np.int64

    indptr = np.empty(n_rows + 1, dtype=index_dtype)
    indptr[0] = 0
    indices = np.empty(nnz, dtype=index_dtype)
    data = np.empty(nnz)
    row_lower = np.empty(n_rows)
    row_upper = np.empty(n_rows)
    row_blocks: dict[str, slice] = {}
    row, pos = 0, 0
    for block in blocks:
        rows = slice(row, row + block.n_rows)
        end = pos + block.nnz
        block.write(indptr[row + 1 : rows.stop + 1], indices[pos:end], data[pos:end], pos)
        row_lower[rows] = block.lower
        row_upper[rows] = block.upper
        row_blocks[block.name] = rows
        row, pos = rows.stop, end

    A = sp.csr_array((data, indices, indptr), shape=(n_rows, n_cols))
    A.has_sorted_indices = True  # every block writes its rows' columns in increasing order
    cost = np.empty(n_cols)
    cost[index.m] = problem.G.T.ravel()
    cost[index.v] = 0.0 if v_cost is None else v_cost
    cost[index.z] = z_cost
    return LinearProgram(
        c=cost,
        A=A,
        row_lower=row_lower,
        row_upper=row_upper,
        col_lower=np.zeros(n_cols),
        col_upper=np.ones(n_cols),
        index=index,
        formulation=formulation,
        row_blocks=row_blocks,
        source=problem,
        hessian=hessian,
        hessian_shift=hessian_shift,
    )


def variable_index(problem: SelectionProblem, pair_i: np.ndarray, pair_j: np.ndarray) -> VariableIndex:
    """Columns vec(M), v, then one z per listed image pair, in the given order."""
    n, c = problem.n_images, problem.n_classes
    return VariableIndex(
        n_images=n,
        n_classes=c,
        m=slice(0, n * c),
        v=slice(n * c, n * c + n),
        z=slice(n * c + n, n * c + n + len(pair_i)),
        pair_i=pair_i,
        pair_j=pair_j,
    )
