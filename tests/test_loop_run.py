"""The loop end to end on tiny sets: one round, strategies, resume, the experiment and `alsel run`."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("sklearn")
torch.set_num_threads(1)  # tiny tensors: threads only add overhead, worse on a busy machine
pytest.importorskip("matplotlib")

from alsel.cli import main  # noqa: E402
from alsel.datasets import ArrayImageSet  # noqa: E402
from alsel.datasets.digits import DIGIT_LABELS  # noqa: E402
from alsel.loop.data import CLASS_NAMES, N_LABELS, make_scenes  # noqa: E402
from alsel.loop.experiment import ConfigError, load_config, run_experiment  # noqa: E402
from alsel.loop.loop import ActiveLearningLoop, LoopSettings  # noqa: E402
from alsel.loop.model import TinyUNet  # noqa: E402
from alsel.loop.oracles import OracleStopped, SimulatedOracle  # noqa: E402
from alsel.loop.scoring import PoolScores  # noqa: E402
from alsel.loop.store import AnswerStore  # noqa: E402
from alsel.loop.strategies import STRATEGIES, Context, make_strategy  # noqa: E402
from alsel.loop.train import TrainConfig  # noqa: E402

N_L, N_U = 4, 16
TINY_TRAIN = TrainConfig(steps=2, epochs=1, batch_size=4)


@pytest.fixture(scope="module")
def scenes():
    return make_scenes(N_L + N_U, size=16, scale=(6, 10), seed=7), make_scenes(6, size=16, scale=(6, 10), seed=8, pool="test")


def _loop(tmp_path, scenes, strategy="rr", oracle=None, iterations=2, budget=6, name="s.json"):
    pool, test = scenes
    path = tmp_path / name
    if path.exists():
        store = AnswerStore.load(path)
    else:
        store = AnswerStore.create(path, len(pool), CLASS_NAMES,
                                   labels={i: pool.masks[i] for i in range(N_L)})
    settings = LoopSettings(iterations=iterations, budget=budget, pixel_budget=3, c_max=3,
                            train=TINY_TRAIN, seed=1)
    pool, test = (ArrayImageSet(s.images, s.masks, DIGIT_LABELS) for s in (pool, test))
    return ActiveLearningLoop(store, make_strategy(strategy), oracle or SimulatedOracle(pool),
                              pool, test, lambda: TinyUNet(1, N_LABELS, width=4), settings)


@pytest.mark.parametrize("strategy", ["proposed", "rr", "ee"])
def test_one_round_changes_the_store_by_exactly_the_queried_pairs(tmp_path, scenes, strategy):
    loop = _loop(tmp_path, scenes, strategy)
    before = AnswerStore.load(loop.store.path)
    asked = []
    oracle = loop.oracle

    class Recording:
        def ask(self, queries):
            asked.extend(queries)
            yield from oracle.ask(queries)

    loop.oracle = Recording()
    row = loop.step()
    after = AnswerStore.load(loop.store.path)
    new = set(after.answers()) - set(before.answers())
    assert len(asked) == 6 and len(set(asked)) == 6
    assert new == set(asked)
    assert after.labeled_images() == before.labeled_images()
    assert after.iteration == before.iteration + 1 and not after.in_round
    assert row["iteration"] == 0 and row["cum_queries"] == 0
    truth = SimulatedOracle(scenes[0].masks).truth
    assert all(after.answers()[q] == truth[q] for q in asked)
    assert all(i >= N_L for i, _ in asked), "images of L are never queried"
    per_image = np.bincount([i for i, _ in asked])
    assert per_image.max() <= 3


def test_pixel_round_adds_exactly_the_chosen_images(tmp_path, scenes):
    loop = _loop(tmp_path, scenes, "pixel-entropy")
    loop.step()
    store = AnswerStore.load(loop.store.path)
    added = sorted(set(store.labeled_images()) - set(range(N_L)))
    assert len(added) == 3 and store.answers() == {}
    for i in added:
        np.testing.assert_array_equal(store.label(i), scenes[0].masks[i])


def test_strategies_never_reask_and_respect_the_budget():
    rng = np.random.default_rng(0)
    n, c = 12, 10
    answers = np.full((n, c), -1, dtype=np.int8)
    answers[:, :8] = 1  # only classes 8 and 9 are open
    scores = PoolScores(rng.random((n, c)), rng.random((n, 5)) + 0.1, rng.random(n))
    for name in ("proposed", "rr", "ee"):
        ctx = Context(np.arange(100, 100 + n), scores, answers, budget=15, c_max=5, rng=rng)
        queries = make_strategy(name).propose(ctx).queries
        assert len(queries) == 15, name
        assert all(cls in (8, 9) for _, cls in queries), name
        assert len(set(queries)) == 15 and all(100 <= i < 112 for i, _ in queries), name
    ctx = Context(np.arange(n), scores, answers, budget=40, c_max=5, rng=rng)
    assert len(make_strategy("rr").propose(ctx).queries) == 2 * n  # only 2 open pairs an image
    assert sorted(STRATEGIES) == ["amsp+s", "ee", "pixbal", "pixel-entropy", "pixel-random", "proposed", "rr", "ssal"]


class StopInSecondRound:
    """Answers truthfully; in the second round it stops the session after ``k`` answers."""

    def __init__(self, masks, k):
        self.inner, self.k, self.calls = SimulatedOracle(masks), k, 0

    def ask(self, queries):
        self.calls += 1
        for n, answer in enumerate(self.inner.ask(queries)):
            if self.calls == 2 and n == self.k:
                raise OracleStopped("stop")
            yield answer


def test_resume_after_a_stop_continues_where_it_left_off(tmp_path, scenes):
    stopping = _loop(tmp_path, scenes, "ee", oracle=StopInSecondRound(scenes[0].masks, 2))
    stopping.step()  # round 0 complete
    with pytest.raises(OracleStopped):
        stopping.step()  # round 1: 2 of 6 answered, then stopped
    stored = AnswerStore.load(tmp_path / "s.json")
    assert stored.iteration == 1 and stored.in_round
    pending = stored.pending_queries
    assert len(stored.unanswered_pending()) == 4 and stored.n_answers == 8

    resumed = _loop(tmp_path, scenes, "ee")  # a new process: built from the file
    asked = []
    inner = resumed.oracle

    class Recording:
        def ask(self, queries):
            asked.append(list(queries))
            yield from inner.ask(queries)

    resumed.oracle = Recording()
    resumed.run()
    assert asked[0] == stored.unanswered_pending(), "first only what was still open"
    final = AnswerStore.load(tmp_path / "s.json")
    assert [row["iteration"] for row in final.history] == [0, 1, 2]
    assert final.n_answers == 12 and set(pending) <= set(final.answers())
    assert resumed.done and resumed.step() is None

    uninterrupted = _loop(tmp_path, scenes, "ee", name="u.json")
    uninterrupted.run()
    assert AnswerStore.load(tmp_path / "u.json").answers() == final.answers()


TINY = {"data": {"size": 16, "scale": [6, 10], "labeled": 4, "unlabeled": 12, "test": 4},
        "loop": {"iterations": 1, "budget": 4, "c_max": 2, "strategies": ["proposed", "pixel-random"]},
        "train": {"steps": 2, "epochs": 1, "batch_size": 4, "width": 4}}


def test_experiment_writes_results_and_plots_and_resumes(tmp_path):
    config = load_config(overrides=TINY)
    rows = run_experiment(config, tmp_path / "out")
    assert sorted((r["strategy"], r["iteration"]) for r in rows) == [
        ("pixel-random", 0), ("pixel-random", 1), ("proposed", 0), ("proposed", 1)]
    final = {r["strategy"]: r for r in rows if r["iteration"] == 1}
    assert final["proposed"]["cum_queries"] == 4 and final["pixel-random"]["cum_pixel_images"] == 12
    assert final["pixel-random"]["hours_cityscapes"] == pytest.approx(12 * 37.5 / 60)
    assert final["proposed"]["hours_flickr"] == pytest.approx(4 * 2 / 3600)
    assert final["proposed"]["round_hours_pascal"] == pytest.approx(4 * 3 / 3600)
    for name in ("results.csv", "miou_vs_iteration.png", "miou_vs_hours.png"):
        assert (tmp_path / "out" / name).stat().st_size > 0
    assert len((tmp_path / "out" / "results.csv").read_text().splitlines()) == 5
    again = run_experiment(config, tmp_path / "out")
    assert again == rows
    changed = load_config(overrides={**TINY, "loop": {**TINY["loop"], "budget": 3}})
    with pytest.raises(ConfigError, match="different config"):
        run_experiment(changed, tmp_path / "out")


@pytest.mark.parametrize("overrides, message", [
    ({"loop": {"budgett": 3}}, "unknown key 'budgett' in \\[loop\\]"),
    ({"modle": {}}, "unknown config section \\[modle\\]"),
    ({"loop": {"strategies": ["best"]}}, "unknown strategy 'best'"),
    ({"loop": {"strategies": [{"name": "rr", "lam": 1}]}}, "takes no parameters"),
    ({"loop": {"oracle": "terminal"}}, "only the simulated oracle"),
    ({"data": {"source": "pictures"}}, "\\[data\\] source must be 'digits' or 'folder'; got 'pictures'"),
    ({"data": {"source": "folder"}}, "\\[data\\] root is required"),
    ({"model": {"factory": "alsel.models.hf"}}, "\\[model\\] factory must be 'module:function'"),
    ({"model": {"factory": "alsel.models.hf:nothing"}}, "\\[model\\] factory: module 'alsel.models.hf' has no 'nothing'"),
    ({"model": {"size_divisor": 0}}, "\\[model\\] size_divisor must be a positive integer"),
    ({"train": {"optimizer": {"name": "RMSprop"}}}, "\\[train\\] optimizer.name must be 'Adam', 'AdamW' or 'SGD'"),
    ({"train": {"optimizer": {"name": "Adam", "momentum": 0.9}}}, "optimizer.momentum is SGD's"),
    ({"train": {"optimizer": {"lr": 0.1}, "lr": 0.1}}, "lr and \\[train\\] optimizer.lr are both set"),
    ({"train": {"scheduler": "linear"}}, "\\[train\\] scheduler must be 'onecycle', 'cosine' or 'constant'"),
    ({"train": {"train_step": "os:getcwd", "beta": 0.5}}, "\\[train\\] beta configure alsel's loss"),
    ({"train": {"width": 8}, "model": {"factory": "alsel.models.hf:segformer"}}, "\\[train\\] width is the built-in TinyUNet's"),
])
def test_bad_configs_are_refused_with_the_key_named(overrides, message):
    with pytest.raises(ConfigError, match=message):
        load_config(overrides=overrides)


def test_alsel_run_cli(tmp_path, capsys):
    config = tmp_path / "c.json"
    config.write_text(json.dumps({**TINY, "loop": {**TINY["loop"], "strategies": ["rr"]}}))
    assert main(["run", str(config), "-o", str(tmp_path / "out"), "--no-progress"]) == 0
    assert "rr" in capsys.readouterr().out
    config.write_text(json.dumps({"loop": {"iterations": 0}}))
    assert main(["run", str(config), "-o", str(tmp_path / "bad")]) == 2
    assert "[loop] iterations must be a positive integer" in capsys.readouterr().err
