"""Greedy, randomized and local-search roundings, the counts representation and the
combinatorial lower bound: feasibility, never-worse, and against brute force."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import brute_force, random_problem, tiny_problems
from hypothesis import given, settings
from hypothesis import strategies as st

import alsel
from alsel.synthetic import random_problem as synthetic_problem
from alsel.bounds import combinatorial_bound
from alsel.rounding import ROUNDINGS, greedy, local_search, randomized, topb
from alsel.rounding._counts import CountState, CountTables


def relaxed_of(problem, seed):
    """A random fractional M in [0, 1] (roundings must accept any)."""
    return np.random.default_rng(seed).random((problem.n_images, problem.n_classes))


@settings(max_examples=80)
@given(problem=tiny_problems(max_images=6, max_classes=3), name=st.sampled_from(list(ROUNDINGS)),
       seed=st.integers(0, 5))
def test_every_rounding_is_feasible(problem, name, seed):
    M = ROUNDINGS[name](problem, relaxed_of(problem, seed), seed)
    assert M.dtype == bool and problem.is_feasible(M)


@settings(max_examples=80)
@given(problem=tiny_problems(max_images=6, max_classes=3), seed=st.integers(0, 5))
def test_local_search_never_worsens_its_input(problem, seed):
    for start in (topb(problem, relaxed_of(problem, seed), seed),
                  randomized(problem, relaxed_of(problem, seed), seed), greedy(problem)):
        improved = local_search(problem, start)
        assert problem.is_feasible(improved)
        assert problem.objective(improved) <= problem.objective(start) + 1e-12


@settings(max_examples=60)
@given(problem=tiny_problems(max_images=5, max_classes=3))
def test_combinatorial_bound_is_below_the_optimum(problem):
    optimum, _ = brute_force(problem)
    assert combinatorial_bound(problem) <= optimum + 1e-9


def test_greedy_local_reaches_the_optimum_on_most_tiny_instances():
    rng = np.random.default_rng(11)
    hits = []
    for _ in range(60):
        n, c = int(rng.integers(3, 6)), int(rng.integers(2, 4))
        c_max = int(rng.integers(1, c + 1))
        B = int(rng.integers(1, n * c_max + 1))
        problem = random_problem(n=n, c=c, B=B, c_max=c_max, lam=float(rng.choice([0.5, 1, 2])),
                                 seed=int(rng.integers(1 << 30)))
        if n * c > 16:
            continue
        optimum, _ = brute_force(problem)
        found = problem.objective(ROUNDINGS["greedy+local"](problem, None, 0))
        assert found >= optimum - 1e-9
        hits.append(found <= optimum * (1 + 1e-9) + 1e-12)
    assert len(hits) >= 30 and np.mean(hits) >= 0.9


def test_count_state_tracks_the_objective_through_moves():
    problem = random_problem(n=30, c=6, B=25, c_max=4, lam=1.3, seed=4)
    tables = CountTables(problem)
    state = CountState(tables, np.zeros(30, dtype=int))
    rng = np.random.default_rng(0)
    for _ in range(200):
        add, remove = state.add_deltas(), state.remove_deltas()
        if rng.random() < 0.5 and np.isfinite(add).any():
            i = rng.choice(np.flatnonzero(np.isfinite(add)))
            before = state.objective()
            state.set_count(i, state.k[i] + 1)
            assert state.objective() - before == pytest.approx(add[i], abs=1e-9)
        elif np.isfinite(remove).any():
            i = rng.choice(np.flatnonzero(np.isfinite(remove)))
            before = state.objective()
            state.set_count(i, state.k[i] - 1)
            assert state.objective() - before == pytest.approx(remove[i], abs=1e-9)
        M = state.matrix()
        G, R = problem.G, problem.R
        v = M.any(axis=1).astype(float)
        assert state.objective() == pytest.approx(float((G.T * M).sum() + problem.lam * v @ R @ v), abs=1e-9)


def test_greedy_local_matches_the_exact_optimum_on_a_small_pool():
    problem = synthetic_problem(24, 6, B=12, C_max=3, lam=1.0, seed=5)
    exact = alsel.select(problem.G, problem.R, 12, 3, 1.0, formulation="exact",
                         solver_options={"mip_rel_gap": 0})
    default = alsel.select(problem.G, problem.R, 12, 3, 1.0)
    assert default.objective >= exact.objective - 1e-9
    assert default.objective <= exact.objective * 1.01 + 1e-12
    assert default.lower_bound <= exact.objective + 1e-9


def test_randomized_is_reproducible_and_best_of_its_draws():
    problem = random_problem(n=20, c=5, B=10, c_max=3, lam=1.0, seed=2)
    relaxed = relaxed_of(problem, 0)
    first, again = randomized(problem, relaxed, seed=3), randomized(problem, relaxed, seed=3)
    np.testing.assert_array_equal(first, again)
    one_draw = randomized(problem, relaxed, seed=3, draws=1)
    assert problem.objective(first) <= problem.objective(one_draw) + 1e-12


@pytest.mark.parametrize("B", [20, 90])
def test_sparse_R_local_search_matches_dense_and_never_densifies(monkeypatch, B):
    """The default rounding on a kNN R gives the selection of the same R stored dense, and never
    gathers a dense |used| x |unused| block of a sparse R (the O(nnz) paths of local search)."""
    from alsel.rounding import ROUNDINGS
    from alsel.rounding._counts import CountTables

    rng = np.random.default_rng(B)
    features = rng.normal(size=(400, 8))
    R = alsel.scores.redundancy(features, knn=5)
    G = rng.random((6, 400))
    dense = ROUNDINGS["greedy+local"](alsel.SelectionProblem(G, R.toarray(), B, 3, 1.0), None, 0)
    original = CountTables.block

    def block(self, rows, cols):
        assert not self.sparse, "a dense block of a sparse R"
        return original(self, rows, cols)

    monkeypatch.setattr(CountTables, "block", block)
    problem = alsel.SelectionProblem(G, R, B, 3, 1.0)
    sparse = ROUNDINGS["greedy+local"](problem, None, 0)
    assert problem.objective(sparse) == pytest.approx(problem.objective(dense), rel=1e-12)


@pytest.mark.parametrize("sparse", [False, True])
def test_count_state_kept_deltas_equal_their_recomputation_bit_for_bit(sparse):
    """The incrementally kept add/remove deltas are the from-scratch formula on the same R v,
    exactly (the greedy and local-search selections must not move by a rounding error)."""
    rng = np.random.default_rng(3)
    features = rng.normal(size=(120, 6))
    R = alsel.scores.redundancy(features, knn=6) if sparse else alsel.scores.redundancy(features)
    problem = alsel.SelectionProblem(rng.random((5, 120)), R, 60, 3, 0.7)
    t = CountTables(problem, seed=1)
    state = CountState(t, rng.integers(0, 2, size=120))
    for _ in range(300):
        i = int(rng.integers(120))
        state.set_count(i, int(rng.integers(0, t.kmax + 1)))
        k = state.k
        add = t.prefix[t.rows, np.minimum(k + 1, t.kmax)] - t.prefix[t.rows, k]
        add[k == 0] += t.lam * (t.diag[k == 0] + 2.0 * state.Rv[k == 0])
        add[k >= t.kmax] = np.inf
        remove = t.prefix[t.rows, np.maximum(k - 1, 0)] - t.prefix[t.rows, k]
        remove[k == 1] -= t.lam * (2.0 * state.Rv[k == 1] - t.diag[k == 1])
        remove[k == 0] = np.inf
        np.testing.assert_array_equal(state.add_deltas(), add)
        np.testing.assert_array_equal(state.remove_deltas(), remove)
    np.testing.assert_allclose(state.Rv, np.asarray(R @ (k > 0)).ravel(), atol=1e-9)


def test_starting_images_never_copy_a_dense_R():
    """The starting images' off-diagonal minima come from bands of rows, not an N x N copy."""
    import tracemalloc

    from alsel.rounding.greedy import starting_images

    n = 2000
    rng = np.random.default_rng(0)
    R = alsel.scores.redundancy(rng.normal(size=(n, 4)))
    tables = CountTables(alsel.SelectionProblem(rng.random((3, n)), R, 10, 2, 1.0))
    tracemalloc.start()
    chosen = starting_images(tables, 7)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < R.nbytes / 2
    off = R + np.diag(np.full(n, np.inf))
    expected = np.lexsort((tables.rank, np.diag(R) + off.min(axis=1)))[:7]
    np.testing.assert_array_equal(chosen, expected)
