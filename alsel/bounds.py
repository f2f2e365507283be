"""Lower bounds on Eq. 4 that need no LP: each term bounded on its own.

A feasible selection uses a set S of s images, s_min <= s <= s_max with
s_min = ceil(B / min(C, C_max)) and s_max = min(B, N). Then

    Tr(M G)  >= the B smallest entries of G with at most min(C, C_max) per image   (U)

and the redundancy v^T R v = sum_{i, j in S} r_ij is bounded two ways:

"entries"  sum_i r_ii >= the s smallest diagonal entries; sum_{i != j} r_ij >= for each i in S
           the s - 1 smallest off-diagonal entries of row i, >= the s smallest such row sums.
           Both grow with s (R >= 0), so s = s_min bounds every s. O(N^2).
"simplex"  with w = v / s on the unit simplex and ||w||^2 = 1/s,
           v^T R v = s^2 w^T R w = s^2 w^T (R + mu I) w - mu s >= s^2 rho - mu s,
           rho = min over the simplex of w^T (R + mu I) w, mu = max(0, -lambda_min(R)) so that
           the problem is convex; rho is bounded from below by the Frank-Wolfe gap of an
           accelerated projected-gradient solve, and the bound is the minimum over s. It is
           tight when R is dominated by a constant (the affine mapping (1 + cos) / 2 is
           1/2 + cos / 2): then it says "s images cost at least ~ s^2 / 2", which entry-wise
           bounds cannot see.

The bound is U + lam * max(entries, simplex): the terms need not be attained by the same S,
which is what makes it a bound rather than a solution.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp

from .problem import SelectionProblem


def _smallest_sum(values: np.ndarray, count: int) -> float:
    if count <= 0:
        return 0.0
    return float(np.partition(values, count - 1)[:count].sum())


def _row_smallest_off_diagonal(R, count: int) -> np.ndarray:
    """For every row i, the sum of the ``count`` smallest entries R[i, j], j != i."""
    n = R.shape[0]
    if count <= 0:
        return np.zeros(n)
    if sp.issparse(R):
        R = sp.csr_array(R)
        off = R - sp.diags_array(R.diagonal())
        off.eliminate_zeros()
        stored = np.diff(off.indptr)
        zeros = (n - 1) - stored  # implicit zeros of each row
        sums = np.zeros(n)
        for i in np.flatnonzero(zeros < count):  # only rows with too few zeros (dense-ish)
            row = off.data[off.indptr[i] : off.indptr[i + 1]]
            sums[i] = _smallest_sum(row, count - zeros[i])
        return sums
    off = np.array(R, dtype=np.float64)
    np.fill_diagonal(off, np.inf)
    return np.partition(off, count - 1, axis=1)[:, :count].sum(axis=1)


def uncertainty_bound(problem: SelectionProblem) -> float:
    """U: the B smallest entries of G with at most min(C, C_max) per image."""
    kmax = min(problem.n_classes, problem.C_max)
    Gt = problem.G.T
    cheapest = np.partition(Gt, kmax - 1, axis=1)[:, :kmax] if kmax < Gt.shape[1] else Gt
    return _smallest_sum(cheapest.ravel(), problem.B)


def image_counts(problem: SelectionProblem) -> tuple[int, int]:
    """(s_min, s_max): the fewest and the most images a feasible selection can use."""
    kmax = min(problem.n_classes, problem.C_max)
    return math.ceil(problem.B / kmax), min(problem.B, problem.n_images)


def entries_bound(problem: SelectionProblem) -> float:
    """The "entries" lower bound on v^T R v."""
    s, _ = image_counts(problem)
    R = problem.R
    diagonal = _smallest_sum(np.asarray(R.diagonal(), dtype=np.float64), s)
    return diagonal + _smallest_sum(_row_smallest_off_diagonal(R, s - 1), s)


def _project_to_simplex(x: np.ndarray) -> np.ndarray:
    """Euclidean projection onto {w >= 0, sum w = 1} (sort-based, Held et al.)."""
    u = np.sort(x)[::-1]
    cumulative = np.cumsum(u) - 1.0
    k = np.arange(1, x.size + 1)
    rho = np.flatnonzero(u - cumulative / k > 0)[-1]
    return np.maximum(x - cumulative[rho] / (rho + 1), 0.0)


def _extreme_eigenvalues(R) -> tuple[float, float]:
    """(lambda_min, lambda_max) of symmetric R, the min pushed down by a safety margin."""
    from scipy.sparse.linalg import eigsh

    n = R.shape[0]
    scale = float(abs(R).max()) if n else 0.0
    if n <= 600:
        values = np.linalg.eigvalsh(R.toarray() if sp.issparse(R) else np.asarray(R))
        low, high = float(values[0]), float(values[-1])
    else:
        high = float(eigsh(R, k=1, which="LA", return_eigenvectors=False, tol=1e-10)[0])
        low = float(eigsh(R, k=1, which="SA", return_eigenvectors=False, tol=1e-10)[0])
    margin = 1e-8 * max(scale, 1.0) * n
    return low - margin, high + margin


def _tangent_max_eigenvalue(R) -> float:
    """The largest eigenvalue of R on the simplex's tangent space {d : sum d = 0}: of P R P with
    P = I - 11'/n. Cosine-based R is mostly its constant part, which is constant on the simplex
    (N = 5000: 487 against R's 2,740), so this is the curvature the descent steps see."""
    from scipy.sparse.linalg import LinearOperator, eigsh

    n = R.shape[0]

    def centred(x):
        x = x - x.mean()
        y = np.asarray(R @ x).ravel()
        return y - y.mean()

    if n <= 600:  # as _extreme_eigenvalues: dense below, ARPACK above
        from scipy.linalg import eigvalsh

        dense = R.toarray() if sp.issparse(R) else np.asarray(R, dtype=np.float64)
        means = dense.mean(axis=0)
        centred_matrix = dense - means[:, None] - means[None, :] + means.mean()  # P R P, R symmetric
        return float(eigvalsh(centred_matrix, subset_by_index=[n - 1, n - 1])[0])
    operator = LinearOperator((n, n), matvec=centred, dtype=np.float64)
    return float(eigsh(operator, k=1, which="LA", return_eigenvectors=False, tol=1e-10)[0])


def simplex_bound(problem: SelectionProblem, iterations: int = 500, rel_gap: float = 1e-4) -> float:
    """The "simplex" lower bound on v^T R v (see the module docstring)."""
    R = problem.R
    n = R.shape[0]
    low, high = _extreme_eigenvalues(R)
    mu = max(0.0, -low)
    if high + mu <= 0:
        return 0.0
    # The steps move within the simplex, so the curvature that matters is R's on its tangent
    # space (plus mu), not R's own largest eigenvalue; the margin keeps it an upper bound. Where
    # it is 0, f is linear on the simplex and the first Frank-Wolfe bound is already exact.
    lipschitz = 2.0 * (_tangent_max_eigenvalue(R) + mu) * (1 + 1e-6) + 1e-12 * (high + mu)

    def gradient(w):
        return 2.0 * (np.asarray(R @ w).ravel() + mu * w)

    w = np.full(n, 1.0 / n)
    g = gradient(w)
    momentum, g_momentum, t = w.copy(), g.copy(), 1.0
    rho = -np.inf
    for _ in range(iterations):
        value = 0.5 * float(w @ g)
        lower = value + float(g.min() - g @ w)  # Frank-Wolfe: f(w) + min_u g.(u - w), convexity
        rho = max(rho, lower)
        if value - rho <= rel_gap * max(abs(value), 1e-12):
            break
        w_next = _project_to_simplex(momentum - g_momentum / lipschitz)
        g_next = gradient(w_next)  # the one product a step: the bound above needs it exact
        t_next = (1.0 + math.sqrt(1.0 + 4.0 * t * t)) / 2.0
        beta = (t - 1.0) / t_next
        momentum = w_next + beta * (w_next - w)
        g_momentum = g_next + beta * (g_next - g)  # the gradient is affine: no second product
        w, g, t = w_next, g_next, t_next
    s_min, s_max = image_counts(problem)
    sizes = np.arange(s_min, s_max + 1, dtype=np.float64)
    return max(0.0, float(np.min(sizes * sizes * rho - mu * sizes)))


def lower_bound(problem: SelectionProblem) -> tuple[float, str]:
    """The best bound of this module on Eq. 4's optimum, and which redundancy bound gave it."""
    uncertainty = uncertainty_bound(problem)
    if problem.lam == 0:
        return uncertainty, "combinatorial (uncertainty)"
    entries, simplex = entries_bound(problem), simplex_bound(problem)
    if simplex > entries:
        return uncertainty + problem.lam * simplex, "combinatorial (simplex)"
    return uncertainty + problem.lam * entries, "combinatorial (entries)"


def combinatorial_bound(problem: SelectionProblem) -> float:
    """A proven lower bound on the optimum of Eq. 4 (see the module docstring)."""
    return lower_bound(problem)[0]
