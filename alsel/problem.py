"""The selection problem of the paper (Eq. 4) and its objective."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ._validation import as_count, as_float_array, as_nonnegative_float

#: R is accepted as symmetric when max|R - R^T| <= SYMMETRY_TOL * max(1, max|R|).
SYMMETRY_TOL = 1e-8
#: sum|G| + lam * sum(R) must stay below this: every sum the pipelines form (objective terms,
#: marginal costs, LP costs and bounds) is a small multiple of it, so none overflows float64.
MAGNITUDE_LIMIT = float(np.finfo(np.float64).max) / 64


@dataclass(frozen=True, eq=False)
class SelectionProblem:
    """One instance of Eq. 4: choose B (image, class) queries.

        min  Tr(M G) + lam * v^T R v
        s.t. sum(M) = B,  sum_j M_ij <= C_max,  v_i = min(1, sum_j M_ij),  M, v binary

    Parameters
    ----------
    G : array (C, N)
        Confidence of the model in the presence of class j in image i, classes first as in the
        paper (Eq. 2). Low values are the pairs worth asking about.
    R : array (N, N) or scipy.sparse matrix (N, N)
        Redundancy between images (Eq. 3), symmetric and non-negative (Theorem 1 needs R >= 0).
        A sparse R (e.g. ``alsel.scores.redundancy(features, knn=k)``) means r_ij = 0 for every
        pair it does not store; formulation "sparse" then creates one z per stored pair only.
    B : int
        Number of queries, 1 <= B <= N * min(C, C_max).
    C_max : int
        Largest number of queries for one image, >= 1.
    lam : float
        Weight of the redundancy term, >= 0.

    G and a dense R are stored as read-only float64 arrays: a read-only *view* of the caller's
    array where it already is float64 and C-contiguous (no copy; the caller's array keeps its
    flags and stays writable, and writing into it afterwards changes this problem), a copy
    otherwise. A sparse R (any scipy.sparse format, array or matrix class) is stored as a
    canonical ``scipy.sparse.csr_array`` copy (sorted indices, no duplicates, no explicit zeros)
    whose arrays are read-only. Masked arrays are refused (their mask would be ignored), and so
    are values so large that the objective's sums overflow (sum|G| + lam * sum(R) must stay below
    :data:`MAGNITUDE_LIMIT`). ``select()`` optimizes the G and R it is given; mapping scores into
    [0, 1] belongs to :mod:`alsel.scores`.
    """

    G: np.ndarray
    R: np.ndarray
    B: int
    C_max: int
    lam: float

    def __post_init__(self) -> None:
        # views: setting their flags below must not touch the caller's arrays
        G = as_float_array(self.G, "G", ndim=2).view()
        R = _as_redundancy(self.R)
        if R.shape[0] != R.shape[1]:
            raise ValueError(f"R must be square (N, N); got shape {R.shape}.")
        n_images = R.shape[0]
        if G.shape[1] != n_images:
            if G.shape[0] == n_images:
                raise ValueError(
                    f"G has shape {G.shape} but must be (C, N) = (classes, images) as in the paper; "
                    f"it looks images-first (N, C) with N = {n_images} from R. Pass G.T."
                )
            raise ValueError(
                f"G has shape {G.shape} but must be (C, N) with N = {n_images} images, "
                f"the size of R {R.shape}."
            )
        values = R.data if sp.issparse(R) else R
        if values.size and values.min() < 0:
            raise ValueError(
                f"R has negative entries (min {values.min():.4g}); Theorem 1 needs R >= 0. Map the "
                "cosine similarities into [0, 1] with alsel.scores.redundancy(features, "
                "mapping='minmax' or 'affine')."
            )
        asymmetry = _asymmetry(R)
        r_max = float(values.max()) if values.size else 0.0
        if asymmetry > SYMMETRY_TOL * max(1.0, r_max):
            raise ValueError(
                f"R must be symmetric: max|R - R.T| = {asymmetry:.3g} exceeds the tolerance "
                f"{SYMMETRY_TOL:g} * max(1, max|R|). Pass (R + R.T) / 2."
            )
        n_classes = G.shape[0]
        C_max = as_count(self.C_max, "C_max", minimum=1)
        largest = n_images * min(n_classes, C_max)
        B = as_count(self.B, "B", minimum=1, hint="Ask for at least one query.")
        if B > largest:
            raise ValueError(
                f"B = {B} is infeasible: N * min(C, C_max) = {n_images} * min({n_classes}, {C_max}) "
                f"= {largest} is the largest budget. Pass B <= {largest} or raise C_max."
            )
        lam = as_nonnegative_float(self.lam, "lam")
        _check_magnitudes(G, values, lam)
        for array in (G, *((R.data, R.indices, R.indptr) if sp.issparse(R) else (R,))):
            array.setflags(write=False)
        object.__setattr__(self, "G", G)
        object.__setattr__(self, "R", R)
        object.__setattr__(self, "B", B)
        object.__setattr__(self, "C_max", C_max)
        object.__setattr__(self, "lam", lam)

    @property
    def n_images(self) -> int:
        """N, the number of unlabeled images."""
        return self.R.shape[0]

    @property
    def R_is_sparse(self) -> bool:
        """Whether R is stored sparse (a ``scipy.sparse.csr_array``)."""
        return sp.issparse(self.R)

    @property
    def n_classes(self) -> int:
        """C, the number of classes."""
        return self.G.shape[0]

    @property
    def max_budget(self) -> int:
        """The largest feasible B, N * min(C, C_max)."""
        return self.n_images * min(self.n_classes, self.C_max)

    def _as_selection_matrix(self, M: object) -> np.ndarray:
        M = np.asarray(M)
        expected = (self.n_images, self.n_classes)
        if M.shape != expected:
            raise ValueError(f"M must have shape (N, C) = {expected}; got {M.shape}.")
        if M.dtype != bool:
            if not np.isin(M, (0, 1)).all():
                raise ValueError("M must be binary (0/1 or bool); Eq. 4 is defined on binary M.")
            M = M.astype(bool)
        return M

    def objective_terms(self, M: object) -> tuple[float, float]:
        """Return (Tr(M G), v^T R v) of a binary M (N, C), with v_i = min(1, sum_j M_ij).

        The total objective is ``uncertainty + lam * redundancy``.
        """
        M = self._as_selection_matrix(M)
        uncertainty = float(np.sum(self.G.T[M]))
        chosen = np.flatnonzero(M.any(axis=1))
        if self.R_is_sparse:
            redundancy = float(self.R[chosen][:, chosen].sum())
        else:
            redundancy = float(self.R[np.ix_(chosen, chosen)].sum())
        return uncertainty, redundancy

    def objective(self, M: object) -> float:
        """Eq. 4 of a binary selection matrix M (N, C): Tr(M G) + lam * v^T R v."""
        uncertainty, redundancy = self.objective_terms(M)
        return uncertainty + self.lam * redundancy

    def is_feasible(self, M: object) -> bool:
        """Whether binary M (N, C) has exactly B ones and at most C_max in every row."""
        M = self._as_selection_matrix(M)
        return int(M.sum()) == self.B and int(M.sum(axis=1).max()) <= self.C_max


def _check_magnitudes(G: np.ndarray, R_values: np.ndarray, lam: float) -> None:
    """ValueError naming G, R or lam when sum|G| + lam * sum(R) overflows or nears float64's
    largest number (R >= 0 is already checked)."""
    with np.errstate(over="ignore", invalid="ignore"):
        g_total = float(np.abs(G).sum())
        r_total = float(R_values.sum()) if R_values.size else 0.0
        weighted = lam * r_total if r_total else 0.0
    fix = ("alsel.scores maps confidences (alsel.scores.confidence) and redundancies "
           "(alsel.scores.redundancy, mapping='minmax' or 'affine') into [0, 1].")
    if not g_total <= MAGNITUDE_LIMIT:
        raise ValueError(
            f"G is too large: sum|G| = {g_total:.4g} overflows float64 arithmetic (the objective's "
            f"sums must stay below {MAGNITUDE_LIMIT:.3g}). Rescale G: {fix}"
        )
    if not r_total <= MAGNITUDE_LIMIT:
        raise ValueError(
            f"R is too large: sum(R) = {r_total:.4g} overflows float64 arithmetic (the objective's "
            f"sums must stay below {MAGNITUDE_LIMIT:.3g}). Rescale R: {fix}"
        )
    if not g_total + weighted <= MAGNITUDE_LIMIT:
        raise ValueError(
            f"lam * R is too large: sum|G| + lam * sum(R) = {g_total:.4g} + {lam:.4g} * "
            f"{r_total:.4g} overflows float64 arithmetic (it must stay below "
            f"{MAGNITUDE_LIMIT:.3g}). Lower lam, or rescale G and R: {fix}"
        )


def _as_redundancy(R: object) -> np.ndarray | sp.csr_array:
    """R as a dense float64 array (a view, see SelectionProblem) or a canonical float64
    csr_array copy, finite, 2-dimensional; any scipy.sparse format is accepted."""
    if not sp.issparse(R):
        return as_float_array(R, "R", ndim=2).view()
    if R.ndim != 2:
        raise ValueError(f"R must be 2-dimensional; got shape {R.shape}.")
    # R.dtype, not R.data: DOK has no data array
    if R.dtype == bool or not np.issubdtype(R.dtype, np.number) or np.issubdtype(R.dtype, np.complexfloating):
        raise TypeError(f"R must hold real numbers; got a sparse matrix of dtype {R.dtype}.")
    if 0 in R.shape:
        raise ValueError(f"R is empty (shape {R.shape}); it needs at least one entry.")
    csr = sp.csr_array(R, dtype=np.float64, copy=True)
    csr.sum_duplicates()
    csr.sort_indices()
    if not np.isfinite(csr.data).all():
        bad = int((~np.isfinite(csr.data)).sum())
        raise ValueError(
            f"R has {bad} NaN or infinite stored entries; every entry must be finite."
        )
    csr.eliminate_zeros()
    return csr


def _asymmetry(R: np.ndarray | sp.csr_array, block_entries: int = 1 << 22) -> float:
    """max|R - R^T|; a dense R compared a band of rows at a time against the same columns (no
    N x N temporary: N = 10,000 made two of 0.8 GB)."""
    if sp.issparse(R):
        difference = R - R.T
        return float(abs(difference).max()) if difference.nnz else 0.0
    n = R.shape[0]
    step = max(1, block_entries // max(n, 1))
    worst = 0.0
    for start in range(0, n, step):
        stop = min(n, start + step)
        band = R[start:stop, start:] - R[start:, start:stop].T
        worst = max(worst, float(np.abs(band, out=band).max()))
    return worst
