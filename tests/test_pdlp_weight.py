"""The starting primal weight of alsel's PDLP: the dual line search it is estimated from."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from conftest import random_problem
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from conftest import general_lp

import alsel
from alsel import solvers
from alsel.solvers.pdlp.scaling import ScaledLP, scale
from alsel.solvers.pdlp.weight import dual_line_search, estimate_primal_weight


def unscaled(A, c, row_lower, row_upper, col_lower, col_upper) -> ScaledLP:
    return ScaledLP(sp.csr_array(A), np.asarray(c, float), np.asarray(row_lower, float),
                    np.asarray(row_upper, float), np.asarray(col_lower, float),
                    np.asarray(col_upper, float), scaling=None)


def lagrangian_dual(lp: ScaledLP, y: np.ndarray) -> float:
    """d(y) = sum_r (l_r y_r+ + u_r y_r-) + sum_j min over [lo_j, up_j] of (c - A'y)_j x_j."""
    rows = sum(lp.row_lower[r] * y[r] if y[r] > 0 else lp.row_upper[r] * y[r] for r in range(len(y)) if y[r] != 0)
    reduced = lp.c - lp.A.T @ y
    columns = np.where(reduced > 0, reduced * lp.col_lower, np.where(reduced < 0, reduced * lp.col_upper, 0.0))
    return float(rows + columns.sum())


def test_a_budget_row_is_priced_at_the_marginal_item():
    """min c'x s.t. sum x = B, 0 <= x <= 1 with distinct costs: LP duality prices the budget at
    the B-th cheapest cost, the B - 1 cheaper items are taken whole."""
    rng = np.random.default_rng(0)
    n, B = 40, 7
    c = rng.permutation(np.linspace(0.1, 4.0, n))
    lp = unscaled(np.ones((1, n)), c, [B], [B], np.zeros(n), np.ones(n))
    ray = dual_line_search(lp)
    marginal = np.sort(c)[B - 1]
    assert ray.t * ray.direction[0] == pytest.approx(marginal)
    assert set(np.flatnonzero(ray.x == 1)) == set(np.argsort(c)[:B - 1])
    assert estimate_primal_weight(lp) == pytest.approx(marginal / np.sqrt(B - 1))
    highs = solvers.solve(alsel.lp.LinearProgram(
        c=c, A=sp.csr_array(np.ones((1, n))), row_lower=np.array([B], float), row_upper=np.array([B], float),
        col_lower=np.zeros(n), col_upper=np.ones(n), index=general_lp(0).index, formulation="general"), "highs", {})
    assert highs.objective == pytest.approx(np.sort(c)[:B].sum())
    assert lagrangian_dual(lp, ray.t * ray.direction) == pytest.approx(highs.objective)  # the exact dual here


@st.composite
def boxed_lps_with_a_dual_ray(draw):
    """Random box-bounded LPs on which the line search applies (about a quarter of them have a
    finite maximizer). The others are skipped here, drawing again from the same seed, rather
    than by assume(): hypothesis's health check fails a test that filters out that many."""
    seed = draw(st.integers(0, 2**31 - 1))
    m, n = draw(st.integers(1, 6)), draw(st.integers(1, 8))
    rng = np.random.default_rng(seed)
    for _ in range(200):
        lp = _boxed_lp(rng, m, n)
        if dual_line_search(lp) is not None:
            return lp
    assume(False)


def _boxed_lp(rng, m: int, n: int):
    A = rng.normal(size=(m, n)) * (rng.random((m, n)) < 0.7)
    lo = -rng.random(n)
    up = rng.random(n) * 2
    lo[rng.random(n) < 0.3] = 0.0
    center = rng.normal(size=m) * 2
    width = rng.random(m)
    row_lower = np.where(rng.random(m) < 0.3, -np.inf, center - width)
    row_upper = np.where(rng.random(m) < 0.3, np.inf, center + width)
    c = rng.normal(size=n) * (rng.random(n) < 0.8)
    return unscaled(A, c, row_lower, row_upper, lo, up)


@settings(max_examples=200, deadline=None)
@given(lp=boxed_lps_with_a_dual_ray())
def test_the_line_search_maximizes_the_dual_along_its_direction(lp):
    ray = dual_line_search(lp)
    best = lagrangian_dual(lp, ray.t * ray.direction)
    for t in np.concatenate([np.linspace(0, 3 * ray.t, 61), ray.t * (1 + np.array([-1e-6, 1e-6]))]):
        assert lagrangian_dual(lp, t * ray.direction) <= best + 1e-9 * (1 + abs(best)), t
    assert best >= lagrangian_dual(lp, 0 * ray.direction) - 1e-12  # an ascent from y = 0
    reduced = lp.c - ray.t * (lp.A.T @ ray.direction)
    assert np.all(lp.col_lower <= ray.x) and np.all(ray.x <= lp.col_upper)
    # x minimizes the Lagrangian at the maximizer (up to the column whose cost is 0 there)
    assert np.sum(np.where(reduced > 1e-12, ray.x != lp.col_lower, np.where(reduced < -1e-12, ray.x != lp.col_upper, False))) == 0


def test_no_estimate_where_it_does_not_apply():
    for seed in range(6):  # free and half-bounded columns with costs: the dual is -inf at y = 0
        assert estimate_primal_weight(scale(general_lp(seed))) is None
    feasible = unscaled(np.ones((1, 3)), [1.0, 2.0, 3.0], [-1.0], [1.0], np.zeros(3), np.ones(3))
    assert estimate_primal_weight(feasible) is None  # x0 = 0 satisfies the row: nothing to price


def test_cold_and_warm_solves_start_from_the_estimate():
    lp = alsel.build_lp(random_problem(n=30, c=5, B=12, c_max=3, lam=1.0, seed=3), "symmetric")
    estimate = estimate_primal_weight(scale(lp))
    assert estimate is not None and estimate != 1.0
    cold = solvers.solve(lp, "pdlp", {"tol": 1e-4})
    assert cold.info["history"][0][3] == cold.info["initial_primal_weight"] == estimate
    assert cold.info["initial_primal_weight_from"] == "estimate"
    warm = solvers.solve(lp, "pdlp", {"tol": 1e-6, "warm_start": cold})
    assert warm.info["history"][0][3] == estimate != cold.info["primal_weight"]
    assert warm.info["initial_primal_weight_from"] == "estimate"
    general = solvers.solve(general_lp(2), "pdlp", {"tol": 1e-4})
    assert general.info["history"][0][3] == 1.0  # PDLP's default where the estimate does not apply
    assert general.info["initial_primal_weight_from"] == "default"
