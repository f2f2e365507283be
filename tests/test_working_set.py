"""The working set of images (solver_options={"working_set": True}): exact where it claims to be."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import alsel
from alsel import solvers, synthetic
from alsel.solvers import working_set

from conftest import as_sparse, random_problem
from toy_backend import ToyLinprogBackend


def agree(value: float, reference: float, tol: float) -> bool:
    return abs(value - reference) <= tol * (1 + abs(reference))


def greedy_misses_the_optimum() -> alsel.SelectionProblem:
    """Formulation "mccormick" charges an image lam r_ii for being used. Images 0-9 cost nothing
    to open and 0.3 a query; images 10-11 cost 1 to open and 0 a query, so 5 queries from one of
    them cost 1.0 against 1.5. A greedy fill by the next query's marginal cost never opens them."""
    G = np.full((5, 12), 0.3)
    G[:, 10:] = 0.0
    R = np.diag(np.r_[np.zeros(10), 1.0, 1.0])
    return alsel.SelectionProblem(G, R, B=5, C_max=5, lam=1.0)


def test_restricted_lp_is_the_lp_of_the_sub_pool():
    problem = random_problem(12, 4, B=3, c_max=2, lam=0.7, seed=3)
    images = np.zeros(12, dtype=bool)
    images[[1, 4, 5, 9]] = True
    restricted = working_set.restrict(alsel.build_lp(problem, "symmetric"), images).lp
    sub = alsel.SelectionProblem(problem.G[:, images], problem.R[np.ix_(images, images)], 3, 2, 0.7)
    expected = alsel.build_lp(sub, "symmetric")
    assert (restricted.A != expected.A).nnz == 0
    for name in ("c", "row_lower", "row_upper", "col_lower", "col_upper"):
        np.testing.assert_array_equal(getattr(restricted, name), getattr(expected, name), err_msg=name)
    assert restricted.row_blocks == expected.row_blocks
    np.testing.assert_array_equal(restricted.index.pair_i, expected.index.pair_i)
    np.testing.assert_array_equal(restricted.index.pair_j, expected.index.pair_j)
    assert (restricted.index.m, restricted.index.v, restricted.index.z) == (expected.index.m, expected.index.v,
                                                                            expected.index.z)


def test_first_set_holds_the_2B_cheapest_entries_at_most_C_max_from_an_image():
    G = np.full((4, 10), 0.5)
    G[:, 0] = [0.0, 0.01, 0.02, 0.03]  # image 0 may give 2 of its 4 cheapest
    G[1, 3], G[2, 7] = 0.1, 0.2
    problem = alsel.SelectionProblem(G, np.eye(10), B=2, C_max=2, lam=1.0)
    images = working_set.initial_images(alsel.build_lp(problem, "symmetric"))
    np.testing.assert_array_equal(np.flatnonzero(images), [0, 3, 7])


def test_first_set_pays_for_opening_an_image():
    G = np.full((1, 8), 0.1)
    G[:, :4] = 0.0
    R = np.diag(np.r_[np.full(4, 10.0), np.zeros(4)])  # images 0-3: cheapest queries, costly to open
    problem = alsel.SelectionProblem(G, R, B=2, C_max=1, lam=1.0)
    images = working_set.initial_images(alsel.build_lp(problem, "mccormick"))
    np.testing.assert_array_equal(np.flatnonzero(images), [4, 5, 6, 7])


def test_pricing_brings_in_the_images_the_optimum_needs():
    lp = alsel.build_lp(greedy_misses_the_optimum(), "mccormick")
    answer = solvers.solve(lp, "highs", {"working_set": True})
    rounds = answer.info["working_set"]["rounds"]
    assert answer.status == "optimal"
    assert [r["images"] for r in rounds] == [2, 4]  # images 10 and 11 priced in
    assert not answer.info["working_set"]["fallback"]
    assert agree(answer.objective, 1.0, 1e-7)
    assert alsel.certify(lp, answer.x, answer.row_dual).within(1e-7)


def test_without_enough_rounds_it_solves_the_whole_pool(monkeypatch):
    monkeypatch.setattr(working_set, "MAX_ROUNDS", 1)
    lp = alsel.build_lp(greedy_misses_the_optimum(), "mccormick")
    answer = solvers.solve(lp, "highs", {"working_set": True})
    assert answer.info["working_set"]["fallback"]
    assert answer.info["working_set"]["rounds"][-1]["rows"] == lp.num_rows
    assert agree(answer.objective, 1.0, 1e-7)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), formulation=st.sampled_from(["symmetric", "paper", "sparse", "mccormick"]),
       lam=st.sampled_from([0.0, 0.3, 3.0]), budget=st.integers(1, 6), sparse_R=st.booleans())
def test_same_optimum_as_the_whole_lp(seed, formulation, lam, budget, sparse_R):
    problem = random_problem(30, 4, B=budget, c_max=2, lam=lam, seed=seed)
    if sparse_R and formulation in ("sparse", "mccormick"):
        R = problem.R * (problem.R > np.quantile(problem.R, 0.7))
        problem = as_sparse(alsel.SelectionProblem(problem.G, R, budget, 2, lam))
    lp = alsel.build_lp(problem, formulation)
    whole = solvers.solve(lp, "highs")
    answer = solvers.solve(lp, "highs", {"working_set": True})
    assert answer.status == "optimal"
    assert agree(answer.objective, whole.objective, 1e-6)
    certificate = alsel.certify(lp, answer.x, answer.row_dual)
    assert certificate.within(1e-6), certificate
    assert lp.dual_bound(answer.row_dual, x=answer.x) <= whole.objective + 1e-6 * (1 + abs(whole.objective))
    assert answer.info["working_set"]["rounds"][0]["rows"] < lp.num_rows  # it did restrict


def two_images_must_share_a_pair() -> alsel.SelectionProblem:
    """One class, budget 2, C_max 1, four images; image 3 costs 0.25 a query, the others nothing.
    Images 0 and 2 are redundant with each other (r_02 = 0.2), image 1 with itself (r_11). A
    sub-LP without the pair row of 0 and 2 asks both at M = v = 1 for nothing, violating it, so
    the row must enter; the whole LP's optimum is 0.05 (HiGHS). The verify check's hypothesis
    search found it when the working set first left pair rows out and SCIP returned no duals."""
    G = np.array([[0.0, 0.0, 0.0, 0.25]])
    R = np.array([[0, 0, 0.2, 0], [0, 0.2, 0, 0], [0.2, 0, 0, 0], [0, 0, 0, 0]], dtype=float)
    return alsel.SelectionProblem(G, R, B=2, C_max=1, lam=0.5)


def test_the_first_sub_lp_leaves_out_the_pair_rows():
    problem = random_problem(40, 4, B=5, c_max=2, lam=1.0, seed=3)
    lp = alsel.build_lp(problem, "symmetric")
    images = working_set.initial_images(lp)
    sub = working_set.restrict(lp, images, working_set.PairRows.of(lp)).lp
    with_pairs = working_set.restrict(lp, images).lp
    assert with_pairs.row_blocks["pair"].stop > with_pairs.row_blocks["pair"].start  # there were some
    assert sub.row_blocks["pair"].start == sub.row_blocks["pair"].stop
    assert np.all(sub.index.pair_i == sub.index.pair_j)  # only the diagonal z_ii stay
    assert sub.num_cols == with_pairs.num_cols - (with_pairs.row_blocks["pair"].stop - with_pairs.row_blocks["pair"].start)
    structured = solvers.solve(sub, "pdlp", {"operator": "structured", "tol": 1e-6})
    sparse = solvers.solve(sub, "highs")
    assert agree(structured.objective, sparse.objective, 1e-5)


@pytest.mark.parametrize("solver, tol", [("highs", 1e-7), ("glop", 1e-7), ("pdlp", 1e-4)])
def test_a_violated_pair_row_enters(solver, tol):
    if solvers.available()[solver] is not None:
        pytest.skip(solvers.available()[solver])
    lp = alsel.build_lp(two_images_must_share_a_pair(), "symmetric")
    whole = solvers.solve(lp, "highs")
    answer = solvers.solve(lp, solver, {"working_set": True})
    rounds = answer.info["working_set"]["rounds"]
    assert rounds[0]["pair_rows"] == 0 and rounds[0]["entering_rows"] > 0
    assert not answer.info["working_set"]["fallback"]
    assert agree(whole.objective, 0.05, 1e-9)
    assert agree(answer.objective, 0.05, tol)
    assert alsel.certify(lp, answer.x, answer.row_dual).within(tol)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), formulation=st.sampled_from(["symmetric", "paper", "sparse", "mccormick"]),
       n=st.integers(3, 9), c_max=st.integers(1, 2), fill=st.floats(0.55, 1.0), lam=st.sampled_from([0.3, 3.0]))
def test_same_optimum_as_the_whole_lp_where_pair_rows_bind(seed, formulation, n, c_max, fill, lam):
    """A budget over half the pool's capacity puts M (and so v) above 1/2 on some images, where
    the pair rows between them bind: left out at first, they must enter."""
    budget = max(1, min(n * c_max, round(fill * n * c_max)))
    problem = random_problem(n, 2, B=budget, c_max=c_max, lam=lam, seed=seed)
    lp = alsel.build_lp(problem, formulation)
    whole = solvers.solve(lp, "highs")
    answer = solvers.solve(lp, "highs", {"working_set": True})
    assert answer.status == "optimal"
    assert agree(answer.objective, whole.objective, 1e-6)
    assert alsel.certify(lp, answer.x, answer.row_dual).within(1e-6)


def test_a_pair_row_whose_z_has_a_negative_cost_is_never_left_out():
    lp = alsel.build_lp(random_problem(6, 2, B=2, c_max=1, lam=1.0, seed=0), "symmetric")
    pairs = working_set.PairRows.of(lp)
    z = pairs.columns[0, 2]
    c = lp.c.copy()
    c[z] = -1.0  # z_k = 1 pays off; dropping the row with z_k at 0 would no longer relax the LP
    kept = working_set.PairRows.of(dataclasses.replace(lp, c=c))
    assert pairs.rows[0] not in kept.rows and kept.rows.size == pairs.rows.size - 1


@pytest.mark.parametrize("operator", ["sparse", "structured"])
def test_pdlp_on_a_working_set_is_certified_on_the_whole_lp(operator):
    problem = random_problem(60, 5, B=8, c_max=2, lam=1.0, seed=1)
    lp = alsel.build_lp(problem, "symmetric")
    whole = solvers.solve(lp, "highs")
    answer = solvers.solve(lp, "pdlp", {"working_set": True, "operator": operator, "tol": 1e-6})
    assert answer.status == "optimal"
    assert alsel.certify(lp, answer.x, answer.row_dual).within(1e-6)
    assert agree(answer.objective, whole.objective, 1e-5)
    assert answer.info["working_set"]["rounds"][0]["rows"] < lp.num_rows / 4


def test_pdlp_warm_start_reaches_the_sub_lp_solve():
    problem = random_problem(60, 5, B=8, c_max=2, lam=1.0, seed=2)
    first = alsel.select(problem.G, problem.R, 8, 2, 1.0, formulation="symmetric", solver="pdlp")
    G = problem.G + np.abs(np.random.default_rng(0).normal(scale=1e-1, size=problem.G.shape))
    lp = alsel.build_lp(alsel.SelectionProblem(G, problem.R, 8, 2, 1.0), "symmetric")
    assert not alsel.certify(lp, first.solution.x, first.solution.row_dual).within(1e-4)  # a solve is due
    answer = solvers.solve(lp, "pdlp", {"working_set": True, "warm_start": first.solution})
    cold = solvers.solve(lp, "pdlp", {"working_set": True})
    assert answer.status == "optimal" and answer.iterations > 0
    assert alsel.certify(lp, answer.x, answer.row_dual).within(1e-4)
    assert not np.array_equal(answer.x, cold.x)  # it started elsewhere than the cold solve


def test_limits_stop_the_working_set_without_claiming_optimal():
    lp = alsel.build_lp(random_problem(60, 5, B=8, c_max=2, lam=1.0, seed=1), "symmetric")
    answer = solvers.solve(lp, "pdlp", {"working_set": True, "iteration_limit": 16})
    assert answer.status == "iteration_limit"
    assert answer.x.shape == (lp.num_cols,) and answer.row_dual.shape == (lp.num_rows,)


@pytest.mark.parametrize("value", ["yes", 1, None])
def test_working_set_must_be_a_bool(value):
    lp = alsel.build_lp(random_problem(10, 3, B=2, c_max=1, lam=1.0, seed=0), "symmetric")
    with pytest.raises(ValueError, match="working_set must be True or False"):
        solvers.solve(lp, "highs", {"working_set": value})


def test_working_set_refuses_what_it_cannot_solve_exactly():
    problem = random_problem(10, 3, B=2, c_max=1, lam=1.0, seed=0)
    with pytest.raises(ValueError, match="integral problem"):
        alsel.select(problem.G, problem.R, 2, 1, 1.0, formulation="exact", solver_options={"working_set": True})
    with pytest.raises(ValueError, match="restates the model"):
        solvers.check_options(solvers.get("cvxpy"), {"working_set": True})
    with pytest.raises(ValueError, match="returns no LP duals"):
        solvers.check_options(solvers.get("scip"), {"working_set": True})
    general = alsel.LinearProgram(
        c=np.ones(2), A=sp.csr_array(np.ones((1, 2))), row_lower=np.ones(1), row_upper=np.full(1, np.inf),
        col_lower=np.zeros(2), col_upper=np.ones(2),
        index=alsel.lp.VariableIndex(0, 0, slice(0, 0), slice(0, 0), slice(0, 2), np.zeros(0), np.zeros(0)),
        formulation="general")
    with pytest.raises(ValueError, match="built by alsel's formulations"):
        solvers.solve(general, "highs", {"working_set": True})


def test_select_uses_it_by_default_where_it_applies():
    problem = random_problem(40, 4, B=5, c_max=2, lam=1.0, seed=4)
    selection = alsel.select(problem.G, problem.R, 5, 2, 1.0, formulation="symmetric")
    whole = alsel.select(problem.G, problem.R, 5, 2, 1.0, formulation="symmetric",
                         solver_options={"working_set": False})
    assert "working_set" not in whole.info
    assert selection.info["working_set"]["rounds"][-1]["status"] == "optimal"
    assert selection.info["working_set"]["rounds"][0]["images"] < 40
    assert agree(selection.relaxation_value, whole.relaxation_value, 1e-6)
    assert selection.lower_bound <= selection.objective + 1e-9


def test_a_warm_start_that_still_certifies_is_returned_without_a_solve():
    problem = random_problem(60, 5, B=8, c_max=2, lam=1.0, seed=5)
    lp = alsel.build_lp(problem, "symmetric")
    first = solvers.solve(lp, "pdlp", {"working_set": True, "tol": 1e-6})
    again = solvers.solve(lp, "pdlp", {"working_set": True, "tol": 1e-4, "warm_start": first})
    assert again.iterations == 0 and again.status == "optimal"
    np.testing.assert_array_equal(again.x, first.x)
    moved = solvers.solve(lp, "pdlp", {"working_set": True, "tol": 1e-4, "warm_start": (first.x, -first.row_dual)})
    assert moved.iterations > 0 and alsel.certify(lp, moved.x, moved.row_dual).within(1e-4)


def test_an_image_whose_opening_cost_exceeds_its_gains_is_not_priced_in():
    # images 10-11 now cost 10 to open: 5 queries at 0 do not pay for it (1.5 from images 0-9)
    problem = greedy_misses_the_optimum()
    R = np.diag(np.r_[np.zeros(10), 10.0, 10.0])
    lp = alsel.build_lp(alsel.SelectionProblem(problem.G, R, 5, 5, 1.0), "mccormick")
    answer = solvers.solve(lp, "highs", {"working_set": True})
    assert [r["images"] for r in answer.info["working_set"]["rounds"]] == [2]
    assert agree(answer.objective, 1.5, 1e-7)
    assert alsel.certify(lp, answer.x, answer.row_dual).within(1e-7)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), formulation=st.sampled_from(["symmetric", "mccormick"]))
def test_priced_duals_bound_at_least_as_well_as_zeros(seed, formulation):
    rng = np.random.default_rng(seed)
    lp = alsel.build_lp(random_problem(12, 4, B=3, c_max=2, lam=1.0, seed=seed), formulation)
    images = rng.random(12) < 0.5
    y = np.zeros(lp.num_rows)
    y[lp.row_blocks["budget"]] = rng.normal(scale=0.5)
    priced, loss = working_set.price(lp, images, y)
    assert lp.dual_bound(priced) >= lp.dual_bound(y) - 1e-12
    assert np.all(loss <= 0) and np.all(loss[images] == 0)


@pytest.mark.parametrize("formulation, solver", [("exact", "highs"), ("symmetric", "cvxpy"), ("symmetric", "scip")])
def test_select_leaves_it_out_where_it_does_not_apply(formulation, solver):
    if solvers.available()[solver] is not None:
        pytest.skip(solvers.available()[solver])
    problem = random_problem(12, 3, B=3, c_max=2, lam=1.0, seed=0)
    selection = alsel.select(problem.G, problem.R, 3, 2, 1.0, formulation=formulation, solver=solver)
    assert "working_set" not in selection.info


@pytest.mark.parametrize("solver", ["highs", "clarabel"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_qp_relaxation_on_a_working_set_has_the_whole_qps_optimum(seed, solver):
    if solvers.available()[solver] is not None:
        pytest.skip(solvers.available()[solver])
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(80, 6))
    G = alsel.scores.confidence(rng.dirichlet(np.ones(5), size=80))
    R = alsel.scores.redundancy(features, mapping="affine")  # PSD: the QP is convex
    lp = alsel.build_lp(alsel.SelectionProblem(G, R, 10, 3, 1.0), "qp")
    whole = solvers.solve(lp, "highs")
    answer = solvers.solve(lp, solver, {"working_set": True})
    rounds = answer.info["working_set"]["rounds"]
    assert answer.status == "optimal" and not answer.info["working_set"]["fallback"]
    assert rounds[0]["images"] < 80
    assert agree(answer.objective, whole.objective, 1e-6)
    assert alsel.certify(lp, answer.x, answer.row_dual).within(1e-6)
    assert lp.dual_bound(answer.row_dual, x=answer.x) <= whole.objective + 1e-6 * (1 + abs(whole.objective))


def test_qp_pricing_charges_an_image_its_redundancy_with_the_images_in_use():
    # images 0-1 are in use (v = 1); image 2 duplicates image 0, image 3 is unlike both
    R = np.array([[1.0, 0.0, 1.0, 0.0], [0.0, 1.0, 0.0, 0.0], [1.0, 0.0, 1.0, 0.0], [0.0, 0.0, 0.0, 1.0]])
    G = np.array([[0.5, 0.5, 0.0, 0.0]])
    lp = alsel.build_lp(alsel.SelectionProblem(G, R, 2, 1, 0.1), "qp")
    x = np.zeros(lp.num_cols)
    x[lp.index.m] = [1, 1, 0, 0]
    x[lp.index.v] = [1, 1, 0, 0]
    y = np.zeros(lp.num_rows)
    y[lp.row_blocks["budget"]] = 0.5  # the price of a query
    _, loss = working_set.price(lp, np.array([True, True, False, False]), y, x)
    # image 2: gains 0.5 on its query, pays 2 lam r_02 v_0 = 0.2 for redundancy (+0 from c_v);
    # image 3: gains 0.5, pays nothing
    assert loss[2] == pytest.approx(-0.3) and loss[3] == pytest.approx(-0.5)


class LooseDuals(ToyLinprogBackend):
    """scipy's linprog with its row duals halved: answers whose own certificate misses tol."""

    name = "loose-duals"

    def solve(self, lp, options):
        answer = super().solve(lp, options)
        return dataclasses.replace(answer, row_dual=0.5 * answer.row_dual)


def test_a_backend_that_misses_tol_is_held_to_twice_its_own_certificate():
    lp = alsel.build_lp(random_problem(60, 5, B=8, c_max=2, lam=1.0, seed=1), "symmetric")
    answer = working_set.solve(lp, LooseDuals(), {})
    rounds = answer.info["working_set"]["rounds"]
    assert len(rounds) == 1 and not answer.info["working_set"]["fallback"]
    restricted = working_set.restrict(lp, working_set.initial_images(lp)).lp
    delivered = LooseDuals().solve(restricted, {})
    own = alsel.certify(restricted, delivered.x, delivered.row_dual).kkt_error
    assert own > working_set.EXACT_TOL
    assert alsel.certify(lp, answer.x, answer.row_dual).kkt_error <= 2 * own


def test_pdlp_solves_sub_lps_to_tol_without_closing_the_budget_row(monkeypatch):
    """PDLP's repaired early exit leaves v above 1/2 and violates the whole LP's pair rows: the
    working set asks for sub-LP answers at tol instead (repair off), unless the caller says
    otherwise; a fallback to the whole LP keeps the caller's options."""
    problem = synthetic.random_problem(120, 19, B=20, C_max=5, seed=0)
    lp = alsel.build_lp(problem, "symmetric")
    backend = solvers.get("pdlp")
    seen = []
    solve = backend.solve

    def recording(sub_lp, options):
        seen.append(options.get("repair"))
        return solve(sub_lp, options)

    monkeypatch.setattr(backend, "solve", recording)
    default = solvers.solve(lp, "pdlp", {"working_set": True})
    assert seen and all(repair is False for repair in seen)
    assert default.status == "optimal" and alsel.certify(lp, default.x, default.row_dual).within(1e-4)
    seen.clear()
    solvers.solve(lp, "pdlp", {"working_set": True, "repair": True})
    assert seen and all(repair is True for repair in seen)
