"""LinearProgram helpers: the weak-duality bound holds for any dual vector."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import random_problem
from hypothesis import given
from hypothesis import strategies as st

import alsel
from alsel import solvers


@pytest.fixture(scope="module")
def solved():
    problem = random_problem(n=12, c=4, B=8, c_max=2, lam=1.5, seed=2)
    lp = alsel.build_lp(problem, "symmetric")
    solution = solvers.solve(lp, "highs")
    return lp, solution


def test_bound_at_the_optimal_duals_equals_the_optimum(solved):
    lp, solution = solved
    assert lp.dual_bound(solution.row_dual) == pytest.approx(solution.objective, abs=1e-7)
    assert lp.objective_value(solution.x) == pytest.approx(solution.objective, abs=1e-9)


@given(seed=st.integers(0, 10_000), scale=st.sampled_from([1e-3, 1.0, 100.0]))
def test_any_dual_vector_gives_a_valid_bound(solved, seed, scale):
    lp, solution = solved
    y = np.random.default_rng(seed).normal(scale=scale, size=lp.num_rows)
    assert lp.dual_bound(y) <= solution.objective + 1e-9
    perturbed = solution.row_dual + np.random.default_rng(seed).normal(scale=1e-3, size=lp.num_rows)
    assert lp.dual_bound(perturbed) <= solution.objective + 1e-9


def test_dual_bound_checks_shape(solved):
    lp, _ = solved
    with pytest.raises(ValueError, match="y must have shape"):
        lp.dual_bound(np.zeros(3))
