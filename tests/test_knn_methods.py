"""alsel.scores.knn_redundancy's neighbour search: exact blocks, FAISS's HNSW, and "auto"."""

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


def test_hnsw_finds_almost_all_true_neighbours_and_stores_exact_values():
    needs_faiss()
    F, k = clustered(3000), 10
    R = scores.knn_redundancy(F, k, mapping="affine", method="hnsw")
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


def test_hnsw_minmax_scale_is_that_of_the_smallest_cosine_it_finds():
    needs_faiss()
    F = clustered(2000)
    R = scores.knn_redundancy(F, 5, mapping="minmax", method="hnsw")
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


def test_hnsw_with_duplicate_images_never_lists_an_image_as_its_own_neighbour():
    needs_faiss()
    F = np.repeat(clustered(50, seed=3), 4, axis=0)  # every image four times
    R = scores.knn_redundancy(F, 3, mapping="affine", method="hnsw")
    for i in range(200):
        group = set(range(4 * (i // 4), 4 * (i // 4) + 4)) - {i}
        assert group <= stored_neighbours(R, i)


def test_auto_is_exact_below_the_threshold_and_hnsw_from_it(monkeypatch):
    needs_faiss()
    F = clustered(400)
    exact = scores.knn_redundancy(F, 4, method="exact")
    assert (scores.knn_redundancy(F, 4) != exact).nnz == 0  # auto, N < HNSW_MIN_IMAGES
    calls = []
    real = scores._hnsw_neighbours
    monkeypatch.setattr(scores, "HNSW_MIN_IMAGES", 400)
    monkeypatch.setattr(
        scores, "_hnsw_neighbours", lambda *a, **kw: calls.append(a) or real(*a, **kw)
    )
    scores.redundancy(F, knn=4)
    assert len(calls) == 1


def test_hnsw_without_faiss_names_the_package_and_auto_falls_back(monkeypatch):
    real_import = builtins.__import__

    def no_faiss(name, *args, **kwargs):
        if name == "faiss":
            raise ImportError("No module named 'faiss'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_faiss)
    F = clustered(60)
    with pytest.raises(ImportError, match="pip install faiss-cpu"):
        scores.knn_redundancy(F, 3, method="hnsw")
    monkeypatch.setattr(scores, "HNSW_MIN_IMAGES", 10)
    auto = scores.knn_redundancy(F, 3)
    assert (auto != scores.knn_redundancy(F, 3, method="exact")).nnz == 0


def test_unknown_method_is_refused():
    with pytest.raises(ValueError, match="method"):
        scores.knn_redundancy(clustered(20), 3, method="annoy")
    with pytest.raises(ValueError, match="knn_method"):
        scores.redundancy(clustered(20), knn=3, knn_method="fast")
