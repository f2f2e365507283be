"""alsel.bounds: the curvature the simplex bound's steps use, and a case where the bound is exact."""

from __future__ import annotations

import numpy as np
import pytest

import alsel
from alsel import bounds


@pytest.mark.parametrize("n", [30, 700])  # the dense path and ARPACK's
def test_tangent_eigenvalue_is_that_of_the_centred_matrix(n):
    rng = np.random.default_rng(n)
    features = rng.normal(size=(n, 8))
    R = alsel.scores.redundancy(features, mapping="affine")  # 1/2 + cos/2: mostly constant
    centring = np.eye(n) - 1.0 / n
    expected = np.linalg.eigvalsh(centring @ R @ centring)[-1]
    assert bounds._tangent_max_eigenvalue(R) == pytest.approx(expected, rel=1e-8)
    assert expected < 0.5 * np.linalg.eigvalsh(R)[-1]  # the constant part is what it leaves out


def test_simplex_bound_is_exact_where_R_is_constant():
    """R = a 11': v'Rv = a s^2 for every selection of s images, and the tangent curvature is 0
    (f is linear on the simplex): the bound must still come out, at a s_min^2."""
    n, c = 12, 3
    problem = alsel.SelectionProblem(np.zeros((c, n)), np.full((n, n), 0.5), B=6, C_max=2, lam=1.0)
    s_min = 3  # ceil(B / min(C, C_max))
    assert bounds.simplex_bound(problem) == pytest.approx(0.5 * s_min**2, rel=1e-6)
