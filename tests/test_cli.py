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
        (["--cmax", "0"], "argument --cmax: must be >= 1"),
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


def _select_argv(path, *extra):
    return ["select", "--G", str(path / "g.npy"), "--R", str(path / "r.csv"), "--budget", "7",
            "--cmax", "2", "--lam", "1", *extra]


@pytest.mark.parametrize("target", ["/nonexistent/dir/q.csv", "{tmp}", "/dev/null/x"])
def test_select_refuses_an_unwritable_output_before_any_work(files, monkeypatch, capsys, target):
    _, path = files
    calls = []
    monkeypatch.setattr(alsel.cli, "select", lambda *a, **k: calls.append(a))
    status = main(_select_argv(path, "-o", target.format(tmp=path)))
    err = capsys.readouterr().err
    assert status == 2 and "-o/--output" in err and "Traceback" not in err
    assert calls == []  # nothing computed, so nothing lost


def test_select_writes_atomically(files, monkeypatch, capsys):
    _, path = files
    out = path / "q.csv"
    out.write_text("image,class\n0,0\n")  # an earlier answer

    def half_then_full_disk(selection, stream):
        stream.write("image,class\n1,")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(alsel.cli, "_write_queries", half_then_full_disk)
    assert main(_select_argv(path, "-o", str(out))) == 1
    assert out.read_text() == "image,class\n0,0\n"
    assert "No space left" in capsys.readouterr().err
    monkeypatch.undo()

    def fsync_fails(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(alsel.cli.os, "fsync", fsync_fails)
    assert main(_select_argv(path, "-o", str(out))) == 2
    assert out.read_text() == "image,class\n0,0\n"
    assert sorted(p.name for p in path.iterdir()) == ["g.npy", "q.csv", "r.csv"]  # no temp file left


@pytest.mark.parametrize("argv, said, not_said", [
    (["--budget", "0"], "--budget", "B must"),
    (["--budget", "1000"], "--budget", "Pass B"),
    (["--cmax", "0"], "--cmax", "C_max"),
    (["--lam", "-1"], "--lam", "lam must"),
    (["--lam", "nan"], "--lam", "lam must"),
    (["--tol", "1e-6"], "--formulation symmetric", "solver_options"),
    (["--tol", "-1", "--formulation", "symmetric"], "--tol", "tol must"),
    (["--time-limit", "0", "--formulation", "symmetric"], "--time-limit", "time_limit"),
    (["--tol", "1e-6", "--formulation", "symmetric"], "--algorithm pdlp", "algorithm='pdlp'"),
    (["--rounding", "topb"], "--formulation", "formulation=None"),
])
def test_select_errors_use_the_flags(files, capsys, argv, said, not_said):
    _, path = files
    args = {"--G": str(path / "g.npy"), "--R": str(path / "r.csv"), "--budget": "7", "--cmax": "2", "--lam": "1"}
    extra = argv[2:] if argv[0] in args else argv
    if argv[0] in args:
        args[argv[0]] = argv[1]
    status = main(["select", *[item for pair in args.items() for item in pair], *extra])
    err = capsys.readouterr().err
    assert status == 2 and said in err and not_said not in err, err
    assert "Traceback" not in err


def test_library_messages_in_cli_words():
    from alsel.cli import in_cli_words

    said = in_cli_words("B = np.int64(2) is infeasible: raise C_max or lower B; lam must be finite.")
    assert said == "--budget = 2 is infeasible: raise --cmax or lower --budget; --lam must be finite."
    assert in_cli_words("top-B rounding") == "top-B rounding"


@pytest.mark.parametrize("content, said", [
    (b"a,b,c\n1,2,3\n4,5,6\n", ["line 1 looks like a header row", "remove the header row"]),
    (b"1,2,3\n4,\xe9,6\n", ["line 2", "not UTF-8"]),
    (b"1,2,3\n4,5,6\nx,y,z\n", ["line 3", "'x' is not a number"]),
])
def test_unreadable_csv_names_the_file_and_line(files, capsys, content, said):
    _, path = files
    (path / "g.csv").write_bytes(content)
    status = main(["select", "--G", str(path / "g.csv"), "--R", str(path / "r.csv"), "--budget", "1",
                   "--cmax", "1", "--lam", "1"])
    err = capsys.readouterr().err
    assert status == 2 and str(path / "g.csv") in err, err
    for text in said:
        assert text in err, err


def test_demo_calls_only_a_degenerate_relaxation_degenerate(capsys):
    base = ["demo", "--images", "60", "--classes", "5", "--budget", "10", "--no-compare"]
    assert main(base + ["--formulation", "symmetric"]) == 0
    out = capsys.readouterr().out
    assert "degenerate" in out and "100% of its mass" in out
    assert main(base + ["--formulation", "qp"]) == 0
    out = capsys.readouterr().out
    assert "relaxation: value" in out and "0% of its mass" in out and "degenerate" not in out


def test_demo_show_zero_prints_no_header_and_negative_is_refused(capsys):
    base = ["demo", "--images", "60", "--classes", "5", "--budget", "10", "--no-compare"]
    assert main(base + ["--show", "0"]) == 0
    out = capsys.readouterr().out
    assert "10 queries" in out and "queries:" not in out and "image  class" not in out
    assert main(base + ["--show", "-1"]) == 2
    assert "--show" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["select", "demo", "bench", "verify", "run", "solvers"])
def test_help_shows_every_default(command, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "1000")  # no wrapping inside a default such as alsel-bench
    parser = alsel.cli.build_parser()
    with pytest.raises(SystemExit):
        parser.parse_args([command, "--help"])
    text = " ".join(capsys.readouterr().out.split())
    sub = parser._subparsers._group_actions[0].choices[command]
    for action in sub._actions:
        if action.option_strings and action.nargs != 0 and action.default is not None:
            assert f"(default: {action.default})" in text, (command, action.dest)
        elif action.option_strings and action.nargs != 0 and not action.required:
            helptext = " ".join(action.help.split())
            assert "default" in helptext, (command, action.dest)
