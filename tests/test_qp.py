"""Formulation "qp": the convex QP relaxation, its solvers, its lower bound and its certificate."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from conftest import as_sparse, brute_force, tiny_problems
from hypothesis import given, settings

import alsel
from alsel import scores, solvers
from alsel.formulations import qp

QP_BACKENDS = [name for name in ("highs", "cvxpy", "clarabel", "gurobi") if solvers.available().get(name) is None]


def psd_problem(n: int = 12, c: int = 4, B: int = 6, c_max: int = 2, lam: float = 1.0, seed: int = 0):
    rng = np.random.default_rng(seed)
    R = scores.redundancy(rng.normal(size=(n, 3)), mapping="affine")
    return alsel.SelectionProblem(rng.random((c, n)), R, B, c_max, lam)


def test_hessian_is_2_lam_R_on_the_v_block_and_the_objective_is_eq4_on_binaries():
    problem = psd_problem(lam=1.5)
    lp = alsel.build_lp(problem, "qp")
    n, c = problem.n_images, problem.n_classes
    assert lp.is_qp and lp.num_cols == n * c + n and lp.index.z.stop == lp.num_cols
    Q = lp.hessian.toarray()
    np.testing.assert_allclose(Q[n * c :, n * c :], 3.0 * problem.R)
    assert not Q[: n * c].any() and not Q[:, : n * c].any()
    M = np.zeros((n, c), dtype=bool)
    M[[0, 0, 3, 5, 7, 9], [0, 1, 2, 3, 0, 1]] = True
    x = np.concatenate([M.ravel(), M.any(axis=1)]).astype(float)
    assert lp.objective_value(x) == pytest.approx(problem.objective(M))


@pytest.mark.parametrize("backend", QP_BACKENDS)
@settings(max_examples=20)
@given(problem=tiny_problems(max_images=5, max_classes=3))
def test_qp_bounds_the_integral_optimum_and_its_bound_is_proven(backend, problem):
    # R @ R is PSD and >= 0 for a symmetric R >= 0, with the zeros and ties of tiny_problems
    problem = alsel.SelectionProblem(problem.G, problem.R @ problem.R, problem.B, problem.C_max,
                                     problem.lam)
    lp = alsel.build_lp(problem, "qp")
    solution = solvers.solve(lp, backend)
    assert solution.status == "optimal"
    bound = lp.dual_bound(solution.row_dual, x=solution.x)
    optimum, _ = brute_force(problem)
    reference = solvers.solve(lp, "highs").objective
    assert bound <= reference + 1e-7  # a lower bound on the QP ...
    assert reference <= optimum + 1e-7  # ... which bounds Eq. 4
    assert bound == pytest.approx(reference, abs=1e-5)  # and is tight at an optimum
    assert alsel.certify(lp, solution.x, solution.row_dual).within(1e-5)


def test_highs_and_cvxpy_agree_on_a_larger_qp_sparse_or_dense():
    problem = psd_problem(n=40, c=6, B=12, c_max=3, seed=1)
    values = [solvers.solve(alsel.build_lp(p, "qp"), backend).objective
              for p in (problem, as_sparse(problem)) for backend in ("highs", "cvxpy")]
    np.testing.assert_allclose(values, values[0], rtol=1e-6)


def test_bound_holds_at_any_point_and_any_duals():
    """The linearization bound needs neither an optimal x nor optimal y (convexity only)."""
    problem = psd_problem(n=10, c=3, B=5, c_max=2, seed=2)
    lp = alsel.build_lp(problem, "qp")
    optimum = solvers.solve(lp, "highs").objective
    rng = np.random.default_rng(0)
    for _ in range(20):
        x, y = rng.random(lp.num_cols), rng.normal(size=lp.num_rows)
        assert lp.dual_bound(y, x=x) <= optimum + 1e-9


def indefinite_R(n: int, eps: float) -> np.ndarray:
    """J - eps (I - J/n): entries >= 0, eigenvalues n (once) and -eps."""
    return np.ones((n, n)) - eps * (np.eye(n) - np.ones((n, n)) / n)


def test_curvature_allowance_keeps_the_bound_valid_for_a_slightly_indefinite_R():
    n, rng = 10, np.random.default_rng(3)
    problem = alsel.SelectionProblem(rng.random((3, n)), indefinite_R(n, 0.5e-9), 5, 2, 1.0)
    lp = alsel.build_lp(problem, "qp")  # within PSD_TOL = 1e-9 * max|R|: accepted
    assert lp.hessian_shift == pytest.approx(2 * 0.5e-9, rel=1e-3)
    x = np.full(lp.num_cols, 0.5)
    assert lp.curvature_allowance(x) == pytest.approx(0.5 * lp.hessian_shift * n * 0.25)
    optimum = solvers.solve(lp, "highs").objective
    for _ in range(10):
        x, y = rng.random(lp.num_cols), rng.normal(size=lp.num_rows)
        assert lp.dual_bound(y, x=x) <= optimum + 1e-9
    refused = alsel.SelectionProblem(problem.G, indefinite_R(n, 5e-9), 5, 2, 1.0)
    with pytest.raises(ValueError, match="positive semidefinite"):
        alsel.build_lp(refused, "qp")


def test_non_psd_R_is_refused_with_the_fix():
    rng = np.random.default_rng(0)
    R = scores.redundancy(rng.random(size=(12, 3)), mapping="minmax")  # smallest cosine > 0
    assert np.linalg.eigvalsh(R).min() < -1e-3
    problem = alsel.SelectionProblem(rng.random((3, 12)), R, 4, 2, 1.0)
    with pytest.raises(ValueError, match=r"'qp' needs a positive semidefinite R.*mapping='affine'"):
        alsel.build_lp(problem, "qp")
    with pytest.raises(ValueError, match="positive semidefinite"):
        alsel.select(problem.G, R, 4, 2, 1.0, formulation="qp")
    knn = scores.redundancy(rng.normal(size=(12, 3)), mapping="affine", knn=2)
    with pytest.raises(ValueError, match="positive semidefinite"):
        alsel.build_lp(alsel.SelectionProblem(problem.G, knn, 4, 2, 1.0), "qp")


def test_large_sparse_R_is_checked_with_arpack(monkeypatch):
    monkeypatch.setattr(qp, "DENSE_EIGEN_LIMIT", 5)
    problem = psd_problem(n=12, c=3, B=4, c_max=2, seed=4)
    assert qp.smallest_eigenvalue(sp.csr_array(problem.R)) == pytest.approx(
        np.linalg.eigvalsh(problem.R)[0], abs=1e-8)
    bad = sp.csr_array(np.diag(np.arange(12.0)) - 0.2 * (np.ones((12, 12)) - np.eye(12)) + 0.25)
    assert qp.smallest_eigenvalue(bad) == pytest.approx(np.linalg.eigvalsh(bad.toarray())[0], abs=1e-8)


@pytest.mark.parametrize("solver", ["glop", "pdlp", "scip", "ortools-pdlp"])
def test_lp_only_backends_refuse_a_qp_and_name_the_qp_backends(solver):
    if solvers.available().get(solver) is not None:
        pytest.skip(solvers.available()[solver])
    problem = psd_problem()
    with pytest.raises(ValueError, match=rf"solver '{solver}' does not solve QPs.*'highs'.*'cvxpy'"):
        alsel.select(problem.G, problem.R, 6, 2, 1.0, formulation="qp", solver=solver)


def test_dual_bound_of_a_qp_needs_the_point():
    lp = alsel.build_lp(psd_problem(), "qp")
    with pytest.raises(ValueError, match="pass x"):
        lp.dual_bound(np.zeros(lp.num_rows))
    with pytest.raises(ValueError, match="QP"):
        lp.dual_objective(np.zeros(lp.num_rows))


def test_highs_refuses_lp_algorithms_for_a_qp():
    problem = psd_problem()
    with pytest.raises(ValueError, match="active-set QP solver"):
        alsel.select(problem.G, problem.R, 6, 2, 1.0, formulation="qp",
                     solver_options={"algorithm": "ipm"})


def test_select_with_qp_rounds_and_reports_a_valid_bound():
    problem = psd_problem(n=8, c=3, B=5, c_max=2, seed=5)
    selection = alsel.select(problem.G, problem.R, 5, 2, 1.0, formulation="qp")
    exact = alsel.select(problem.G, problem.R, 5, 2, 1.0, formulation="exact",
                         solver_options={"mip_rel_gap": 0.0})
    assert problem.is_feasible(selection.M) and selection.formulation == "qp"
    # the QP's own certified bound is below its value; the Selection reports the best bound
    assert selection.info["relaxation_bound"] <= selection.relaxation_value + 1e-9
    assert selection.lower_bound >= selection.info["relaxation_bound"]
    assert selection.lower_bound <= exact.objective + 1e-9 <= selection.objective + 2e-9
    assert selection.certificate.within(1e-5)
    assert selection.info["lp_size"]["hessian_nnz"] == 64


def test_qp_with_lam_zero_is_an_lp():
    problem = psd_problem(lam=0.0)
    lp = alsel.build_lp(problem, "qp")
    assert not lp.is_qp
    assert solvers.solve(lp, "glop").status == "optimal"
