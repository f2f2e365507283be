"""The paper's top-B rounding: feasibility, the greedy-scan characterization, reproducible ties."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import random_problem, tiny_problems
from hypothesis import given
from hypothesis import strategies as st

from alsel.rounding import topb


def sequential_topb(problem, relaxed, seed):
    """Reference: scan entries best first (ties in a seeded random order), keep while room."""
    n, c = relaxed.shape
    values = np.round(relaxed.ravel(), 9)
    tie_order = np.random.default_rng(seed).permutation(n * c)
    scan = sorted(range(n * c), key=lambda k: (-values[k], tie_order[k]))
    M = np.zeros(n * c, dtype=bool)
    per_image = [0] * n
    kept = 0
    for k in scan:
        if kept == problem.B:
            break
        if per_image[k // c] < problem.C_max:
            M[k] = True
            per_image[k // c] += 1
            kept += 1
    return M.reshape(n, c)


relaxed_values = st.sampled_from([0.0, 0.0, 0.5, 0.5, 0.5, 1.0, 0.3, 0.7, 0.5 + 1e-12])


@given(problem=tiny_problems(max_images=6, max_classes=4), data=st.data(), seed=st.integers(0, 5))
def test_vectorized_equals_sequential_scan(problem, data, seed):
    shape = (problem.n_images, problem.n_classes)
    relaxed = np.array(data.draw(st.lists(relaxed_values, min_size=shape[0] * shape[1],
                                          max_size=shape[0] * shape[1]))).reshape(shape)
    M = topb(problem, relaxed, seed)
    np.testing.assert_array_equal(M, sequential_topb(problem, relaxed, seed))
    assert M.sum() == problem.B
    assert M.sum(axis=1).max() <= problem.C_max


@given(problem=tiny_problems(max_images=6, max_classes=4), seed=st.integers(0, 100))
def test_no_skipped_entry_beats_a_kept_one_where_there_was_room(problem, seed):
    relaxed = np.random.default_rng(seed).random((problem.n_images, problem.n_classes))
    M = topb(problem, relaxed, seed)
    room = M.sum(axis=1) < problem.C_max
    skipped_with_room = relaxed[~M & room[:, None]]
    if skipped_with_room.size:
        assert skipped_with_room.max() <= relaxed[M].min()


def test_ties_are_broken_reproducibly_by_seed():
    problem = random_problem(n=20, c=5, B=10, c_max=2, lam=1.0, seed=0)
    relaxed = np.full((20, 5), 0.5)
    first = topb(problem, relaxed, seed=3)
    np.testing.assert_array_equal(first, topb(problem, relaxed, seed=3))
    others = [topb(problem, relaxed, seed=s) for s in range(4, 10)]
    assert any(not np.array_equal(first, other) for other in others)


def test_solver_noise_does_not_break_ties():
    problem = random_problem(n=6, c=2, B=2, c_max=1, lam=1.0, seed=0)
    relaxed = np.full((6, 2), 0.5)
    noisy = relaxed + np.random.default_rng(0).uniform(-1e-11, 1e-11, relaxed.shape)
    np.testing.assert_array_equal(topb(problem, relaxed, 7), topb(problem, noisy, 7))


def test_wrong_shape_is_rejected():
    problem = random_problem(n=4, c=3, B=2, c_max=1, lam=1.0, seed=0)
    with pytest.raises(ValueError, match="relaxed_M must have shape"):
        topb(problem, np.zeros((3, 4)), 0)
