"""A selection held as counts: k_i queries for image i, each image's queries its k_i cheapest
classes.

For a fixed set of counts the cheapest classes are optimal (the redundancy term depends only on
which images are used), so every rounding but the paper's works on the counts k alone, and Eq. 4
becomes  sum_i P[i, k_i] + lam * v^T R v,  v = (k > 0),  with P the prefix sums of each image's
sorted G. The marginal costs of adding or removing one query at every image are vectors, which
is what makes greedy and local search vectorized.

Exact ties (equal costs, e.g. equal confidences or a zero redundancy) are broken by a random
order drawn from the rounding's ``seed`` (:attr:`CountTables.rank` for images, a random key per
(image, class) for the classes): different seeds may give different selections of the same
objective, the same seed the same selection, and a problem without exact ties the same
selection for every seed as far as ties are concerned.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ..problem import SelectionProblem


#: Mixed into the seed of the tie-breaking order, so that it is drawn independently of the
#: other random choices made from the same seed (local search's kicks, randomized draws).
TIE_STREAM = 0x7135


class CountTables:
    """What every CountState of one problem shares: sorted classes, prefix sums, R access, and
    the seeded order that breaks exact ties."""

    def __init__(self, problem: SelectionProblem, seed: int = 0) -> None:
        Gt = problem.G.T  # (N, C)
        n = problem.n_images
        self.n = n
        self.B = problem.B
        self.kmax = min(problem.n_classes, problem.C_max)
        rng = np.random.default_rng([seed, TIE_STREAM])
        #: rank[i]: image i's place in the seeded tie-breaking order (lower wins a tie)
        self.rank = rng.permutation(n)
        # each image's classes by G, equal G in a seeded random order
        self.order = np.lexsort((rng.random(Gt.shape), Gt), axis=1)
        cheapest = np.take_along_axis(Gt, self.order[:, : self.kmax], axis=1)
        self.prefix = np.zeros((n, self.kmax + 1))
        np.cumsum(cheapest, axis=1, out=self.prefix[:, 1:])
        #: prefix_columns[c] = prefix[:, c], contiguous (a column of prefix is a strided gather)
        self.prefix_columns = np.ascontiguousarray(self.prefix.T)
        self.lam = problem.lam
        self.R = problem.R
        self.sparse = sp.issparse(problem.R)
        self.diag = np.asarray(problem.R.diagonal(), dtype=np.float64)
        self.rows = np.arange(n)

    def column(self, i: int) -> np.ndarray:
        """R[:, i] as a dense vector (R is symmetric, so row i serves)."""
        if self.sparse:
            return np.asarray(self.R[[i]].toarray()).ravel()
        return self.R[i]

    def add_column(self, target: np.ndarray, i: int, sign: float) -> np.ndarray | slice:
        """target += sign * R[:, i], touching only the stored entries of a sparse R; returns
        the positions it touched (a slice of all of them for a dense R)."""
        if self.sparse:
            touched = self.R.indices[self.R.indptr[i]:self.R.indptr[i + 1]]
            target[touched] += sign * self.R.data[self.R.indptr[i]:self.R.indptr[i + 1]]
            return touched
        if sign > 0:
            target += self.R[i]
        else:
            target -= self.R[i]
        return slice(None)

    def row_entries(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(position in ``rows``, column, value) of every stored entry of the rows ``rows`` of
        a sparse R: O(their stored entries), never a dense |rows| x N block."""
        indptr = self.R.indptr
        starts, lengths = indptr[rows], indptr[rows + 1] - indptr[rows]
        owner = np.repeat(np.arange(rows.size), lengths)
        offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]])
        flat = np.repeat(starts - offsets, lengths) + np.arange(int(lengths.sum()))
        return owner, self.R.indices[flat], self.R.data[flat]

    def column_sums(self, images: np.ndarray) -> np.ndarray:
        """sum over i in ``images`` of R[:, i]: R v for v the indicator of ``images``."""
        if self.sparse:
            _, columns, values = self.row_entries(images)
            return np.bincount(columns, weights=values, minlength=self.n).astype(np.float64)
        if not images.size:
            return np.zeros(self.n)
        return np.asarray(self.R[images].sum(axis=0), dtype=np.float64).ravel()

    def block(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """R[rows][:, cols] as a dense array."""
        if self.sparse:
            return self.R[rows][:, cols].toarray()
        return self.R[np.ix_(rows, cols)]

    def times(self, v: np.ndarray) -> np.ndarray:
        """R v."""
        return np.asarray(self.R @ v, dtype=np.float64).ravel()

    def argmin(self, values: np.ndarray, images: np.ndarray | None = None) -> int:
        """Position of the smallest of ``values`` (one per image of ``images``, default all);
        exact ties go to the image of lowest :attr:`rank`."""
        position = int(np.argmin(values))
        ties = np.flatnonzero(values == values[position])
        if ties.size <= 1:
            return position
        owners = ties if images is None else images[ties]
        return int(ties[np.argmin(self.rank[owners])])

    def argmin_pair(self, D: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> tuple[int, int]:
        """(i, j) of the smallest D[i, j], D indexed by images ``rows`` x ``cols``; exact ties
        go by the rank of rows[i], then of cols[j]."""
        flat = D.ravel()
        position = int(np.argmin(flat))
        ties = np.flatnonzero(flat == flat[position])
        if ties.size > 1:
            i, j = np.divmod(ties, D.shape[1])
            position = int(ties[np.lexsort((self.rank[cols[j]], self.rank[rows[i]]))[0]])
        i, j = divmod(position, D.shape[1])
        return i, j

    def smallest(self, values: np.ndarray, count: int, images: np.ndarray | None = None) -> np.ndarray:
        """Positions of the ``count`` smallest ``values`` (one per image of ``images``, default
        all), smallest first, exact ties by rank: a partition finds the values up to the
        count-th smallest, and only those are sorted."""
        if values.size > count and count <= 2:
            # the count-th smallest (with repeats) from minima: no copy of values to partition
            kth = values.min()
            if count == 2 and np.count_nonzero(values == kth) < 2:
                kth = np.min(values, where=values > kth, initial=np.inf)
            candidates = np.flatnonzero(values <= kth)
        elif values.size > count:
            kth = np.partition(values, count - 1)[count - 1]
            candidates = np.flatnonzero(values <= kth)
        else:
            candidates = np.arange(values.size)
        owners = candidates if images is None else images[candidates]
        return candidates[np.lexsort((self.rank[owners], values[candidates]))][:count]


class CountState:
    """Counts k and R v, kept consistent under single-image changes.

    The marginal costs are kept too, so that a greedy step is an argmin, not a recomputation:
    a change at image i moves its own next/previous increment (O(1)) and, when i joins or
    leaves, R v and the joining cost lam (r_jj + 2 (R v)_j) of every image j by R[:, i] (only
    at column i's stored entries for a sparse R). Each cached entry is computed by the same
    expression as a recomputation from scratch, so the values are bit for bit the same.
    """

    def __init__(self, tables: CountTables, k: np.ndarray) -> None:
        self.t = tables
        self.k = np.minimum(np.asarray(k, dtype=np.int64), tables.kmax)
        # R v from the used images' columns: O(|used| N) dense, not a product with all of R
        self.Rv = tables.column_sums(np.flatnonzero(self.k))
        t, k = tables, self.k
        # up[i] / down[i]: uncertainty change of one query more / fewer at image i
        self._up = t.prefix[t.rows, np.minimum(k + 1, t.kmax)] - t.prefix[t.rows, k]
        self._up[k >= t.kmax] = np.inf
        self._down = t.prefix[t.rows, np.maximum(k - 1, 0)] - t.prefix[t.rows, k]
        self._down[k == 0] = np.inf
        self._join = np.empty(t.n)
        self._add = np.empty(t.n)
        self._remove = np.empty(t.n)
        self._refresh(slice(None))

    def _refresh(self, at: np.ndarray | slice) -> None:
        """Recompute the kept deltas at positions ``at`` from k and R v (the formulas of a
        recomputation from scratch, entry by entry)."""
        t, k, Rv = self.t, self.k[at], self.Rv[at]
        self._join[at] = join = t.lam * (t.diag[at] + 2.0 * Rv)
        up, down = self._up[at], self._down[at]
        self._add[at] = np.where(k == 0, up + join, up)
        self._remove[at] = np.where(k == 1, down - t.lam * (2.0 * Rv - t.diag[at]), down)

    @classmethod
    def from_matrix(cls, tables: CountTables, M: np.ndarray) -> CountState:
        """The counts of a selection matrix (its classes become each image's cheapest)."""
        return cls(tables, np.asarray(M, dtype=bool).sum(axis=1))

    def set_count(self, i: int, count: int) -> None:
        t = self.t
        was, now = self.k[i] > 0, count > 0
        self.k[i] = count
        self._up[i] = t.prefix[i, count + 1] - t.prefix[i, count] if count < t.kmax else np.inf
        self._down[i] = t.prefix[i, count - 1] - t.prefix[i, count] if count > 0 else np.inf
        if was != now:
            self._refresh(t.add_column(self.Rv, i, 1.0 if now else -1.0))
        self._refresh(np.array([i]))

    def objective(self) -> float:
        t = self.t
        v = (self.k > 0).astype(np.float64)
        return float(t.prefix[t.rows, self.k].sum() + t.lam * (v @ self.Rv))

    def add_deltas(self) -> np.ndarray:
        """Change of Eq. 4 from one more query at each image (inf where the image is full): a
        copy of the kept vector (no recomputation)."""
        return self._add.copy()

    def remove_deltas(self) -> np.ndarray:
        """Change of Eq. 4 from one query fewer at each image (inf where it has none): a copy
        of the kept vector."""
        return self._remove.copy()

    @property
    def kept_join(self) -> np.ndarray:
        """lam (r_jj + 2 (R v)_j) for every image j, without a copy (read-only use)."""
        return self._join

    @property
    def kept_deltas(self) -> tuple[np.ndarray, np.ndarray]:
        """(remove, add) deltas without a copy, for the searches inside this package: read
        them before the next :meth:`set_count`, never write them."""
        return self._remove, self._add

    def matrix(self) -> np.ndarray:
        """The bool selection matrix (N, C): each image's k_i cheapest classes."""
        t = self.t
        M = np.zeros((t.n, t.order.shape[1]), dtype=bool)
        images, ranks = np.nonzero(np.arange(t.kmax)[None, :] < self.k[:, None])
        M[images, t.order[images, ranks]] = True
        return M


def fill_greedily(state: CountState, target: int) -> None:
    """Add (or remove) one query at a time, always the cheapest change, until sum(k) = target."""
    tables = state.t
    total = int(state.k.sum())
    while total < target:
        i = tables.argmin(state.kept_deltas[1])
        state.set_count(i, state.k[i] + 1)
        total += 1
    while total > target:
        i = tables.argmin(state.kept_deltas[0])
        state.set_count(i, state.k[i] - 1)
        total -= 1
