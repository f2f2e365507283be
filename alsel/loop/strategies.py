"""What to ask each round: the proposed method and the paper's baselines, under one interface.

A strategy gets a :class:`Context` (the candidate images, their scores from the current model,
what is already answered, the budget) and returns a :class:`Request`: binary queries (image,
class) or images to annotate at the pixel level.

===============  ======  =================================================================
name             kind    what it asks
===============  ======  =================================================================
proposed         binary  Eq. 4 solved by :func:`alsel.select` (any pipeline; default greedy+local)
rr               binary  Random-Random: random images, random classes in each (paper, Sec. 4.2)
ee               binary  Entropy-Entropy: highest-entropy images, their highest-entropy classes
pixel-random     pixel   random images, every pixel labelled
pixel-entropy    pixel   the images of highest mean pixel entropy, every pixel labelled
ssal             pixel   representative images (k-means on features), + self-training
pixbal           region  superpixels by uncertainty, balanced over predicted classes
amsp+s           region  adaptively merged superpixels by class-balanced uncertainty,
                         one dominant label each, noisy pixels sieved out
===============  ======  =================================================================

The last three are in :mod:`alsel.loop.strategies_region`; docs/experiment.md ("The baselines")
says where each departs from its paper. A region-level strategy's budget is regions per round.

RR and EE fill each chosen image with up to C_max classes before taking the next image, so
they ask about B / C_max images, as the proposed method does at the paper's settings.
The paper's pixel-level baseline is SSAL (a semi-supervised method); the two pixel-level
strategies here are the plain random and entropy versions of "label whole images".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import scores
from ..pipeline import select
from .scoring import PoolScores

#: G given to answered pairs so that Eq. 4 never picks them while unanswered pairs remain.
_ANSWERED_COST = 1e6


@dataclass(frozen=True)
class Context:
    """What a strategy may look at.

    Attributes
    ----------
    candidates : int array (n,)
        Pool ids of the images it may choose from (no pixel labels yet).
    scores : PoolScores
        The current model's scores of the candidates (rows aligned with ``candidates``).
    answers : int8 array (n, C)
        1 / 0 / -1 (unknown) for the candidates.
    budget : int
        Binary queries (binary strategies), images (pixel-level) or regions (region-level) this round.
    c_max : int
        At most this many queries per image.
    rng : numpy Generator
    pixels : PixelView or None
        Per-pixel class probabilities and images of the candidates, on demand
        (:class:`~alsel.loop.pixels.PixelView`); given to strategies with ``needs_pixels``.
    labels : dict or None
        Pool id -> current (partial) pixel labels of the candidates that have any
        (:data:`~alsel.loop.store.NO_LABEL` where a pixel has none); None if not given.
    asked : dict or None
        Pool id -> bool (H, W) mask of the pixels already asked in a region of an earlier round
        (:meth:`~alsel.loop.store.AnswerStore.asked_pixels`), for the candidates that have any; a
        pixel may be asked and still unlabelled (void in the ground truth, or sieved out). A
        region-level strategy asks none of them again. None if not given.
    label_counts : int array (L,) or None
        Labelled pixels per label over every labelled image (L and those annotated since).
    """

    candidates: np.ndarray
    scores: PoolScores
    answers: np.ndarray
    budget: int
    c_max: int
    rng: np.random.Generator
    pixels: Any = None
    labels: dict[int, np.ndarray] | None = None
    label_counts: np.ndarray | None = None
    asked: dict[int, np.ndarray] | None = None


@dataclass(frozen=True)
class Request:
    """A strategy's choice: binary ``queries`` (pool id, class), pixel-level ``images``, or
    ``regions`` (pool id -> region map (H, W): 0 outside, 1..k the k regions asked in that image;
    a bool mask is one region)."""

    queries: list[tuple[int, int]] = field(default_factory=list)
    images: list[int] = field(default_factory=list)
    regions: dict[int, np.ndarray] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def n_regions(self) -> int:
        """How many regions are asked (the cost unit of region-level annotation)."""
        return sum(int(np.count_nonzero(np.unique(np.asarray(m, dtype=np.int64)))) for m in self.regions.values())


class Strategy:
    """Base class: ``kind`` is "binary", "pixel" or "region"; :meth:`propose` makes the round's
    request.

    Optional hooks the loop honours: ``needs_pixels`` (True: the context carries a
    :class:`~alsel.loop.pixels.PixelView`, the candidates' labels and their asked masks), ``region_annotation``
    ("pixels" or "dominant": what the oracle gives for a region), ``sieve(image, labels,
    regions, probabilities)`` (cleans a region annotation with the model that chose it) and
    ``self_training`` (a :class:`~alsel.loop.selftrain.SelfTraining` the loop wraps around
    training).
    """

    kind = "binary"
    name = "strategy"
    needs_pixels = False
    region_annotation = "pixels"
    self_training = None

    def propose(self, context: Context) -> Request:  # pragma: no cover - interface
        raise NotImplementedError


def _fill_images(order: np.ndarray, class_rank: np.ndarray, context: Context) -> Request:
    """Take images in ``order`` (rows of the context), each with up to C_max unanswered classes
    in the order of ``class_rank`` (per row), until the budget is spent."""
    queries, left = [], context.budget
    for row in order:
        if left == 0:
            break
        open_classes = [c for c in class_rank[row] if context.answers[row, c] < 0]
        for c in open_classes[: min(context.c_max, left)]:
            queries.append((int(context.candidates[row]), int(c)))
        left -= min(len(open_classes), context.c_max, left)
    return Request(queries=queries)


class RandomRandom(Strategy):
    """RR: random images, random unanswered classes in each."""

    name = "rr"

    def propose(self, context: Context) -> Request:
        n, c = context.answers.shape
        order = context.rng.permutation(n)
        class_rank = np.argsort(context.rng.random((n, c)), axis=1)
        return _fill_images(order, class_rank, context)


class EntropyEntropy(Strategy):
    """EE: images by mean pixel entropy (highest first), classes by presence entropy (Eq. 1)."""

    name = "ee"

    def propose(self, context: Context) -> Request:
        order = np.argsort(-context.scores.pixel_entropy, kind="stable")
        class_rank = np.argsort(-scores.entropy(context.scores.presence), axis=1, kind="stable")
        return _fill_images(order, class_rank, context)


class PixelRandom(Strategy):
    """Pixel-level baseline: random images, annotated in full."""

    kind = "pixel"
    name = "pixel-random"

    def propose(self, context: Context) -> Request:
        k = min(context.budget, len(context.candidates))
        chosen = context.rng.choice(len(context.candidates), size=k, replace=False)
        return Request(images=sorted(int(i) for i in context.candidates[chosen]))


class PixelEntropy(Strategy):
    """Pixel-level baseline: the images of highest mean pixel entropy, annotated in full."""

    kind = "pixel"
    name = "pixel-entropy"

    def propose(self, context: Context) -> Request:
        k = min(context.budget, len(context.candidates))
        order = np.argsort(-context.scores.pixel_entropy, kind="stable")[:k]
        return Request(images=sorted(int(i) for i in context.candidates[order]))


class Proposed(Strategy):
    """The paper's method: G from presence (Eq. 1-2), R from features (Eq. 3), Eq. 4 by
    :func:`alsel.select` with any pipeline.

    Parameters
    ----------
    lam, alpha : float
        Eq. 4's lambda and Eq. 2's alpha (the paper: 1 and 1).
    g_mapping, r_mapping : str
        How G and R are mapped into [0, 1] (:mod:`alsel.scores`; the paper: min-max for both).
    formulation, rounding, solver, solver_options
        Passed to :func:`alsel.select`. The default (no formulation, greedy+local) is fast;
        ``formulation="paper", rounding="topb"`` is the paper's pipeline.
    """

    name = "proposed"

    def __init__(self, lam: float = 1.0, alpha: float = 1.0, g_mapping: str = "minmax",
                 r_mapping: str = "minmax", formulation: str | None = None,
                 rounding: str | None = None, solver: str | None = None,
                 solver_options: dict | None = None) -> None:
        self.lam, self.alpha = float(lam), float(alpha)
        self.g_mapping, self.r_mapping = g_mapping, r_mapping
        self.formulation = None if formulation in (None, "none") else formulation
        self.rounding, self.solver, self.solver_options = rounding, solver, solver_options

    def propose(self, context: Context) -> Request:
        open_rows = np.flatnonzero((context.answers < 0).sum(axis=1) > 0)
        answers = context.answers[open_rows]
        G = scores.confidence(context.scores.presence[open_rows], alpha=self.alpha,
                              mapping=self.g_mapping)
        G[(answers >= 0).T] = _ANSWERED_COST
        R = scores.redundancy(context.scores.features[open_rows], mapping=self.r_mapping)
        available = int(np.minimum((answers < 0).sum(axis=1), context.c_max).sum())
        budget = min(context.budget, available)
        if budget == 0:
            return Request()
        selection = select(G, R, budget, context.c_max, self.lam, formulation=self.formulation,
                           rounding=self.rounding, solver=self.solver,
                           seed=int(context.rng.integers(2**31)), solver_options=self.solver_options)
        rows, classes = selection.pairs[:, 0], selection.pairs[:, 1]
        keep = answers[rows, classes] < 0  # never re-ask; only possible if the budget forced it
        queries = [(int(context.candidates[open_rows[r]]), int(c))
                   for r, c in zip(rows[keep], classes[keep])]
        info = {"objective": selection.objective, "gap": selection.gap,
                "redundancy_share": selection.redundancy_share,
                "seconds": selection.timings["total"]}
        return Request(queries=queries, info=info)


from .strategies_region import AmspS, PixBal, Ssal  # noqa: E402  (they subclass Strategy)

STRATEGIES: dict[str, type[Strategy]] = {
    "proposed": Proposed,
    "rr": RandomRandom,
    "ee": EntropyEntropy,
    "pixel-random": PixelRandom,
    "pixel-entropy": PixelEntropy,
    "ssal": Ssal,
    "pixbal": PixBal,
    "amsp+s": AmspS,
}


def make_strategy(name: str, **params: Any) -> Strategy:
    """A strategy by name (``STRATEGIES``); ``params`` go to its constructor."""
    if name not in STRATEGIES:
        raise ValueError(f"unknown strategy {name!r}; choose one of {sorted(STRATEGIES)}.")
    cls = STRATEGIES[name]
    if params and cls in (RandomRandom, EntropyEntropy, PixelRandom, PixelEntropy):
        raise ValueError(f"strategy {name!r} takes no parameters; got {sorted(params)}.")
    try:
        return cls(**params)
    except TypeError as exc:
        raise ValueError(f"strategy {name!r}: bad parameter ({exc}).") from None
