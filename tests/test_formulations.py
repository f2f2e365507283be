"""The vectorized LP builder against a loop-based reference, and the reformulations' exactness."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import scipy.sparse as sp
from conftest import as_sparse, brute_force, naive_lp, random_problem, tiny_problems
from hypothesis import given, settings

import alsel
from alsel import solvers

ALL = list(alsel.FORMULATIONS)


@pytest.mark.parametrize("formulation", ["paper", "symmetric", "sparse", "mccormick", "exact"])
@given(problem=tiny_problems(max_images=6, max_classes=4))
def test_builder_equals_naive_loops(formulation, problem):
    lp = alsel.build_lp(problem, formulation)
    reference = naive_lp(problem, formulation)
    np.testing.assert_array_equal(lp.A.toarray(), reference["A"])
    for name in ("c", "row_lower", "row_upper", "col_lower", "col_upper"):
        np.testing.assert_array_equal(getattr(lp, name), reference[name], err_msg=name)
    if formulation == "exact":  # M and v integral, z continuous
        expected = np.arange(lp.num_cols) < lp.index.v.stop
        np.testing.assert_array_equal(lp.integrality, expected)
    else:
        assert lp.integrality is None


@given(problem=tiny_problems(max_images=6, max_classes=4))
def test_sparse_R_builds_the_same_lp_as_its_dense_form(problem):
    for formulation in ("sparse", "mccormick", "exact", "qp"):
        try:
            dense, sparse = (alsel.build_lp(p, formulation) for p in (problem, as_sparse(problem)))
        except ValueError as error:  # "qp" refuses an R that is not PSD, dense or sparse alike
            assert formulation == "qp" and "positive semidefinite" in str(error)
            continue
        assert (dense.A != sparse.A).nnz == 0
        np.testing.assert_array_equal(dense.c, sparse.c)
        np.testing.assert_array_equal(dense.index.pair_i, sparse.index.pair_i)
        if dense.hessian is not None:
            assert (dense.hessian != sparse.hessian).nnz == 0


@pytest.mark.parametrize("formulation", ALL)
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


def test_zero_redundancy_pairs_get_no_z():
    problem = random_problem(n=7, c=3, B=4, c_max=2, lam=1.0, seed=0)
    R = problem.R.copy()
    R[0, 1] = R[1, 0] = R[2, 2] = 0.0
    problem = alsel.SelectionProblem(problem.G, R, 4, 2, 1.0)
    for formulation in ("sparse", "mccormick", "exact"):
        index = alsel.build_lp(problem, formulation).index
        pairs = set(zip(index.pair_i.tolist(), index.pair_j.tolist()))
        assert (0, 1) not in pairs and (2, 2) not in pairs and (0, 2) in pairs
        assert len(pairs) == (21 - 1) + (7 - 1 if formulation == "sparse" else 0)


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


def test_sizes_of_the_new_formulations_at_paper_scale():
    n, c, pairs = 1200, 19, 1200 * 1199 // 2
    problem = alsel.SelectionProblem(np.ones((c, n)), np.ones((n, n)), 200, 5, 1.0)
    sizes = {f: alsel.build_lp(problem, f).size() for f in ("sparse", "mccormick", "exact", "qp")}
    assert sizes["sparse"] == alsel.build_lp(problem, "symmetric").size()
    assert sizes["mccormick"] == {"rows": 1 + n + n * c + pairs, "cols": n * c + n + pairs,
                                  "nnz": 4 * n * c + 3 * pairs}
    # exact: capacity rows carry v_i; one pair-count row per image over its N - 1 pairs
    assert sizes["exact"] == {"rows": 1 + n + n * c + pairs + n, "cols": n * c + n + pairs,
                              "nnz": 4 * n * c + n + 3 * pairs + 2 * pairs + n}
    assert sizes["qp"] == {"rows": 1 + n + n * c, "cols": n * c + n, "nnz": 4 * n * c,
                           "hessian_nnz": n * n}
    knn = alsel.SelectionProblem(np.ones((c, n)), sp.eye_array(n, format="csr")
                                 + sp.diags_array([np.ones(n - 1), np.ones(n - 1)], offsets=[1, -1]),
                                 200, 5, 1.0)
    chain = alsel.build_lp(knn, "sparse").size()  # a path graph: N diagonal, N - 1 pairs
    assert chain == {"rows": 1 + n + n * c + n + n - 1, "cols": n * c + n + n + n - 1,
                     "nnz": 4 * n * c + 2 * n + 3 * (n - 1)}


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


@settings(max_examples=100)
@given(problem=tiny_problems(max_images=5, max_classes=3))
def test_sparse_equals_symmetric_and_mccormick_is_tighter(problem):
    symmetric, _ = _relaxation_value(problem, "symmetric")
    sparse, sparse_bound = _relaxation_value(as_sparse(problem), "sparse")
    mccormick, mccormick_bound = _relaxation_value(as_sparse(problem), "mccormick")
    optimum, _ = brute_force(problem)
    assert sparse == pytest.approx(symmetric, abs=1e-7)
    assert symmetric - 1e-7 <= mccormick <= optimum + 1e-7
    assert sparse_bound <= optimum + 1e-9 and mccormick_bound <= optimum + 1e-9


def test_mccormick_pays_the_redundancy_that_symmetric_ignores():
    problem = random_problem(n=30, c=6, B=12, c_max=3, lam=1.0, seed=0)
    symmetric, _ = _relaxation_value(problem, "symmetric")
    mccormick, _ = _relaxation_value(problem, "mccormick")
    assert mccormick > symmetric + 0.1  # the exact diagonal alone costs sum r_ii v_i


@pytest.mark.parametrize("seed", range(3))
def test_sparse_equals_symmetric_integral(seed):
    problem = random_problem(n=5, c=3, B=4, c_max=2, lam=1.0, seed=seed)
    R = problem.R.copy()
    R[R < np.quantile(R, 0.4)] = 0.0  # a sparse pattern with zeros, diagonal included
    problem = alsel.SelectionProblem(problem.G, R, 4, 2, 1.0)
    values = []
    for p, formulation in ((problem, "symmetric"), (as_sparse(problem), "sparse")):
        lp = alsel.build_lp(p, formulation)
        lp = dataclasses.replace(lp, integrality=np.ones(lp.num_cols, dtype=bool))
        solution = solvers.solve(lp, "highs", {"mip_rel_gap": 0.0})
        values.append(solution.objective)
    assert values[0] == pytest.approx(values[1], abs=1e-9)
    assert values[0] == pytest.approx(brute_force(problem)[0], abs=1e-9)


@pytest.mark.parametrize("formulation", ["paper", "symmetric", "exact-literal"])
def test_dense_only_formulations_refuse_a_sparse_R(formulation):
    problem = as_sparse(random_problem(n=5, c=2, B=2, c_max=1, lam=1.0, seed=0))
    with pytest.raises(ValueError, match=rf"formulation '{formulation}'.*needs a dense R.*"
                                         r"formulation='sparse'.*R\.toarray\(\)"):
        alsel.build_lp(problem, formulation)


def test_unknown_formulation_lists_the_valid_ones():
    problem = random_problem(n=4, c=2, B=2, c_max=1, lam=1.0, seed=0)
    with pytest.raises(ValueError, match="unknown formulation 'dense'.*'paper'.*'symmetric'"):
        alsel.build_lp(problem, "dense")
    with pytest.raises(TypeError, match="SelectionProblem"):
        alsel.build_lp(np.zeros((2, 2)), "paper")
