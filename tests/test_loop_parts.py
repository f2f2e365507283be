"""The loop's parts: digit scenes, LSE pooling and the masked loss, the store, oracles, costs."""

from __future__ import annotations

import io

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("sklearn")
torch.set_num_threads(1)  # tiny tensors: threads only add overhead, worse on a busy machine

from alsel.loop import costs, data  # noqa: E402
from alsel.loop.data import BACKGROUND, STROKE_THRESHOLD, make_scenes  # noqa: E402
from alsel.loop.losses import UNKNOWN, IGNORE, answered_bce, feedback_loss, image_loss, lse_pool  # noqa: E402
from alsel.loop.oracles import OracleStopped, SimulatedOracle, TerminalOracle  # noqa: E402
from alsel.loop.store import AnswerStore, StoreError  # noqa: E402

CLASSES = [str(d) for d in range(10)]


# ---------------------------------------------------------------------------------- data
def test_scenes_are_a_function_of_the_seed():
    a = make_scenes(12, size=24, scale=(8, 12), seed=3)
    b = make_scenes(12, size=24, scale=(8, 12), seed=3)
    c = make_scenes(12, size=24, scale=(8, 12), seed=4)
    assert a.images.shape == (12, 1, 24, 24) and a.masks.shape == (12, 24, 24)
    assert np.array_equal(a.images, b.images) and np.array_equal(a.masks, b.masks)
    assert not np.array_equal(a.masks, c.masks)


def test_labels_mark_exactly_the_strokes():
    scenes = make_scenes(40, size=32, digits=(1, 4), scale=(8, 20), seed=1)
    foreground = scenes.masks != BACKGROUND
    assert np.array_equal(foreground, scenes.images[:, 0] >= STROKE_THRESHOLD)
    assert scenes.masks.min() >= 0 and scenes.masks.max() <= BACKGROUND
    assert foreground.any(axis=(1, 2)).all(), "every scene has at least one digit"
    assert (scenes.present.sum(axis=1) <= 4).all()


def test_each_pixel_is_labelled_with_the_class_of_the_scan_pasted_there(monkeypatch):
    # Scans of constant, class-specific intensity: a label is right iff the pixel shows its value.
    values = 0.4 + 0.05 * np.arange(10)
    scans = np.repeat(values, 5)[:, None, None] * np.ones((50, 8, 8))
    targets = np.repeat(np.arange(10), 5)
    monkeypatch.setattr(data, "_digits", lambda: (scans.astype(np.float32), targets))
    monkeypatch.setattr(data, "_pool_indices", lambda pool: np.arange(50))
    scenes = make_scenes(30, size=24, digits=(1, 1), scale=(6, 12), seed=0)
    fg = scenes.masks != BACKGROUND
    np.testing.assert_allclose(scenes.images[:, 0][fg], values[scenes.masks[fg]], atol=1e-6)
    assert len(np.unique(scenes.masks[fg])) > 3


def test_train_and_test_pools_use_different_scans():
    train, test = data._pool_indices("train"), data._pool_indices("test")
    assert len(np.intersect1d(train, test)) == 0
    assert len(train) + len(test) == len(data._digits()[1])


# ---------------------------------------------------------------------------------- losses
def test_lse_pooling_tends_to_max_and_mean():
    scores = torch.randn(3, 4, 6, 5, dtype=torch.float64) * 3
    flat = scores.flatten(2)
    np.testing.assert_allclose(lse_pool(scores, 1e4), flat.max(dim=2).values, atol=2e-3)
    np.testing.assert_allclose(lse_pool(scores, 1e-6), flat.mean(dim=2), atol=1e-4)
    for r in (0.1, 1.0, 5.0, 50.0):
        pooled = lse_pool(scores, r)
        assert (pooled <= flat.max(dim=2).values + 1e-9).all()
        assert (pooled >= flat.mean(dim=2) - 1e-9).all()
    with pytest.raises(ValueError, match="r must be > 0"):
        lse_pool(scores, 0.0)


def test_masked_bce_gives_unanswered_pairs_no_gradient():
    pooled = torch.randn(4, 10, dtype=torch.float64, requires_grad=True)
    answers = torch.full((4, 10), UNKNOWN)
    answers[0, 3], answers[2, 7], answers[3, 0] = 1, 0, 1
    loss = answered_bce(pooled, answers)
    loss.backward()
    answered = answers != UNKNOWN
    assert (pooled.grad[~answered] == 0).all()
    assert (pooled.grad[answered] != 0).all()
    expected = torch.nn.functional.binary_cross_entropy_with_logits(
        pooled.detach()[answered], answers[answered].double())
    assert float(loss.detach()) == pytest.approx(float(expected))
    changed = pooled.detach().clone()
    changed[~answered] += 5.0
    assert float(answered_bce(changed, answers)) == pytest.approx(float(loss.detach()))


@pytest.mark.parametrize("score", ["logprob", "logits"])
def test_feedback_loss_ignores_unanswered_pairs(score):
    logits = torch.randn(3, 11, 8, 8, dtype=torch.float64, requires_grad=True)
    masks = torch.full((3, 8, 8), IGNORE)  # no pixel labels: only answers count
    answers = torch.full((3, 10), UNKNOWN)
    answers[0, 2], answers[1, 5] = 1, 0   # image 2: nothing answered
    loss, parts = feedback_loss(logits, masks, answers, r=5.0, score=score)
    loss.backward()
    grad = logits.grad.abs().sum(dim=(2, 3))
    assert parts["pixel"] == 0.0 and parts["image"] > 0
    assert grad[0, 2] > 0 and grad[1, 5] > 0
    assert (grad[2] == 0).all(), "an image without answers gets no gradient"
    if score == "logits":  # raw class maps are independent: only the answered ones move
        grad[0, 2] = grad[1, 5] = 0
        assert (grad == 0).all()
        moved = logits.detach().clone()
        moved[0, 7] += 3.0
        assert float(feedback_loss(moved, masks, answers, score=score)[0]) == pytest.approx(float(loss.detach()))


def test_logprob_presence_is_the_power_mean_of_pixel_probabilities():
    logits = torch.randn(2, 11, 6, 6, dtype=torch.float64)
    answers = torch.full((2, 10), UNKNOWN)
    answers[0, 4] = 1
    p = torch.softmax(logits, dim=1)[0, 4].flatten()
    q = float(torch.mean(p**3) ** (1 / 3))
    loss = image_loss(logits, answers, r=3.0, score="logprob")
    assert float(loss) == pytest.approx(-np.log(q))


# ---------------------------------------------------------------------------------- store
def _store(tmp_path, n=6):
    masks = {0: np.full((4, 4), BACKGROUND), 1: np.eye(4, dtype=int) * 3}
    return AnswerStore.create(tmp_path / "s.json", n, CLASSES, labels=masks)


def test_store_round_trip(tmp_path):
    store = _store(tmp_path)
    store.record([(2, 3, True), (2, 5, False), (4, 0, True)])
    again = AnswerStore.load(tmp_path / "s.json")
    assert again.answers() == {(2, 3): True, (2, 5): False, (4, 0): True}
    assert again.state(2, 3) == "present" and again.state(2, 5) == "absent"
    assert again.state(2, 4) == "unknown"
    assert again.initial_images == [0, 1]
    np.testing.assert_array_equal(again.label(1), np.eye(4, dtype=int) * 3)
    matrix = again.answer_matrix()
    assert matrix[2, 3] == 1 and matrix[2, 5] == 0 and (matrix == -1).sum() == 6 * 10 - 3
    assert [p.name for p in tmp_path.iterdir()] == ["s.json"], "no temporary file left behind"


def test_store_write_is_atomic(tmp_path, monkeypatch):
    store = _store(tmp_path)
    store.record([(2, 3, True)])
    before = (tmp_path / "s.json").read_bytes()

    def crash(*args):
        raise OSError("killed during the rename")

    monkeypatch.setattr("alsel.loop.store.os.replace", crash)
    with pytest.raises(OSError):
        store.record([(3, 3, False)])
    assert (tmp_path / "s.json").read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["s.json"]


@pytest.mark.parametrize("bad, message", [
    ([(6, 0, True)], "unknown image"),
    ([(0, 10, True)], "unknown class"),
    ([(1, 1, "yes")], "True .present. or False"),
])
def test_store_refuses_bad_answers_whole(tmp_path, bad, message):
    store = _store(tmp_path)
    before = (tmp_path / "s.json").read_bytes()
    with pytest.raises(StoreError, match=message):
        store.record([(3, 3, True)] + bad)
    assert (tmp_path / "s.json").read_bytes() == before
    assert store.answers() == {}


# ---------------------------------------------------------------------------------- oracles
def test_simulated_answers_equal_the_masks():
    scenes = make_scenes(15, size=24, scale=(8, 12), seed=5)
    oracle = SimulatedOracle(scenes.masks)
    queries = [(i, c) for i in range(15) for c in range(10)]
    for i, c, present in oracle.ask(queries):
        assert present == bool(np.any(scenes.masks[i] == c))
    flipped = SimulatedOracle(scenes.masks, error_rate=1.0)
    assert all(p != bool(np.any(scenes.masks[i] == c)) for i, c, p in flipped.ask(queries))
    noisy = [p for *_, p in SimulatedOracle(scenes.masks, error_rate=0.3, seed=1).ask(queries)]
    assert noisy == [p for *_, p in SimulatedOracle(scenes.masks, error_rate=0.3, seed=1).ask(queries)]
    wrong = np.mean([p != bool(np.any(scenes.masks[i] == c))
                     for (i, c), p in zip(queries, noisy)])
    assert 0.15 < wrong < 0.45


# The CSV answers file: tests/test_answers_csv.py.


def test_terminal_oracle_asks_and_can_stop():
    replies = iter(["maybe", "y", "no", "q"])
    out = io.StringIO()
    oracle = TerminalOracle(CLASSES, images=np.zeros((5, 1, 8, 8)), input_fn=lambda q: next(replies), out=out)
    got = []
    with pytest.raises(OracleStopped):
        got.extend(oracle.ask([(0, 1), (2, 3), (4, 5)]))
    assert [answer[:3] for answer in got] == [(0, 1, True), (2, 3, False)]
    assert all(answer[3] >= 0 for answer in got), "each answer comes with its seconds"
    assert "please answer y" in out.getvalue()


# ---------------------------------------------------------------------------------- costs
def test_costs_reproduce_the_papers_table_3():
    # Table 3 (hours over 25 iterations): binary B queries, region B regions, pixel 48 images.
    table3 = {"flickr": (400, 5.56, 266.67, 156), "cityscapes": (200, 5.56, 300, 750),
              "pascal": (200, 4.16, 225, 364)}
    for name, (budget, binary, region, pixel) in table3.items():
        p = costs.profile(name)
        assert p.hours(binary_queries=budget * 25) == pytest.approx(binary, abs=0.011)
        assert p.hours(regions=budget * 25) == pytest.approx(region, abs=0.01)
        assert p.hours(full_images=48 * 25) == pytest.approx(pixel, abs=0.01)
    with pytest.raises(ValueError, match="unknown cost profile"):
        costs.profile("coco")


def test_training_steps_rule():
    from alsel.loop.train import TrainConfig, steps_for

    config = TrainConfig(steps=10, epochs=2, batch_size=4)
    assert steps_for(config, 0) == 10          # answers only: the floor
    assert steps_for(config, 19) == 10         # 2 passes over 19 images = 38 images < 10 batches
    assert steps_for(config, 30) == 15         # 2 passes over 30 images = 60 images = 15 batches
