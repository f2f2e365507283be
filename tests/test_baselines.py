"""The paper's other baselines: SSAL, PixBal, AMSP+S; their pieces (superpixels, merging, sieving,
class balance, pseudo-labels), region rounds in the store and the oracles, and tiny runs."""

from __future__ import annotations

import base64
import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("sklearn")
pytest.importorskip("skimage")
torch.set_num_threads(1)

from alsel.loop import regions as rg  # noqa: E402
from alsel.loop.data import CLASS_NAMES, N_LABELS, make_scenes  # noqa: E402
from alsel.loop.loop import ActiveLearningLoop, LoopSettings  # noqa: E402
from alsel.loop.model import TinyUNet  # noqa: E402
from alsel.loop.oracles import CsvOracle, OracleStopped, SimulatedOracle, TerminalOracle  # noqa: E402
from alsel.loop.scoring import PoolScores  # noqa: E402
from alsel.loop.selftrain import SelfTraining  # noqa: E402
from alsel.loop.store import NO_LABEL, AnswerStore, StoreError  # noqa: E402
from alsel.loop.strategies import STRATEGIES, Context, make_strategy  # noqa: E402
from alsel.loop.train import TrainConfig  # noqa: E402

N_L, N_U = 4, 16
TINY_TRAIN = TrainConfig(steps=2, epochs=1, batch_size=4)
# Table 1, region level: minutes per region
REGION_MINUTES = {"flickr": 1.6, "cityscapes": 3.6, "pascal": 2.7}


# ------------------------------------------------------------------------------- regions.py
def test_superpixels_cover_the_image_with_consecutive_connected_segments():
    image = make_scenes(1, size=32, seed=3).images[0]
    seg = rg.superpixels(image, n_segments=32)
    assert seg.shape == (32, 32)
    ids = np.unique(seg)
    assert ids.tolist() == list(range(len(ids))) and len(ids) > 4
    from scipy import ndimage
    assert all(ndimage.label(seg == s)[1] == 1 for s in ids), "each segment is one connected piece"


def test_segment_means_are_the_means_over_each_segment():
    rng = np.random.default_rng(0)
    seg = rng.integers(0, 5, size=(6, 7))
    values = rng.random((3, 6, 7))
    got = rg.segment_means(values, seg, 5)
    for s in range(5):
        np.testing.assert_allclose(got[s], values[:, seg == s].mean(axis=1))


def test_adjacent_pairs_and_margin_uncertainty():
    seg = np.array([[0, 0, 1], [2, 2, 1]])
    assert rg.adjacent_pairs(seg).tolist() == [[0, 1], [0, 2], [1, 2]]
    prob = np.array([0.6, 0.3, 0.1]).reshape(3, 1, 1)
    np.testing.assert_allclose(rg.pixel_uncertainty(prob, "margin"), [[0.7]])
    np.testing.assert_allclose(rg.pixel_uncertainty(prob, "entropy"), [[-(0.6 * np.log(0.6) + 0.3 * np.log(0.3) + 0.1 * np.log(0.1))]])


def test_merge_joins_similar_touching_segments_only():
    seg = np.array([[0, 1, 2, 3]])
    mean = np.array([[0.9, 0.1], [0.88, 0.12], [0.1, 0.9], [0.9, 0.1]])  # 3 is like 0 but not touching it
    merged = rg.merge_segments(seg, mean, threshold=0.01)
    assert merged[0, 0] == merged[0, 1]
    assert len({merged[0, 1], merged[0, 2], merged[0, 3]}) == 3
    kept = rg.merge_segments(seg, mean, threshold=0.01, allowed=np.array([True, False, True, True]))
    assert len(np.unique(kept)) == 4, "a segment that is not allowed is never joined"


def test_class_weights_favour_rare_classes():
    w = rg.class_weights(np.array([90, 10, 0]))
    assert w[2] > w[1] > w[0]
    np.testing.assert_allclose(w, np.exp([-0.9, -0.1, 0.0]))


def test_dominant_labels_give_each_region_its_majority_label():
    truth = np.array([[1, 1, 2, 3], [1, 2, 2, NO_LABEL]])
    regions = np.array([[1, 1, 2, 2], [1, 0, 2, 2]])
    out = rg.dominant_labels(truth, regions, n_labels=4)
    expected = np.array([[1, 1, 2, 2], [1, NO_LABEL, 2, NO_LABEL]])
    np.testing.assert_array_equal(out, expected)


def test_sieve_drops_the_pixels_the_model_finds_unlikely_for_the_dominant_label():
    labels = np.array([[0, 0, 0, NO_LABEL]])
    regions = np.array([[1, 1, 1, 0]])
    prob = np.zeros((2, 1, 4))
    prob[0] = [[0.9, 0.8, 0.1, 0.5]]
    prob[1] = 1 - prob[0]
    out = rg.sieve(labels, regions, prob, ratio=0.5)  # mean p(0) in the region = 0.6
    np.testing.assert_array_equal(out, [[0, 0, NO_LABEL, NO_LABEL]])
    np.testing.assert_array_equal(rg.sieve(labels, regions, prob, ratio=0.0), labels)


# ------------------------------------------------------------------------------- strategies
class FakeView:
    """A PixelView with given probabilities and images."""

    def __init__(self, probs, ids):
        self.probs, self.ids = probs, np.asarray(ids)

    def image(self, row):
        return np.zeros((1,) + self.probs[row].shape[1:], dtype=np.float32)

    def probabilities(self, rows=None):
        rows = range(len(self.probs)) if rows is None else rows
        for r in rows:
            yield r, self.probs[r]


def _context(view, budget, labels=None, counts=None, n=2):
    scores = PoolScores(np.zeros((n, 2)), np.zeros((n, 3)), np.zeros(n))
    return Context(np.asarray(view.ids), scores, np.full((n, 2), -1, np.int8), budget, 3,
                   np.random.default_rng(0), pixels=view, labels=labels, label_counts=counts)


def _probs(columns):
    """(3, 1, 4): per column a distribution over labels 0 (certain-ish) .. 2."""
    return np.stack([np.asarray(columns, dtype=np.float64).T.reshape(3, 1, 4)])[0]


def test_pixbal_balances_the_regions_over_predicted_classes():
    # four 1-pixel superpixels per image; image 10 predicts class 0 and is very uncertain,
    # image 11 predicts class 1, less uncertain: plain uncertainty would take only class-0 regions
    very = [0.4, 0.35, 0.25]
    less = [0.15, 0.75, 0.10]
    view = FakeView([_probs([very] * 4), _probs([less] * 4)], [10, 11])
    strategy = make_strategy("pixbal")
    strategy.superpixels._cache = {10: np.array([[0, 1, 2, 3]]), 11: np.array([[0, 1, 2, 3]])}
    request = strategy.propose(_context(view, budget=4, counts=np.array([5, 5, 5])))
    assert request.n_regions == 4
    assert sorted(request.regions) == [10, 11]
    assert [int((m > 0).sum()) for _, m in sorted(request.regions.items())] == [2, 2]


def test_pixbal_never_asks_a_superpixel_with_a_labelled_pixel():
    p = [0.4, 0.35, 0.25]
    view = FakeView([_probs([p] * 4)], [10])
    strategy = make_strategy("pixbal")
    strategy.superpixels._cache = {10: np.array([[0, 0, 1, 1]])}
    label = np.array([[NO_LABEL, 2, NO_LABEL, NO_LABEL]])
    request = strategy.propose(_context(view, budget=5, labels={10: label}, n=1))
    np.testing.assert_array_equal(request.regions[10], [[0, 0, 1, 1]])


def test_amsp_merges_agreeing_superpixels_and_prefers_rare_classes():
    a, b = [0.6, 0.2, 0.2], [0.2, 0.6, 0.2]  # JS divergence 0.10: not merged
    view = FakeView([_probs([a, a, b, b])], [10])
    strategy = make_strategy("amsp+s")
    strategy.superpixels._cache = {10: np.array([[0, 1, 2, 3]])}
    # class 0 dominates the labelled pixels, so the region predicted 1 (same uncertainty) wins
    request = strategy.propose(_context(view, budget=1, counts=np.array([100, 0, 0]), n=1))
    np.testing.assert_array_equal(request.regions[10], [[0, 0, 1, 1]])
    request = strategy.propose(_context(view, budget=1, counts=np.array([0, 100, 0]), n=1))
    np.testing.assert_array_equal(request.regions[10], [[1, 1, 0, 0]])


def test_ssal_picks_one_representative_image_per_cluster():
    rng = np.random.default_rng(1)
    centres = np.array([[0, 0], [10, 0], [0, 10]], dtype=float)
    features = np.concatenate([c + rng.normal(0, 0.5, size=(5, 2)) for c in centres])
    n = len(features)
    scores = PoolScores(np.zeros((n, 2)), features, np.zeros(n))
    context = Context(np.arange(100, 100 + n), scores, np.full((n, 2), -1, np.int8), 3, 3,
                      np.random.default_rng(0))
    request = make_strategy("ssal").propose(context)
    groups = sorted((i - 100) // 5 for i in request.images)
    assert groups == [0, 1, 2]
    for i in request.images:  # the member nearest its cluster's mean
        members = features[(i - 100) // 5 * 5:(i - 100) // 5 * 5 + 5]
        assert i - 100 - (i - 100) // 5 * 5 == np.argmin(np.linalg.norm(members - members.mean(0), axis=1))


def test_self_training_pseudo_labels_confident_pixels_and_true_labels_win():
    st = SelfTraining(threshold=0.8)
    prob = np.array([[[0.9, 0.5]], [[0.1, 0.5]]])
    np.testing.assert_array_equal(st.pseudo_labels(prob), [[0, NO_LABEL]])
    with pytest.raises(ValueError, match="threshold"):
        SelfTraining(threshold=0.0)

    class Const(torch.nn.Module):  # predicts label 1 with probability ~1 everywhere
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(()))

        def forward(self, x):
            logits = torch.zeros(x.shape[0], 2, *x.shape[2:])
            logits[:, 1] = 10.0
            return logits + self.w

    fits = []

    def fit(labels):
        fits.append({k: v.copy() for k, v in labels.items()})
        return Const(), {"pixel": 0.0}

    images = np.zeros((3, 1, 1, 2), dtype=np.float32)
    true = {0: np.array([[0, NO_LABEL]])}
    _, losses = st.run(fit, true, images, [0, 1, 2])  # image 0 is partly labelled
    assert fits[0].keys() == {0} and fits[1].keys() == {0, 1, 2}
    np.testing.assert_array_equal(fits[1][1], [[1, 1]])
    np.testing.assert_array_equal(fits[1][0], [[0, 1]]), "true labels win; pseudo-labels fill the rest"
    assert losses["pseudo_images"] == 3 and losses["pseudo_pixels"] == 6


def test_new_strategies_are_registered_with_their_kinds():
    assert {n: STRATEGIES[n].kind for n in ("ssal", "pixbal", "amsp+s")} == {
        "ssal": "pixel", "pixbal": "region", "amsp+s": "region"}
    assert make_strategy("amsp+s", sieve_ratio=0.0).sieve_ratio == 0.0
    with pytest.raises(ValueError, match="sieve_ratio"):
        make_strategy("amsp+s", sieve_ratio=2.0)


# ------------------------------------------------------------------------------- store
def _store(tmp_path, n=4, shape=(2, 3)):
    return AnswerStore.create(tmp_path / "s.json", n, ["a", "b"],
                              labels={0: np.zeros(shape, dtype=np.int64)})


def test_store_region_round_merges_labels_and_counts_regions(tmp_path):
    store = _store(tmp_path)
    store.add_labels({2: np.array([[1, NO_LABEL, NO_LABEL], [NO_LABEL] * 3])})
    regions = {2: np.array([[1, 1, 0], [2, 2, 2]]), 3: np.array([[True, False, False], [False] * 3])}
    store.begin_round(regions=regions)
    assert store.in_round and sorted(store.unlabeled_pending_regions()) == [2, 3]
    again = AnswerStore.load(store.path)  # pending regions survive a restart
    np.testing.assert_array_equal(again.pending_regions[2], regions[2])
    with pytest.raises(StoreError, match="not complete"):
        store.end_round()
    with pytest.raises(StoreError, match="outside the asked regions"):
        store.add_region_labels({3: np.array([[0, 1, NO_LABEL], [NO_LABEL] * 3])})
    store.add_region_labels({2: np.array([[0, 0, NO_LABEL], [1, NO_LABEL, 0]]),
                             3: np.array([[1, NO_LABEL, NO_LABEL], [NO_LABEL] * 3])})
    np.testing.assert_array_equal(store.label(2), [[1, 0, NO_LABEL], [1, NO_LABEL, 0]]), \
        "a pixel labelled once keeps its label"
    assert store.region_counts() == {2: 2, 3: 1} and store.n_regions == 3
    with pytest.raises(StoreError, match="no pending regions"):
        store.add_region_labels({2: np.full((2, 3), NO_LABEL)})
    store.end_round()
    assert not store.in_round and AnswerStore.load(store.path).n_regions == 3


def test_store_refuses_regions_on_l_and_bad_region_maps(tmp_path):
    store = _store(tmp_path)
    with pytest.raises(StoreError, match="initial set|belong to L"):
        store.begin_round(regions={0: np.ones((2, 3), bool)})
    with pytest.raises(StoreError, match="region map"):
        store.begin_round(regions={1: np.zeros((2, 3), int)})
    with pytest.raises(StoreError, match="shape"):
        store.add_labels({1: np.zeros((2, 3), int)}) or store.begin_round(regions={1: np.ones((3, 3), bool)})
    assert not store.in_round


def test_store_file_check_refuses_a_damaged_region_entry(tmp_path):
    store = _store(tmp_path)
    store.begin_round(regions={1: np.ones((2, 3), bool)})
    data = json.loads(store.path.read_text())
    data["pending"]["regions"]["1"]["data"] = base64.b64encode(bytes(5)).decode()
    store.path.write_text(json.dumps(data))
    with pytest.raises(StoreError, match=r'pending\["regions"\]\["1"\]\["data"\]'):
        AnswerStore.load(store.path)
    data["pending"]["regions"]["1"]["data"] = base64.b64encode(bytes(6)).decode()
    store.path.write_text(json.dumps(data))
    with pytest.raises(StoreError, match="no pixel"):
        AnswerStore.load(store.path)


def test_version_2_store_is_read_and_written_as_version_4(tmp_path):
    v2 = {"format": "alsel-answer-store", "version": 2, "n_images": 3, "classes": ["a"],
          "image_names": None, "iteration": 0, "answers": {},
          "labels": {"0": {"shape": [1, 2], "data": base64.b64encode(bytes([1, 0])).decode()}},
          "initial": [0], "pending": {"queries": [], "images": []}, "history": [], "meta": {}}
    path = tmp_path / "v2.json"
    path.write_text(json.dumps(v2))
    store = AnswerStore.load(path)
    assert store.n_regions == 0 and store.pending_regions == {} and not store.in_round
    store.begin_round(regions={1: np.array([[1, 0]])})
    data = json.loads(path.read_text())
    assert data["version"] == 4 and data["region_counts"] == {} and data["asked"] == {} and "1" in data["pending"]["regions"]


# ------------------------------------------------------------------------------- oracles
def test_simulated_oracle_annotates_regions_from_the_ground_truth():
    masks = np.array([[[3, 3, 1], [3, 1, 1]]])
    oracle = SimulatedOracle(masks)
    regions = {0: np.array([[1, 1, 0], [1, 2, 2]])}
    np.testing.assert_array_equal(oracle.annotate_regions(regions, "pixels")[0],
                                  [[3, 3, NO_LABEL], [3, 1, 1]])
    np.testing.assert_array_equal(oracle.annotate_regions({0: np.array([[1, 1, 1], [1, 1, 0]])}, "dominant")[0],
                                  [[3, 3, 3], [3, 3, NO_LABEL]])
    with pytest.raises(ValueError, match="annotation"):
        oracle.annotate_regions(regions, "scribble")


# ------------------------------------------------------------------------------- the loop
@pytest.fixture(scope="module")
def scenes():
    return (make_scenes(N_L + N_U, size=16, scale=(6, 10), seed=7),
            make_scenes(6, size=16, scale=(6, 10), seed=8, pool="test"))


def _loop(tmp_path, scenes, strategy, oracle=None, **params):
    pool, test = scenes
    path = tmp_path / "s.json"
    store = (AnswerStore.load(path) if path.exists() else
             AnswerStore.create(path, len(pool), CLASS_NAMES, labels={i: pool.masks[i] for i in range(N_L)}))
    settings = LoopSettings(iterations=2, budget=5, pixel_budget=3, c_max=3, train=TINY_TRAIN, seed=1)
    return ActiveLearningLoop.from_arrays(
        store, make_strategy(strategy, **params), oracle or SimulatedOracle(pool.masks), pool.images,
        test.images, test.masks, lambda: TinyUNet(1, N_LABELS, width=4), settings, n_labels=N_LABELS)


@pytest.mark.parametrize("strategy", ["pixbal", "amsp+s"])
def test_region_strategies_run_and_pay_table_1_region_costs(tmp_path, scenes, strategy):
    history = _loop(tmp_path, scenes, strategy).run()
    store = AnswerStore.load(tmp_path / "s.json")
    assert [r["regions"] for r in history] == [0, 5, 5]
    assert [r["cum_regions"] for r in history] == [0, 5, 10] and store.n_regions == 10
    assert [r["pixel_images"] for r in history] == [0, 0, 0]
    for name, minutes in REGION_MINUTES.items():
        assert history[-1][f"hours_{name}"] == pytest.approx(10 * minutes / 60)
        assert history[-1][f"round_hours_{name}"] == pytest.approx(5 * minutes / 60)
    pool = scenes[0]
    for image in store.region_counts():
        label = store.label(image)
        known = label != NO_LABEL
        assert image >= N_L and 0 < known.sum() < label.size
        if strategy == "pixbal":  # every pixel of a region is its true label
            np.testing.assert_array_equal(label[known], pool.masks[image][known])


def test_ssal_runs_with_self_training(tmp_path, scenes):
    history = _loop(tmp_path, scenes, "ssal", threshold=0.05).run()
    assert [r["pixel_images"] for r in history] == [0, 3, 3]
    assert all(r["pseudo_pixels"] > 0 for r in history), "a threshold of 0.05 pseudo-labels every pixel"
    assert history[0]["train_images"] == N_L + N_U, "the student trains on every image of the pool"


def _labelled_pixels(path):
    store = AnswerStore.load(path)
    return sum(int((store.label(i) != NO_LABEL).sum()) for i in store.region_counts())


def test_amsp_sieves_after_a_resume_as_in_one_go(tmp_path, scenes):
    (tmp_path / "a").mkdir(), (tmp_path / "c").mkdir()
    straight = _loop(tmp_path / "a", scenes, "amsp+s", sieve_ratio=1.0).run()
    _loop(tmp_path / "c", scenes, "amsp+s", sieve_ratio=0.0).run()
    assert _labelled_pixels(tmp_path / "a" / "s.json") < _labelled_pixels(tmp_path / "c" / "s.json"), \
        "sieving drops pixels of the dominant-label annotation"
    pool = scenes[0]
    truth = SimulatedOracle(pool.masks)

    class StopOnce:
        stopped = False

        def annotate_regions(self, regions, annotation):
            if not StopOnce.stopped:
                StopOnce.stopped = True
                raise OracleStopped("later")
            return truth.annotate_regions(regions, annotation)

    (tmp_path / "b").mkdir()
    with pytest.raises(OracleStopped):
        _loop(tmp_path / "b", scenes, "amsp+s", oracle=StopOnce(), sieve_ratio=1.0).run()
    resumed = _loop(tmp_path / "b", scenes, "amsp+s", oracle=StopOnce(), sieve_ratio=1.0).run()
    a, b = AnswerStore.load(tmp_path / "a" / "s.json"), AnswerStore.load(tmp_path / "b" / "s.json")
    assert a.labeled_images() == b.labeled_images()
    for i in a.labeled_images():
        np.testing.assert_array_equal(a.label(i), b.label(i))
    assert [r["miou"] for r in straight] == [r["miou"] for r in resumed]


@pytest.mark.parametrize("oracle", ["csv", "terminal"])
def test_region_strategies_are_refused_with_oracles_that_cannot_paint(tmp_path, scenes, oracle):
    store = AnswerStore.create(tmp_path / "s.json", len(scenes[0]), CLASS_NAMES,
                               labels={i: scenes[0].masks[i] for i in range(N_L)})
    people = CsvOracle(tmp_path / "a.csv", store) if oracle == "csv" else TerminalOracle(CLASS_NAMES)
    with pytest.raises(ValueError, match="regions.*simulated"):
        _loop(tmp_path, scenes, "pixbal", oracle=people)


def test_merge_respects_the_size_bound():
    seg = np.arange(8).reshape(1, 8)
    same = np.tile([0.5, 0.5], (8, 1))  # an untrained model: every segment alike
    assert len(np.unique(rg.merge_segments(seg, same, threshold=0.1))) == 1
    bounded = rg.merge_segments(seg, same, threshold=0.1, max_pixels=3)
    assert np.bincount(bounded.ravel()).max() <= 3
    close = np.array([[0.5, 0.5]] * 4 + [[0.52, 0.48]] * 4)  # two groups of 4, slightly apart
    halves = rg.merge_segments(seg, close, threshold=0.01, max_pixels=4)
    assert sorted(np.bincount(halves.ravel())) == [4, 4], "the threshold tightens until groups fit"


# ------------------------------------------------------------------------------- the generic engine
# Images of different sizes (an ImageSet), masks with IGNORE pixels, the typed config.
from alsel.datasets.base import IGNORE, ArrayImageSet, LabelSpace  # noqa: E402
from alsel.loop.config import ConfigError, validate  # noqa: E402
from alsel.loop.costs import cost_columns  # noqa: E402
from alsel.loop.pixels import PixelView  # noqa: E402

MIXED = LabelSpace(("bg", "a", "b"), background=0)


class PointWise(torch.nn.Module):
    """Logits from a 1x1 convolution (each pixel's output depends on that pixel only); with
    ``shrink``, logits at half the input's resolution (as SegFormer's are at a quarter)."""

    def __init__(self, shrink: bool = False) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.conv, self.shrink = torch.nn.Conv2d(1, 3, 1), shrink

    def forward(self, x):
        out = self.conv(x)
        return torch.nn.functional.avg_pool2d(out, 2) if self.shrink else out


def _mixed():
    rng = np.random.default_rng(0)
    shapes = [(5, 7), (8, 4), (6, 6), (3, 9)]
    images = [rng.random((1, *s), dtype=np.float32) for s in shapes]
    masks = [rng.integers(0, 3, size=s) for s in shapes]
    masks[1][0, :] = IGNORE
    return ArrayImageSet(images, masks, MIXED)


def test_pixel_view_gives_each_image_its_own_probabilities_at_its_own_size():
    pool = _mixed()
    model = PointWise()
    view = PixelView(model, pool, [3, 0, 1], batch_size=2, size_divisor=4)  # padded to 8x12, 8x8
    got = dict(view.probabilities())
    assert sorted(got) == [0, 1, 2]
    with torch.no_grad():
        for row, image_id in enumerate([3, 0, 1]):
            alone = torch.softmax(model(torch.from_numpy(pool.image(image_id))[None])[0], dim=0).numpy()
            assert got[row].shape == alone.shape == (3, *pool.mask(image_id).shape)
            np.testing.assert_allclose(got[row], alone, atol=1e-6)
    small = dict(PixelView(PointWise(shrink=True), pool, [0, 1], size_divisor=2).probabilities())
    assert [small[r].shape for r in (0, 1)] == [(3, 5, 7), (3, 8, 4)], "low-resolution logits resized, then cut"
    np.testing.assert_allclose(small[0].sum(axis=0), 1.0, atol=1e-5)


def test_simulated_oracle_paints_regions_from_an_imagesets_masks_leaving_ignore_unlabelled():
    pool = _mixed()
    oracle = SimulatedOracle(pool)
    truth = pool.mask(1)                     # 8x4, row 0 IGNORE
    regions = np.zeros((8, 4), dtype=np.int64)
    regions[:3, :2], regions[5:, 2:] = 1, 2
    painted = oracle.annotate_regions({1: regions}, "pixels")[1]
    np.testing.assert_array_equal(painted, np.where(regions > 0, truth, NO_LABEL))
    assert (painted[0] == NO_LABEL).all() and (painted[1:3, :2] == truth[1:3, :2]).all()
    dominant = oracle.annotate_regions({1: regions}, "dominant")[1]
    votes = np.bincount(truth[1:3, :2].ravel(), minlength=3)  # IGNORE pixels do not vote
    assert (dominant[0] == NO_LABEL).all() and (dominant[1:3, :2] == votes.argmax()).all()
    with pytest.raises(ValueError, match="region map of image 1 has shape"):
        oracle.annotate_regions({1: np.ones((4, 8), dtype=np.int64)})


def test_self_training_pseudo_labels_each_image_at_its_own_size():
    pool = _mixed()
    teacher = PointWise()
    pseudo = SelfTraining(threshold=1e-6).label_pool(teacher, pool, [0, 1, 3], size_divisor=4)
    assert {i: m.shape for i, m in pseudo.items()} == {0: (5, 7), 1: (8, 4), 3: (3, 9)}
    assert all((m != NO_LABEL).all() for m in pseudo.values()), "every own pixel; the padding is cut away"


@pytest.mark.parametrize("oracle", ["csv", "terminal", "web"])
def test_the_config_refuses_region_strategies_with_oracles_that_cannot_paint(oracle):
    with pytest.raises(ConfigError, match=r"\[loop\] strategies \['amsp', 'pixbal'\].*regions.*\[loop\] oracle"):
        validate({"loop": {"oracle": oracle,
                           "strategies": ["proposed", {"name": "amsp+s", "label": "amsp"}, "pixbal"]}})
    validate({"loop": {"oracle": "simulated", "strategies": ["amsp+s", "pixbal", "ssal"]}})


@pytest.fixture(scope="module")
def mixed_scenes():
    """Digit scenes of two sizes, each mask with IGNORE columns 2-6 (a data set's void pixels)."""
    wide = make_scenes(N_L + N_U, size=(12, 20), scale=(6, 10), seed=7)
    tall = make_scenes(N_L + N_U, size=(20, 16), scale=(6, 10), seed=9)
    test = make_scenes(6, size=16, scale=(6, 10), seed=8, pool="test")
    images = [wide.images[i] if i % 2 else tall.images[i] for i in range(N_L + N_U)]
    masks = [np.array(wide.masks[i] if i % 2 else tall.masks[i], dtype=np.int64) for i in range(N_L + N_U)]
    for m in masks:
        m[:, 2:7] = IGNORE
    labels = LabelSpace(tuple(CLASS_NAMES) + ("background",), background=N_LABELS - 1)
    return ArrayImageSet(images, masks, labels), ArrayImageSet(test.images, test.masks, labels)


@pytest.mark.parametrize("strategy", ["pixbal", "amsp+s", "ssal"])
def test_new_strategies_run_on_images_of_different_sizes_with_ignore_pixels(tmp_path, mixed_scenes, strategy):
    pool, test = mixed_scenes
    store = AnswerStore.create(tmp_path / "s.json", len(pool), CLASS_NAMES,
                               labels={i: pool.mask(i) for i in range(N_L)})
    settings = LoopSettings(iterations=2, budget=5, pixel_budget=3, c_max=3, train=TINY_TRAIN, seed=1)
    loop = ActiveLearningLoop(store, make_strategy(strategy, **({"threshold": 0.05} if strategy == "ssal" else {})),
                              SimulatedOracle(pool), pool, test, lambda: TinyUNet(1, N_LABELS, width=4), settings)
    history = loop.run()
    store = AnswerStore.load(tmp_path / "s.json")
    asked = [i for i in store.labeled_images() if i >= N_L]
    assert asked
    for i in asked:
        label, truth = store.label(i), pool.mask(i)
        assert label.shape == truth.shape
        assert (label[:, 2:7] == NO_LABEL).all(), "void pixels stay unlabelled"
        known = label != NO_LABEL
        if strategy != "amsp+s":  # pixels of a region, or whole images: the true labels
            np.testing.assert_array_equal(label[known], truth[known])
    if strategy == "ssal":
        assert [r["pixel_images"] for r in history] == [0, 3, 3] and history[0]["pseudo_pixels"] > 0
    else:
        assert [r["cum_regions"] for r in history] == [0, 5, 10]
        assert history[-1]["hours_pascal"] == pytest.approx(10 * REGION_MINUTES["pascal"] / 60)


def test_binary_and_pixel_rows_keep_their_columns_and_hours(tmp_path, scenes):
    """Region support adds nothing to the rows of the other strategies (results.csv unchanged)."""
    for strategy in ("rr", "pixel-random"):
        (tmp_path / strategy).mkdir()
        history = _loop(tmp_path / strategy, scenes, strategy).run()
        for row in history:
            assert "regions" not in row and "cum_regions" not in row
            expected = cost_columns(row["cum_queries"], row["cum_pixel_images"])
            assert {k: row[k] for k in expected} == pytest.approx(expected)
