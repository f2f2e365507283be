"""Scores: entropy (Eq. 1), confidence G (Eq. 2), redundancy R (Eq. 3) and their mappings."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import alsel
from alsel import scores


def test_entropy_matches_the_formula_and_is_finite_at_0_and_1():
    p = np.array([[0.5, 0.1], [0.0, 1.0]])
    H = scores.entropy(p)
    assert H[0, 0] == pytest.approx(np.log(2))
    assert H[0, 1] == pytest.approx(-(0.1 * np.log(0.1) + 0.9 * np.log(0.9)))
    eps = scores.DEFAULT_EPS
    h_eps = -(eps * np.log(eps) + (1 - eps) * np.log(1 - eps))
    assert H[1, 0] == pytest.approx(h_eps) and H[1, 1] == pytest.approx(h_eps)
    G = scores.confidence(p, mapping="none")
    assert np.isfinite(G).all()


def test_confidence_is_classes_first_and_minmax_mapped():
    rng = np.random.default_rng(0)
    p = rng.random((7, 3))
    G = scores.confidence(p, alpha=2.0, mapping="none")
    assert G.shape == (3, 7)
    np.testing.assert_allclose(G, 2.0 / scores.entropy(p).T)
    mapped = scores.confidence(p)
    assert mapped.min() == 0.0 and mapped.max() == 1.0
    np.testing.assert_allclose(mapped, (G - G.min()) / (G.max() - G.min()))


def test_redundancy_mappings():
    rng = np.random.default_rng(1)
    F = rng.normal(size=(10, 4))
    unit = F / np.linalg.norm(F, axis=1, keepdims=True)
    cos = unit @ unit.T
    np.testing.assert_allclose(scores.redundancy(F, "none"), cos, atol=1e-12)
    np.testing.assert_allclose(scores.redundancy(F, "affine"), (1 + cos) / 2, atol=1e-12)
    R = scores.redundancy(F)
    np.testing.assert_allclose(R, (cos - cos.min()) / (cos.max() - cos.min()), atol=1e-12)
    for mapping in ("minmax", "affine", "none"):
        R = scores.redundancy(F, mapping)
        np.testing.assert_array_equal(R, R.T)


@given(arrays(np.float64, st.tuples(st.integers(2, 12), st.integers(1, 5)),
              elements=st.floats(-10, 10, allow_nan=False)))
def test_affine_redundancy_is_psd_in_unit_interval(F):
    if (np.linalg.norm(F, axis=1) < 1e-6).any():
        return
    R = scores.redundancy(F, "affine")
    assert R.min() >= 0.0 and R.max() <= 1.0
    assert np.linalg.eigvalsh(R).min() >= -1e-9


def test_constant_matrix_maps_to_zeros():
    np.testing.assert_array_equal(scores.minmax(np.full((2, 2), 3.0)), np.zeros((2, 2)))


@pytest.mark.parametrize(
    "call, pattern",
    [
        (lambda: scores.confidence(np.array([[1.2, 0.5]])), r"probabilities in \[0, 1\]"),
        (lambda: scores.confidence(np.array([[np.nan, 0.5]])), "NaN or infinite"),
        (lambda: scores.confidence(np.array([0.5])), "2-dimensional"),
        (lambda: scores.confidence(np.array([[0.5]]), mapping="affine"), "unknown mapping 'affine'"),
        (lambda: scores.confidence(np.array([[0.5]]), alpha=0), "alpha must be > 0"),
        (lambda: scores.entropy(np.array([[0.5]]), eps=0.7), r"eps must lie in \(0, 0.5\)"),
        (lambda: scores.redundancy(np.array([[1.0, 0], [0, 0]])), "all-zero rows.*image 1"),
        (lambda: scores.redundancy(np.eye(2), mapping="rank"), "unknown mapping 'rank'"),
    ],
)
def test_bad_input(call, pattern):
    with pytest.raises(ValueError, match=pattern):
        call()


def test_log_mapping_keeps_the_order_of_G_and_spreads_it():
    p = np.random.default_rng(3).uniform(1e-4, 1 - 1e-4, size=(40, 6))
    raw = scores.confidence(p, mapping="none")
    logged = scores.confidence(p, mapping="log")
    assert logged.min() == 0.0 and logged.max() == pytest.approx(1.0)
    np.testing.assert_array_equal(np.argsort(raw, axis=None), np.argsort(logged, axis=None))
    expected = np.log(raw)
    expected = (expected - expected.min()) / (expected.max() - expected.min())
    np.testing.assert_allclose(logged, expected, rtol=1e-12, atol=1e-15)
    # the uncertain half of the pairs is packed near 0 by min-max, spread by log
    assert np.median(scores.confidence(p)) < 0.01 < np.median(logged)


def knn_pattern(F: np.ndarray, k: int) -> np.ndarray:
    """The union of each image's k nearest neighbours (by a full sort), plus the diagonal."""
    cos = scores.cosine_similarity(F)
    np.fill_diagonal(cos, -np.inf)
    n = len(F)
    nearest = np.argsort(-cos, axis=1, kind="stable")[:, :k]
    pattern = np.zeros((n, n), dtype=bool)
    pattern[np.repeat(np.arange(n), k), nearest.ravel()] = True
    return pattern | pattern.T | np.eye(n, dtype=bool)


@pytest.mark.parametrize("mapping", ["minmax", "affine", "none"])
@pytest.mark.parametrize("k", [1, 3, 29])
def test_knn_redundancy_is_the_dense_R_on_the_knn_pattern(mapping, k):
    F = np.random.default_rng(2).normal(size=(30, 5))  # continuous: no ties between neighbours
    R = scores.redundancy(F, mapping, knn=k)
    assert isinstance(R, scores.sp.csr_array) and R.shape == (30, 30) and R.has_sorted_indices
    np.testing.assert_array_equal(R.toarray() != 0, knn_pattern(F, k))
    assert abs(R - R.T).max() == 0  # exactly symmetric
    rows, cols = R.nonzero()
    dense = scores.redundancy(F, mapping)
    np.testing.assert_allclose(R.toarray()[rows, cols], dense[rows, cols], atol=1e-12)
    np.testing.assert_allclose(R.diagonal(), {"minmax": 1.0, "affine": 1.0, "none": 1.0}[mapping])
    if k == 29:  # every pair: the dense R itself
        np.testing.assert_allclose(R.toarray(), dense, atol=1e-12)


def test_knn_chunks_give_the_same_matrix():
    F = np.random.default_rng(3).normal(size=(25, 4))
    whole = scores.knn_redundancy(F, 4)
    for chunk_entries in (1, 25, 26 * 7, 10_000):
        chunked = scores.knn_redundancy(F, 4, chunk_entries=chunk_entries)
        assert abs(chunked - whole).max() == 0


@pytest.mark.parametrize("pair_chunk", [1, 7, 1 << 16])
def test_knn_pair_cosines_by_chunks_are_the_dense_cosines(monkeypatch, pair_chunk):
    F = np.random.default_rng(4).normal(size=(40, 6))
    monkeypatch.setattr(scores, "PAIR_CHUNK", pair_chunk)
    R = scores.knn_redundancy(F, 5, mapping="none")
    rows, cols = R.nonzero()
    assert rows.size > 7 * 20  # many chunks of 7 pairs
    np.testing.assert_allclose(R.toarray()[rows, cols], scores.cosine_similarity(F)[rows, cols], atol=1e-12)


def test_knn_R_drives_the_sparse_formulation():
    rng = np.random.default_rng(4)
    F, G = rng.normal(size=(40, 6)), rng.random((5, 40))
    R = scores.redundancy(F, knn=5)
    selection = alsel.select(G, R, 10, 2, 1.0, formulation="sparse")
    assert selection.M.sum() == 10
    pairs = (R.nnz - 40) // 2
    assert selection.info["lp_size"]["cols"] == 40 * 5 + 40 + 40 + pairs


@pytest.mark.parametrize(
    "knn, error, pattern",
    [
        (0, ValueError, r"knn must satisfy 1 <= knn < N = 6.*got 0"),
        (6, ValueError, r"knn must satisfy 1 <= knn < N = 6.*got 6"),
        (-2, ValueError, r"1 <= knn < N = 6"),
        (2.5, TypeError, r"knn must be an integer with 1 <= knn < N = 6"),
        (True, TypeError, "knn must be an integer"),
    ],
)
def test_bad_knn(knn, error, pattern):
    with pytest.raises(error, match=pattern):
        scores.redundancy(np.random.default_rng(0).normal(size=(6, 2)), knn=knn)
