"""alsel.torch.pool_scores and the k-nearest-neighbour sparse R."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import scipy.sparse as sp

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

import alsel  # noqa: E402
from alsel.torch import knn_redundancy, pool_scores, predict_pool  # noqa: E402


def random_features(n: int = 40, d: int = 6, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, d))


def top_k_pattern(dense: np.ndarray, k: int) -> set[tuple[int, int]]:
    """Union over rows of each row's k largest off-diagonal entries, both directions."""
    pairs = set()
    for i, row in enumerate(dense):
        others = [j for j in np.argsort(-row, kind="stable") if j != i][:k]
        pairs.update({(i, j) for j in others} | {(j, i) for j in others})
    return pairs


def stored(matrix: sp.csr_matrix) -> set[tuple[int, int]]:
    coo = matrix.tocoo()
    return set(zip(coo.row.tolist(), coo.col.tolist()))


@pytest.mark.parametrize("k", [1, 3, 39])
@pytest.mark.parametrize("mapping", ["minmax", "affine", "none"])
def test_knn_sparse_R_is_the_top_k_of_the_dense_R(mapping, k):
    features = random_features()
    dense = alsel.scores.redundancy(features, mapping)
    sparse = knn_redundancy(features, k, mapping)
    assert isinstance(sparse, sp.csr_matrix) and sparse.shape == (40, 40)
    diagonal = {(i, i) for i in range(40)}
    assert stored(sparse) == top_k_pattern(dense, k) | diagonal
    np.testing.assert_allclose(sparse.diagonal(), np.diagonal(dense), rtol=1e-12)
    assert (sparse != sparse.T).nnz == 0
    rows, cols = np.array(sorted(stored(sparse))).T
    values = np.asarray(sparse[rows, cols]).ravel()
    np.testing.assert_allclose(values, dense[rows, cols], rtol=1e-12, atol=1e-12)  # the dense R's
    # the same matrix as the NumPy search of alsel.scores
    numpy_side = alsel.scores.redundancy(features, mapping, knn=k)
    np.testing.assert_allclose(sparse.toarray(), numpy_side.toarray(), rtol=1e-12, atol=1e-12)


def test_knn_blocks_do_not_change_the_result():
    features = random_features(n=25)
    whole = knn_redundancy(features, 4, chunk_size=25)
    for chunk_size in (1, 3, 7):
        part = knn_redundancy(features, 4, chunk_size=chunk_size)
        assert stored(part) == stored(whole)
        np.testing.assert_allclose(part.toarray(), whole.toarray(), rtol=1e-13, atol=1e-15)


def test_knn_accepts_tensors_and_keeps_duplicates_apart_from_themselves():
    features = random_features(n=10)
    features[3] = features[7]  # a duplicate image: cosine 1 with another, and with itself
    R = knn_redundancy(torch.from_numpy(features), 1, "none")
    assert R[3, 7] == pytest.approx(1.0) and R[7, 3] == pytest.approx(1.0)
    assert 3 in R[[7]].indices and 7 in R[[3]].indices  # each other's neighbour, not only itself
    np.testing.assert_allclose(R.toarray(), alsel.scores.redundancy(features, "none", knn=1).toarray(),
                               atol=1e-12)


@pytest.mark.parametrize("knn", [0, 10, 11, 2.5, True, "3", None])
def test_knn_out_of_range(knn):
    with pytest.raises(ValueError, match=r"knn must be an integer with 1 <= knn < N = 10"):
        knn_redundancy(random_features(n=10), knn)


def test_knn_bad_features():
    features = random_features(n=6)
    features[4] = 0
    with pytest.raises(ValueError, match="all-zero rows.*image 4"):
        knn_redundancy(features, 2)
    with pytest.raises(ValueError, match="mapping"):
        knn_redundancy(random_features(), 2, mapping="log")


class Segmenter(nn.Module):
    def __init__(self, classes: int = 4) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.backbone = nn.Sequential(nn.Conv2d(3, 6, 3, padding=1), nn.ReLU())
        self.head = nn.Conv2d(6, classes, 1)

    def forward(self, x):
        return self.head(self.backbone(x))


def images(n: int = 12) -> list[torch.Tensor]:
    x = torch.randn(n, 3, 8, 8, generator=torch.Generator().manual_seed(1))
    return [x[i : i + 5] for i in range(0, n, 5)]


def test_pool_scores_is_alsel_scores_of_the_prediction():
    prediction = predict_pool(Segmenter(), images(), features="backbone", progress=False)
    G, R = pool_scores(Segmenter(), images(), features="backbone", progress=False)
    np.testing.assert_array_equal(G, alsel.scores.confidence(prediction.p))
    np.testing.assert_array_equal(R, alsel.scores.redundancy(prediction.features))
    assert G.shape == (4, 12) and R.shape == (12, 12)
    G2, R2 = pool_scores(
        Segmenter(),
        images(),
        alpha=2.0,
        confidence_mapping="none",
        redundancy_mapping="affine",
        progress=False,
    )
    np.testing.assert_allclose(
        G2,
        alsel.scores.confidence(predict_pool(Segmenter(), images(), progress=False).p, 2.0, "none"),
    )
    assert R2.min() >= 0
    sel = alsel.select(G, R, B=6, C_max=2, lam=1.0)
    assert sel.pairs.shape == (6, 2)


def test_pool_scores_with_knn_gives_the_sparse_R():
    prediction = predict_pool(Segmenter(), images(), progress=False)
    G, R = pool_scores(Segmenter(), images(), knn=3, progress=False, chunk_size=4)
    assert sp.issparse(R)
    expected = knn_redundancy(prediction.features, 3)
    np.testing.assert_array_equal(R.toarray(), expected.toarray())


def test_pool_scores_checks_its_own_arguments_before_the_pass():
    class Exploding(nn.Module):
        def forward(self, x):
            raise AssertionError("the model must not run")

    for kwargs, match in [
        ({"knn": 0}, "knn"),
        ({"redundancy_mapping": "cosine"}, "redundancy_mapping"),
        ({"confidence_mapping": "affine"}, "confidence_mapping"),
        ({"alpha": 0}, "alpha"),
    ]:
        with pytest.raises(ValueError, match=match):
            pool_scores(Exploding(), images(), progress=False, **kwargs)
    with pytest.raises(ValueError, match=r"1 <= knn < N = 12"):
        pool_scores(Segmenter(), images(), knn=12, progress=False)


def test_import_alsel_does_not_import_torch_and_the_missing_extra_is_named():
    code = "import sys, alsel; assert 'torch' not in sys.modules, 'import alsel imported torch'"
    subprocess.run([sys.executable, "-c", code], check=True)
    blocked = (
        "import sys; sys.modules['torch'] = None\n"
        "try:\n    import alsel.torch\nexcept ImportError as e:\n    print(e)\n"
    )
    message = subprocess.run(
        [sys.executable, "-c", blocked], check=True, capture_output=True, text=True
    ).stdout
    assert "pip install 'alsel[torch]'" in message
