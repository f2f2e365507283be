"""Region-level strategies ask (and pay for) each pixel once, even a pixel that stays unlabelled.

A region whose pixels are all void in the ground truth (IGNORE: PASCAL's 255 boundaries) gets no
label when it is annotated; before the store kept the asked pixels, such a region looked
unasked, was proposed again every round and counted again in ``region_counts`` (Table 1 hours).
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("sklearn")
pytest.importorskip("skimage")
torch.set_num_threads(1)

from alsel.datasets.base import IGNORE, ArrayImageSet, LabelSpace  # noqa: E402
from alsel.loop.data import CLASS_NAMES, N_LABELS, make_scenes  # noqa: E402
from alsel.loop.loop import ActiveLearningLoop, LoopSettings  # noqa: E402
from alsel.loop.model import TinyUNet  # noqa: E402
from alsel.loop.oracles import SimulatedOracle  # noqa: E402
from alsel.loop.scoring import PoolScores  # noqa: E402
from alsel.loop.store import NO_LABEL, AnswerStore  # noqa: E402
from alsel.loop.strategies import Context, make_strategy  # noqa: E402
from alsel.loop.train import TrainConfig  # noqa: E402

N_L, N_U = 3, 3
TINY_TRAIN = TrainConfig(steps=2, epochs=1, batch_size=4)


class Recording:
    """The simulated oracle, keeping a copy of every region map it is asked to annotate."""

    def __init__(self, pool) -> None:
        self.truth, self.calls = SimulatedOracle(pool), []

    def annotate_regions(self, regions, annotation="pixels"):
        self.calls.append({int(i): np.array(m) for i, m in regions.items()})
        return self.truth.annotate_regions(regions, annotation)


@pytest.fixture(scope="module")
def void_pool():
    """Digit scenes whose U masks are void (IGNORE) on their left half: many superpixels there
    have no labelled pixel in the ground truth at all."""
    scenes = make_scenes(N_L + N_U, size=16, scale=(6, 10), seed=7)
    test = make_scenes(4, size=16, scale=(6, 10), seed=8, pool="test")
    masks = np.array(scenes.masks, dtype=np.int64)
    masks[N_L:, :, :8] = IGNORE
    labels = LabelSpace(tuple(CLASS_NAMES) + ("background",), background=N_LABELS - 1)
    return ArrayImageSet(scenes.images, masks, labels), ArrayImageSet(test.images, test.masks, labels)


@pytest.mark.parametrize("strategy, params", [("pixbal", {"n_segments": 16}),
                                              ("amsp+s", {"n_segments": 32})])
def test_no_pixel_is_asked_twice_and_each_region_is_paid_once(tmp_path, void_pool, strategy, params):
    pool, test = void_pool
    store = AnswerStore.create(tmp_path / "s.json", len(pool), CLASS_NAMES,
                               labels={i: pool.mask(i) for i in range(N_L)})
    oracle = Recording(pool)
    # a budget larger than a round's free superpixels: every region is asked by round 2, so an
    # all-void one would be asked again in rounds 2 and 3 if it still looked free
    settings = LoopSettings(iterations=3, budget=40, pixel_budget=1, c_max=3, train=TINY_TRAIN, seed=1)
    history = ActiveLearningLoop(store, make_strategy(strategy, **params), oracle, pool, test,
                                 lambda: TinyUNet(1, N_LABELS, width=4), settings).run()

    seen = {i: np.zeros(pool.mask(i).shape, dtype=bool) for i in range(len(pool))}
    distinct, void_regions = set(), 0
    for call in oracle.calls:
        for image, region_map in call.items():
            twice = seen[image] & (region_map > 0)
            assert not twice.any(), f"image {image}: {int(twice.sum())} pixel(s) asked again"
            seen[image] |= region_map > 0
            for r in np.unique(region_map[region_map > 0]):
                distinct.add((image, np.flatnonzero(region_map == r).tobytes()))
                void_regions += bool((pool.mask(image)[region_map == r] == IGNORE).all())
    assert void_regions > 0, "the run must ask some all-void region, or it tests nothing"

    again = AnswerStore.load(tmp_path / "s.json")
    assert again.n_regions == len(distinct) == sum(row["regions"] for row in history)
    per_image = {}
    for image, _ in distinct:
        per_image[image] = per_image.get(image, 0) + 1
    assert again.region_counts() == per_image
    for image in range(len(pool)):
        asked = again.asked_pixels(image)
        if image in per_image:
            np.testing.assert_array_equal(asked, seen[image])
        else:
            assert asked is None


class _View:
    def __init__(self, probs, ids):
        self.probs, self.ids = probs, np.asarray(ids)

    def image(self, row):
        return np.zeros((1,) + self.probs[row].shape[1:], dtype=np.float32)

    def probabilities(self, rows=None):
        for r in range(len(self.probs)) if rows is None else rows:
            yield r, self.probs[r]


@pytest.mark.parametrize("strategy", ["pixbal", "amsp+s"])
def test_a_superpixel_with_an_asked_but_unlabelled_pixel_is_not_free(strategy):
    # one image, two superpixels of two pixels; segment 0 was asked and came back void
    prob = np.tile(np.array([0.4, 0.35, 0.25]).reshape(3, 1, 1), (1, 1, 4))
    view = _View([prob], [10])
    chosen = make_strategy(strategy, merge_threshold=0.0) if strategy == "amsp+s" else make_strategy(strategy)
    chosen.superpixels._cache = {10: np.array([[0, 0, 1, 1]])}
    context = Context(np.array([10]), PoolScores(np.zeros((1, 2)), np.zeros((1, 3)), np.zeros(1)),
                      np.full((1, 2), -1, np.int8), 5, 3, np.random.default_rng(0), pixels=view,
                      labels={10: np.full((1, 4), NO_LABEL)}, label_counts=np.array([1, 1, 1]),
                      asked={10: np.array([[False, True, False, False]])})
    request = chosen.propose(context)
    np.testing.assert_array_equal(request.regions[10], [[0, 0, 1, 1]])


def test_an_image_whose_unlabelled_pixels_were_all_asked_is_no_candidate(tmp_path, void_pool):
    pool, test = void_pool
    store = AnswerStore.create(tmp_path / "s.json", len(pool), CLASS_NAMES,
                               labels={i: pool.mask(i) for i in range(N_L)})
    shape = pool.mask(N_L).shape
    left, right = np.zeros(shape, dtype=np.int64), np.zeros(shape, dtype=np.int64)
    left[:, :8], right[:, 8:] = 1, 1
    # image N_L: every pixel asked (the left half void, so unlabelled); N_L + 1: only its left half
    store.begin_round(regions={N_L: left + 2 * right, N_L + 1: left}, row={"iteration": 0, "seed": 1})
    store.add_region_labels(SimulatedOracle(pool).annotate_regions(
        {N_L: left + 2 * right, N_L + 1: left}))
    store.end_round()
    assert (store.label(N_L) == NO_LABEL).any(), "the void half stays unlabelled"
    settings = LoopSettings(iterations=2, budget=4, pixel_budget=1, c_max=3, train=TINY_TRAIN, seed=1)
    loop = ActiveLearningLoop(store, make_strategy("pixbal"), Recording(pool), pool, test,
                              lambda: TinyUNet(1, N_LABELS, width=4), settings)
    assert loop._candidates().tolist() == [N_L + 1, N_L + 2]
