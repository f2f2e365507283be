"""`alsel run`'s folder: one process at a time (real processes), every config value checked
before any file is written, a store that does not fit the config refused, Ctrl-C kept."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("sklearn")
pytest.importorskip("matplotlib")
pytest.importorskip("filelock")
torch.set_num_threads(1)

from alsel.cli import main  # noqa: E402
from alsel.datasets import ArrayImageSet  # noqa: E402
from alsel.datasets.digits import DIGIT_LABELS  # noqa: E402
from alsel.loop import experiment  # noqa: E402
from alsel.loop.data import CLASS_NAMES, N_LABELS, make_scenes  # noqa: E402
from alsel.loop.experiment import ConfigError, load_config, run_experiment  # noqa: E402
from alsel.loop.locking import Busy, hold, lock_path  # noqa: E402
from alsel.loop.loop import ActiveLearningLoop, LoopSettings  # noqa: E402
from alsel.loop.model import TinyUNet  # noqa: E402
from alsel.loop.oracles import SimulatedOracle  # noqa: E402
from alsel.loop.store import AnswerStore, StoreError  # noqa: E402
from alsel.loop.strategies import make_strategy  # noqa: E402
from alsel.loop.train import TrainConfig  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}

TINY = {"data": {"size": 16, "scale": [6, 10], "labeled": 4, "unlabeled": 12, "test": 4},
        "loop": {"iterations": 1, "budget": 4, "c_max": 2, "strategies": ["rr"]},
        "train": {"steps": 2, "epochs": 1, "batch_size": 4, "width": 4}}


def _with(section: str, **values) -> dict:
    return {**TINY, section: {**TINY.get(section, {}), **values}}


# ---------------------------------------------------------------------------- the lock
def test_hold_refuses_a_second_holder_at_once_and_frees_on_exit(tmp_path):
    with hold(tmp_path, "run folder") as lock_file:
        assert lock_file == tmp_path / ".alsel.lock"
        with pytest.raises(Busy, match=f"run folder {tmp_path} is in use"):
            with hold(tmp_path, "run folder"):
                pass
    with hold(tmp_path, "run folder"):  # released: free again
        pass
    assert lock_path(tmp_path / "s.json") == tmp_path / "s.json.lock"


_HOLDER = textwrap.dedent("""
    import sys
    from alsel.loop.locking import hold
    with hold(sys.argv[1], "run folder"):
        print("held", flush=True)
        sys.stdin.readline()
""")


def test_alsel_run_is_refused_while_another_process_holds_the_folder(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    config = tmp_path / "c.json"
    config.write_text(json.dumps(TINY))
    holder = subprocess.Popen([sys.executable, "-c", _HOLDER, str(out)], env=ENV, text=True,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert holder.stdout.readline().strip() == "held"
        second = subprocess.run([sys.executable, "-m", "alsel.cli", "run", str(config), "-o", str(out),
                                 "--no-progress"], env=ENV, text=True, capture_output=True, timeout=120)
    finally:
        holder.communicate("\n", timeout=30)
    assert second.returncode == 2, second.stderr
    assert f"{out} is in use by another alsel process" in second.stderr
    assert "Traceback" not in second.stderr
    assert sorted(p.name for p in out.iterdir()) == [".alsel.lock"], "the refused run wrote nothing"
    assert holder.returncode == 0


# Each process imports once, then for every try waits for the same start signal and claims
# that try's folder with its own config; _run_locked stands in for the training (it marks that
# this process ran, and holds the folder a while).
_CONTENDER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from alsel.loop import engine, experiment
    from alsel.loop.locking import Busy
    root, tries, budget = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    config = experiment.load_config(overrides={"loop": {"budget": budget}})
    def fake_run(config, source, out, *rest):
        (out / f"ran-{budget}").write_text("")
        time.sleep(0.3)
        return []
    engine._run_locked = fake_run
    print("ready", flush=True)
    for attempt in range(tries):
        go = root / f"go{attempt}"
        while not go.exists():
            time.sleep(0.0005)
        try:
            experiment.run_experiment(config, root / f"out{attempt}")
            outcome = "ran"
        except Busy:
            outcome = "busy"
        except experiment.ConfigError as exc:
            assert "different config" in str(exc), exc
            outcome = "refused"
        print(outcome, flush=True)
""")


def test_concurrent_runs_with_different_configs_exactly_one_runs_every_try(tmp_path):
    tries, processes = 12, 4
    procs = [subprocess.Popen([sys.executable, "-c", _CONTENDER, str(tmp_path), str(tries), str(10 + k)],
                              env=ENV, text=True, stdout=subprocess.PIPE)
             for k in range(processes)]
    try:
        assert [p.stdout.readline().strip() for p in procs] == ["ready"] * processes
        for attempt in range(tries):
            (tmp_path / f"go{attempt}").write_text("")
            outcomes = [p.stdout.readline().strip() for p in procs]
            assert outcomes.count("ran") == 1, (attempt, outcomes)
            assert set(outcomes) <= {"ran", "busy", "refused"}, outcomes
            out = tmp_path / f"out{attempt}"
            ran = sorted(p.name for p in out.glob("ran-*"))
            assert len(ran) == 1, (attempt, ran)
            saved = json.loads((out / "config.json").read_text())
            assert f"ran-{saved['loop']['budget']}" == ran[0], "config.json is the config of the run that ran"
    finally:
        for p in procs:
            p.kill()
            p.wait()


# ---------------------------------------------------------------------------- config values
@pytest.mark.parametrize("overrides, message", [
    ({"proposed": {"formulation": "symetric"}}, r"\[proposed\] formulation: unknown formulation 'symetric'"),
    ({"proposed": {"rounding": "topk"}}, r"\[proposed\] rounding: unknown rounding 'topk'"),
    ({"proposed": {"rounding": "topb"}}, r"\[proposed\] rounding: .*formulation=None solves none"),
    ({"proposed": {"formulation": "symmetric", "solver": "hihgs"}}, r"\[proposed\] solver: unknown solver 'hihgs'"),
    ({"proposed": {"solver": "highs"}}, r"\[proposed\] solver: .*no effect without a relaxation"),
    ({"proposed": {"formulation": "exact", "solver": "glop"}}, r"\[proposed\] solver: .*LP relaxations only"),
    ({"proposed": {"formulation": "qp", "solver": "glop"}}, r"\[proposed\] solver: .*does not solve QPs"),
    ({"proposed": {"g_mapping": "logg"}}, r"\[proposed\] g_mapping: unknown g_mapping 'logg'"),
    ({"proposed": {"r_mapping": "log"}}, r"\[proposed\] r_mapping: unknown r_mapping 'log'"),
    ({"proposed": {"lam": -1.0}}, r"\[proposed\] lam: lam must be >= 0"),
    ({"proposed": {"lam": "1"}}, r"\[proposed\] lam: lam must be a real number"),
    ({"proposed": {"alpha": 0}}, r"\[proposed\] alpha: must be a finite number > 0"),
    ({"loop": {"strategies": [{"name": "proposed", "label": "p2", "lam": "big"}]}},
     r"\[loop\] strategy 'p2': lam: lam must be a real number"),
    ({"loop": {"strategies": [{"name": "proposed", "label": "a/b"}]}}, r"label 'a/b' must be a name"),
    ({"loop": {"seeds": [0, 0]}}, r"\[loop\] seeds must differ"),
    ({"loop": {"seeds": [-1]}}, r"\[loop\] seeds must be a non-empty list of integers >= 0"),
    ({"loop": {"error_rate": True}}, r"\[loop\] error_rate must be a number"),
    ({"train": {"lr": float("inf")}}, r"\[train\] lr must be a number > 0"),
    ({"data": {"digits": [3, 1]}}, r"\[data\] digits must be \[low, high\] with 1 <= low <= high"),
    ({"data": {"scale": [8, 40]}}, r"\[data\] scale must be \[low, high\] with 4 <= low <= high <= size"),
])
def test_every_config_value_is_checked_naming_its_key(overrides, message):
    with pytest.raises(ConfigError, match=message):
        load_config(overrides=overrides)


def test_good_proposed_settings_pass():
    config = load_config(overrides={"loop": {"strategies": [
        "proposed", {"name": "proposed", "label": "paper", "formulation": "paper", "rounding": "topb"},
        {"name": "proposed", "label": "log", "g_mapping": "log", "lam": 0.05, "solver": None}]}})
    assert [label for label, *_ in experiment.strategy_specs(config)] == ["proposed", "paper", "log"]


def test_a_bad_value_exits_2_before_any_folder_is_made(tmp_path, capsys):
    config = tmp_path / "c.toml"
    config.write_text('[proposed]\nformulation = "symetric"\n')
    out = tmp_path / "out"
    assert main(["run", str(config), "-o", str(out), "--no-progress"]) == 2
    assert "[proposed] formulation" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.parametrize("target", ["{tmp}/a-file", "/dev/null/x"])
def test_an_unwritable_out_exits_2_before_any_work(tmp_path, capsys, monkeypatch, target):
    (tmp_path / "a-file").write_text("not a folder")
    calls = []
    monkeypatch.setattr(experiment, "run_experiment", lambda *a, **k: calls.append(a))
    config = tmp_path / "c.json"
    config.write_text(json.dumps(TINY))
    assert main(["run", str(config), "-o", target.format(tmp=tmp_path), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "-o/--out" in err and "Traceback" not in err
    assert calls == []


def test_a_config_file_that_is_not_utf8_is_named(tmp_path, capsys):
    config = tmp_path / "c.toml"
    config.write_bytes("# réglage\n[loop]\niterations = 1\n".encode("latin-1"))
    assert main(["run", str(config), "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert f"config file {config} is not UTF-8" in err and not (tmp_path / "out").exists()


@pytest.mark.parametrize("content, message", [
    ("{not json", "is not valid JSON"),
    ("[1, 2]", "does not hold a config"),
    (b"\xff\xfe{}", "is not UTF-8"),
])
def test_a_garbage_config_json_in_the_run_folder_is_named_with_the_fix(tmp_path, capsys, content, message):
    out = tmp_path / "out"
    out.mkdir()
    saved = out / "config.json"
    saved.write_bytes(content if isinstance(content, bytes) else content.encode())
    config = tmp_path / "c.json"
    config.write_text(json.dumps(TINY))
    assert main(["run", str(config), "-o", str(out), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert str(saved) in err and message in err and "another output folder" in err
    assert "Traceback" not in err
    assert sorted(p.name for p in out.iterdir()) == [".alsel.lock", "config.json"]


def test_a_changed_config_is_refused_naming_the_changed_key(tmp_path):
    run_experiment(load_config(overrides=TINY), tmp_path, plots=False)
    with pytest.raises(ConfigError, match=r"different config .*differs in \[loop\] budget\)"):
        run_experiment(load_config(overrides=_with("loop", budget=3)), tmp_path, plots=False)


# ---------------------------------------------------------------------------- the store against the config
N_L = 4


@pytest.fixture(scope="module")
def scenes():
    return (make_scenes(N_L + 12, size=16, scale=(6, 10), seed=7),
            make_scenes(4, size=16, scale=(6, 10), seed=8, pool="test"))


def _loop(path, scenes, iterations, seed=1):
    pool, test = scenes
    store = AnswerStore.load(path) if path.exists() else AnswerStore.create(
        path, len(pool), CLASS_NAMES, labels={i: pool.masks[i] for i in range(N_L)})
    settings = LoopSettings(iterations=iterations, budget=4, pixel_budget=3, c_max=2,
                            train=TrainConfig(steps=2, epochs=1, batch_size=4), seed=seed)
    pool, test = (ArrayImageSet(s.images, s.masks, DIGIT_LABELS) for s in (pool, test))
    return ActiveLearningLoop(store, make_strategy("rr"), SimulatedOracle(pool), pool, test,
                              lambda: TinyUNet(1, N_LABELS, width=4), settings)


def _guarded_run(loop, rounds=6):
    """Run, but fail (not hang) if the loop goes on past ``rounds`` rounds."""
    count = []

    def guard(row):
        count.append(row)
        assert len(count) <= rounds, "the loop kept appending rows"
    loop.run(progress=guard)


def test_a_store_beyond_the_configured_rounds_is_refused(tmp_path, scenes):
    path = tmp_path / "s.json"
    _loop(path, scenes, iterations=3).step()
    _loop(path, scenes, iterations=3).step()
    _loop(path, scenes, iterations=3).step()  # iteration 3 of 3, rows 0..2: consistent in itself
    before = path.read_bytes()
    with pytest.raises(StoreError, match=rf"{path}: 'iteration' is 3, but this run has 2 rounds"):
        _guarded_run(_loop(path, scenes, iterations=2))
    assert path.read_bytes() == before


def test_an_edited_iteration_99_is_refused_not_looped(tmp_path, scenes):
    path = tmp_path / "s.json"
    loop = _loop(path, scenes, iterations=2)
    loop.step()
    data = json.loads(path.read_text())
    data["iteration"] = 99
    path.write_text(json.dumps(data))
    before = path.read_bytes()
    with pytest.raises(StoreError, match="iteration") as info:
        _guarded_run(_loop(path, scenes, iterations=2))
    assert str(path) in str(info.value)
    assert path.read_bytes() == before


def test_a_store_of_another_seed_is_refused(tmp_path, scenes):
    path = tmp_path / "s.json"
    _loop(path, scenes, iterations=2, seed=1).step()
    with pytest.raises(StoreError, match=r"seed\(s\) \[1\], but this run's seed is 2"):
        _guarded_run(_loop(path, scenes, iterations=2, seed=2))


def test_resume_from_every_legal_state_finishes(tmp_path, scenes):
    """The check refuses nothing a run passes through: stop after each step and resume."""
    path = tmp_path / "s.json"
    while not _loop(path, scenes, iterations=2).done:
        _loop(path, scenes, iterations=2).step()
    final = AnswerStore.load(path)
    assert [row["iteration"] for row in final.history] == [0, 1, 2]
    _loop(path, scenes, iterations=2).run()  # done: nothing to do, nothing refused
    assert AnswerStore.load(path).history == final.history


# ---------------------------------------------------------------------------- interrupts
def test_ctrl_c_exits_130_saying_what_was_kept_and_the_rerun_resumes(tmp_path, capsys, monkeypatch):
    config = tmp_path / "c.json"
    config.write_text(json.dumps(_with("loop", iterations=2)))
    out = tmp_path / "out"
    real_step = ActiveLearningLoop.step
    calls = []

    def step_then_interrupt(self):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real_step(self)

    monkeypatch.setattr(ActiveLearningLoop, "step", step_then_interrupt)
    assert main(["run", str(config), "-o", str(out), "--no-progress"]) == 130
    err = capsys.readouterr().err
    store = AnswerStore.load(out / "stores" / "rr-seed0.json")
    assert store.n_answers == 4
    assert f"interrupted; kept 4 answers, 0 pixel-labelled images and 1 evaluated rounds in 1 stores" in err
    assert "Run the same command again to resume" in err
    with hold(out, "run folder"):  # the lock was let go
        pass
    monkeypatch.setattr(ActiveLearningLoop, "step", real_step)
    assert main(["run", str(config), "-o", str(out), "--no-progress"]) == 0
    history = AnswerStore.load(out / "stores" / "rr-seed0.json").history
    assert [row["iteration"] for row in history] == [0, 1, 2]
