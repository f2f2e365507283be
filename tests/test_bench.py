"""alsel.bench: one CSV row per run, valid PNG plots, failures recorded not fatal, Ctrl-C keeps
the rows measured, bad input refused before any run."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from toy_backend import ToyLinprogBackend

import alsel
from alsel import bench, solvers
from alsel.cli import main

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class RaisingBackend(ToyLinprogBackend):
    name = "planted-raises"

    def solve(self, lp, options):
        if lp.num_cols > 100:  # the warm-up instance passes, the sweep's runs fail
            raise RuntimeError("planted failure")
        return super().solve(lp, options)


class InterruptedBackend(ToyLinprogBackend):
    name = "planted-interrupt"
    calls = 0

    def solve(self, lp, options):
        InterruptedBackend.calls += 1
        if lp.num_cols > 100 and InterruptedBackend.calls > 2:
            raise KeyboardInterrupt
        return super().solve(lp, options)


class SwallowingBackend(ToyLinprogBackend):
    """Ctrl-C arrives during its third sweep run, and it catches the KeyboardInterrupt itself and
    returns normally (as Gurobi does, ending with status INTERRUPTED)."""

    name = "planted-swallow"
    calls = 0

    def solve(self, lp, options):
        if lp.num_cols > 200:  # the sweep's runs, not the warm-up (N = 12: 102 columns)
            SwallowingBackend.calls += 1
        if SwallowingBackend.calls == 3:
            SwallowingBackend.calls += 1
            try:
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(5)  # the handler raises KeyboardInterrupt here
            except KeyboardInterrupt:
                pass
        return super().solve(lp, options)


@pytest.fixture
def planted():
    for backend in (RaisingBackend(), InterruptedBackend(), SwallowingBackend()):
        solvers.register(backend)
    yield
    for name in ("planted-raises", "planted-interrupt", "planted-swallow"):
        solvers._registered.pop(name, None)


def rows(path):
    with open(path, newline="") as file:
        return list(csv.DictReader(file))


def test_tiny_sweep_writes_a_row_per_run_and_the_plots(tmp_path, planted):
    runs = bench.sweep([20, 40], ["highs", "planted-raises"], ["symmetric", "exact"],
                       classes=4, repeat=2, time_limit=30, csv_path=tmp_path / "bench.csv", progress=False)
    assert len(runs) == 2 * 2 * 2 * 2
    written = rows(tmp_path / "bench.csv")
    assert len(written) == len(runs)
    assert {r["status"] for r in written if r["solver"] == "highs"} == {"optimal"}
    failed = [r for r in written if r["solver"] == "planted-raises" and r["formulation"] == "symmetric"]
    assert failed and all(r["status"] == "error" and "planted failure" in r["error"] for r in failed)
    skipped = [r for r in written if r["solver"] == "planted-raises" and r["formulation"] == "exact"]
    assert all(r["status"] == "skipped" for r in skipped)
    ok = [r for r in runs if r.status == "optimal"]
    assert all(np.isfinite(r.kkt) and r.kkt < 1e-6 and r.rows > 0 and r.solve_seconds >= 0 for r in ok)
    assert [r.n_images for r in bench.read_csv(tmp_path / "bench.csv")] == [r.n_images for r in runs]
    for path in bench.plot(runs, tmp_path):
        assert path.read_bytes()[:8] == PNG_SIGNATURE and path.stat().st_size > 1000


def test_growth_exponent_of_a_known_power_law():
    runs = [bench.BenchRun(n, 3, "symmetric", "x", 0, "optimal", solve_seconds=1e-6 * n**2.5)
            for n in (100, 200, 400, 800)]
    assert bench.growth_exponents(runs)[("x", "symmetric")] == pytest.approx(2.5)


def test_interrupted_sweep_keeps_its_rows(tmp_path, planted):
    InterruptedBackend.calls = 0
    runs = bench.sweep([20, 30, 40], ["planted-interrupt"], ["symmetric"], classes=3,
                       csv_path=tmp_path / "bench.csv", progress=False)
    assert 0 < len(runs) < 3
    assert runs.interrupted and runs.planned == 3
    assert len(rows(tmp_path / "bench.csv")) == len(runs)


@pytest.fixture
def terminal_ctrl_c():
    """Python's own Ctrl-C handler, as in a terminal: pytest run as a shell's background job
    (`make test &`) starts with SIGINT ignored. Restored afterwards."""
    original = signal.getsignal(signal.SIGINT)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, original)


def test_ctrl_c_that_a_backend_catches_still_stops_the_sweep(tmp_path, planted, terminal_ctrl_c):
    SwallowingBackend.calls = 0
    before = signal.getsignal(signal.SIGINT)
    runs = bench.sweep([20, 30, 40, 50], ["planted-swallow"], ["symmetric"], classes=3,
                       csv_path=tmp_path / "bench.csv", progress=False, working_set=False)  # a solve a run
    # the two runs before Ctrl-C are kept; the one it cut short is not recorded as if it had finished
    assert runs.interrupted and [r.n_images for r in runs] == [20, 30]
    assert [int(r["n_images"]) for r in rows(tmp_path / "bench.csv")] == [20, 30]
    assert signal.getsignal(signal.SIGINT) is before


@pytest.mark.parametrize("kwargs, pattern", [
    ({"sizes": [0]}, "sizes must be positive integers"),
    ({"sizes": ["12x"]}, "sizes must be positive integers"),
    ({"sizes": [True]}, "sizes must be positive integers"),
    ({"sizes": []}, "sizes is empty"),
    ({"solver_names": ["cplex"]}, "unknown solver 'cplex'"),
    ({"formulations": ["dense"]}, "unknown formulation 'dense'"),
])
def test_bad_input_before_any_run(kwargs, pattern, tmp_path):
    arguments = {"sizes": [20], "solver_names": ["highs"], "formulations": ["symmetric"], **kwargs}
    with pytest.raises(ValueError, match=pattern):
        bench.sweep(**arguments, csv_path=tmp_path / "bench.csv", progress=False)
    assert not (tmp_path / "bench.csv").exists()


def test_cli_bench_with_user_files(tmp_path, capsys):
    rng = np.random.default_rng(0)
    G, F = rng.random((4, 30)), rng.random((30, 3))
    R = F @ F.T
    np.save(tmp_path / "g.npy", G)
    np.save(tmp_path / "r.npy", R)
    out = tmp_path / "out"
    assert main(["bench", "--G", str(tmp_path / "g.npy"), "--R", str(tmp_path / "r.npy"), "--budget", "6",
                 "--solvers", "highs,glop", "--out", str(out), "--no-progress"]) == 0
    assert len(rows(out / "bench.csv")) == 2
    assert (out / "time_vs_n.png").exists()
    assert main(["bench", "--G", str(tmp_path / "g.npy"), "--no-progress"]) == 2
    np.save(tmp_path / "bad.npy", np.ones((5, 5)))
    assert main(["bench", "--G", str(tmp_path / "g.npy"), "--R", str(tmp_path / "bad.npy"), "--no-progress",
                 "--out", str(tmp_path / "x")]) == 2
    assert "error" in capsys.readouterr().err


def test_default_solvers_are_the_usable_lp_backends(monkeypatch):
    names = bench.default_solvers()
    assert "highs" in names and "pdlp" in names
    assert not set(names) & {"cvxpy", "clarabel", "gurobi", "scip"}
    reasons = {**solvers.available(), "pdlp-cuda": None}  # a GPU usable here: it joins the sweep
    monkeypatch.setattr(solvers, "available", lambda: reasons)
    assert "pdlp-cuda" in bench.default_solvers()


def test_working_set_sweep_marks_its_runs(tmp_path, capsys):
    rng = np.random.default_rng(1)
    G, F = rng.random((4, 40)), rng.random((40, 3))
    np.save(tmp_path / "g.npy", G)
    np.save(tmp_path / "r.npy", F @ F.T)
    out = tmp_path / "out"
    assert main(["bench", "--G", str(tmp_path / "g.npy"), "--R", str(tmp_path / "r.npy"), "--budget", "4",
                 "--solvers", "highs", "--formulations", "symmetric,exact", "--out", str(out),
                 "--no-progress", "--working-set"]) == 0
    runs = bench.read_csv(out / "bench.csv")
    assert [(r.formulation, r.working_set, r.status) for r in runs] == [
        ("symmetric", True, "optimal"), ("exact", False, "optimal")]  # the MILP has no working set
    assert "highs (working set)" in capsys.readouterr().out
    whole = bench.sweep([], ["highs"], ["symmetric"], progress=False,
                        problem=alsel.SelectionProblem(G, F @ F.T, 4, 5, 1.0))
    assert abs(whole[0].objective - runs[0].objective) <= 1e-6 * (1 + abs(whole[0].objective))
    assert not whole[0].working_set


def _bench_files(tmp_path, n=30):
    rng = np.random.default_rng(1)
    G, F = rng.random((4, n)), rng.random((n, 3))
    np.save(tmp_path / "g.npy", G)
    np.save(tmp_path / "r.npy", F @ F.T)
    return ["bench", "--G", str(tmp_path / "g.npy"), "--R", str(tmp_path / "r.npy"), "--budget", "4",
            "--solvers", "highs", "--no-progress"]


def test_bench_defaults_to_the_working_set_like_select(tmp_path):
    argv = _bench_files(tmp_path, n=40)
    assert main(argv + ["--out", str(tmp_path / "a")]) == 0
    assert main(argv + ["--out", str(tmp_path / "b"), "--whole-lp"]) == 0
    assert main(argv + ["--out", str(tmp_path / "c"), "--working-set"]) == 0  # the old flag: the default
    assert [r.working_set for r in bench.read_csv(tmp_path / "a" / "bench.csv")] == [True]
    assert [r.working_set for r in bench.read_csv(tmp_path / "b" / "bench.csv")] == [False]
    assert [r.working_set for r in bench.read_csv(tmp_path / "c" / "bench.csv")] == [True]


def test_bench_appends_to_an_existing_csv_with_a_run_id(tmp_path, capsys):
    argv = _bench_files(tmp_path) + ["--out", str(tmp_path / "out"), "--formulations", "symmetric,paper"]
    assert main(argv) == 0 and main(argv) == 0
    written = rows(tmp_path / "out" / "bench.csv")
    assert len(written) == 4
    ids = [r["run_id"] for r in written]
    assert ids[0] == ids[1] != ids[2] == ids[3] and all(ids)


def test_bench_refuses_a_csv_with_other_columns_and_keeps_it(tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    old = "n_images,n_classes,formulation,solver\n300,19,symmetric,highs\n"
    (out / "bench.csv").write_text(old)
    assert main(_bench_files(tmp_path) + ["--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "bench.csv" in err and "move or rename it" in err and "missing:" in err
    assert (out / "bench.csv").read_text() == old
    assert not (out / "time_vs_n.png").exists()


@pytest.mark.parametrize("target", ["/dev/null/x", "{file}"])
def test_bench_and_verify_refuse_an_unwritable_out_before_any_work(tmp_path, capsys, monkeypatch, target):
    (tmp_path / "a-file").write_text("")
    target = target.format(file=tmp_path / "a-file")
    calls = []
    monkeypatch.setattr(bench, "sweep", lambda *a, **k: calls.append(a))
    assert main(_bench_files(tmp_path) + ["--out", target]) == 2
    assert "--out" in capsys.readouterr().err and calls == []
    monkeypatch.setattr(alsel.verify, "verify", lambda *a, **k: calls.append(a))
    assert main(["verify", "--examples", "1", "--out", target]) == 2
    assert "--out" in capsys.readouterr().err and calls == []


def test_ctrl_c_exits_130_and_keeps_every_row(tmp_path):
    argv = _bench_files(tmp_path)
    out = tmp_path / "out"
    assert main(argv + ["--out", str(out)]) == 0  # an earlier sweep's row, which must survive
    earlier = rows(out / "bench.csv")
    env = {**os.environ, "PYTHONPATH": str(Path(alsel.__file__).parent.parent)}
    # as from a terminal: a shell's background job (`make test &`) ignores SIGINT, and a child
    # started with it ignored would ignore Ctrl-C too
    process = subprocess.Popen([sys.executable, "-m", "alsel.cli", *argv, "--repeat", "5000", "--out", str(out)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        deadline = time.monotonic() + 120
        while len(rows(out / "bench.csv")) < len(earlier) + 2 and time.monotonic() < deadline:
            assert process.poll() is None, process.communicate()
            time.sleep(0.05)
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=120)
    finally:
        process.kill()
    assert process.returncode == 130, stderr
    kept = rows(out / "bench.csv")
    assert kept[: len(earlier)] == earlier
    assert f"interrupted: {len(kept) - len(earlier)} of 5000 runs kept" in stderr
    assert len(kept) - len(earlier) >= 2


def test_python_m_alsel_cli_refuses_a_file_as_out_without_a_traceback(tmp_path):
    (tmp_path / "a-file").write_text("")
    env = {**os.environ, "PYTHONPATH": str(Path(alsel.__file__).parent.parent)}
    result = subprocess.run([sys.executable, "-m", "alsel.cli", "bench", "--sizes", "20", "--out",
                             str(tmp_path / "a-file")], capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "--out" in result.stderr and (tmp_path / "a-file").read_text() == ""
