"""Scores of the paper: class-presence entropy (Eq. 1), confidence G (Eq. 2), redundancy R (Eq. 3).

Both G and R are mapped into [0, 1] as the paper says; the mapping is a named choice:

``"minmax"``
    (x - min) / (max - min) over the whole matrix, the paper's. A constant matrix maps to zeros.
``"log"`` (G only)
    min-max of log(alpha / H): the same order as the paper's G, on a logarithmic scale, so the
    uncertain pairs are spread over [0, 1] instead of packed near 0 (docs/relaxation.md).
``"affine"`` (R only)
    (1 + cos) / 2. It keeps R positive semidefinite (cosine matrices are PSD, and adding the
    all-ones PSD matrix keeps them so), which makes the QP relaxation of Eq. 4 convex. Min-max
    keeps PSD only when the smallest cosine is <= 0.
``"none"``
    No mapping (raw alpha / H, or raw cosine). Raw cosines can be negative, which ``select()``
    rejects.

``redundancy(features, knn=k)`` returns a sparse R instead: the k nearest neighbours of every
image (symmetrized, diagonal kept), with the same mapped values as the dense R on the pairs it
stores, computed in chunks of rows without ever holding the N x N matrix
(:func:`knn_redundancy`). Formulation "sparse" then grows with nnz(R) instead of N^2.

Probabilities are clipped to [eps, 1 - eps] before the entropy, with ``eps = 1e-6`` by default:
an entropy of 0 would make G infinite, and a float32 model output cannot tell probabilities
closer to 0 or 1 than about 6e-8 apart anyway. Entropies are in nats.

Note the scale of G: alpha / H lies in [alpha / ln 2, alpha / H(eps)] (1.44 to about 6.8e4 for
alpha = 1, eps = 1e-6), so after min-max mapping most of G sits near 0 and the most confident
pairs set the scale. Choose lam with that in mind: at lam = 1 the redundancy term decides which
images are asked about and G only which classes within them (docs/relaxation.md measures it);
mapping="log" with lam ~ 0.01-0.1 lets both terms count.
"""

from __future__ import annotations

import numbers

import numpy as np
import scipy.sparse as sp

from ._validation import as_float_array, check_choice

DEFAULT_EPS = 1e-6
#: Entries of the cosine matrix computed at once by :func:`knn_redundancy` (32 MB of float64).
CHUNK_ENTRIES = 1 << 22
#: How :func:`knn_redundancy` finds the neighbours (see its docstring).
KNN_METHODS = ("auto", "exact", "ivf", "hnsw")
#: method="auto" searches approximately (IVF) from this many images on, where FAISS is
#: installed; below it the exact search takes seconds (docs/benchmarks.md, "kNN R on the CPU").
IVF_MIN_IMAGES = 20_000
#: FAISS IndexIVFFlat: inverted lists per sqrt(N) images (k-means centroids), lists scanned
#: per neighbour search, lists scanned by the farthest-neighbour search of "minmax"'s lower
#: end, and k-means training rows per list (a random sample of the pool).
IVF_LISTS_PER_SQRT_N = 1.0
IVF_NPROBE = 16
IVF_FARTHEST_NPROBE = 2
IVF_TRAIN_PER_LIST = 40
#: FAISS IndexHNSWFlat: links per node, and the candidate lists of construction and search.
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 64
G_MAPPINGS = ("minmax", "log", "none")
R_MAPPINGS = ("minmax", "affine", "none")


def _probabilities(p: object, eps: float) -> np.ndarray:
    p = as_float_array(p, "p", ndim=2)
    if not 0 < eps < 0.5:
        raise ValueError(f"eps must lie in (0, 0.5); got {eps}.")
    if (p < 0).any() or (p > 1).any():
        raise ValueError(
            f"p must hold probabilities in [0, 1]; got values in [{p.min():.4g}, {p.max():.4g}]. "
            "Apply a softmax or sigmoid to logits first."
        )
    return np.clip(p, eps, 1.0 - eps)


def entropy(p: object, eps: float = DEFAULT_EPS) -> np.ndarray:
    """Binary entropy H_ij (Eq. 1, nats) of class-presence probabilities p (N, C)."""
    p = _probabilities(p, eps)
    return -(p * np.log(p) + (1.0 - p) * np.log1p(-p))


def minmax(x: np.ndarray) -> np.ndarray:
    """Map x affinely onto [0, 1] by its global min and max (zeros if x is constant)."""
    low, high = float(x.min()), float(x.max())
    if high == low:
        return np.zeros_like(x, dtype=np.float64)
    return (x - low) / (high - low)


def confidence(
    p: object, alpha: float = 1.0, mapping: str = "minmax", eps: float = DEFAULT_EPS
) -> np.ndarray:
    """Confidence matrix G (C, N) = alpha / H (Eq. 2), classes first as in the paper.

    Parameters
    ----------
    p : array (N, C)
        Probability that image i contains class j (images first, as models produce them).
    alpha : float
        The paper's constant (1 in its experiments); only the scale changes with it.
    mapping : {"minmax", "log", "none"}
        How G is mapped into [0, 1] (see the module docstring).
    eps : float
        p is clipped to [eps, 1 - eps] so that G stays finite.
    """
    check_choice(mapping, "mapping", G_MAPPINGS)
    if not alpha > 0:
        raise ValueError(f"alpha must be > 0; got {alpha}.")
    G = (alpha / entropy(p, eps)).T
    if mapping == "log":
        return np.ascontiguousarray(minmax(np.log(G)))
    return np.ascontiguousarray(minmax(G) if mapping == "minmax" else G)


def _unit_rows(F: np.ndarray) -> np.ndarray:
    """The rows of F scaled to unit length; ValueError naming an all-zero row."""
    norms = np.linalg.norm(F, axis=1)
    zero = np.flatnonzero(norms == 0)
    if zero.size:
        raise ValueError(
            f"features has {zero.size} all-zero rows (first: image {zero[0]}); the cosine is "
            "undefined for them. Drop those images or use features that are not all zero."
        )
    return F / norms[:, None]


def cosine_similarity(features: object) -> np.ndarray:
    """Cosine similarity (N, N) between the rows of ``features`` (N, d); exactly symmetric."""
    unit = _unit_rows(as_float_array(features, "features", ndim=2))
    cos = unit @ unit.T
    cos = (cos + cos.T) / 2
    np.clip(cos, -1.0, 1.0, out=cos)
    return cos


def redundancy(
    features: object, mapping: str = "minmax", knn: int | None = None, knn_method: str = "auto"
) -> np.ndarray | sp.csr_array:
    """Redundancy matrix R (N, N) from image features (N, d): cosine similarity (Eq. 3), mapped.

    Parameters
    ----------
    features : array (N, d)
        One feature vector per image.
    mapping : {"minmax", "affine", "none"}
        "minmax" is the paper's; "affine" = (1 + cos) / 2 keeps R positive semidefinite.
    knn : int or None
        None (default): the dense (N, N) matrix. An int k with 1 <= k < N: a sparse R that keeps,
        for every image, its k nearest neighbours by cosine similarity (itself excluded), see
        :func:`knn_redundancy`; use it with ``formulation="sparse"``.
    knn_method : {"auto", "exact", "ivf", "hnsw"}
        How the neighbours are found with ``knn`` (the ``method`` of :func:`knn_redundancy`).

    Returns
    -------
    numpy array (N, N), or scipy.sparse.csr_array (N, N) when ``knn`` is given
    """
    check_choice(mapping, "mapping", R_MAPPINGS)
    check_choice(knn_method, "knn_method", KNN_METHODS)
    if knn is not None:
        return knn_redundancy(features, knn, mapping, method=knn_method)
    cos = cosine_similarity(features)
    if mapping == "minmax":
        return minmax(cos)
    if mapping == "affine":
        return (1.0 + cos) / 2.0
    return cos


def knn_redundancy(
    features: object,
    knn: int,
    mapping: str = "minmax",
    chunk_entries: int = CHUNK_ENTRIES,
    method: str = "auto",
) -> sp.csr_array:
    """Sparse redundancy: each image's ``knn`` nearest neighbours by cosine, mapped, symmetric.

    The stored pattern is the union, over images i, of the pairs (i, j) and (j, i) for the knn
    images j != i of largest cosine with i (ties broken by ``np.argpartition``), plus the whole
    diagonal. So the result is symmetric, and each row holds between knn + 1 and N entries.

    Values are those of the dense ``redundancy(features, mapping)`` on the stored pairs:

    * a stored pair (i, j) holds the mapped cosine of i and j, computed once per unordered pair
      so that R is exactly symmetric;
    * the diagonal holds the mapped self-similarity, cos = 1, so that r_ii (the cost of choosing
      image i at all: v_i^2 = v_i) stays as in the dense R;
    * "minmax" maps by the minimum and maximum of the *full* cosine matrix, as the dense R does:
      each chunk of rows below is a full block of the cosine matrix, so its extremes come for
      free, and every stored entry equals the dense R's entry (the maximum is the diagonal's 1).

    The cosine matrix is never held whole: rows are processed in chunks of about
    ``chunk_entries`` entries (chunk_rows x N, one BLAS matrix product each), so memory is
    O(N * knn + chunk_entries); time is O(N^2 d) (N = 10^5, d = 64: minutes on 2 cores).

    ``method="ivf"`` and ``method="hnsw"`` find the neighbours approximately with FAISS
    (``pip install faiss-cpu``; float32 inner products of the unit rows): a true neighbour is
    occasionally replaced by a slightly less similar image (recall@10 and time of each are in
    docs/benchmarks.md, "kNN R on the CPU"). "ivf" is an ``IndexIVFFlat``: k-means on a sample
    splits the pool into about ``IVF_LISTS_PER_SQRT_N * sqrt(N)`` lists and each image scans the
    ``IVF_NPROBE`` lists nearest to it, O(N^1.5 d) time; it is deterministic (seeded k-means,
    exact scans). "hnsw" is an ``IndexHNSWFlat`` graph (M = ``HNSW_M``), about O(N log N) but
    with a larger constant; with several threads the graph, hence the neighbours, may differ
    slightly between runs. The values stored stay exact float64 cosines of the pairs found,
    mapped as above, except that "minmax"'s lower end is then the smallest cosine of the pairs
    an approximate farthest-neighbour search (each image's nearest to its negation) finds
    (>= the true minimum), since the full matrix is never computed. ``method="auto"``
    (default) is "ivf" from ``IVF_MIN_IMAGES`` images on where FAISS is installed, else
    "exact". FAISS runs on its own OpenMP threads (``faiss.omp_set_num_threads``).

    Parameters
    ----------
    features : array (N, d)
    knn : int
        Neighbours per image, 1 <= knn < N.
    mapping : {"minmax", "affine", "none"}
    chunk_entries : int
        Entries of the cosine matrix computed at once by the exact search (a chunk has at
        least one row).
    method : {"auto", "exact", "ivf", "hnsw"}
        How the neighbours are found (above).

    Returns
    -------
    scipy.sparse.csr_array (N, N), float64, canonical (sorted indices, no duplicates)
    """
    check_choice(mapping, "mapping", R_MAPPINGS)
    unit = _unit_rows(as_float_array(features, "features", ndim=2))
    n = unit.shape[0]
    if isinstance(knn, bool) or not isinstance(knn, numbers.Integral):
        raise TypeError(f"knn must be an integer with 1 <= knn < N = {n}; got {knn!r}.")
    if not 1 <= knn < n:
        raise ValueError(
            f"knn must satisfy 1 <= knn < N = {n} (neighbours per image, itself excluded); got "
            f"{knn}. Pass a smaller knn, or knn=None for the dense R."
        )
    knn = int(knn)
    check_choice(method, "method", KNN_METHODS)
    if method == "auto":
        method = "ivf" if n >= IVF_MIN_IMAGES and _faiss(required=False) else "exact"
    if method == "ivf":
        neighbours, low = _ivf_neighbours(unit, knn, need_low=mapping == "minmax")
    elif method == "hnsw":
        neighbours, low = _hnsw_neighbours(unit, knn, need_low=mapping == "minmax")
    else:
        neighbours, low = _exact_neighbours(unit, knn, chunk_entries)
    return knn_matrix(unit, neighbours, low, mapping)


def _exact_neighbours(unit: np.ndarray, knn: int, chunk_entries: int) -> tuple[np.ndarray, float]:
    """Each row's knn largest cosines by blocks of rows; and the smallest cosine of all."""
    n = unit.shape[0]
    rows_per_chunk = max(1, int(chunk_entries) // n)
    neighbours = np.empty((n, knn), dtype=np.int64)
    low = 1.0
    for start in range(0, n, rows_per_chunk):
        stop = min(n, start + rows_per_chunk)
        block = unit[start:stop] @ unit.T
        low = min(low, float(block.min()))
        block[np.arange(stop - start), np.arange(start, stop)] = -np.inf  # not its own neighbour
        neighbours[start:stop] = np.argpartition(block, n - knn, axis=1)[:, n - knn :]
    return neighbours, low


def _faiss(required: bool, method: str = "hnsw"):
    """The faiss module, or None (``required=False``) / ImportError naming the package."""
    try:
        import faiss
    except ImportError as exc:
        if not required:
            return None
        raise ImportError(
            f"method={method!r} needs FAISS ({exc}). Install it with: pip install faiss-cpu "
            "(or 'alsel[knn]'), or pass method='exact'."
        ) from exc
    return faiss


def _hnsw_neighbours(unit: np.ndarray, knn: int, need_low: bool) -> tuple[np.ndarray, float]:
    """Approximate neighbours from a FAISS HNSW graph over the unit rows (inner product)."""
    faiss = _faiss(required=True, method="hnsw")
    n, d = unit.shape
    x = np.ascontiguousarray(unit, dtype=np.float32)
    index = faiss.IndexHNSWFlat(d, HNSW_M, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
    index.add(x)
    index.hnsw.efSearch = max(HNSW_EF_SEARCH, 2 * (knn + 1))
    _, found = index.search(x, min(n, knn + 1))
    found = _others(unit, found, knn)
    low = 1.0
    if need_low:
        index.hnsw.efSearch = HNSW_EF_SEARCH
        low = _farthest_low(unit, index, x)
    return found, low


def _ivf_neighbours(unit: np.ndarray, knn: int, need_low: bool) -> tuple[np.ndarray, float]:
    """Approximate neighbours from a FAISS inverted-file index over the unit rows."""
    faiss = _faiss(required=True, method="ivf")
    n, d = unit.shape
    x = np.ascontiguousarray(unit, dtype=np.float32)
    lists = max(1, min(n // IVF_TRAIN_PER_LIST, round(IVF_LISTS_PER_SQRT_N * np.sqrt(n))))
    index = faiss.IndexIVFFlat(faiss.IndexFlatIP(d), d, lists, faiss.METRIC_INNER_PRODUCT)
    sample = np.random.default_rng(0).choice(n, min(n, IVF_TRAIN_PER_LIST * lists), replace=False)
    index.train(x[np.sort(sample)])
    index.add(x)
    index.nprobe = min(lists, IVF_NPROBE)
    _, found = index.search(x, min(n, knn + 1))
    found = _others(unit, found, knn)
    low = 1.0
    if need_low:
        index.nprobe = min(lists, IVF_FARTHEST_NPROBE)
        low = _farthest_low(unit, index, x)
    return found, low


def _others(unit: np.ndarray, found: np.ndarray, knn: int) -> np.ndarray:
    """A FAISS search of every row for knn + 1 hits, as each row's knn neighbours.

    Drops the image itself wherever it was found (a duplicate may stand in its place), keeping
    the order, then keeps the first knn; a row where the search found too few (FAISS pads with
    -1) is searched exactly.
    """
    n = unit.shape[0]
    found = np.take_along_axis(
        found, np.argsort(found == np.arange(n)[:, None], axis=1, kind="stable"), axis=1
    )[:, :knn]
    short = np.flatnonzero((found < 0).any(axis=1))
    if short.size:
        block = unit[short] @ unit.T
        block[np.arange(short.size), short] = -np.inf
        found[short] = np.argpartition(block, n - knn, axis=1)[:, n - knn :]
    return found.astype(np.int64)


def _farthest_low(unit: np.ndarray, index, x: np.ndarray) -> float:
    """The smallest exact cosine of the pairs (each row, its approximate farthest row).

    The farthest image from each is the nearest (largest inner product) to its negation.
    """
    n = unit.shape[0]
    _, farthest = index.search(-x, 1)
    farthest = np.where(farthest[:, 0] < 0, np.arange(n), farthest[:, 0])
    return float(np.einsum("ij,ij->i", unit, unit[farthest]).min())  # float64, pairs found


#: Pairs whose dot products :func:`_pair_dots` computes at once.
PAIR_CHUNK = 1 << 16


def _pair_dots(unit: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """unit[lo[t]] . unit[hi[t]] for every t, by chunks of PAIR_CHUNK pairs.

    Gathering all rows at once allocates two (pairs, d) float64 arrays: at N = 10^6, k = 10
    that is 2 x 1.1 GB of fresh memory, whose page faults alone took ~40 s on the project's
    machine against 0.3 s for chunks the allocator reuses (docs/benchmarks.md).
    """
    dots = np.empty(lo.size)
    for start in range(0, lo.size, PAIR_CHUNK):
        stop = start + PAIR_CHUNK
        np.einsum(
            "ij,ij->i",
            np.take(unit, lo[start:stop], axis=0),
            np.take(unit, hi[start:stop], axis=0),
            out=dots[start:stop],
        )
    return dots


def knn_matrix(unit: np.ndarray, neighbours: np.ndarray, low: float, mapping: str) -> sp.csr_array:
    """The kNN R of :func:`knn_redundancy` from unit-norm feature rows (N, d), each image's
    neighbour list (N, knn) and the smallest cosine of the full matrix (for "minmax").

    Shared by the NumPy search above and the on-device search of ``alsel.torch``, so both give
    the same matrix for the same neighbour lists.
    """
    n, knn = neighbours.shape
    unit = np.asarray(unit, dtype=np.float64)
    # unordered pairs (a < b), each once; its cosine from one dot product -> exactly symmetric
    a = np.repeat(np.arange(n), knn)
    b = neighbours.ravel()
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    keys = np.sort(lo * n + hi)
    # the distinct keys; np.unique's hash path took 1.5-2.5 s for 10^6 keys (NumPy 2.4) against
    # 0.02 s for this sort and mask
    keys = keys[np.concatenate(([True], keys[1:] != keys[:-1]))]
    lo, hi = np.divmod(keys, n)
    cos = np.clip(_pair_dots(unit, lo, hi), -1.0, 1.0)
    low = max(-1.0, min(low, float(cos.min())))
    values = np.concatenate([cos, cos, np.ones(n)])
    if mapping == "minmax":
        values = np.zeros_like(values) if low >= 1.0 else (values - low) / (1.0 - low)
    elif mapping == "affine":
        values = (1.0 + values) / 2.0
    diagonal = np.arange(n)
    R = sp.csr_array(
        (values, (np.concatenate([lo, hi, diagonal]), np.concatenate([hi, lo, diagonal]))),
        shape=(n, n),
    )
    R.sum_duplicates()
    R.sort_indices()
    return R
