"""Local search on Eq. 4: move queries between images until no move lowers the objective.

Works on the counts of :mod:`._counts` (each image's queries are its cheapest classes, which is
itself a first improvement for a selection that is not). Three moves, each evaluated for every
candidate at once with vector operations, the best improving one applied:

``transfer``  one query from image a to image b (a != b; b may be unused, a may empty);
``swap``      image a's k_a queries all to an unused image b (a leaves, b joins);
``merge``     image a's k_a queries spread over the used images with room (a leaves);
``exchange``  image a leaves, unused image b joins (or b just joins), and every used image's
              count is re-chosen optimally for the new set (the most promising 32 candidates
              by their change in redundancy are evaluated exactly).

A swap or a merge is a sequence of transfers whose first steps may each go uphill; they let the
search trade a whole image for another, which is what the redundancy term rewards. The descent
stops at a local optimum for all three moves, or after ``max_moves``. Among moves of exactly
equal change, and between images of exactly equal cost, the seeded order of
:class:`~._counts.CountTables` decides.

Then ``kicks`` rounds of iterated local search (Lourenco, Martin & Stuetzle 2003): replace a
random fifth of the used images by random unused ones (same counts), descend again, keep the
result if it is better. Kicks are drawn from ``seed``, so the result is reproducible; the output
is never worse than the input.
"""

from __future__ import annotations

import logging

import numpy as np

from ._counts import CountState

logger = logging.getLogger(__name__)


def _best_transfer(state: CountState, remove: np.ndarray, add: np.ndarray):
    """(delta, a, b) of the best single-query transfer a -> b."""
    t = state.t
    best = (np.inf, -1, -1)
    a_order = t.smallest(remove, 2)
    b_order = t.smallest(add, 2)
    for a in a_order:
        for b in b_order:
            if a != b and remove[a] + add[b] < best[0]:
                best = (float(remove[a] + add[b]), int(a), int(b))
    # a empties and b is new: b's cost counted R[a, b] for an image that leaves
    emptying = np.flatnonzero(state.k == 1)
    if t.lam > 0 and emptying.size and t.sparse:
        # b: the new images' add deltas, inf elsewhere (no index list of the ~N new images)
        b = np.where(state.k == 0, add, np.inf)
        if np.isfinite(b).any():
            values, i, j = _sparse_pair_smallest(state, emptying, remove[emptying], b, 1)
            if values[0] < best[0]:
                best = (float(values[0]), int(emptying[i[0]]), int(j[0]))
        return best
    new = np.flatnonzero(state.k == 0)
    if t.lam > 0 and emptying.size and new.size:
        D = remove[emptying][:, None] + add[new][None, :] - 2.0 * t.lam * t.block(emptying, new)
        i, j = t.argmin_pair(D, emptying, new)
        if D[i, j] < best[0]:
            best = (float(D[i, j]), int(emptying[i]), int(new[j]))
    return best


def _best_swap(state: CountState):
    """(delta, a, b): image a's queries all move to unused image b."""
    t, k = state.t, state.k
    used, new = np.flatnonzero(k > 0), np.flatnonzero(k == 0)
    if not used.size or not new.size:
        return (np.inf, -1, -1)
    ka = k[used]
    leave = -t.prefix[used, ka] - t.lam * (2.0 * state.Rv[used] - t.diag[used])
    if t.sparse:
        return _sparse_best_swap(state, used, ka, leave)
    join = t.prefix[new][:, ka].T + t.lam * (t.diag[new] + 2.0 * state.Rv[new])[None, :]
    D = leave[:, None] + join
    if t.lam > 0:
        D -= 2.0 * t.lam * t.block(used, new)
    i, j = t.argmin_pair(D, used, new)
    return (float(D[i, j]), int(used[i]), int(new[j]))


def _best_merge(state: CountState):
    """(delta, a, receivers): image a's queries spread over the cheapest rooms of used images."""
    t, k = state.t, state.k
    used = np.flatnonzero(k > 0)
    room = used[k[used] < t.kmax]
    if used.size < 2 or not room.size:
        return (np.inf, -1, None)
    # every further query each used image could take, cheapest first
    steps = np.arange(1, t.kmax + 1)
    levels = k[room][:, None] + steps[None, :]
    valid = levels <= t.kmax
    levels = np.minimum(levels, t.kmax)
    increments = t.prefix[room[:, None], levels] - t.prefix[room[:, None], levels - 1]
    owner = np.broadcast_to(room[:, None], levels.shape)[valid]
    increments = increments[valid]
    first = t.smallest(increments, t.kmax, owner)
    owner, increments = owner[first], increments[first]
    # for each leaving image a: its k_a cheapest increments among the other images
    others = owner[None, :] != used[:, None]
    taken = others & (np.cumsum(others, axis=1) <= k[used][:, None])
    enough = taken.sum(axis=1) == k[used]
    cost = (taken * increments[None, :]).sum(axis=1)
    leave = -t.prefix[used, k[used]] - t.lam * (2.0 * state.Rv[used] - t.diag[used])
    delta = np.where(enough, leave + cost, np.inf)
    i = t.argmin(delta, used)
    return (float(delta[i]), int(used[i]), owner[taken[i]])


def _sparse_pair_smallest(state: CountState, rows: np.ndarray, a: np.ndarray, b: np.ndarray,
                          count: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The ``count`` smallest D_ij = a_i + b_j - 2 lam R[rows_i, j] over i and every image j
    with finite b_j (values, i, j; smallest first), for a sparse R, without the |rows| x N block.

    R >= 0 only lowers D, so a pair among the count smallest either holds a stored entry or has
    D = a_i + b_j and is among the count smallest such sums, whose i and j are among the count
    smallest a and b: the stored pairs and that count x count table hold every candidate."""
    t = state.t
    owner, columns, values = t.row_entries(rows)
    finite = np.isfinite(b[columns])
    owner, columns = owner[finite], columns[finite]
    stored = a[owner] + b[columns] - 2.0 * t.lam * values[finite]
    top_a = _smallest(a, count)
    finite_b = np.flatnonzero(np.isfinite(b))
    top_b = finite_b[_smallest(b[finite_b], count)]
    outer_i = np.repeat(top_a, top_b.size)
    outer_j = np.tile(top_b, top_a.size)
    i = np.concatenate([owner, outer_i])
    j = np.concatenate([columns, outer_j])
    D = np.concatenate([stored, a[outer_i] + b[outer_j]])
    # a stored pair also in the table: keep its smaller (true) value
    order = np.lexsort((D, j, i))
    i, j, D = i[order], j[order], D[order]
    first = np.ones(i.size, dtype=bool)
    first[1:] = (i[1:] != i[:-1]) | (j[1:] != j[:-1])
    i, j, D = i[first], j[first], D[first]
    chosen = _smallest(D, count)
    return D[chosen], i[chosen], j[chosen]


def _sparse_best_swap(state: CountState, used: np.ndarray, ka: np.ndarray, leave: np.ndarray):
    """:func:`_best_swap` for a sparse R: D_ab = leave_a + P[b, k_a] + lam (r_bb + 2 (Rv)_b)
    - 2 lam r_ab, minimized over the stored r_ab and, for each count c, the best b alone."""
    t, k = state.t, state.k
    new_mask = k == 0
    base = np.where(new_mask, state.kept_join, np.inf)
    best = (np.inf, -1, -1)
    for c in np.unique(ka):
        join = base + t.prefix_columns[c]
        j = int(np.argmin(join))
        mine = np.flatnonzero(ka == c)
        i = mine[int(np.argmin(leave[mine]))]
        if leave[i] + join[j] < best[0]:
            best = (float(leave[i] + join[j]), int(used[i]), j)
    owner, columns, values = t.row_entries(used)
    keep = new_mask[columns]
    owner, columns = owner[keep], columns[keep]
    if owner.size:
        D = leave[owner] + t.prefix[columns, ka[owner]] + base[columns] - 2.0 * t.lam * values[keep]
        m = int(np.argmin(D))
        if D[m] < best[0]:
            best = (float(D[m]), int(used[owner[m]]), int(columns[m]))
    return best


KICKS = 8


def optimal_counts(state: CountState, used: np.ndarray) -> tuple[np.ndarray, float]:
    """The best counts for the image set ``used`` (each >= 1) and their uncertainty Tr(M G)."""
    t = state.t
    extra = t.B - used.size
    if extra < 0 or used.size * t.kmax < t.B:
        return np.empty(0), np.inf
    k = np.zeros(t.n, dtype=np.int64)
    k[used] = 1
    value = float(t.prefix[used, 1].sum())
    if extra:
        increments = np.diff(t.prefix[used, 1:], axis=1)  # queries 2..kmax of each used image
        owner = np.broadcast_to(used[:, None], increments.shape).ravel()
        cheapest = np.argpartition(increments.ravel(), extra - 1)[:extra]
        value += float(increments.ravel()[cheapest].sum())
        np.add.at(k, owner[cheapest], 1)
    return k, value


def _smallest(values: np.ndarray, count: int) -> np.ndarray:
    """Positions of the ``count`` smallest values, smallest first: a partition, then a sort of
    those alone (the exchange's |used| x |unused| table: N = 5000, 3.5M entries, ~40 ms against
    a full sort's ~400 ms)."""
    if values.size <= count:
        return np.argsort(values, kind="stable")
    chosen = np.argpartition(values, count - 1)[:count]
    return chosen[np.argsort(values[chosen], kind="stable")]


def _best_exchange(state: CountState, top: int = 32):
    """(delta, counts): the best 'a leaves, b joins' or 'b joins' with optimal recounting."""
    t, k = state.t, state.k
    used, new = np.flatnonzero(k > 0), np.flatnonzero(k == 0)
    if not new.size or t.lam == 0:
        return (np.inf, None)
    current = float(t.prefix[t.rows, k].sum())
    join = t.lam * (t.diag[new] + 2.0 * state.Rv[new])
    best = (np.inf, None)
    candidates = []
    if used.size + 1 <= t.B:
        for j in _smallest(join, top):
            candidates.append((join[j], np.append(used, new[j])))
    leave = -t.lam * (2.0 * state.Rv[used] - t.diag[used])
    if t.sparse:
        join_all = np.full(t.n, np.inf)
        join_all[new] = join
        for value, i, j in zip(*_sparse_pair_smallest(state, used, leave, join_all, top)):
            candidates.append((value, np.append(np.delete(used, i), j)))
    else:
        D = leave[:, None] + join[None, :] - 2.0 * t.lam * t.block(used, new)
        for flat in _smallest(D.ravel(), top):
            i, j = divmod(int(flat), new.size)
            candidates.append((D[i, j], np.append(np.delete(used, i), new[j])))
    for redundancy_change, images in candidates:
        counts, value = optimal_counts(state, images)
        delta = redundancy_change + value - current
        if delta < best[0]:
            best = (float(delta), counts)
    return best


def improve(state: CountState, max_moves: int | None = None, kicks: int = KICKS, seed: int = 0) -> CountState:
    """Descend to a local optimum, then ``kicks`` rounds of kick-and-descend; the best state."""
    descend(state, max_moves)
    best, best_value = state, state.objective()
    rng = np.random.default_rng(seed)
    for _ in range(kicks):
        trial = CountState(state.t, best.k.copy())
        used, unused = np.flatnonzero(trial.k > 0), np.flatnonzero(trial.k == 0)
        if not used.size or not unused.size:
            break
        count = min(max(1, used.size // 5), unused.size)
        leaving = rng.choice(used, size=count, replace=False)
        joining = rng.choice(unused, size=count, replace=False)
        for a, b in zip(leaving, joining):
            trial.set_count(int(b), int(trial.k[a]))
            trial.set_count(int(a), 0)
        descend(trial, max_moves)
        value = trial.objective()
        if value < best_value - 1e-12 * max(1.0, abs(best_value)):
            best, best_value = trial, value
    return best


def _improves(delta: float, value: float, state: CountState) -> bool:
    """delta < -1e-12 max(1, |objective|): with ``value`` the objective tracked by the moves'
    deltas, recomputed exactly (an O(N) pass) only when delta is within 1e-6 of the threshold,
    where the tracked value's rounding could matter."""
    threshold = -1e-12 * max(1.0, abs(value))
    if abs(delta - threshold) > 1e-6 * abs(threshold):
        return bool(delta < threshold)
    return bool(delta < -1e-12 * max(1.0, abs(state.objective())))


def descend(state: CountState, max_moves: int | None = None) -> int:
    """Apply the best improving move until none improves; returns the number of moves."""
    t = state.t
    max_moves = 20 * t.B + 100 if max_moves is None else max_moves
    moves = 0
    value = state.objective()
    while moves < max_moves:
        remove, add = state.kept_deltas
        transfer, swap, merge = _best_transfer(state, remove, add), _best_swap(state), _best_merge(state)
        best = min(transfer[0], swap[0], merge[0])
        if not _improves(best, value, state):
            exchange = _best_exchange(state)
            if not _improves(exchange[0], value, state):
                break
            for i in np.flatnonzero(state.k != exchange[1]):
                state.set_count(int(i), int(exchange[1][i]))
            value += exchange[0]
            moves += 1
            continue
        value += best
        if transfer[0] == best:
            _, a, b = transfer
            state.set_count(a, state.k[a] - 1)
            state.set_count(b, state.k[b] + 1)
        elif swap[0] == best:
            _, a, b = swap
            count = state.k[a]
            state.set_count(a, 0)
            state.set_count(b, count)
        else:
            _, a, receivers = merge
            state.set_count(a, 0)
            for b in receivers:
                state.set_count(int(b), state.k[b] + 1)
        moves += 1
    else:
        logger.warning("local search stopped after max_moves=%d moves, before a local optimum", max_moves)
    return moves
