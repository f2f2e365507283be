"""The alsel command line."""

from __future__ import annotations

import csv
import subprocess
import sys

import numpy as np
import pytest
from conftest import random_problem

import alsel
from alsel.cli import main


@pytest.fixture
def files(tmp_path):
    problem = random_problem(n=12, c=4, B=7, c_max=2, lam=1.0, seed=5)
    np.save(tmp_path / "g.npy", problem.G)
    np.savetxt(tmp_path / "r.csv", problem.R, delimiter=",")
    return problem, tmp_path


def test_select_writes_the_queries_csv(files, capsys):
    problem, path = files
    out = path / "queries.csv"
    status = main(["select", "--G", str(path / "g.npy"), "--R", str(path / "r.csv"),
                   "--budget", "7", "--cmax", "2", "--lam", "1", "-o", str(out)])
    assert status == 0
    rows = list(csv.reader(out.open()))
    assert rows[0] == ["image", "class"]
    expected = alsel.select(problem.G, problem.R, 7, 2, 1.0).pairs
    np.testing.assert_array_equal(np.array(rows[1:], dtype=int), expected)
    assert "7 queries" in capsys.readouterr().err


def test_select_to_stdout_is_clean_csv(files):
    _, path = files
    result = subprocess.run(
        [sys.executable, "-m", "alsel.cli", "select", "--G", str(path / "g.npy"), "--R",
         str(path / "r.csv"), "--budget", "7", "--cmax", "2", "--lam", "0.5", "--formulation", "exact"],
        capture_output=True, text=True, check=True,
    )
    lines = result.stdout.splitlines()
    assert lines[0] == "image,class" and len(lines) == 8  # nothing but the CSV on stdout
    assert "exact/highs/none" in result.stderr


@pytest.mark.parametrize(
    "argv, pattern",
    [
        (["--G", "missing.npy"], "--G: no such file 'missing.npy'"),
        (["--budget", "1000"], "infeasible"),
        (["--cmax", "0"], "C_max must be >= 1"),
    ],
)
def test_select_errors_exit_2_with_a_message(files, capsys, argv, pattern):
    _, path = files
    args = {"--G": str(path / "g.npy"), "--R": str(path / "r.csv"), "--budget": "7",
            "--cmax": "2", "--lam": "1"}
    args.update(dict(zip(argv[::2], argv[1::2])))
    status = main(["select", *[item for pair in args.items() for item in pair]])
    assert status == 2
    assert pattern in capsys.readouterr().err


def test_unreadable_file(tmp_path, capsys):
    (tmp_path / "g.npy").write_text("not numpy")
    np.save(tmp_path / "r.npy", np.eye(3))
    status = main(["select", "--G", str(tmp_path / "g.npy"), "--R", str(tmp_path / "r.npy"),
                   "--budget", "1", "--cmax", "1", "--lam", "1"])
    assert status == 2 and "could not read" in capsys.readouterr().err


def test_demo_prints_summary_timings_and_queries(capsys):
    status = main(["demo", "--images", "60", "--classes", "5", "--budget", "20", "--show", "3"])
    out = capsys.readouterr().out
    assert status == 0
    assert "20 queries" in out and "timings: build" in out and "first 3 of 20 queries" in out


def test_select_reads_a_sparse_R(tmp_path, capsys):
    import scipy.sparse

    rng = np.random.default_rng(0)
    features = rng.normal(size=(30, 4))
    G = rng.random((3, 30))
    R = alsel.scores.redundancy(features, knn=4)
    np.save(tmp_path / "g.npy", G)
    scipy.sparse.save_npz(tmp_path / "r.npz", R)
    out = tmp_path / "q.csv"
    assert main(["select", "--G", str(tmp_path / "g.npy"), "--R", str(tmp_path / "r.npz"),
                 "--budget", "6", "--cmax", "2", "--lam", "1", "--formulation", "sparse",
                 "-o", str(out)]) == 0
    expected = alsel.select(G, R, 6, 2, 1.0, formulation="sparse").pairs
    np.testing.assert_array_equal(np.loadtxt(out, delimiter=",", skiprows=1, dtype=int), expected)
    assert main(["select", "--G", str(tmp_path / "g.npy"), "--R", str(tmp_path / "g.npy.bad"),
                 "--budget", "6", "--cmax", "2", "--lam", "1"]) == 2


def test_whole_lp_flag_turns_the_working_set_off(tmp_path, monkeypatch):
    problem = random_problem(n=60, c=5, B=8, c_max=2, lam=1.0, seed=2)
    np.save(tmp_path / "g.npy", problem.G)
    np.save(tmp_path / "r.npy", problem.R)
    args = ["select", "--G", str(tmp_path / "g.npy"), "--R", str(tmp_path / "r.npy"), "--budget", "8",
            "--cmax", "2", "--lam", "1", "--formulation", "symmetric", "-o", str(tmp_path / "q.csv")]
    seen = []
    real_select = alsel.cli.select
    monkeypatch.setattr(alsel.cli, "select", lambda *a, **k: seen.append(real_select(*a, **k)) or seen[-1])
    assert main(args) == 0 and main(args + ["--whole-lp"]) == 0
    assert "working_set" in seen[0].info and "working_set" not in seen[1].info


def test_demo_with_a_relaxation_says_where_it_was_solved(capsys):
    argv = ["demo", "--images", "120", "--classes", "5", "--budget", "6", "--formulation", "symmetric"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "round(s), the last on" in out and "of 120 images" in out
    assert "certificate (whole LP)" in out
    assert main(argv + ["--whole-lp"]) == 0
    assert "working set:" not in capsys.readouterr().out


def test_solvers_lists_what_each_backend_solves(capsys):
    assert main(["solvers"]) == 0
    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines() if line.strip()}
    assert "LP, QP, MIP" in lines["highs"]
    assert "LP, QP" in lines["clarabel"] and "MIP" not in lines["clarabel"]
    assert "QP" not in lines["glop"] and "QP" not in lines["pdlp"]
