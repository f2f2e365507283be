"""alsel's PDLP closes the residual of an LP's densest equality rows (a selection LP's budget)
on each candidate before judging it (alsel/solvers/pdlp/repair.py)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from conftest import general_lp, random_problem, tiny_lp
from hypothesis import given, settings
from hypothesis import strategies as st

import alsel
from alsel import solvers, synthetic
from alsel.solvers.pdlp.arrays import context
from alsel.solvers.pdlp.repair import MAX_ROWS, EqualityRepair

CPU = context("cpu", "float64")


def _violation(lp, x, Ax):
    rows = np.maximum(lp.row_lower - Ax, 0) + np.maximum(Ax - lp.row_upper, 0)
    cols = np.maximum(lp.col_lower - x, 0) + np.maximum(x - lp.col_upper, 0)
    return rows, cols


def _point_in_the_box(lp, rng):
    x = rng.normal(size=lp.num_cols)
    return np.clip(x, lp.col_lower, lp.col_upper)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10_000), m=st.integers(2, 14), n=st.integers(2, 16))
def test_repair_closes_no_row_by_opening_another(seed, m, n):
    """Whatever it moves, no row or column bound is violated more than before, the repaired
    rows' residuals do not grow, and A x' is carried exactly."""
    lp = general_lp(seed, m, n)
    repair = EqualityRepair.of(lp)
    if repair is None:
        return
    x = _point_in_the_box(lp, np.random.default_rng(seed))
    Ax = lp.A @ x
    fixed = repair.attempt(CPU, x, Ax)
    if fixed is None:
        return
    x_new, Ax_new = fixed
    np.testing.assert_allclose(Ax_new, lp.A @ x_new, atol=1e-9)
    rows_before, cols_before = _violation(lp, x, Ax)
    rows_after, cols_after = _violation(lp, x_new, Ax_new)
    assert np.all(cols_after <= cols_before + 1e-9)
    repaired = [row.row for row in repair.rows]
    others = np.setdiff1d(np.arange(lp.num_rows), repaired)
    assert np.all(rows_after[others] <= rows_before[others] + 1e-9)
    # rows are repaired in turn, so a later one may move a column an earlier one moved: each
    # repaired row is at least no worse than before
    assert np.all(rows_after[repaired] <= rows_before[repaired] + 1e-9)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(1, 12))
def test_one_row_repair_is_the_least_cost_monotone_repair(seed, n):
    """With no other row, the repair is the fractional knapsack: no cheaper change of x closes
    the row while moving every column toward closing it (HiGHS on that LP)."""
    rng = np.random.default_rng(seed)
    a = rng.choice([-1, 1], n) * rng.uniform(0.2, 2.0, n)
    c = rng.normal(size=n)
    lo, up = -rng.uniform(0, 2, n), rng.uniform(0, 2, n)
    x = rng.uniform(lo, up)
    target = float(a @ x + rng.normal(scale=2.0))
    lp = tiny_lp(c, [a], [target], [target], lo, up)
    fixed = EqualityRepair.of(lp).attempt(CPU, x, lp.A @ x)
    assert fixed is not None
    step = fixed[0] - x
    delta = target - a @ x
    direction = np.sign(delta) * np.sign(a)
    room = np.where(direction > 0, up - x, x - lo)
    # the same question for HiGHS: min c't s.t. a'(direction * t) = achievable, 0 <= t <= room
    achievable = np.sign(delta) * min(abs(delta), float(np.abs(a) @ room))
    reference = solvers.solve(tiny_lp(c * direction, [a * direction], [achievable], [achievable],
                                      np.zeros(n), room), "highs", {})
    assert reference.status == "optimal"
    assert a @ step == pytest.approx(achievable, abs=1e-9)
    assert np.all(direction * step >= -1e-12)
    assert c @ step == pytest.approx(reference.objective, abs=1e-8)


def test_only_the_densest_equality_rows_are_chosen():
    lp = general_lp(3, m=30, n=20)
    A = sp.csr_array(lp.A)
    equal = np.flatnonzero(lp.row_lower == lp.row_upper)
    sizes = np.diff(A.indptr)
    chosen = [row.row for row in EqualityRepair.of(lp).rows]
    assert len(chosen) == min(MAX_ROWS, equal.size)
    assert set(chosen) <= set(equal)
    assert min(sizes[chosen]) >= max(np.delete(sizes, chosen)[np.isin(np.delete(np.arange(30), chosen), equal)],
                                     default=0)


def test_an_lp_without_equality_rows_has_no_repair():
    lp = tiny_lp([1.0, 1.0], [[1.0, 1.0]], [1.0], [np.inf], [0.0, 0.0], [1.0, 1.0])
    assert EqualityRepair.of(lp) is None


@pytest.mark.parametrize("seed", [0, 1])
def test_pdlp_stops_on_the_closed_budget_row_sooner_and_certified(seed):
    """The paper's setting (min-max G, C = 19, B = N/6), where the budget row is the tail."""
    problem = synthetic.random_problem(60, 19, B=10, C_max=5, seed=seed)
    lp = alsel.build_lp(problem, "symmetric")
    budget = lp.row_blocks["budget"]
    plain = solvers.solve(lp, "pdlp", {"tol": 1e-4, "repair": False})
    closed = solvers.solve(lp, "pdlp", {"tol": 1e-4})
    assert not plain.info["repaired"]
    assert closed.status == plain.status == "optimal"
    assert closed.info["repaired"]
    assert alsel.certify(lp, closed.x, closed.row_dual).kkt_error <= 1e-4
    assert (lp.A @ closed.x)[budget] == pytest.approx(problem.B, abs=1e-9)
    assert closed.iterations < plain.iterations
    reference = solvers.solve(lp, "highs", {})
    assert abs(closed.objective - reference.objective) <= 1e-4 * (1 + abs(reference.objective))


def _start_off_only_in_its_budget():
    """A selection LP's optimum (HiGHS) with its queries scaled by 1 - 1e-3: it misses tol on
    the budget row alone."""
    problem = random_problem(n=40, c=6, B=20, c_max=3, lam=1.0, seed=1)
    lp = alsel.build_lp(problem, "symmetric")
    optimum = solvers.solve(lp, "highs", {})
    x = optimum.x.copy()
    x[lp.index.m] *= 1 - 1e-3
    return problem, lp, x, optimum.row_dual


@pytest.mark.parametrize("algorithm", ["adaptive", "halpern"])
def test_a_start_off_only_in_its_budget_is_closed_before_the_first_step(algorithm):
    """Closing the budget row certifies it, so the warm solve takes no step."""
    problem, lp, x, y = _start_off_only_in_its_budget()
    assert alsel.certify(lp, x, y).primal_residual > 1e-5
    warm = solvers.solve(lp, "pdlp", {"algorithm": algorithm, "tol": 1e-5, "warm_start": (x, y)})
    assert warm.status == "optimal" and warm.iterations == 0 and warm.info["repaired"]
    assert alsel.certify(lp, warm.x, warm.row_dual).kkt_error <= 1e-5
    assert warm.x[lp.index.m].sum() == pytest.approx(problem.B, abs=1e-9)


def test_the_repair_runs_on_the_device_code_path(device_code_path):
    """The same start through a module that is not numpy itself (as CuPy is)."""
    problem, lp, x, y = _start_off_only_in_its_budget()
    warm = solvers.solve(lp, "pdlp", {"tol": 1e-5, "warm_start": (x, y)})
    assert warm.iterations == 0 and warm.info["repaired"]
    assert warm.x[lp.index.m].sum() == pytest.approx(problem.B, abs=1e-9)
