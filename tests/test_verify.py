"""alsel.verify: passes on every built-in backend, finds planted bugs, writes reproducible
counterexamples; the CLI's exit status."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
from toy_backend import ToyLinprogBackend

import alsel
from alsel import solvers, verify
from alsel.cli import main
from alsel.formulations import FORMULATIONS


def usable(name):
    return solvers.available().get(name) is None


BUILT_IN = [b.name for b in solvers.BUILT_IN]


@pytest.mark.parametrize("solver", BUILT_IN)
def test_verify_passes_on_every_built_in_backend(solver, tmp_path):
    if not usable(solver):
        pytest.skip(solvers.available()[solver])
    backend = solvers.get(solver)
    formulations = ["symmetric", "paper"] + (["exact"] if backend.supports_mip else [])
    examples = 4 if solver in ("cvxpy", "pdlp", "ortools-pdlp") else 10
    for formulation in formulations:
        report = verify.verify(solver, formulation, examples=examples, out_dir=tmp_path)
        assert report.ok, report.summary()
        assert any(r.passed for r in report.results)
    assert not list(tmp_path.iterdir())


class WrongOptimumBackend(ToyLinprogBackend):
    """Returns a correct point but reports (and certifies) the optimum scaled by 1.5."""

    name = "planted-wrong-optimum"

    def solve(self, lp, options):
        solution = super().solve(lp, options)
        x = solution.x * 1.5
        return dataclasses.replace(solution, x=x, objective=lp.objective_value(x))


@pytest.fixture
def planted_backend():
    solvers.register(WrongOptimumBackend())
    yield "planted-wrong-optimum"
    solvers._registered.pop("planted-wrong-optimum", None)


def test_verify_finds_a_backend_with_a_wrong_optimum(planted_backend, tmp_path):
    report = verify.verify(planted_backend, "symmetric", checks=["agreement"], examples=30, out_dir=tmp_path)
    assert not report.ok
    failed = report.results[0]
    assert failed.passed is False and failed.counterexample is not None
    assert failed.counterexample.exists() and failed.counterexample.with_suffix(".json").exists()
    meta = json.loads(failed.counterexample.with_suffix(".json").read_text())
    assert meta["check"] == "agreement" and meta["solver"] == planted_backend
    # reproducible: the saved instance fails the same check again
    again = verify.reproduce(failed.counterexample)
    assert again.passed is False
    problem = verify.load_counterexample(failed.counterexample)
    assert isinstance(problem, alsel.SelectionProblem)


def test_verify_finds_a_formulation_that_drops_a_constraint(monkeypatch, tmp_path):
    symmetric = FORMULATIONS["symmetric"]

    def without_budget(problem):  # the budget row relaxed to sum(M) <= B: the LP can choose nothing
        lp = symmetric(problem)
        budget = lp.row_blocks["budget"].start
        lower = lp.row_lower.copy()
        lower[budget] = 0.0
        return dataclasses.replace(lp, row_lower=lower)

    monkeypatch.setitem(FORMULATIONS, "symmetric", without_budget)
    report = verify.verify("highs", "paper", checks=["equivalence"], examples=40, out_dir=tmp_path)
    assert not report.ok
    assert report.results[0].counterexample is not None


def test_same_seed_same_instances(tmp_path):
    first = verify.verify("highs", "symmetric", checks=["roundings"], examples=8, seed=3, out_dir=tmp_path)
    again = verify.verify("highs", "symmetric", checks=["roundings"], examples=8, seed=3, out_dir=tmp_path)
    assert first.results[0].examples == again.results[0].examples


def test_brute_force_matches_a_direct_enumeration():
    rng = np.random.default_rng(0)
    G = rng.random((2, 3))
    R = rng.random((3, 3))
    R = R + R.T
    problem = alsel.SelectionProblem(G, R, 2, 1, 1.0)
    best = min(
        problem.objective(M)
        for M in (np.array(bits, dtype=bool).reshape(3, 2) for bits in np.ndindex(*(2,) * 6))
        if M.sum() == 2 and M.sum(axis=1).max() <= 1
    )
    assert verify.brute_force(problem)[0] == pytest.approx(best)


def test_cli_exit_status(planted_backend, tmp_path, capsys):
    assert main(["verify", "--solver", "highs", "--examples", "5", "--out", str(tmp_path)]) == 0
    assert main(["verify", "--solver", planted_backend, "--checks", "agreement", "--examples", "20",
                 "--out", str(tmp_path)]) == 1
    assert "FAIL" in capsys.readouterr().out
    assert main(["verify", "--solver", "highs", "--checks", "nope"]) == 2
    assert main(["verify", "--solver", "highs", "--formulation", "dense"]) == 2


def test_the_example_plugin_backend_passes_verify(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(Path(__file__).parent.parent / "examples" / "plugin_backend"))
    from alsel_scipy_linprog import ScipyLinprogBackend

    solvers.register(ScipyLinprogBackend())
    try:
        for formulation in ("symmetric", "paper"):
            report = verify.verify("scipy-linprog", formulation, examples=10, out_dir=tmp_path)
            assert report.ok, report.summary()
            assert [r.passed for r in report.results] == [None, True, True, True, True, True]
    finally:
        solvers._registered.pop("scipy-linprog", None)



@pytest.mark.parametrize("argv", [["--solver", "glop", "--formulation", "exact"],
                                  ["--solver", "glop", "--checks", "exact"]])
def test_nothing_checked_is_not_a_pass(argv, tmp_path, capsys):
    assert main(["verify", *argv, "--examples", "2", "--out", str(tmp_path)]) == 2
    captured = capsys.readouterr()
    assert "nothing was checked" in captured.err and "solves LPs only" in captured.out
    assert "OK" not in captured.out.splitlines()
    report = verify.verify("glop", "exact", examples=2, out_dir=tmp_path)
    assert not report.ok and not report.failed and report.checked == 0
