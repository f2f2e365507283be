"""Theorem 1: the integral LP (formulation="exact") attains the optimum of Eq. 4."""

from __future__ import annotations

import pytest
from conftest import brute_force, tiny_problems
from hypothesis import given, settings

import alsel


@settings(max_examples=300)
@given(problem=tiny_problems(max_images=5, max_classes=3))
def test_exact_equals_brute_force(problem):
    optimum, _ = brute_force(problem)
    selection = alsel.select(
        problem.G, problem.R, problem.B, problem.C_max, problem.lam,
        formulation="exact", solver_options={"mip_rel_gap": 0.0},
    )
    assert selection.status == "optimal"
    assert selection.objective == pytest.approx(optimum, abs=1e-7)
    assert selection.lower_bound <= selection.objective + 1e-7
    assert selection.lower_bound == pytest.approx(optimum, abs=1e-6)
    assert selection.rounding == "none" and selection.relaxed_M is None


def test_relaxation_bound_is_below_exact_optimum():
    from conftest import random_problem

    problem = random_problem(n=8, c=3, B=6, c_max=2, lam=2.0, seed=4)
    exact = alsel.select(problem.G, problem.R, 6, 2, 2.0, formulation="exact")
    relaxed = alsel.select(problem.G, problem.R, 6, 2, 2.0, formulation="symmetric")
    assert relaxed.lower_bound <= exact.objective + 1e-9
    assert relaxed.objective >= exact.objective - 1e-9  # no rounding beats the optimum
