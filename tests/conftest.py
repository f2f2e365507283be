"""Shared helpers: hypothesis strategies for tiny instances and a brute-force reference."""

from __future__ import annotations

import itertools

import numpy as np
import scipy.sparse as sp
from hypothesis import settings
from hypothesis import strategies as st

import alsel

settings.register_profile("ci", deadline=None, max_examples=60, print_blob=True)
settings.register_profile("dev", deadline=None, max_examples=25)
settings.load_profile("ci")

# Few distinct values so that ties in G and zeros in R are common.
G_VALUES = st.sampled_from([0.0, 0.0, 0.25, 0.5, 0.5, 1.0, -0.5, 2.0, 0.1])
R_VALUES = st.sampled_from([0.0, 0.0, 0.0, 0.2, 0.5, 1.0, 3.0])


@st.composite
def tiny_problems(draw, max_images: int = 5, max_classes: int = 3) -> alsel.SelectionProblem:
    n = draw(st.integers(1, max_images))
    c = draw(st.integers(1, max_classes))
    c_max = draw(st.integers(1, c + 1))
    B = draw(st.integers(1, n * min(c, c_max)))
    G = np.array(draw(st.lists(G_VALUES, min_size=c * n, max_size=c * n))).reshape(c, n)
    upper = np.array(draw(st.lists(R_VALUES, min_size=n * n, max_size=n * n))).reshape(n, n)
    R = np.triu(upper) + np.triu(upper, 1).T
    lam = draw(st.sampled_from([0.0, 0.5, 1.0, 2.0]))
    return alsel.SelectionProblem(G, R, B, c_max, lam)


def random_problem(n: int, c: int, B: int, c_max: int, lam: float, seed: int) -> alsel.SelectionProblem:
    """A random dense instance with R >= 0 symmetric (not through alsel.scores)."""
    rng = np.random.default_rng(seed)
    G = rng.random((c, n))
    F = rng.random((n, 4))
    R = F @ F.T / 4
    return alsel.SelectionProblem(G, R, B, c_max, lam)


def as_sparse(problem: alsel.SelectionProblem) -> alsel.SelectionProblem:
    """The same problem with R as a scipy.sparse CSR matrix (its nonzeros)."""
    return alsel.SelectionProblem(problem.G, sp.csr_array(problem.R), problem.B, problem.C_max,
                                  problem.lam)


def brute_force(problem: alsel.SelectionProblem) -> tuple[float, np.ndarray]:
    """Minimum of Eq. 4 over every feasible binary M (by enumeration), and one minimizer."""
    n, c = problem.n_images, problem.n_classes
    cells = n * c
    assert cells <= 16, "brute force is for tiny instances only"
    codes = np.arange(2**cells, dtype=np.int64)
    masks = ((codes[:, None] >> np.arange(cells)) & 1).astype(bool)
    M = masks.reshape(-1, n, c)
    feasible = (masks.sum(axis=1) == problem.B) & (M.sum(axis=2) <= problem.C_max).all(axis=1)
    M = M[feasible]
    v = M.any(axis=2).astype(float)
    R = problem.R.toarray() if problem.R_is_sparse else problem.R
    values = (M * problem.G.T).sum(axis=(1, 2)) + problem.lam * np.einsum("ki,ij,kj->k", v, R, v)
    best = int(np.argmin(values))
    return float(values[best]), M[best]


def naive_lp(problem: alsel.SelectionProblem, formulation: str) -> dict:
    """The formulation written out with Python loops, one constraint at a time, as a dense matrix.

    "paper", "symmetric" (Eq. 8), "sparse" (Eq. 8 over the nonzero pairs), "mccormick"
    (z >= v_i + v_j - 1 over the nonzero pairs, r_ii on v_i) and "exact" ("mccormick" with the
    capacity row sum_j M_ij <= min(C, C_max) v_i and the pair-count rows).
    """
    n, c, lam = problem.n_images, problem.n_classes, problem.lam
    R = problem.R.toarray() if problem.R_is_sparse else problem.R
    upper = [(i, j) for i in range(n) for j in range(i + 1, n)]
    if formulation == "paper":
        pairs = [(i, i) for i in range(n)] + [
            (i, j) for i, j in itertools.product(range(n), range(n)) if i != j
        ]
        z_col = {(i, j): i * n + j for i in range(n) for j in range(n)}
        z_cost = {(i, j): lam * R[i, j] for i in range(n) for j in range(n)}
    elif formulation == "symmetric":
        pairs = [(i, i) for i in range(n)] + upper
    elif formulation == "sparse":
        pairs = [(i, i) for i in range(n) if R[i, i] != 0]
        pairs += [(i, j) for i, j in upper if R[i, j] + R[j, i] != 0]
    else:  # mccormick, exact
        pairs = [(i, j) for i, j in upper if R[i, j] + R[j, i] != 0]
    if formulation != "paper":
        z_col = {pair: k for k, pair in enumerate(pairs)}
        z_cost = {(i, j): lam * (R[i, j] if i == j else R[i, j] + R[j, i]) for i, j in pairs}
    m_col = lambda i, j: i * c + j  # noqa: E731
    v_col = lambda i: n * c + i  # noqa: E731
    n_cols = n * c + n + len(z_col)
    rows, lower, upper_bounds = [], [], []

    def add_row(entries: dict, lo: float, up: float) -> None:
        row = np.zeros(n_cols)
        for col, value in entries.items():
            row[col] += value
        rows.append(row)
        lower.append(lo)
        upper_bounds.append(up)

    add_row({m_col(i, j): 1.0 for i in range(n) for j in range(c)}, problem.B, problem.B)
    per_image = min(c, problem.C_max)
    for i in range(n):
        if formulation == "exact":
            add_row({**{m_col(i, j): 1.0 for j in range(c)}, v_col(i): -per_image}, -np.inf, 0.0)
        else:
            add_row({m_col(i, j): 1.0 for j in range(c)}, -np.inf, problem.C_max)
    for i in range(n):
        for j in range(c):
            add_row({m_col(i, j): 1.0, v_col(i): -1.0}, -np.inf, 0.0)
    for i, j in pairs:
        z = n * c + n + z_col[(i, j)]
        if formulation in ("mccormick", "exact"):
            add_row({v_col(i): 1.0, v_col(j): 1.0, z: -1.0}, -np.inf, 1.0)
        elif i == j:
            add_row({v_col(i): 2.0, z: -2.0}, -np.inf, 1.0)
        else:
            add_row({v_col(i): 1.0, v_col(j): 1.0, z: -2.0}, -np.inf, 1.0)
    if formulation == "exact":
        fewest = -(-problem.B // per_image)
        for i in range(n):
            partners = [pair for pair in pairs if i in pair]
            coefficient = fewest - 1 - (n - 1 - len(partners))
            if coefficient > 0:
                entries = {n * c + n + z_col[pair]: 1.0 for pair in partners}
                add_row({**entries, v_col(i): -coefficient}, 0.0, np.inf)
    cost = np.zeros(n_cols)
    for i in range(n):
        for j in range(c):
            cost[m_col(i, j)] = problem.G[j, i]
        if formulation in ("mccormick", "exact"):
            cost[v_col(i)] = lam * R[i, i]
    for pair, k in z_col.items():
        if pair in z_cost:
            cost[n * c + n + k] = z_cost[pair]
    return {
        "A": np.array(rows).reshape(len(rows), n_cols),
        "row_lower": np.array(lower),
        "row_upper": np.array(upper_bounds),
        "c": cost,
        "col_lower": np.zeros(n_cols),
        "col_upper": np.ones(n_cols),
    }
