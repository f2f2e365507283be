"""Shared helpers: hypothesis strategies for tiny instances and a brute-force reference."""

from __future__ import annotations

import itertools
import types

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import settings

import alsel
from alsel import verify
from alsel.lp import LinearProgram, VariableIndex
from alsel.solvers.pdlp.arrays import ArrayContext
from alsel.verify import brute_force  # noqa: F401 - the tests' brute-force reference

settings.register_profile("ci", deadline=None, max_examples=60, print_blob=True)
settings.register_profile("dev", deadline=None, max_examples=25)
settings.load_profile("ci")

def tiny_problems(max_images: int = 5, max_classes: int = 3):
    """Tiny instances with few distinct values (ties in G, zeros in R): alsel.verify's strategy,
    without its cap on N * C (brute-force tests keep N * C <= 16 by their arguments)."""
    return verify.tiny_problems(max_images, max_classes, max_cells=None)


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


def general_lp(seed: int, m: int = 12, n: int = 10) -> LinearProgram:
    """A feasible, bounded LP with equality, one-sided and ranged rows, free, half-bounded and
    boxed columns: feasible by a planted x, bounded by a planted dual-feasible (y, d)."""
    rng = np.random.default_rng(seed)
    A = sp.random(m, n, density=0.5, random_state=rng, format="csr") + sp.eye(m, n, format="csr")
    x_feasible = rng.normal(size=n)
    activity = A @ x_feasible
    kind = rng.integers(4, size=m)  # 0: equality, 1: <=, 2: >=, 3: ranged
    row_lower = np.where(kind == 0, activity, np.where(kind == 1, -np.inf, activity - rng.random(m)))
    row_upper = np.where(kind == 0, activity, np.where(kind == 2, np.inf, activity + rng.random(m)))
    col_kind = rng.integers(4, size=n)  # 0: free, 1: >= lo, 2: <= up, 3: boxed
    col_lower = np.where(np.isin(col_kind, (1, 3)), x_feasible - rng.random(n), -np.inf)
    col_upper = np.where(np.isin(col_kind, (2, 3)), x_feasible + rng.random(n), np.inf)
    y = rng.normal(size=m)
    y = np.where(kind == 1, -np.abs(y), np.where(kind == 2, np.abs(y), y))
    d = np.where(col_kind == 1, np.abs(rng.normal(size=n)),
                 np.where(col_kind == 2, -np.abs(rng.normal(size=n)),
                          np.where(col_kind == 3, rng.normal(size=n), 0.0)))
    c = A.T @ y + d
    index = VariableIndex(0, 0, slice(0, 0), slice(0, 0), slice(0, n), np.zeros(0), np.zeros(0))
    return LinearProgram(c=c, A=sp.csr_array(A), row_lower=row_lower, row_upper=row_upper,
                         col_lower=col_lower, col_upper=col_upper, index=index, formulation="general")


def tiny_lp(c, A, row_lower, row_upper, col_lower, col_upper) -> LinearProgram:
    """A small LP from dense lists (the infeasible and unbounded examples)."""
    n = len(c)
    index = VariableIndex(0, 0, slice(0, 0), slice(0, 0), slice(0, n), np.zeros(0), np.zeros(0))
    return LinearProgram(c=np.array(c, float), A=sp.csr_array(np.array(A, float)),
                         row_lower=np.array(row_lower, float), row_upper=np.array(row_upper, float),
                         col_lower=np.array(col_lower, float), col_upper=np.array(col_upper, float),
                         index=index, formulation="general")


@pytest.fixture
def device_code_path(monkeypatch):
    """alsel's PDLP on its device (CuPy) code path: a module that is not numpy itself, so no
    ``xp is np`` shortcut is taken, with NumPy underneath."""
    proxy = types.ModuleType("numpy_as_device")
    proxy.__dict__.update({name: getattr(np, name) for name in dir(np) if not name.startswith("__")})
    monkeypatch.setattr("alsel.solvers.pdlp.context",
                        lambda device="cpu", dtype="float64": ArrayContext(proxy, sp, np.dtype(dtype), device))
    monkeypatch.setattr(ArrayContext, "to_host", lambda self, v: np.asarray(v, dtype=np.float64))
    return proxy
