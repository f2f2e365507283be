"""Every backend against HiGHS, judged by alsel's one certificate; registry and bad input."""

from __future__ import annotations

import sys
from importlib.metadata import EntryPoint

import numpy as np
import pytest
from conftest import general_lp, random_problem, tiny_lp, tiny_problems
from hypothesis import given, settings
from hypothesis import strategies as st

import alsel
from alsel import solvers, synthetic
from alsel.solvers import gurobi as gurobi_module

LP_BACKENDS = ["glop", "ortools-pdlp", "gurobi", "cvxpy", "clarabel"]
MIP_BACKENDS = ["gurobi", "scip"]
FIRST_ORDER = {"ortools-pdlp"}


def usable(name: str) -> None:
    reason = solvers.available()[name]
    if reason is not None:
        pytest.skip(f"{name}: {reason}")


def close(a: float, b: float, rel: float) -> bool:
    return abs(a - b) <= rel * max(1.0, abs(a), abs(b))


@pytest.mark.parametrize("backend", LP_BACKENDS)
@settings(max_examples=25)
@given(problem=tiny_problems(max_images=6, max_classes=3),
       formulation=st.sampled_from(["paper", "symmetric", "sparse", "mccormick"]))
def test_relaxation_values_agree_with_highs(backend, problem, formulation):
    usable(backend)
    lp = alsel.build_lp(problem, formulation)
    reference = solvers.solve(lp, "highs")
    options = {"tol": 1e-7} if backend in FIRST_ORDER else {}
    solution = solvers.solve(lp, backend, options)
    assert solution.status == "optimal"
    rel = 1e-4 if backend in FIRST_ORDER else 1e-6
    assert close(solution.objective, reference.objective, rel)
    certificate = alsel.certify(lp, solution.x, solution.row_dual)
    assert certificate.kkt_error <= (1e-5 if backend in FIRST_ORDER else 1e-6), certificate
    assert certificate.dual_objective <= reference.objective + 1e-7  # a valid bound


@pytest.mark.parametrize("backend", MIP_BACKENDS)
@settings(max_examples=25)
@given(problem=tiny_problems(max_images=5, max_classes=3))
def test_integral_optima_agree_with_highs_mip(backend, problem):
    usable(backend)
    args = (problem.G, problem.R, problem.B, problem.C_max, problem.lam)
    options = {"mip_rel_gap": 0.0}
    reference = alsel.select(*args, formulation="exact", solver_options=options)
    selection = alsel.select(*args, formulation="exact", solver=backend, solver_options=options)
    assert selection.status == "optimal"
    assert abs(selection.objective - reference.objective) <= 1e-9 * max(1.0, abs(reference.objective))
    assert selection.certificate.primal_residual <= 1e-9


@pytest.mark.parametrize("backend", ["highs", *LP_BACKENDS])
def test_select_reaches_every_backend_with_its_certificate(backend):
    usable(backend)
    problem = random_problem(n=15, c=4, B=8, c_max=2, lam=1.0, seed=7)
    selection = alsel.select(problem.G, problem.R, 8, 2, 1.0, formulation="symmetric", solver=backend, time_limit=60)
    assert selection.solver == backend and selection.solver_status == "optimal"
    assert selection.certificate.within(1e-3)
    assert selection.lower_bound <= selection.objective
    assert problem.is_feasible(selection.M)


def test_certificate_is_small_at_the_optimum_and_large_when_perturbed():
    problem = random_problem(n=10, c=3, B=6, c_max=2, lam=1.0, seed=3)
    lp = alsel.build_lp(problem, "symmetric")
    solution = solvers.solve(lp, "highs")
    exact = alsel.certify(lp, solution.x, solution.row_dual)
    assert exact.within(1e-9)
    rng = np.random.default_rng(0)
    bad_x = alsel.certify(lp, solution.x + rng.normal(scale=0.1, size=lp.num_cols), solution.row_dual)
    assert bad_x.primal_residual > 1e-2 and bad_x.gap > 1e-3
    bad_y = alsel.certify(lp, solution.x, solution.row_dual + rng.normal(scale=0.1, size=lp.num_rows))
    assert bad_y.dual_residual > 1e-2 and bad_y.gap > 1e-3
    wrong_sign = alsel.certify(lp, solution.x, -solution.row_dual)
    assert wrong_sign.dual_residual > 1e-3


def test_gurobi_within_the_license_limit_solves_and_agrees():
    usable("gurobi")
    problem = random_problem(n=30, c=5, B=12, c_max=3, lam=1.0, seed=0)
    lp = alsel.build_lp(problem, "symmetric")
    assert lp.num_cols <= 2000 and lp.num_rows <= 2000
    ours = solvers.solve(lp, "gurobi")
    assert close(ours.objective, solvers.solve(lp, "highs").objective, 1e-6)


def test_gurobi_over_the_size_limit_raises_alsels_error():
    usable("gurobi")
    if gurobi_module._license() != (None, True):
        pytest.skip("this Gurobi license is not size-limited")
    problem = random_problem(n=80, c=5, B=12, c_max=3, lam=1.0, seed=0)
    with pytest.raises(alsel.SolverLicenseError, match=r"3,720 variables and 3,721 constraints.*size-limited to 2,000"):
        alsel.select(problem.G, problem.R, 12, 3, 1.0, formulation="symmetric", solver="gurobi",
                     solver_options={"working_set": False})
    assert "size-limited" in solvers.notes()["gurobi"]


def test_gurobi_refuses_a_qp_over_200_variables_with_alsels_error():
    usable("gurobi")
    if gurobi_module._license() != (None, True):
        pytest.skip("this Gurobi license is not size-limited")
    lp = alsel.build_lp(random_problem(n=12, c=16, B=4, c_max=2, lam=1.0, seed=0), "qp")  # 204 columns
    with pytest.raises(alsel.SolverLicenseError, match="204 variables .* 200 variables when the objective is quadratic"):
        solvers.solve(lp, "gurobi")
    small = alsel.build_lp(random_problem(n=12, c=15, B=4, c_max=2, lam=1.0, seed=0), "qp")  # 192 columns
    assert solvers.solve(small, "gurobi").status == "optimal"


def test_the_working_set_brings_an_lp_over_the_size_limit_within_it():
    usable("gurobi")
    if gurobi_module._license() != (None, True):
        pytest.skip("this Gurobi license is not size-limited")
    problem = random_problem(n=80, c=5, B=12, c_max=3, lam=1.0, seed=0)  # 3,720 variables in all
    ours = alsel.select(problem.G, problem.R, 12, 3, 1.0, formulation="symmetric", solver="gurobi")
    reference = alsel.select(problem.G, problem.R, 12, 3, 1.0, formulation="symmetric", solver="highs",
                             solver_options={"working_set": False})
    assert all(r["columns"] <= 2000 and r["rows"] <= 2000 for r in ours.info["working_set"]["rounds"])
    assert close(ours.relaxation_value, reference.relaxation_value, 1e-6)


def test_gurobi_license_error_at_optimize_is_translated(monkeypatch):
    """Where alsel's own size check does not fire, Gurobi's errno 10010 still becomes ours."""
    usable("gurobi")
    if gurobi_module._license() != (None, True):
        pytest.skip("this Gurobi license is not size-limited")
    monkeypatch.setattr(gurobi_module, "SIZE_LIMITED", (10**9, 10**9))
    lp = alsel.build_lp(random_problem(n=80, c=5, B=12, c_max=3, lam=1.0, seed=0), "symmetric")
    with pytest.raises(alsel.SolverLicenseError, match="3,720 variables"):
        solvers.solve(lp, "gurobi")


def test_missing_package_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "ortools", None)
    monkeypatch.setitem(sys.modules, "ortools.linear_solver.python", None)
    assert "pip install 'alsel[ortools]'" in solvers.available()["glop"]
    problem = random_problem(n=5, c=2, B=2, c_max=1, lam=1.0, seed=0)
    with pytest.raises(alsel.SolverUnavailable, match=r"'glop'.*pip install 'alsel\[ortools\]'"):
        alsel.select(problem.G, problem.R, 2, 1, 1.0, formulation="symmetric", solver="glop")


def test_missing_gurobipy_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "gurobipy", None)
    gurobi_module._license.cache_clear()
    try:
        assert "pip install 'alsel[gurobi]'" in solvers.available()["gurobi"]
    finally:
        monkeypatch.undo()
        gurobi_module._license.cache_clear()


@pytest.mark.parametrize(
    "solver, options, pattern",
    [
        ("glop", {"threads": 2}, r"unknown solver option\(s\) 'threads' for solver 'glop'; valid: 'time_limit', 'verbose'"),
        ("ortools-pdlp", {"tol": 2.0}, r"tol must lie in \(0, 1\)"),
        ("ortools-pdlp", {"algorithm": "x"}, r"valid: 'time_limit', 'threads', 'verbose', 'tol'"),
        ("gurobi", {"algorithm": "simplex"}, r"unknown algorithm 'simplex'; valid: 'auto'"),
        ("cvxpy", {"cvxpy_solver": "MOSEK"}, r"cvxpy_solver 'MOSEK' is not installed"),
    ],
)
def test_bad_options_are_refused_before_any_work(solver, options, pattern):
    usable(solver)
    problem = random_problem(n=5, c=2, B=2, c_max=1, lam=1.0, seed=0)
    with pytest.raises(ValueError, match=pattern):
        alsel.select(problem.G, problem.R, 2, 1, 1.0, formulation="symmetric", solver=solver, solver_options=options)


@pytest.mark.parametrize("solver", ["glop", "ortools-pdlp", "cvxpy", "clarabel"])
def test_lp_only_backend_refuses_exact_and_names_the_mip_backends(solver):
    problem = random_problem(n=5, c=2, B=2, c_max=1, lam=1.0, seed=0)
    with pytest.raises(ValueError, match=r"LP relaxations only.*'highs', 'gurobi', 'scip'"):
        alsel.select(problem.G, problem.R, 2, 1, 1.0, solver=solver, formulation="exact")


def test_time_limited_first_order_solve_is_never_optimal():
    usable("ortools-pdlp")
    problem = random_problem(n=30, c=5, B=12, c_max=3, lam=1.0, seed=0)
    lp = alsel.build_lp(problem, "symmetric")
    solution = solvers.solve(lp, "ortools-pdlp", {"iteration_limit": 3, "tol": 1e-8})
    assert solution.status == "iteration_limit"
    assert not alsel.certify(lp, solution.x, solution.row_dual).within(1e-8)


def test_ortools_pdlp_stops_where_alsels_certificate_agrees():
    """Its gap is taken on the corrected dual objective, alsel's bound: with OR-Tools' default
    (bounded columns' reduced costs counted as residuals) this answer stops "optimal" at a
    certified gap of 5.4e-3."""
    usable("ortools-pdlp")
    lp = alsel.build_lp(synthetic.random_problem(100, 19, 16, 5, 1.0, seed=0), "symmetric")
    solution = solvers.solve(lp, "ortools-pdlp", {"tol": 1e-4})
    assert solution.status == "optimal"
    assert alsel.certify(lp, solution.x, solution.row_dual).within(2e-4)


@pytest.mark.parametrize("seed", range(8))
def test_clarabel_reads_every_kind_of_row_and_column(seed):
    """Equality, one-sided and ranged rows, free, half-bounded and boxed columns: each becomes a
    cone row of Clarabel's standard form, and its dual comes back with alsel's sign."""
    usable("clarabel")
    lp = general_lp(seed)
    reference = solvers.solve(lp, "highs")
    solution = solvers.solve(lp, "clarabel")
    assert solution.status == "optimal"
    assert close(solution.objective, reference.objective, 1e-7)
    assert alsel.certify(lp, solution.x, solution.row_dual).within(1e-7)


def test_clarabel_reports_infeasible_and_unbounded_lps():
    usable("clarabel")
    infeasible = tiny_lp([1, 1], [[1, 1], [1, -1]], [3, -np.inf], [np.inf, 0.5], [0, 0], [1, 1])
    unbounded = tiny_lp([-1, 0], [[1, -1]], [-np.inf], [1], [0, 0], [np.inf, np.inf])
    assert solvers.solve(infeasible, "clarabel").status == "infeasible"
    assert solvers.solve(unbounded, "clarabel").status == "unbounded"


def test_clarabel_stopped_by_its_iteration_limit_is_never_optimal():
    usable("clarabel")
    lp = alsel.build_lp(random_problem(n=30, c=5, B=12, c_max=3, lam=1.0, seed=0), "symmetric")
    solution = solvers.solve(lp, "clarabel", {"iteration_limit": 2})
    assert solution.status == "iteration_limit" and solution.iterations == 2
    assert not alsel.certify(lp, solution.x, solution.row_dual).within(1e-7)


@pytest.fixture
def toy_plugin(monkeypatch):
    entry = EntryPoint(name="toy-linprog", value="toy_backend:ToyLinprogBackend", group="alsel.solvers")
    broken = EntryPoint(name="broken", value="no_such_module:Backend", group="alsel.solvers")
    monkeypatch.setattr(solvers, "entry_points", lambda group: [entry, broken])
    solvers._plugins.cache_clear()
    solvers._plugin_errors.clear()
    yield
    solvers._plugins.cache_clear()
    solvers._plugin_errors.clear()


def test_entry_point_backend_is_registered_and_verified(toy_plugin):
    reasons = solvers.available()
    assert reasons["toy-linprog"] is None
    assert "failed to load" in reasons["broken"]
    problem = random_problem(n=12, c=3, B=6, c_max=2, lam=1.0, seed=2)
    selection = alsel.select(problem.G, problem.R, 6, 2, 1.0, formulation="symmetric", solver="toy-linprog")
    reference = alsel.select(problem.G, problem.R, 6, 2, 1.0, formulation="symmetric")
    assert close(selection.relaxation_value, reference.relaxation_value, 1e-7)
    assert selection.certificate.within(1e-7)
    with pytest.raises(alsel.SolverUnavailable, match="failed to load"):
        alsel.select(problem.G, problem.R, 6, 2, 1.0, formulation="symmetric", solver="broken")
