"""Solve a selection LP (or the "qp" relaxation) on a growing working set of images and pair
rows (``solver_options={"working_set": True}``).

The relaxation is degenerate (docs/relaxation.md): its optimum spends the budget as M = 1/2 on
about 2B of the cheapest entries, every image without one of them can sit at M = v = z = 0, and
with every v <= 1/2 no pair row v_i + v_j - 2 z_ij <= 1 binds. So the LP of a sub-pool S without
its pair rows has the same optimum, at a fraction of the size: it grows with |S| C, not N² (N =
1200: 7,162 rows of 744,601). The loop, any LP backend that returns duals inside:

1. S = the images a greedy fill of 2B queries opens (:func:`initial_images`; in the degenerate
   formulations the images of the 2B cheapest entries, at most C_max from one image); no pair
   row is in yet;
2. solve the LP restricted to S: the columns of S's images (M, v, and the z of pairs inside S
   whose rows are in), the rows that still bind over them; every other column is fixed at its
   lower bound (0). A pair row with one image outside S reads v_i <= 1 and is dropped; one
   between two images of S is left out, with its z at 0, until an answer violates it
   (:class:`PairRows`: leaving it out relaxes the LP, as z's cost is >= 0);
3. extend the answer: x = 0 outside; y = 0 on the dropped and left-out rows, and on the capacity
   and link rows of the images outside S the duals that cost the bound least (:func:`price`).
   alsel's certificate on the full LP (the same yardstick as every backend's answer) then has the
   violated pair rows in its primal residual and, in its duality gap, what the outside images
   could still gain at these duals (their "loss");
4. stop when that certificate is within tol (or, for a backend whose answers miss tol on the
   restricted LP already, within twice that answer's own certificate); else add the images with
   the largest loss and the violated pair rows, and go to 2 (column and row generation; "sifting"
   in commercial LP codes).

The QP relaxation ("qp") is handled alike: the sub-QP keeps Q's principal submatrix, and
pricing uses the QP's linearization at the answer, as alsel's QP certificate and bound do.

The answer is an answer of the full LP, judged on the full LP: the certificate in
``info["working_set"]`` and what alsel.certify() says agree. Where pricing finds nothing to add
and the certificate still misses tol, or after ``MAX_ROUNDS``, the full LP is solved (from the
last point where the backend takes a warm start), and ``info["working_set"]["fallback"]`` says so.
"""

from __future__ import annotations

import dataclasses
import heapq
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

from ..certificate import certify
from ..lp import LinearProgram, VariableIndex
from .base import LPSolution

logger = logging.getLogger(__name__)

#: Rounds of pricing before the full LP is solved instead.
MAX_ROUNDS = 8
#: The certificate an exact backend's extended answer must meet (first-order backends: their tol).
EXACT_TOL = 1e-7
#: The first set is opened by a greedy fill of this many budgets' worth of queries: the
#: degenerate relaxation spends B as M = 1/2 on 2B entries (docs/solvers.md, "The working set").
FIRST_SET_BUDGETS = 2
#: At most this share of |S| (and at least MIN_ENTERING images) enters in one round.
ENTERING_SHARE = 0.5
MIN_ENTERING = 16
#: The row blocks whose rows v_i + v_j + kappa z_k <= 1 are left out until violated (:class:`PairRows`).
PAIR_BLOCKS = ("pair", "mccormick")


@dataclass(frozen=True)
class Restriction:
    """The LP of a sub-pool: which full-LP columns and rows it keeps."""

    lp: LinearProgram
    columns: np.ndarray  # bool (n,)
    rows: np.ndarray  # bool (m,)

    def extend(self, full: LinearProgram, x: np.ndarray, y: np.ndarray | None) -> tuple[np.ndarray, np.ndarray | None]:
        """(x, y) of the full LP: excluded columns at their lower bound, dropped rows' duals 0
        (:func:`price` then chooses better ones for the outside images' own rows)."""
        x_full = full.col_lower.copy()
        x_full[self.columns] = x
        if y is None:
            return x_full, None
        y_full = np.zeros(full.num_rows)
        y_full[self.rows] = y
        return x_full, y_full


def applies(lp: LinearProgram, backend: Any) -> bool:
    """Whether the working set can solve ``lp`` with ``backend`` (select() then uses it)."""
    try:
        check_supported(lp, backend)
    except ValueError:
        return False
    return True


def check_backend(backend: Any, mip: bool) -> None:
    """ValueError when the working set cannot serve this backend or an integral problem (what
    ``solvers.check_options`` can tell before the LP is built)."""
    if mip:
        raise ValueError(f"solver {backend.name!r}: working_set prices columns with LP duals, "
                         "which an integral problem (formulation 'exact') has none of; drop "
                         "working_set.")
    if not getattr(backend, "returns_duals", True):
        raise ValueError(f"solver {backend.name!r} returns no LP duals, which the working set needs to "
                         "price images and certify its answer on the whole LP; use highs, glop or pdlp, "
                         "or drop working_set.")
    if getattr(backend, "needs_source", False):
        raise ValueError(f"solver {backend.name!r} restates the model from the selection problem, "
                         "so it cannot solve a working set's sliced LP; use another solver or drop "
                         "working_set.")


def check_supported(lp: LinearProgram, backend: Any) -> None:
    """ValueError naming what to change when the working set cannot solve ``lp`` with ``backend``."""
    check_backend(backend, lp.is_mip)
    index = lp.index
    if index is None or index.n_images == 0 or not {"budget", "capacity", "link"} <= set(lp.row_blocks):
        raise ValueError("working_set needs an LP built by alsel's formulations (alsel.build_lp): "
                         "it restricts the LP to a subset of images.")
    if not (np.all(np.isfinite(lp.col_lower)) and np.all(lp.col_lower == 0)):
        raise ValueError("working_set fixes the columns outside the working set at 0, so every "
                         "column's lower bound must be 0 (as in alsel's formulations).")


def initial_images(lp: LinearProgram) -> np.ndarray:
    """The images a greedy fill of twice the budget opens: take the cheapest next query, an
    image's first one paying the image's own cost (v's cost: lam r_ii in "mccormick", 0 in the
    degenerate formulations, where this is the 2B cheapest entries), at most C_max per image.
    The relaxation's support with room to spare, for pricing to correct."""
    index = lp.index
    n, c = index.n_images, index.n_classes
    per_image = _capacity(lp)
    target = int(min(FIRST_SET_BUDGETS * lp.row_upper[lp.row_blocks["budget"]][0], n * per_image))
    entry_costs = np.sort(lp.c[index.m].reshape(n, c), axis=1)[:, :per_image]
    opening = lp.c[index.v].copy()
    if lp.is_qp:  # the image alone at v = 1: + 1/2 Q_vv (lam r_ii in "qp")
        opening += 0.5 * lp.hessian.diagonal()[index.v]
    heap = [(float(entry_costs[i, 0] + opening[i]), i, 0) for i in range(n)]
    heapq.heapify(heap)
    images = np.zeros(n, dtype=bool)
    for _ in range(target):
        _, image, taken = heapq.heappop(heap)
        images[image] = True
        if taken + 1 < per_image:
            heapq.heappush(heap, (float(entry_costs[image, taken + 1]), image, taken + 1))
    return images


def _capacity(lp: LinearProgram) -> int:
    """How many queries one image can take: min(C, C_max) from the capacity rows."""
    return int(min(lp.index.n_classes, lp.row_upper[lp.row_blocks["capacity"]].min()))


@dataclass(frozen=True)
class PairRows:
    """The pair rows the working set leaves out until an answer violates them.

    A row v_i + v_j + kappa z_k <= 1 ("pair", "mccormick") whose own z_k costs >= 0: with the row
    dropped and z_k fixed at 0 the LP is a relaxation of the full one (a full-LP point loses
    c_k z_k >= 0 of objective), so an answer of it that satisfies the row is optimal with the row
    too, at dual 0 and z_k = 0. In the degenerate relaxation every image sits at v <= 1/2 and no
    such row binds: the sub-LP grows with N C, not |S|².
    """

    rows: np.ndarray  # int (k,): full-LP row numbers
    columns: np.ndarray  # int (k, 3): each row's columns (v_lo, v_hi, z_k), as stored
    coefficients: np.ndarray  # float (k, 3)

    @classmethod
    def of(cls, lp: LinearProgram) -> PairRows:
        parts = []
        for name in PAIR_BLOCKS:
            if name not in lp.row_blocks:
                continue
            block = lp.row_blocks[name]
            pointers = lp.A.indptr[block.start:block.stop + 1]
            if not np.all(np.diff(pointers) == 3):
                raise ValueError(f"working_set: a row of block {name!r} does not read v_i + v_j + kappa z_k <= 1.")
            parts.append((np.arange(block.start, block.stop),  # views of A's arrays, no copies
                          lp.A.indices[pointers[0]:pointers[-1]].reshape(-1, 3),
                          lp.A.data[pointers[0]:pointers[-1]].reshape(-1, 3)))
        if not parts:
            return cls(np.zeros(0, dtype=np.int64), np.zeros((0, 3), dtype=lp.A.indices.dtype), np.zeros((0, 3)))
        rows, columns, coefficients = (parts[0] if len(parts) == 1 else
                                       (np.concatenate(part) for part in zip(*parts)))
        pairs = cls(rows, columns, coefficients)
        droppable = (lp.c[pairs.z] >= 0) & (lp.col_lower[pairs.z] == 0)
        return pairs if droppable.all() else pairs.where(droppable)

    def where(self, mask: np.ndarray) -> PairRows:
        """The rows where ``mask`` (bool over these rows) holds."""
        if mask.all():  # the first round leaves every pair row out: no copy (21 ms at N = 1200)
            return self
        return PairRows(self.rows[mask], self.columns[mask], self.coefficients[mask])

    @property
    def z(self) -> np.ndarray:
        """Each row's z column."""
        return self.columns[:, 2]

    def violation(self, x: np.ndarray, upper: np.ndarray) -> np.ndarray:
        """How far x exceeds each row's upper bound (<= 0 where it holds)."""
        return (x[self.columns] * self.coefficients).sum(axis=1) - upper[self.rows]


def restrict(lp: LinearProgram, images: np.ndarray, left_out: PairRows | None = None) -> Restriction:
    """The LP of the images in ``images`` (bool, N): their M and v, the z of pairs inside, and
    the rows that can still be violated with every other column at 0, but the pair rows
    ``left_out`` and their z columns. Rows stay in order, so the row blocks and the variable
    index are those of the sub-pool (the structured operator reads them)."""
    index = lp.index
    c, size = index.n_classes, int(images.sum())
    columns = np.zeros(lp.num_cols, dtype=bool)
    columns[index.m] = np.repeat(images, c)
    columns[index.v] = images
    inside = images[index.pair_i] & images[index.pair_j]
    columns[index.z] = inside
    candidates = np.ones(lp.num_rows, dtype=bool)
    if left_out is not None:
        candidates[left_out.rows] = False
        columns[left_out.z] = False
    kept = np.flatnonzero(columns)
    candidate_rows = np.flatnonzero(candidates)
    A = lp.A[candidate_rows][:, kept]  # rows first: the left-out pair rows are most of A
    lower, upper = lp.col_lower[columns], lp.col_upper[columns]
    positive, negative = A.maximum(0), A.minimum(0)
    row_lower, row_upper = lp.row_lower[candidate_rows], lp.row_upper[candidate_rows]
    with np.errstate(invalid="ignore"):  # 0 * inf for unbounded columns: NaN is "may bind"
        highest = positive @ upper + negative @ lower
        lowest = positive @ lower + negative @ upper
    binding = (np.diff(A.indptr) > 0) & ~((highest <= row_upper) & (lowest >= row_lower))
    budget = lp.row_blocks["budget"]
    binding[(candidate_rows >= budget.start) & (candidate_rows < budget.stop)] = True
    rows = np.zeros(lp.num_rows, dtype=bool)
    rows[candidate_rows[binding]] = True

    blocks = {}
    for name, block in lp.row_blocks.items():
        start = int(np.count_nonzero(rows[:block.start]))
        blocks[name] = slice(start, start + int(np.count_nonzero(rows[block])))
    renumber = np.cumsum(images) - 1
    kept_z = columns[index.z]
    sub_index = VariableIndex(
        n_images=size, n_classes=c, m=slice(0, size * c), v=slice(size * c, size * (c + 1)),
        z=slice(size * (c + 1), int(columns.sum())),
        pair_i=renumber[index.pair_i[kept_z]], pair_j=renumber[index.pair_j[kept_z]],
    )
    # a principal submatrix of Q: convex where Q is, and Q's accepted curvature (hessian_shift)
    # bounds its own
    hessian = None if lp.hessian is None else sp.csr_array(lp.hessian[kept][:, kept])
    sub = dataclasses.replace(
        lp, c=lp.c[columns], A=sp.csr_array(A[np.flatnonzero(binding)]), row_lower=row_lower[binding],
        row_upper=row_upper[binding], col_lower=lower, col_upper=upper, index=sub_index,
        row_blocks=blocks, source=None, integrality=None, hessian=hessian,
    )
    return Restriction(sub, columns, rows)


def price(lp: LinearProgram, images: np.ndarray, y: np.ndarray,
          x: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(y, loss): duals for the rows of the images outside the set, and what each such image
    takes off the dual bound (<= 0; 0 where it cannot improve the objective at these duals).
    A QP is priced by its linearization at the point x (its certificate's and bound's too):
    an outside image's v then costs c_v + (Q x)_v, its redundancy with the images in use.

    With y = 0 on an outside image's rows, each of its M columns with a negative reduced cost
    d_j (cheaper than the budget's price) lowers the bound by d_j. Its own capacity and link rows
    do better, and weak duality holds for any y (the certificate recomputes everything): with
    capacity dual a <= 0 and link duals b_j = min(0, d_j - a), the image lowers the bound by

        a C_max + min(0, c_v + sum_j min(0, d_j - a)),

    concave and piecewise linear in a with kinks at a = d_j; its maximum over a <= 0 (taken at
    a kink or 0) is the value of the image's own LP at these prices, e.g. 0 where opening the
    image (c_v = lam r_kk in "mccormick") costs more than its queries gain."""
    lp = lp.linearized(x) if lp.is_qp else lp
    index = lp.index
    n, c = index.n_images, index.n_classes
    outside = np.flatnonzero(~images)
    y = y.copy()
    d = lp.c - lp.A.T @ lp.project_duals(y)
    d_M = d[index.m].reshape(n, c)[outside]
    c_v = lp.c[index.v][outside]
    loss = np.zeros(n)
    capacity_rows = np.arange(lp.row_blocks["capacity"].start, lp.row_blocks["capacity"].stop)[outside]
    link_rows = (lp.row_blocks["link"].start + outside[:, None] * c + np.arange(c)).ravel()
    per_image = lp.row_upper[capacity_rows]
    kinks = np.concatenate([np.zeros((outside.size, 1)), np.minimum(d_M, 0.0)], axis=1)  # (k, c + 1)
    shortfall = np.minimum(d_M[:, None, :] - kinks[:, :, None], 0.0).sum(axis=2)
    bound = kinks * per_image[:, None] + np.minimum(c_v[:, None] + shortfall, 0.0)
    best = np.argmax(bound, axis=1)
    a = kinks[np.arange(outside.size), best]
    y[capacity_rows] = a
    y[link_rows] = np.minimum(d_M - a[:, None], 0.0).ravel()
    loss[outside] = bound[np.arange(outside.size), best]
    return y, loss


def entering_images(loss: np.ndarray, images: np.ndarray) -> np.ndarray:
    """The images outside the set with a negative loss (:func:`price`), the most negative first,
    at most max(MIN_ENTERING, ENTERING_SHARE * |S|)."""
    candidates = np.flatnonzero((loss < 0) & ~images)
    limit = max(MIN_ENTERING, int(ENTERING_SHARE * images.sum()))
    chosen = candidates[np.argsort(loss[candidates], kind="stable")][:limit]
    entering = np.zeros(loss.size, dtype=bool)
    entering[chosen] = True
    return entering


def violated_rows(pair_rows: PairRows, out: np.ndarray, x: np.ndarray, row_upper: np.ndarray,
                  by: float) -> np.ndarray:
    """Which of the pair rows still ``out`` (bool over ``pair_rows``) x violates by more than
    ``by`` (bool over ``pair_rows``)."""
    return out & (pair_rows.violation(x, row_upper) > by)


@dataclass
class _Progress:
    rounds: list[dict] = field(default_factory=list)
    iterations: int = 0
    solver_seconds: float = 0.0
    solves: int = 0
    counted: bool = False  # whether a backend reported iterations (GLOP does not)

    def add(self, answer: LPSolution) -> None:
        self.solves += 1
        self.counted |= answer.iterations is not None
        self.iterations += answer.iterations or 0
        self.solver_seconds += answer.seconds

    @property
    def total_iterations(self) -> int | None:
        return None if self.solves and not self.counted else self.iterations


def solve(lp: LinearProgram, backend: Any, options: dict[str, Any]) -> LPSolution:
    """Solve ``lp`` with ``backend`` on a growing working set of images (module docstring)."""
    started = time.perf_counter()
    tol = float(options.get("tol", getattr(backend, "default_tol", EXACT_TOL)))
    options = dict(options)
    warm = options.pop("warm_start", None)
    start = _pair(warm)
    progress = _Progress()
    if start is not None and start[1] is not None:
        certificate = certify(lp, *start)
        if certificate.within(tol):  # the old answer still solves the changed LP
            progress.rounds.append({"images": 0, "pair_rows": 0, "rows": 0, "columns": 0, "status": "optimal",
                                    "iterations": 0, "kkt_error": certificate.kkt_error, "entering": 0,
                                    "entering_rows": 0})
            return _finish(lp, _certified_start(backend.name), start[0], start[1], progress, started, tol, False)
    # alsel's PDLP stops a sub-LP early once its budget row, closed by hand, certifies
    # (pdlp/repair.py); its v then sit up to ~3e-3 above 1/2 and violate thousands of the whole
    # LP's pair rows (N = 1200: 6,451 rows entered, 0.22 s against 0.08 s); run to tol instead
    sub_options = dict(options)
    if "repair" in getattr(backend, "options", ()):
        sub_options.setdefault("repair", False)
    images = initial_images(lp)
    pair_rows = PairRows.of(lp)
    out = np.ones(pair_rows.rows.size, dtype=bool)  # which pair rows are left out
    fallback = False
    for round_number in range(1, MAX_ROUNDS + 1):
        if images.all() and not out.any():  # the whole LP: solved below as the last round
            break
        restriction = restrict(lp, images, pair_rows.where(out))
        round_options = _remaining(sub_options, started, progress)
        if start is not None and "warm_start" in backend.options:
            round_options["warm_start"] = (start[0][restriction.columns],
                                           None if start[1] is None else start[1][restriction.rows])
        answer = backend.solve(restriction.lp, round_options)
        progress.add(answer)
        if answer.x is None:
            return _finish(lp, answer, None, None, progress, started, tol, fallback=False)
        x, y = restriction.extend(lp, answer.x, answer.row_dual)
        loss = np.zeros(images.size)
        if y is not None:
            y, loss = price(lp, images, y, x)
        certificate = certify(lp, x, y)
        # a backend whose answers miss tol on the restricted LP already (HiGHS's absolute
        # tolerances against optima of 1e-6; OR-Tools PDLP's own stopping test) is held to what it
        # delivered there: the working set may at most double it
        delivered = certify(restriction.lp, answer.x, answer.row_dual).kkt_error
        acceptable = tol if delivered <= tol else 2 * delivered
        done = answer.status != "optimal" or certificate.within(acceptable)
        entering = np.zeros(images.size, dtype=bool) if done else entering_images(loss, images)
        entering_rows = np.zeros(out.size, dtype=bool)
        if not done:  # rows of v in [0, 1] against 1: violations within tol only where nothing else enters
            entering_rows = violated_rows(pair_rows, out, x, lp.row_upper, tol)
            if not entering.any() and not entering_rows.any():
                entering_rows = violated_rows(pair_rows, out, x, lp.row_upper, 0.0)
        progress.rounds.append({"images": int(images.sum()), "pair_rows": int(np.count_nonzero(~out)),
                                "rows": restriction.lp.num_rows, "columns": restriction.lp.num_cols,
                                "status": answer.status, "iterations": answer.iterations,
                                "kkt_error": certificate.kkt_error, "entering": int(entering.sum()),
                                "entering_rows": int(entering_rows.sum())})
        logger.info("working set round %d: %d images, LP %d x %d, %s, full-LP KKT %.2e, %d images and %d pair "
                    "rows entering", round_number, images.sum(), restriction.lp.num_rows, restriction.lp.num_cols,
                    answer.status, certificate.kkt_error, entering.sum(), entering_rows.sum())
        if done:
            return _finish(lp, answer, x, y, progress, started, tol, fallback=False)
        start = (x, y)
        if not entering.any() and not entering_rows.any():
            fallback = True  # nothing prices in and nothing is violated, yet the certificate misses tol
            break
        images = images | entering
        out &= ~entering_rows
    else:
        fallback = True  # MAX_ROUNDS ran out
    # the whole pool, from the last point where the backend takes a warm start
    round_options = _remaining(options, started, progress)
    if start is not None and "warm_start" in backend.options:
        round_options["warm_start"] = start
    answer = backend.solve(lp, round_options)
    progress.add(answer)
    progress.rounds.append({"images": lp.index.n_images, "rows": lp.num_rows, "columns": lp.num_cols,
                            "status": answer.status, "iterations": answer.iterations})
    return _finish(lp, answer, answer.x, answer.row_dual, progress, started, tol, fallback)


def _pair(warm: Any) -> tuple[np.ndarray, np.ndarray | None] | None:
    if warm is None:
        return None
    if isinstance(warm, LPSolution):
        return np.asarray(warm.x, dtype=np.float64), (None if warm.row_dual is None else np.asarray(warm.row_dual))
    x, y = warm
    return np.asarray(x, dtype=np.float64), (None if y is None else np.asarray(y, dtype=np.float64))


def _certified_start(solver: str) -> LPSolution:
    """A stand-in for the solve that did not run: the warm start certified within tol."""
    return LPSolution(status="optimal", x=None, row_dual=None, col_dual=None, objective=float("nan"),
                      bound=float("nan"), iterations=0, seconds=0.0, handover_seconds=0.0, solver=solver,
                      algorithm="certified warm start", info={})


def _remaining(options: dict[str, Any], started: float, progress: _Progress) -> dict[str, Any]:
    """The options of the next solve, with what is left of the time and iteration limits."""
    remaining = dict(options)
    if options.get("time_limit") is not None:
        remaining["time_limit"] = max(options["time_limit"] - (time.perf_counter() - started), 1e-3)
    if options.get("iteration_limit") is not None:
        remaining["iteration_limit"] = max(options["iteration_limit"] - progress.iterations, 1)
    return remaining


def _finish(lp: LinearProgram, answer: LPSolution, x: np.ndarray | None, y: np.ndarray | None,
            progress: _Progress, started: float, tol: float, fallback: bool) -> LPSolution:
    seconds = time.perf_counter() - started
    return LPSolution(
        status=answer.status,
        x=x,
        row_dual=y,
        col_dual=None,
        objective=lp.objective_value(x) if x is not None else float("nan"),
        bound=float("nan"),
        iterations=progress.total_iterations,
        seconds=seconds,
        handover_seconds=seconds - progress.solver_seconds,
        solver=answer.solver,
        algorithm=answer.algorithm,
        info={**answer.info, "working_set": {"rounds": progress.rounds, "tol": tol, "fallback": fallback}},
    )
