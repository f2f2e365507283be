"""The integral problem: "exact" (McCormick, exact diagonal, valid cuts; z continuous) and
"exact-literal" (Eq. 8 with every variable binary) both attain the optimum of Eq. 4."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from conftest import as_sparse, brute_force, random_problem, tiny_problems
from hypothesis import given, settings

import alsel
from alsel import solvers

PROVE = {"mip_rel_gap": 0.0}


@settings(max_examples=300)
@given(problem=tiny_problems(max_images=5, max_classes=3))
def test_exact_equals_brute_force(problem):
    optimum, _ = brute_force(problem)
    selection = alsel.select(
        problem.G, problem.R, problem.B, problem.C_max, problem.lam,
        formulation="exact", solver_options=PROVE,
    )
    assert selection.status == "optimal"
    assert selection.objective == pytest.approx(optimum, abs=1e-7)
    assert selection.lower_bound <= selection.objective + 1e-7
    assert selection.lower_bound == pytest.approx(optimum, abs=1e-6)
    assert selection.rounding == "none" and selection.relaxed_M is None


@settings(max_examples=60)
@given(problem=tiny_problems(max_images=5, max_classes=3))
def test_exact_literal_and_exact_on_a_sparse_R_equal_brute_force(problem):
    optimum, _ = brute_force(problem)
    literal = alsel.select(problem.G, problem.R, problem.B, problem.C_max, problem.lam,
                           formulation="exact-literal", solver_options=PROVE)
    sparse = as_sparse(problem)
    on_sparse = alsel.select(sparse.G, sparse.R, sparse.B, sparse.C_max, sparse.lam,
                             formulation="exact", solver_options=PROVE)
    assert literal.status == on_sparse.status == "optimal"
    assert literal.objective == pytest.approx(optimum, abs=1e-7)
    assert on_sparse.objective == pytest.approx(optimum, abs=1e-7)
    assert literal.formulation == "exact-literal" and literal.rounding == "none"


@pytest.mark.parametrize("seed", range(4))
def test_exact_equals_exact_literal_beyond_brute_force(seed):
    problem = random_problem(n=14, c=4, B=9, c_max=2, lam=1.5, seed=seed)
    exact, literal = (
        solvers.solve(alsel.build_lp(problem, name), "highs", PROVE) for name in ("exact", "exact-literal")
    )
    assert exact.status == literal.status == "optimal"
    assert exact.objective == pytest.approx(literal.objective, rel=1e-9, abs=1e-9)
    lp = alsel.build_lp(problem, "exact")
    M = lp.index.M_of(exact.x) > 0.5
    assert problem.objective(M) == pytest.approx(exact.objective, abs=1e-7)
    # z continuous, yet it is v_i v_j at the optimum
    v = lp.index.v_of(exact.x)
    np.testing.assert_allclose(lp.index.z_of(exact.x), v[lp.index.pair_i] * v[lp.index.pair_j], atol=1e-6)


def test_valid_cuts_tighten_the_relaxation_without_cutting_the_optimum():
    problem = random_problem(n=14, c=4, B=9, c_max=2, lam=1.5, seed=0)
    relaxed = {}
    for name in ("exact", "mccormick", "symmetric"):
        lp = alsel.build_lp(problem, name)
        relaxed[name] = solvers.solve(dataclasses.replace(lp, integrality=None), "highs").objective
    optimum = solvers.solve(alsel.build_lp(problem, "exact"), "highs", PROVE).objective
    assert relaxed["symmetric"] < relaxed["mccormick"] < relaxed["exact"] <= optimum + 1e-9


def test_relaxation_bound_is_below_exact_optimum():
    problem = random_problem(n=8, c=3, B=6, c_max=2, lam=2.0, seed=4)
    exact = alsel.select(problem.G, problem.R, 6, 2, 2.0, formulation="exact")
    relaxed = alsel.select(problem.G, problem.R, 6, 2, 2.0, formulation="symmetric")
    assert relaxed.lower_bound <= exact.objective + 1e-9
    assert relaxed.objective >= exact.objective - 1e-9  # no rounding beats the optimum
