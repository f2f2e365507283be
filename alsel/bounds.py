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
           the problem is convex; rho is bounded from below by the Frank-Wolfe gap of a
           pairwise Frank-Wolfe solve, and the bound is the minimum over s. It is
           tight when R is dominated by a constant (the affine mapping (1 + cos) / 2 is
           1/2 + cos / 2): then it says "s images cost at least ~ s^2 / 2", which entry-wise
           bounds cannot see.

The bound is U + lam * max(entries, simplex): the terms need not be attained by the same S,
which is what makes it a bound rather than a solution. Each redundancy bound has a cheap upper
bound (one product R 1, and s rows of R): the bound with the larger one is computed first, and
the other only where its upper bound exceeds that value, so the maximum is the same as computing
both (N = 100,000 kNN R: the simplex bound and its eigenvalue are skipped; N = 10,000 dense
min-max R: the entries bound's O(N^2) partition is).
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


#: Entries of a dense R copied at once by the entries bound (rows of R, not all of R: N = 10,000
#: copied 0.8 GB before).
CHUNK_ENTRIES = 1 << 22


def _row_smallest_off_diagonal(R, count: int, rows: np.ndarray | None = None) -> np.ndarray:
    """For every row i of R (or of ``rows``), the sum of the ``count`` smallest entries R[i, j],
    j != i."""
    n = R.shape[0]
    rows = np.arange(n) if rows is None else np.asarray(rows, dtype=np.int64)
    if count <= 0:
        return np.zeros(rows.size)
    if sp.issparse(R):
        sub = sp.csr_array(R)[rows]
        owner = np.repeat(np.arange(rows.size), np.diff(sub.indptr))
        keep = (sub.indices != rows[owner]) & (sub.data != 0)
        stored = np.bincount(owner[keep], minlength=rows.size)
        data = sub.data[keep]
        starts = np.concatenate([[0], np.cumsum(stored)])
        zeros = (n - 1) - stored  # implicit zeros of each row
        sums = np.zeros(rows.size)
        for i in np.flatnonzero(zeros < count):  # only rows with too few zeros (dense-ish)
            sums[i] = _smallest_sum(data[starts[i]:starts[i + 1]], count - zeros[i])
        return sums
    sums = np.empty(rows.size)
    step = max(1, CHUNK_ENTRIES // n)
    for start in range(0, rows.size, step):
        chunk = rows[start:start + step]
        block = np.array(R[chunk], dtype=np.float64)
        block[np.arange(chunk.size), chunk] = np.inf
        sums[start:start + step] = np.partition(block, count - 1, axis=1)[:, :count].sum(axis=1)
    return sums


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


def _diagonal(R) -> np.ndarray:
    return np.asarray(R.diagonal(), dtype=np.float64)


def _row_totals(R) -> np.ndarray:
    """R 1 (R >= 0: also the row sums of |R|)."""
    return np.asarray(R @ np.ones(R.shape[0]), dtype=np.float64).ravel()


def entries_bound(problem: SelectionProblem) -> float:
    """The "entries" lower bound on v^T R v."""
    s, _ = image_counts(problem)
    R = problem.R
    return _smallest_sum(_diagonal(R), s) + _smallest_sum(_row_smallest_off_diagonal(R, s - 1), s)


def _entries_upper(problem: SelectionProblem, totals: np.ndarray) -> float:
    """An upper bound on :func:`entries_bound` from s rows only: the s smallest row terms are at
    most those of any s rows (here the s of smallest row total)."""
    s, _ = image_counts(problem)
    rows = np.argpartition(totals, s - 1)[:s] if s < totals.size else np.arange(totals.size)
    return _smallest_sum(_diagonal(problem.R), s) + float(
        _row_smallest_off_diagonal(problem.R, s - 1, rows).sum())


def _simplex_upper(problem: SelectionProblem, totals: np.ndarray) -> float:
    """An upper bound on :func:`simplex_bound` at the simplex's centre w = 1/N: rho <= f(w), and
    mu s^2 ||w||^2 - mu s = mu (s^2 / N - s) <= 0, so the bound is at most s_min^2 1'R1 / N^2."""
    s_min, _ = image_counts(problem)
    n = problem.n_images
    return max(0.0, s_min * s_min * float(totals.sum()) / (n * n))


def _smallest_eigenvalue(R, row_totals: np.ndarray | None = None, tol: float = 1e-10) -> float:
    """lambda_min of symmetric R >= 0, pushed down by a safety margin.

    Lanczos (ARPACK) on R + c I with c = max_i sum_j |r_ij| >= ||R||_2: ARPACK's tolerance is
    relative to the eigenvalue, and a min-max or affine cosine R is PSD of low rank, so its
    lambda_min is ~0 with N - d eigenvalues beside it; unshifted, ARPACK chased a relative 1e-10
    of ~0 (N = 10,000: 67 products with R, 12 s). Shifted, the tolerance is tol * c in absolute
    terms and the Krylov space of a low-rank R is exhausted in a few dozen products."""
    from scipy.sparse.linalg import LinearOperator, eigsh

    n = R.shape[0]
    values = R.data if sp.issparse(R) else R
    scale = max(float(values.max()), -float(values.min())) if values.size else 0.0  # no |R| copy
    if n <= 600:
        low = float(np.linalg.eigvalsh(R.toarray() if sp.issparse(R) else np.asarray(R))[0])
        return low - 1e-8 * max(scale, 1.0) * n
    totals = _row_totals(R) if row_totals is None else row_totals
    shift = max(float(totals.max()), 1e-300)
    operator = LinearOperator((n, n), matvec=lambda x: R @ x.ravel() + shift * x.ravel(), dtype=np.float64)
    start = np.random.default_rng(0).uniform(0.5, 1.5, n)  # reproducible; ARPACK's own start is random
    theta = float(eigsh(operator, k=1, which="SA", return_eigenvectors=False, tol=tol, v0=start)[0])
    # the Ritz residual is <= tol * |theta| <= 2 tol c: margin for it and for rounding in R x
    return theta - shift - 4.0 * tol * shift - 1e-8 * max(scale, 1.0) * n


def _exact_check(R, mu: float, w: np.ndarray) -> tuple[np.ndarray, float, float]:
    """At a point w of the simplex: the exact gradient g of w^T (R + mu I) w, the value there,
    and the Frank-Wolfe lower bound it proves on the simplex minimum (convexity only: valid at
    any w, however it was reached)."""
    g = 2.0 * (np.asarray(R @ w).ravel() + mu * w)
    value = 0.5 * float(w @ g)
    return g, value, value + float(g.min() - g @ w)


def _pairwise_frank_wolfe(R, mu: float, w: np.ndarray, rel_gap: float, max_checks: int,
                          give_up_at: float = -np.inf) -> tuple[np.ndarray, float, float]:
    """(w, rho, f(w)): pairwise Frank-Wolfe from ``w`` on min over the simplex of
    f(w) = w^T (R + mu I) w, and the best Frank-Wolfe lower bound rho taken on the way.

    Each step moves mass from the support's vertex of largest gradient to the vertex of smallest
    (Lacoste-Julien & Jaggi 2015), by exact line search, so it costs two rows of R, not a
    product with it. Every ``max(1000, N)`` steps the gradient is recomputed exactly and the
    Frank-Wolfe bound f(w) + min_u g.(u - w) <= rho* (convexity) is taken there: the bound never
    rests on the updated gradient's rounding."""
    n = R.shape[0]
    dense = not sp.issparse(R)
    diagonal = _diagonal(R)

    def entry(i: int, j: int) -> float:
        if dense:
            return float(R[i, j])
        indices = R.indices[R.indptr[i]:R.indptr[i + 1]]
        k = int(np.searchsorted(indices, j))
        return float(R.data[R.indptr[i] + k]) if k < indices.size and indices[k] == j else 0.0

    def add_row(g: np.ndarray, i: int, scale: float) -> None:
        if dense:
            g += scale * R[i]
        else:
            span = slice(R.indptr[i], R.indptr[i + 1])
            g[R.indices[span]] += scale * R.data[span]

    w = np.array(w, dtype=np.float64)
    rho, value = -np.inf, np.inf
    for _ in range(max_checks):
        g, value, proven = _exact_check(R, mu, w)
        rho = max(rho, proven)
        if value - rho <= rel_gap * max(abs(value), 1e-12) or value <= give_up_at:
            break
        for step_number in range(max(1000, n)):
            toward = int(np.argmin(g))
            away = int(np.argmax(np.where(w > 0, g, -np.inf)))
            slope = g[toward] - g[away]
            if slope >= 0:  # no pairwise step descends: w is optimal up to the gradient's rounding
                break
            curvature = diagonal[toward] + diagonal[away] - 2.0 * entry(toward, away) + 2.0 * mu
            step = w[away] if curvature <= 0 else min(w[away], -slope / (2.0 * curvature))
            w[toward] += step
            w[away] -= step
            add_row(g, toward, 2.0 * step)
            add_row(g, away, -2.0 * step)
            g[toward] += 2.0 * step * mu
            g[away] -= 2.0 * step * mu
        if step_number == 0 and slope >= 0:
            break  # not even the exact gradient descends: rho is as good as it gets
    return w, rho, value


#: Up to this N the simplex's minimization runs on all of R; above it on a working set.
WHOLE_SIMPLEX_N = 2000
#: Vertices the working set starts with and takes in per round, and the most it holds.
SUPPORT_GROW, SUPPORT_MAX = 256, 1536
#: The most vertices the active-set solve on the working set spreads weight over (a KKT solve of
#: that size per step): a minimizer spread wider is not low-rank-like, and the bound stops there.
FACE_SUPPORT_MAX = 192


def _simplex_minimum(R, mu: float, rel_gap: float = 1e-4, max_checks: int = 200,
                     give_up_at: float = -np.inf) -> float:
    """A lower bound on rho = min over the unit simplex of w^T (R + mu I) w (convex: R + mu I is
    PSD), within ``rel_gap`` of rho where the budget allows.

    Up to N = ``WHOLE_SIMPLEX_N``: pairwise Frank-Wolfe on all of R (:func:`_pairwise_frank_wolfe`;
    it replaced an accelerated projected gradient that needed 500 products at N = 5000). Above,
    its steps (O(N) each, N of them between checks, one at a time in Python: N = 10,000 took
    ~4 s a round) are spent on a working set S of vertices instead: minimize over the face of
    the simplex on S (R_SS dense, |S| <= ``SUPPORT_MAX``, :func:`_face_minimizer`), then one product with all of R gives
    the exact gradient g, the Frank-Wolfe bound f(w) + min_i g_i - g.w at that w (valid at any
    w of the simplex: only convexity is used), and the vertices of smallest g_i join S (column
    generation). A low-rank R (cosine features) has a minimizer on few vertices (Caratheodory:
    rank + 1), so a few rounds close the gap; where they do not, the bound is looser, never
    invalid. ``give_up_at``: stop as soon as f(w) <= give_up_at (the caller then has no use for
    a tighter bound on rho)."""
    n = R.shape[0]
    dense = not sp.issparse(R)
    R = np.asarray(R, dtype=np.float64) if dense else sp.csr_array(R, dtype=np.float64)
    if not dense:
        R.sum_duplicates()  # sorted indices: entries found by bisection
    if n <= WHOLE_SIMPLEX_N:
        return _pairwise_frank_wolfe(R, mu, np.full(n, 1.0 / n), rel_gap, max_checks, give_up_at)[1]
    w = np.full(n, 1.0 / n)
    support = np.empty(0, dtype=np.int64)
    rho = -np.inf
    for _ in range(max_checks):
        g, value, proven = _exact_check(R, mu, w)
        rho = max(rho, proven)
        if value - rho <= rel_gap * max(abs(value), 1e-12) or value <= give_up_at:
            break
        outside = np.ones(n, dtype=bool)
        outside[support] = False
        fresh = np.flatnonzero(outside & (g < g @ w))  # vertices that would take mass from w
        if not fresh.size:
            break
        if fresh.size > SUPPORT_GROW:
            fresh = fresh[np.argpartition(g[fresh], SUPPORT_GROW - 1)[:SUPPORT_GROW]]
        kept = support[w[support] > 0]
        if kept.size + fresh.size > SUPPORT_MAX:
            break  # the working set would outgrow its budget: rho is the bound it has
        support = np.concatenate([kept, fresh])
        block = R[np.ix_(support, support)] if dense else R[support][:, support].toarray()
        start = w[support]
        start = start / start.sum() if start.sum() > 0 else np.full(support.size, 1.0 / support.size)
        w = np.zeros(n)
        w[support] = _face_minimizer(block, mu)
    return rho


def _face_minimizer(block: np.ndarray, mu: float, max_iterations: int | None = None) -> np.ndarray:
    """A point of the unit simplex at (or near) the minimizer of w^T A w, A = block + mu I PSD
    and small: a primal active-set method (Wolfe's minimum-norm-point algorithm in QP form).

    The passive set P holds the vertices with w > 0; the equality-constrained minimum on P
    solves [2 A_PP, 1; 1^T, 0] [z; -nu] = [0; 1] (least squares: A may be singular). If z > 0
    it is the new w and the vertex of smallest gradient joins P while it would descend;
    otherwise w moves toward z until a weight reaches zero, which leaves P. Only a point is
    needed: the bound is taken there with the exact gradient of the whole R."""
    size = block.shape[0]
    A = (block + block.T) / 2.0 + mu * np.eye(size)
    max_iterations = min(10 * size + 100, 400) if max_iterations is None else max_iterations
    first = int(np.argmin(np.diag(A)))
    w = np.zeros(size)
    w[first] = 1.0
    passive = [first]
    scale = max(float(np.abs(A).max()), 1e-300)
    for _ in range(max_iterations):
        g = 2.0 * (A @ w)
        level = float(g @ w)
        outside = np.ones(size, dtype=bool)
        outside[passive] = False
        if not outside.any():
            break
        j = int(np.flatnonzero(outside)[np.argmin(g[outside])])
        if g[j] >= level - 1e-12 * scale or len(passive) >= FACE_SUPPORT_MAX:
            break  # KKT: no vertex outside P has a smaller gradient than the face's level
        passive.append(j)
        while True:
            p = np.asarray(passive)
            kkt = np.zeros((p.size + 1, p.size + 1))
            kkt[:-1, :-1] = 2.0 * A[np.ix_(p, p)]
            kkt[:-1, -1] = 1.0
            kkt[-1, :-1] = 1.0
            rhs = np.zeros(p.size + 1)
            rhs[-1] = 1.0
            z = np.linalg.lstsq(kkt, rhs, rcond=None)[0][:-1]
            if np.all(z > 0):
                w = np.zeros(size)
                w[p] = z
                break
            current = w[p]
            shrinking = z <= 0
            alpha = float(np.min(current[shrinking] / (current[shrinking] - z[shrinking])))
            moved = current + alpha * (z - current)
            moved[shrinking & (moved <= 1e-15)] = 0.0
            moved[np.argmin(np.where(shrinking, moved, np.inf))] = 0.0  # at least one leaves
            w = np.zeros(size)
            w[p] = np.clip(moved, 0.0, None)
            passive = [int(i) for i in p[moved > 0]]
            if not passive:
                passive = [first]
                w[first] = 1.0
                break
    total = float(w.sum())
    return w / total if total > 0 else np.full(size, 1.0 / size)


def simplex_bound(problem: SelectionProblem, rel_gap: float = 1e-4, at_least: float = -np.inf,
                  row_totals: np.ndarray | None = None) -> float:
    """The "simplex" lower bound on v^T R v (see the module docstring).

    ``at_least``: a value the caller already has; the minimization stops as soon as this bound
    is known to stay below it (the result is then still a valid bound, only not a tight one)."""
    s_min, s_max = image_counts(problem)
    sizes = np.arange(s_min, s_max + 1, dtype=np.float64)
    totals = _row_totals(problem.R) if row_totals is None else row_totals
    mu = max(0.0, -_smallest_eigenvalue(problem.R, totals))  # R + mu I is PSD: convex
    # at the centre w = 1/N, rho <= f(w) = 1'R1 / N^2 + mu / N: if even that leaves the bound
    # at or below at_least (a large mu: R far from PSD), it is not worth minimizing
    n = problem.n_images
    centre = float(totals.sum()) / (n * n) + mu / n
    if max(0.0, float(np.min(sizes * sizes * centre - mu * sizes))) <= at_least:
        return 0.0
    # s^2 f(w) - mu s <= at_least for some s  <=>  f(w) <= max_s (at_least + mu s) / s^2
    give_up_at = float(np.max((at_least + mu * sizes) / (sizes * sizes))) if np.isfinite(at_least) else -np.inf
    rho = _simplex_minimum(problem.R, mu, rel_gap, give_up_at=give_up_at)
    return max(0.0, float(np.min(sizes * sizes * rho - mu * sizes)))


def redundancy_bounds(problem: SelectionProblem) -> tuple[float, float]:
    """(entries, simplex), each a lower bound on v^T R v; the one that cannot exceed the other
    (by its cheap upper bound) is not computed and comes back as -inf."""
    totals = _row_totals(problem.R)
    simplex_upper = _simplex_upper(problem, totals)
    entries_upper = _entries_upper(problem, totals)
    if simplex_upper > entries_upper and not sp.issparse(problem.R):  # sparse: entries is O(nnz)
        simplex = simplex_bound(problem, row_totals=totals)
        entries = entries_bound(problem) if entries_upper >= simplex else -np.inf
    else:
        entries = entries_bound(problem)
        simplex = (simplex_bound(problem, at_least=entries, row_totals=totals)
                   if simplex_upper > entries else -np.inf)
    return entries, simplex


def lower_bound(problem: SelectionProblem) -> tuple[float, str]:
    """The best bound of this module on Eq. 4's optimum, and which redundancy bound gave it."""
    uncertainty = uncertainty_bound(problem)
    if problem.lam == 0:
        return uncertainty, "combinatorial (uncertainty)"
    entries, simplex = redundancy_bounds(problem)
    if simplex > entries:
        return uncertainty + problem.lam * simplex, "combinatorial (simplex)"
    return uncertainty + problem.lam * entries, "combinatorial (entries)"


def combinatorial_bound(problem: SelectionProblem) -> float:
    """A proven lower bound on the optimum of Eq. 4 (see the module docstring)."""
    return lower_bound(problem)[0]
