"""Instances and the cvxpy statement of Eq. 8 used by the benchmarks."""

from __future__ import annotations

import numpy as np

from alsel import SelectionProblem
from alsel.synthetic import random_problem

CLASSES = 19


def paper_scale_problem(n_images: int) -> SelectionProblem:
    """The paper's setting (C = 19, B = 200 scaled to N/6, C_max = 5, lam = 1), seeded."""
    return random_problem(n_images, CLASSES, B=max(1, n_images // 6), C_max=5, lam=1.0, seed=0)


def cvxpy_paper_model(problem: SelectionProblem):
    """Eq. 8 relaxed, written in cvxpy's algebra (Z of N x N), as a user of cvxpy would."""
    import cvxpy as cp

    n, c = problem.n_images, problem.n_classes
    M = cp.Variable((n, c))
    v = cp.Variable((n, 1))
    Z = cp.Variable((n, n))
    ones_c, ones_n = np.ones((1, c)), np.ones((1, n))
    objective = cp.sum(cp.multiply(problem.G.T, M)) + problem.lam * cp.sum(cp.multiply(problem.R, Z))
    constraints = [
        cp.sum(M) == problem.B,
        cp.sum(M, axis=1) <= problem.C_max,
        M <= v @ ones_c,
        v @ ones_n + (v @ ones_n).T <= 1 + 2 * Z,
        M >= 0, M <= 1, v >= 0, v <= 1, Z >= 0, Z <= 1,
    ]
    return cp.Problem(cp.Minimize(objective), constraints)
