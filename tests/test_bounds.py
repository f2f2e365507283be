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
