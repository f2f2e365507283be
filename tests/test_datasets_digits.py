"""Digit scenes as a data source: DigitSource reproduces the loop's scenes; non-square canvases."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

pytest.importorskip("sklearn")

from alsel.datasets.base import ArrayImageSet, ImageSet, LabelSpace, Split, Subset  # noqa: E402
from alsel.datasets.digits import (  # noqa: E402
    BACKGROUND, DIGIT_LABELS, STROKE_THRESHOLD, DigitSource, make_scenes)

# Computed with alsel/loop/data.py of main at c8ca579 (before the move to alsel.datasets):
# sha256 of pool.masks + test.masks bytes, and the sums of the images, for the default [data].
GOLDEN = {
    0: ("4d2b5ba283e60e93d93dae3d94ede7ee6b913913dbef4a16e00d7cf5d8067d4d", 20869.001690038713, 17069.487467226107),
    3: ("0101626c111692fcb293acc7c14d6a70a84a646583d684bb891618a4da8476bb", 19650.00908257079, 18004.66822002991),
}


@pytest.mark.parametrize("seed", sorted(GOLDEN))
def test_digit_source_makes_the_scenes_the_loop_always_used(seed):
    split = DigitSource().load(seed)
    digest = hashlib.sha256(split.pool.masks.tobytes() + split.test.masks.tobytes()).hexdigest()
    masks_hash, pool_sum, test_sum = GOLDEN[seed]
    assert digest == masks_hash
    assert split.pool.images.sum(dtype=np.float64) == pytest.approx(pool_sum, rel=1e-9)
    assert split.test.images.sum(dtype=np.float64) == pytest.approx(test_sum, rel=1e-9)
    assert split.n_labeled == 40 and len(split.pool) == 340 and len(split.test) == 300
    assert split.pool.labels == DIGIT_LABELS and split.pool.image(0).shape == (1, 24, 24)


def test_digit_source_equals_the_experiment_datasets():
    # what the experiment made before the engine became generic (its _datasets), against the
    # source the engine builds from [data] now
    from alsel.loop.config import load_config
    from alsel.loop.engine import make_source

    common = {"size": 20, "digits": (1, 3), "scale": (6, 9)}
    pool = make_scenes(5 + 7, pool="train", seed=2, **common)
    test = make_scenes(6, pool="test", seed=10_000 + 2, **common)
    config = load_config(overrides={"data": {"labeled": 5, "unlabeled": 7, "test": 6, "size": 20, "scale": [6, 9]}})
    split = make_source(config).load(2)
    assert np.array_equal(split.pool.images, pool.images) and np.array_equal(split.pool.masks, pool.masks)
    assert np.array_equal(split.test.images, test.images) and np.array_equal(split.test.masks, test.masks)
    assert split.n_labeled == 5


def test_digit_labels_ask_about_the_ten_digits_never_the_background():
    assert DIGIT_LABELS.n_labels == 11 and DIGIT_LABELS.names[BACKGROUND] == "background"
    assert DIGIT_LABELS.queryable == tuple(range(10))
    assert DIGIT_LABELS.query_names == tuple(str(d) for d in range(10))


def test_non_square_canvases_use_their_whole_width_and_height():
    for shape in ((16, 40), (40, 16)):
        scenes = make_scenes(60, size=shape, digits=(2, 3), scale=(6, 10), seed=1)
        assert scenes.images.shape == (60, 1, *shape) and scenes.masks.shape == (60, *shape)
        foreground = scenes.masks != BACKGROUND
        assert np.array_equal(foreground, scenes.images[:, 0] >= STROKE_THRESHOLD)
        # digits land beyond the shorter side along the longer one
        assert foreground[:, 16:, :].any() or foreground[:, :, 16:].any()
        assert foreground.any(axis=0)[-3:, :].any() and foreground.any(axis=0)[:, -3:].any()


def test_a_square_size_given_as_a_pair_is_the_same_as_the_side():
    a = make_scenes(8, size=20, scale=(6, 10), seed=5)
    b = make_scenes(8, size=(20, 20), scale=(6, 10), seed=5)
    assert np.array_equal(a.images, b.images) and np.array_equal(a.masks, b.masks)


@pytest.mark.parametrize("kwargs, message", [
    ({"size": (16, 40), "scale": (8, 20)}, "shorter side 16"),
    ({"size": (0, 40)}, "size must be positive"),
    ({"size": (16, 40, 3)}, "pair (height, width)"),
    ({"size": 2.5}, "pair (height, width)"),
])
def test_make_scenes_refuses_bad_canvases(kwargs, message):
    with pytest.raises((ValueError, TypeError), match=message.replace("(", r"\(").replace(")", r"\)")):
        make_scenes(3, **{"scale": (6, 8), **kwargs})


@pytest.mark.parametrize("kwargs, name", [
    ({"labeled": -1}, "labeled"), ({"unlabeled": 2.0}, "unlabeled"), ({"test": True}, "test"),
    ({"size": 8, "scale": (8, 12)}, "scale"),
])
def test_digit_source_checks_its_arguments_when_made(kwargs, name):
    with pytest.raises((ValueError, TypeError), match=name):
        DigitSource(**kwargs)


# ------------------------------------------------------------------------- Subset and Split
LABELS = LabelSpace(("a", "b", "bg"), background=2)


def _array_set(n=5):
    images = [np.full((1, 2 + i, 3), i, dtype=np.float32) for i in range(n)]
    masks = [np.full((2 + i, 3), i % 3, dtype=np.int64) for i in range(n)]
    return ArrayImageSet(images, masks, LABELS)


def test_a_subset_is_the_base_images_at_its_ids():
    base = _array_set()
    sub = Subset(base, [3, 0])
    assert isinstance(sub, ImageSet) and len(sub) == 2 and sub.labels is LABELS and sub.root is None
    assert np.array_equal(sub.image(0), base.image(3)) and np.array_equal(sub.mask(1), base.mask(0))
    assert [sub.name(0), sub.name(1)] == [base.name(3), base.name(0)]
    assert len(Subset(base, [])) == 0


@pytest.mark.parametrize("ids, error", [([5], ValueError), ([-1], ValueError), ([1, 1], ValueError),
                                        ([0.5], TypeError), ([[0, 1]], TypeError), ([True], TypeError)])
def test_a_subset_refuses_ids_that_are_not_distinct_images_of_the_base(ids, error):
    with pytest.raises(error, match="ids"):
        Subset(_array_set(), ids)


def test_a_split_checks_n_labeled_and_one_label_space():
    pool = _array_set()
    with pytest.raises(ValueError, match="n_labeled"):
        Split(pool, pool, 6)
    other = ArrayImageSet([np.zeros((1, 2, 2), np.float32)], None, LabelSpace(("x", "y")))
    with pytest.raises(ValueError, match="one label space"):
        Split(pool, other, 1)
    assert Split(pool, pool, 5).n_labeled == 5
