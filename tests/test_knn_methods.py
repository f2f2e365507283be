"""alsel.scores.knn_redundancy's neighbour search: exact blocks, FAISS's IVF and HNSW, "auto"."""

from __future__ import annotations

import builtins

import numpy as np
import pytest
import scipy.sparse as sp

from alsel import scores


def clustered(n: int, d: int = 16, clusters: int = 20, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(clusters, d))
    return centres[rng.integers(0, clusters, n)] + 0.6 * rng.normal(size=(n, d))


def true_neighbours(F: np.ndarray, k: int) -> np.ndarray:
    """Each row's k most similar other rows, by a full sort of the dense cosine matrix."""
    cos = scores.cosine_similarity(F)
    np.fill_diagonal(cos, -np.inf)
    return np.argsort(-cos, axis=1, kind="stable")[:, :k]


def stored_neighbours(R: sp.csr_array, i: int) -> set[int]:
    return set(R.indices[R.indptr[i] : R.indptr[i + 1]].tolist()) - {i}


def test_exact_blocks_hold_only_a_block_of_the_cosine_matrix(monkeypatch):
    # Plant a probe on the matrix product: no block may exceed chunk_entries (nor be N x N).
    F = clustered(300)
    shapes = []
    real = scores._exact_neighbours

    def probe(unit, knn, chunk_entries):
        class Recording(np.ndarray):
            def __matmul__(self, other):
                out = np.asarray(self) @ other
                shapes.append(out.shape)
                return out

        return real(unit.view(Recording), knn, chunk_entries)

    monkeypatch.setattr(scores, "_exact_neighbours", probe)
    R = scores.knn_redundancy(F, 5, chunk_entries=300 * 40, method="exact")
    assert shapes and all(rows * cols <= 300 * 40 for rows, cols in shapes)
    assert sum(rows for rows, _ in shapes) == 300
    for i in range(0, 300, 37):
        assert set(true_neighbours(F, 5)[i]) <= stored_neighbours(R, i)


def needs_faiss():
    return pytest.importorskip("faiss")


@pytest.mark.parametrize("method", ["ivf", "hnsw"])
def test_approximate_search_finds_almost_all_true_neighbours_and_stores_exact_values(method):
    needs_faiss()
    F, k = clustered(3000), 10
    R = scores.knn_redundancy(F, k, mapping="affine", method=method)
    truth = true_neighbours(F, k)
    recall = np.mean([len(set(truth[i]) & stored_neighbours(R, i)) / k for i in range(3000)])
    assert recall > 0.95
    # the values are the dense R's on every stored pair, found or not by an exact search
    dense = scores.redundancy(F, "affine")
    rows, cols = R.nonzero()
    np.testing.assert_allclose(R[rows, cols], dense[rows, cols], rtol=0, atol=1e-15)
    assert (R != R.T).nnz == 0
    np.testing.assert_array_equal(R.diagonal(), 1.0)  # affine: (1 + 1) / 2 on the diagonal
    # each image has at least k stored neighbours, none of them itself
    assert min(len(stored_neighbours(R, i)) for i in range(3000)) >= k


@pytest.mark.parametrize("method", ["ivf", "hnsw"])
def test_approximate_minmax_scale_is_that_of_the_smallest_cosine_it_finds(method):
    needs_faiss()
    F = clustered(2000)
    R = scores.knn_redundancy(F, 5, mapping="minmax", method=method)
    cos = scores.cosine_similarity(F)
    low = cos.min()
    rows, cols = R.nonzero()
    off = rows != cols
    # R = (cos - low') / (1 - low') with low' >= the true minimum, from a real pair: recover it
    c, r = cos[rows[off], cols[off]], np.asarray(R[rows[off], cols[off]]).ravel()
    low_found = (c[0] - r[0]) / (1 - r[0])
    assert low - 1e-12 <= low_found <= low + 0.05
    assert np.isclose(cos, low_found, atol=1e-9).any()
    np.testing.assert_allclose(r, (c - low_found) / (1 - low_found), atol=1e-12)


@pytest.mark.parametrize("method", ["ivf", "hnsw"])
def test_duplicate_images_are_never_listed_as_their_own_neighbour(method):
    needs_faiss()
    F = np.repeat(clustered(50, seed=3), 4, axis=0)  # every image four times
    R = scores.knn_redundancy(F, 3, mapping="affine", method=method)
    for i in range(200):
        group = set(range(4 * (i // 4), 4 * (i // 4) + 4)) - {i}
        assert group <= stored_neighbours(R, i)


def test_auto_is_exact_below_the_threshold_and_ivf_from_it(monkeypatch):
    needs_faiss()
    F = clustered(400)
    exact = scores.knn_redundancy(F, 4, method="exact")
    assert (scores.knn_redundancy(F, 4) != exact).nnz == 0  # auto, N < IVF_MIN_IMAGES
    calls = []
    real = scores._ivf_neighbours
    monkeypatch.setattr(scores, "IVF_MIN_IMAGES", 400)
    monkeypatch.setattr(
        scores, "_ivf_neighbours", lambda *a, **kw: calls.append(a) or real(*a, **kw)
    )
    scores.redundancy(F, knn=4)
    assert len(calls) == 1


def test_faiss_methods_without_faiss_name_the_package_and_auto_falls_back(monkeypatch):
    real_import = builtins.__import__

    def no_faiss(name, *args, **kwargs):
        if name == "faiss":
            raise ImportError("No module named 'faiss'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_faiss)
    F = clustered(60)
    for method in ("ivf", "hnsw"):
        with pytest.raises(ImportError, match=f"method='{method}'.*pip install faiss-cpu"):
            scores.knn_redundancy(F, 3, method=method)
    monkeypatch.setattr(scores, "IVF_MIN_IMAGES", 10)
    auto = scores.knn_redundancy(F, 3)
    assert (auto != scores.knn_redundancy(F, 3, method="exact")).nnz == 0


def test_unknown_method_is_refused():
    with pytest.raises(ValueError, match="method"):
        scores.knn_redundancy(clustered(20), 3, method="annoy")
    with pytest.raises(ValueError, match="knn_method"):
        scores.redundancy(clustered(20), knn=3, knn_method="fast")


def test_ivf_on_a_pool_of_many_lists_keeps_the_convention_and_its_recall():
    # 20,000 images: 141 k-means lists, of which each image scans IVF_NPROBE = 16; the recall of
    # those scans against an exact search of 500 rows, and R's convention on every stored pair.
    needs_faiss()
    n, k = 20_000, 10
    F = clustered(n, d=16, clusters=8)
    R = scores.knn_redundancy(F, k, mapping="affine", method="ivf")
    unit = F / np.linalg.norm(F, axis=1, keepdims=True)
    rows = np.random.default_rng(5).choice(n, 500, replace=False)
    block = unit[rows] @ unit.T
    block[np.arange(rows.size), rows] = -np.inf
    truth = np.argpartition(block, n - k, axis=1)[:, n - k :]
    recall = np.mean([len(set(truth[a]) & stored_neighbours(R, i)) / k for a, i in enumerate(rows)])
    assert recall >= 0.9
    assert (R != R.T).nnz == 0
    np.testing.assert_array_equal(R.diagonal(), 1.0)  # affine: (1 + 1) / 2
    assert min(len(stored_neighbours(R, i)) for i in range(n)) >= k
    a, b = R.nonzero()
    cos = np.einsum("ij,ij->i", unit[a], unit[b])  # the dense R's entries on R's pattern
    np.testing.assert_allclose(R[a, b], (1 + np.clip(cos, -1, 1)) / 2, rtol=0, atol=1e-15)
    # "minmax": the same pattern, scaled by a lower end between the true minimum and the
    # smallest stored cosine
    M = scores.knn_redundancy(F, k, mapping="minmax", method="ivf")
    assert (M != M.T).nnz == 0 and (M.indices == R.indices).all()
    true_low = min(float((unit[s : s + 2000] @ unit.T).min()) for s in range(0, n, 2000))
    off = a != b
    low = (cos[off][0] - M[a[off][0], b[off][0]]) / (1 - M[a[off][0], b[off][0]])
    assert true_low - 1e-12 <= low <= cos.min() + 1e-12
    np.testing.assert_allclose(M[a, b], (np.clip(cos, -1, 1) - low) / (1 - low), atol=1e-12)
