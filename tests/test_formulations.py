"""The vectorized LP builder against a loop-based reference, and the reformulations' exactness."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import brute_force, naive_lp, random_problem, tiny_problems
from hypothesis import given, settings

import alsel
from alsel import solvers


@pytest.mark.parametrize("formulation", ["paper", "symmetric"])
@given(problem=tiny_problems(max_images=6, max_classes=4))
def test_builder_equals_naive_loops(formulation, problem):
    lp = alsel.build_lp(problem, formulation)
    reference = naive_lp(problem, formulation)
    np.testing.assert_array_equal(lp.A.toarray(), reference["A"])
    for name in ("c", "row_lower", "row_upper", "col_lower", "col_upper"):
        np.testing.assert_array_equal(getattr(lp, name), reference[name], err_msg=name)
    assert lp.integrality is None


@pytest.mark.parametrize("formulation", ["paper", "symmetric", "exact"])
def test_csr_is_canonical_and_index_maps_are_consistent(formulation):
    problem = random_problem(n=9, c=4, B=6, c_max=2, lam=1.0, seed=1)
    lp = alsel.build_lp(problem, formulation)
    canonical = lp.A.copy()
    canonical.has_sorted_indices = False
    canonical.sort_indices()
    canonical.sum_duplicates()
    np.testing.assert_array_equal(canonical.indices, lp.A.indices)
    assert canonical.nnz == lp.nnz
    index = lp.index
    n, c = problem.n_images, problem.n_classes
    assert (index.m.start, index.m.stop, index.v.stop) == (0, n * c, n * c + n)
    assert index.z.stop == lp.num_cols == n * c + n + len(index.pair_i)
    # each z column's cost is lam * r of the pair it stands for
    z_cost = lp.c[index.z]
    i, j = index.pair_i, index.pair_j
    expected = problem.R[i, j] + np.where(i == j, 0.0, problem.R[j, i])
    if formulation == "paper":
        expected = problem.R[i, j]
    np.testing.assert_allclose(z_cost, problem.lam * expected)
    # M_of inverts vec(M): G's costs come back in image-major layout
    np.testing.assert_array_equal(index.M_of(lp.c), problem.G.T)
    assert sum(s.stop - s.start for s in lp.row_blocks.values()) == lp.num_rows


def test_sizes_at_paper_scale_formula():
    n, c = 1200, 19
    problem = alsel.SelectionProblem(np.ones((c, n)), np.zeros((n, n)), 200, 5, 1.0)
    paper = alsel.build_lp(problem, "paper")
    symmetric = alsel.build_lp(problem, "symmetric")
    assert paper.num_rows == 1 + n + n * c + n * n == 1_464_001
    assert paper.num_cols == n * c + n + n * n == 1_464_000
    assert paper.nnz == n * c + n * c + 2 * n * c + 2 * n + 3 * n * (n - 1)
    assert symmetric.num_cols == n * c + n + n * (n + 1) // 2
    assert symmetric.nnz < 0.52 * paper.nnz


def _relaxation_value(problem, formulation):
    lp = alsel.build_lp(problem, formulation)
    solution = solvers.solve(lp, "highs")
    assert solution.status == "optimal"
    return solution.objective, lp.dual_bound(solution.row_dual)


@settings(max_examples=150)
@given(problem=tiny_problems(max_images=5, max_classes=3))
def test_symmetric_equals_paper_and_bounds_the_integral_optimum(problem):
    paper, paper_bound = _relaxation_value(problem, "paper")
    symmetric, symmetric_bound = _relaxation_value(problem, "symmetric")
    optimum, _ = brute_force(problem)
    assert symmetric == pytest.approx(paper, abs=1e-7)
    assert paper_bound <= optimum + 1e-9
    assert symmetric_bound <= optimum + 1e-9
    assert paper_bound == pytest.approx(paper, abs=1e-6)


@pytest.mark.parametrize("seed", range(3))
def test_symmetric_equals_paper_on_larger_instances(seed):
    problem = random_problem(n=30, c=6, B=12, c_max=3, lam=1.0, seed=seed)
    paper, _ = _relaxation_value(problem, "paper")
    symmetric, _ = _relaxation_value(problem, "symmetric")
    assert symmetric == pytest.approx(paper, rel=1e-7, abs=1e-8)


def test_unknown_formulation_lists_the_valid_ones():
    problem = random_problem(n=4, c=2, B=2, c_max=1, lam=1.0, seed=0)
    with pytest.raises(ValueError, match="unknown formulation 'dense'.*'paper'.*'symmetric'"):
        alsel.build_lp(problem, "dense")
    with pytest.raises(TypeError, match="SelectionProblem"):
        alsel.build_lp(np.zeros((2, 2)), "paper")
