"""alsel.bounds: the simplex bound's minimization against a reference QP solve, and a case where
the bound is exact."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.optimize import minimize

import alsel
from alsel import bounds


def _simplex_qp_minimum(R: np.ndarray) -> float:
    """min over the unit simplex of w'Rw by SLSQP (small n): the reference."""
    n = R.shape[0]
    result = minimize(lambda w: w @ R @ w, np.full(n, 1.0 / n), jac=lambda w: 2.0 * R @ w, method="SLSQP",
                      bounds=[(0.0, 1.0)] * n, constraints=[{"type": "eq", "fun": lambda w: w.sum() - 1.0}],
                      options={"ftol": 1e-15, "maxiter": 1000})
    assert result.success
    return float(result.fun)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("storage", ["dense", "sparse"])
def test_simplex_minimum_is_a_bound_within_its_gap(seed, storage):
    """Pairwise Frank-Wolfe's bound on min_simplex w'Rw: below the minimum, and within the
    relative gap asked of it (PSD R, so mu = 0), on dense R and on sparse R."""
    rng = np.random.default_rng(seed)
    n = 40
    if storage == "dense":
        features = rng.normal(size=(n, 6))
        R = features @ features.T / 6 + np.diag(rng.uniform(0.1, 1.0, n))
    else:  # diagonally dominant, hence PSD
        off = sp.random(n, n, density=0.1, random_state=rng).toarray()
        off = (off + off.T) / 2
        R = off + np.diag(off.sum(axis=1) + rng.uniform(0.1, 1.0, n))
    reference = _simplex_qp_minimum(R)
    rho = bounds._simplex_minimum(R if storage == "dense" else sp.csr_array(R), mu=0.0, rel_gap=1e-6)
    assert rho <= reference + 1e-9
    assert rho >= reference - 2e-6 * abs(reference)


def test_simplex_bound_is_exact_where_R_is_constant():
    """R = a 11': v'Rv = a s^2 for every selection of s images, and w'Rw = a on the whole
    simplex: the bound must come out at a s_min^2."""
    n, c = 12, 3
    problem = alsel.SelectionProblem(np.zeros((c, n)), np.full((n, n), 0.5), B=6, C_max=2, lam=1.0)
    s_min = 3  # ceil(B / min(C, C_max))
    assert bounds.simplex_bound(problem) == pytest.approx(0.5 * s_min**2, rel=1e-6)


def _low_rank_R(n: int, seed: int, mapping: str = "minmax") -> np.ndarray:
    """A cosine R of 6-dimensional features, min-max or affinely mapped: PSD of rank <= 7."""
    features = np.random.default_rng(seed).normal(size=(n, 6))
    return alsel.scores.redundancy(features, mapping=mapping)


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("mapping", ["minmax", "affine"])
def test_working_set_simplex_minimum_is_a_bound_within_its_gap(monkeypatch, seed, mapping):
    """Above WHOLE_SIMPLEX_N the minimization runs on a working set of vertices: its bound must
    stay below the minimum (SLSQP on all of R) and within the relative gap asked."""
    monkeypatch.setattr(bounds, "WHOLE_SIMPLEX_N", 10)
    monkeypatch.setattr(bounds, "SUPPORT_GROW", 8)
    R = _low_rank_R(60, seed, mapping)
    reference = _simplex_qp_minimum(R)
    rho = bounds._simplex_minimum(R, mu=1e-9, rel_gap=1e-6)
    assert rho <= reference + 1e-9
    assert rho >= reference - 2e-6 * abs(reference)


def test_face_minimizer_reaches_the_minimum_on_the_face():
    """The active-set solve on a small PSD block: w on the simplex, f(w) at the SLSQP minimum."""
    R = _low_rank_R(30, 4)
    w = bounds._face_minimizer(R, 0.0)
    assert w.min() >= 0 and w.sum() == pytest.approx(1.0)
    assert w @ R @ w == pytest.approx(_simplex_qp_minimum(R), abs=1e-8)


@pytest.mark.parametrize("mapping", ["minmax", "affine"])
def test_shifted_lanczos_eigenvalue_is_below_lambda_min(mapping):
    """lambda_min of a low-rank PSD R (N - 7 eigenvalues at 0) at N = 800 (Lanczos path):
    at or below the exact value, by no more than its margin."""
    R = _low_rank_R(800, 1, mapping)
    exact = float(np.linalg.eigvalsh(R)[0])
    estimate = bounds._smallest_eigenvalue(R)
    assert estimate <= exact
    assert estimate >= exact - 1e-4


@pytest.mark.parametrize("storage", ["dense", "sparse"])
@pytest.mark.parametrize("B", [12, 60])
def test_lower_bound_skips_only_what_cannot_win(storage, B):
    """The bound with a redundancy bound skipped by its cheap upper bound equals the maximum of
    both computed in full, and each cheap upper bound is above its bound."""
    rng = np.random.default_rng(B)
    features = rng.normal(size=(700, 5))
    R = alsel.scores.redundancy(features, knn=6) if storage == "sparse" else alsel.scores.redundancy(features)
    problem = alsel.SelectionProblem(rng.random((4, 700)), R, B=B, C_max=2, lam=1.0)
    totals = bounds._row_totals(problem.R)
    entries, simplex = bounds.entries_bound(problem), bounds.simplex_bound(problem)
    assert bounds._entries_upper(problem, totals) >= entries - 1e-9
    assert bounds._simplex_upper(problem, totals) >= simplex - 1e-9
    value, _ = bounds.lower_bound(problem)
    assert value == pytest.approx(bounds.uncertainty_bound(problem) + max(entries, simplex), rel=1e-9)
