"""SelectionProblem: validation of every argument, and Eq. 4's objective."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

import alsel

N, C = 6, 3


def good(**overrides):
    rng = np.random.default_rng(0)
    F = rng.random((N, 3))
    args = {"G": rng.random((C, N)), "R": F @ F.T, "B": 4, "C_max": 2, "lam": 1.0}
    args.update(overrides)
    return args


def make(**overrides):
    return alsel.SelectionProblem(**good(**overrides))


def test_valid_problem_is_stored_read_only():
    problem = make()
    assert (problem.n_images, problem.n_classes, problem.max_budget) == (N, C, N * 2)
    with pytest.raises(ValueError):
        problem.G[0, 0] = 1.0


@pytest.mark.parametrize(
    "overrides, error, pattern",
    [
        ({"G": np.zeros((N, C))}, ValueError, r"images-first.*Pass G\.T"),
        ({"G": np.zeros((C, N + 1))}, ValueError, r"must be \(C, N\) with N = 6"),
        ({"G": np.zeros(C * N)}, ValueError, "G must be 2-dimensional"),
        ({"R": np.zeros((N, N + 1))}, ValueError, "R must be square"),
        ({"G": np.full((C, N), np.nan)}, ValueError, "G has 18 NaN or infinite"),
        ({"R": np.full((N, N), np.inf)}, ValueError, "R has 36 NaN or infinite"),
        ({"R": -np.ones((N, N))}, ValueError, r"negative entries.*alsel\.scores\.redundancy"),
        ({"R": np.triu(np.ones((N, N)))}, ValueError, r"symmetric.*\(R \+ R\.T\) / 2"),
        ({"B": 0}, ValueError, "B must be >= 1"),
        ({"B": -3}, ValueError, "B must be >= 1"),
        ({"B": 2.5}, ValueError, "B must be a whole number"),
        ({"B": "4"}, TypeError, "B must be an integer"),
        ({"B": True}, TypeError, "B must be an integer"),
        ({"B": N * 2 + 1}, ValueError, r"B = 13 is infeasible.*largest budget.*B <= 12"),
        ({"C_max": 0}, ValueError, "C_max must be >= 1"),
        ({"lam": -0.1}, ValueError, "lam must be >= 0"),
        ({"lam": float("nan")}, ValueError, "lam must be finite"),
        ({"lam": "1"}, TypeError, "lam must be a real number"),
        ({"G": [["a"] * N] * C}, TypeError, "G must hold real numbers"),
        ({"G": np.zeros((0, N))}, ValueError, "G is empty"),
    ],
)
def test_bad_input_names_the_argument_and_the_fix(overrides, error, pattern):
    with pytest.raises(error, match=pattern):
        make(**overrides)


def test_sparse_R_is_accepted_canonical_and_read_only():
    dense = good()["R"]
    dense[dense < np.median(dense)] = 0.0
    problem = make(R=sp.coo_matrix(dense))
    assert problem.R_is_sparse and isinstance(problem.R, sp.csr_array)
    assert problem.R.has_sorted_indices and (problem.R.data != 0).all()
    np.testing.assert_array_equal(problem.R.toarray(), dense)
    with pytest.raises(ValueError):
        problem.R.data[0] = 5.0
    M = np.zeros((N, C), dtype=bool)
    M[[0, 2, 3, 5], [0, 1, 2, 0]] = True
    assert problem.objective_terms(M) == pytest.approx(make(R=dense).objective_terms(M))


@pytest.mark.parametrize(
    "R, error, pattern",
    [
        (sp.csr_array(np.triu(np.ones((N, N)))), ValueError, r"symmetric.*\(R \+ R\.T\) / 2"),
        (sp.csr_array(-np.eye(N)), ValueError, r"negative entries.*alsel\.scores\.redundancy"),
        (sp.csr_array((N, N + 1)), ValueError, "R must be square"),
        (sp.csr_array(np.diag([np.nan] + [1.0] * (N - 1))), ValueError, "1 NaN or infinite"),
        (sp.csr_array(np.eye(N, dtype=bool)), TypeError, "R must hold real numbers"),
        (sp.csr_array((0, 0)), ValueError, "R is empty"),
    ],
)
def test_bad_sparse_R_names_the_fix(R, error, pattern):
    with pytest.raises(error, match=pattern):
        make(R=R)


def test_tiny_asymmetry_within_tolerance_is_accepted():
    R = good()["R"].copy()
    R[0, 1] += 1e-12
    make(R=R)


def test_integral_float_budget_is_accepted():
    assert make(B=4.0).B == 4


def test_objective_is_eq4():
    problem = make(lam=2.0)
    M = np.zeros((N, C), dtype=bool)
    M[1, [0, 2]] = True
    M[4, 1] = True
    uncertainty = problem.G[0, 1] + problem.G[2, 1] + problem.G[1, 4]
    v = np.array([0, 1, 0, 0, 1, 0], dtype=float)
    redundancy = v @ problem.R @ v  # includes r_11 and r_44: v_i^2 = v_i
    assert problem.objective_terms(M) == pytest.approx((uncertainty, redundancy))
    assert problem.objective(M) == pytest.approx(uncertainty + 2.0 * redundancy)
    assert problem.objective(M.astype(int)) == problem.objective(M)


def test_objective_rejects_bad_M():
    problem = make()
    with pytest.raises(ValueError, match=r"M must have shape \(N, C\)"):
        problem.objective(np.zeros((C, N)))
    with pytest.raises(ValueError, match="M must be binary"):
        problem.objective(np.full((N, C), 0.5))


def test_feasibility():
    problem = make()
    M = np.zeros((N, C), dtype=bool)
    M[0, :2] = M[1, :2] = True
    assert problem.is_feasible(M)
    M[1, 2] = True
    assert not problem.is_feasible(M)
