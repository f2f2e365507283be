"""Algorithm 1 of the paper, one round at a time, with everything kept in an :class:`AnswerStore`.

A round: train the model from scratch on what the store knows (pixel labels of L and of any
pixel-annotated image, yes/no answers) -> evaluate it on the test set -> score the unlabelled
pool -> the strategy chooses queries (or images) -> the store records them as *pending* -> the
oracle answers, each answer stored as it comes -> the round is closed. After the last round the
model is trained and evaluated once more.

The model is a function of the store, the seed and nothing else (same initialisation and data
order every round), so the store is the whole state of a run: a loop stopped anywhere, by a kill
or by the oracle (:class:`~alsel.loop.oracles.OracleStopped`), is resumed by building the loop
again on the same store. A round whose queries are pending is finished by asking only what is
still unanswered.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from alsel.datasets.base import ArrayImageSet, ImageSet, LabelSpace

from .costs import cost_columns
from .metrics import evaluate
from .pixels import PixelView
from .scoring import presence_and_features
from .store import NO_LABEL, AnswerStore, StoreError
from .strategies import Context, Request, Strategy
from .train import TrainConfig, TrainStep, train_model, training_set

logger = logging.getLogger(__name__)


@dataclass
class LoopSettings:
    """Per-round settings of one run."""

    iterations: int
    budget: int                      # binary queries (or regions, region-level strategies) per round
    pixel_budget: int                # images per round for pixel-level strategies
    c_max: int = 5
    train: TrainConfig = field(default_factory=TrainConfig)
    seed: int = 0
    label: str = ""                  # name of the run in result rows
    train_step: TrainStep | None = None  # the user's training step instead of alsel's losses
    features: str | None = None      # module whose pooled output is F(x); default model.feature_module
    size_divisor: int | None = None  # pad batches to multiples of it; default model.size_divisor or 1
    batch_size: int = 256            # images per batch when scoring the pool and the test set


class ActiveLearningLoop:
    """One strategy, one seed, one store.

    Parameters
    ----------
    store : AnswerStore
        Holds the state; rows of results go to ``store.history``. Its classes are
        ``pool.labels.query_names``.
    strategy : Strategy
    oracle
        Has ``ask(queries)`` (and ``annotate(images)`` for pixel-level strategies).
    pool : ImageSet
        The images of L and U, indexed by store id (sizes may differ).
    test : ImageSet
        The test set for mIoU (every image with a mask).
    model_factory : callable () -> torch.nn.Module
        A fresh, untrained model (called after seeding torch).
    settings : LoopSettings
    """

    def __init__(self, store: AnswerStore, strategy: Strategy, oracle, pool: ImageSet, test: ImageSet | None,
                 model_factory: Callable[[], torch.nn.Module], settings: LoopSettings,
                 on_step: Callable[[int, dict], None] | None = None) -> None:
        if len(pool) != store.n_images:
            raise ValueError(f"the pool has {len(pool)} images; the store has {store.n_images}.")
        if len(pool.labels.queryable) != store.n_classes:
            raise ValueError(f"the pool's labels have {len(pool.labels.queryable)} queryable classes "
                             f"{list(pool.labels.query_names)}; the store {store.path} has "
                             f"{store.n_classes} ({list(store.classes)}).")
        self.store, self.strategy, self.oracle = store, strategy, oracle
        self.pool, self.test, self.labels = pool, test, pool.labels
        self.model_factory, self.settings = model_factory, settings
        self.on_step = on_step
        self._view: PixelView | None = None  # the predictions a region round was chosen from
        if getattr(strategy, "kind", None) == "region" and not callable(getattr(oracle, "annotate_regions", None)):
            raise ValueError(
                f"strategy {strategy.name!r} asks for regions to be labelled, which the "
                f"{type(oracle).__name__} cannot do (only the simulated oracle paints regions); "
                "use oracle = 'simulated' or a binary-feedback strategy.")
        self.check_store()

    @classmethod
    def from_arrays(cls, store: AnswerStore, strategy: Strategy, oracle, pool_images: np.ndarray,
                    test_images: np.ndarray | None, test_masks: np.ndarray | None,
                    model_factory: Callable[[], torch.nn.Module], settings: LoopSettings, n_labels: int,
                    on_step: Callable[[int, dict], None] | None = None) -> "ActiveLearningLoop":
        """The loop on in-memory arrays whose last label is the background and whose first
        ``store.n_classes`` labels are asked about (digit scenes: ten digits, background 10)."""
        names = tuple(store.classes) + tuple(f"label{k}" for k in range(store.n_classes, n_labels - 1))
        labels = LabelSpace(names + ("background",), background=n_labels - 1,
                            queried=tuple(range(store.n_classes)))
        test = None if test_images is None else ArrayImageSet(test_images, test_masks, labels)
        return cls(store, strategy, oracle, ArrayImageSet(pool_images, None, labels), test,
                   model_factory, settings, on_step)

    def check_store(self) -> None:
        """Refuse a store whose position does not fit these settings (StoreError naming the file
        and the key), rather than run rounds beyond the configured ones or append rows forever.

        A run of ``iterations`` rounds passes through these states only: at iteration k <
        iterations between rounds, k rows (iterations 0..k-1); in round k, k + 1 rows (0..k);
        after the last round, ``iterations`` rows, then ``iterations + 1`` with the final one.
        """
        store, settings = self.store, self.settings
        where, n = store.path, settings.iterations
        fix = "it belongs to another run or was edited; use the run's own config, or another output folder"
        if store.iteration > n or (store.iteration == n and store.in_round):
            raise StoreError(
                f"{where}: 'iteration' is {store.iteration}{' with a round pending' if store.in_round else ''}, "
                f"but this run has {n} rounds (iterations = {n}); {fix}.")
        history = store.history
        got = [row.get("iteration") for row in history]
        expected = store.iteration + 1 if store.in_round else store.iteration
        if got not in (list(range(expected)), list(range(n + 1)) if store.iteration == n else None):
            raise StoreError(
                f"{where}: 'history' holds rows of iterations {got}, which does not fit 'iteration' "
                f"{store.iteration} of a run of {n} rounds (expected {list(range(expected))}); {fix}.")
        seeds = sorted({row.get("seed") for row in history} - {settings.seed})
        if seeds:
            raise StoreError(f"{where}: 'history' holds rows of seed(s) {seeds}, but this run's seed is "
                             f"{settings.seed}; {fix}.")

    @property
    def done(self) -> bool:
        """True when every round is closed and the final evaluation is stored."""
        history = self.store.history
        return (self.store.iteration >= self.settings.iterations
                and any(row["iteration"] == self.settings.iterations for row in history))

    # ------------------------------------------------------------------ pieces
    def size_divisor(self, model: torch.nn.Module) -> int:
        """Batches are padded to sides that are multiples of this (settings, else the model's
        ``size_divisor`` attribute, else 1)."""
        if self.settings.size_divisor is not None:
            return self.settings.size_divisor
        return int(getattr(model, "size_divisor", 1))

    def train(self) -> tuple[torch.nn.Module, dict]:
        """A fresh model trained on everything the store knows; the loss terms include
        ``train_images``, the number of images with any supervision. A strategy with
        ``self_training`` (SSAL) wraps it: teacher, pseudo-labels, student."""
        store = self.store
        labels = {i: store.label(i) for i in store.labeled_images()}
        self_training = getattr(self.strategy, "self_training", None)
        if self_training is None:
            return self._fit(labels)
        unlabelled = np.setdiff1d(np.arange(store.n_images), list(labels))
        return self_training.run(self._fit, labels, self.pool, unlabelled, size_divisor=self.size_divisor)

    def _fit(self, labels: dict[int, np.ndarray]) -> tuple[torch.nn.Module, dict]:
        """A fresh model trained on the pixel labels ``labels`` (pool id -> mask) and the answers."""
        images, masks, answers = training_set(self.pool, labels, self.store.answer_matrix())
        torch.manual_seed(self.settings.seed)
        model = self.model_factory()
        losses = train_model(model, images, masks, answers, self.settings.train, labels=self.labels,
                             seed=self.settings.seed, size_divisor=self.size_divisor(model),
                             train_step=self.settings.train_step, progress=self.on_step)
        return model, {**losses, "train_images": len(images)}

    def _row(self, model: torch.nn.Module, losses: dict, seconds: float) -> dict:
        store = self.store
        history = store.history
        queries = store.n_answers
        region_images = set(store.region_counts())
        images = len(set(store.labeled_images()) - set(store.initial_images) - region_images)
        regions = store.n_regions
        previous = history[-1] if history else {"cum_queries": 0, "cum_pixel_images": 0}
        row = {
            "strategy": self.settings.label or self.strategy.name,
            "kind": self.strategy.kind,
            "seed": self.settings.seed,
            "iteration": store.iteration,
            "miou": evaluate(model, self.test, self.labels.n_labels, self.settings.batch_size,
                             self.size_divisor(model)),
            "train_images": losses["train_images"],
            "queries": queries - previous["cum_queries"],
            "pixel_images": images - previous["cum_pixel_images"],
            "cum_queries": queries,
            "cum_pixel_images": images,
            "yes_share": float(np.mean(list(store.answers().values()))) if queries else float("nan"),
            "loss_pixel": losses.get("pixel", float("nan")),
            "loss_image": losses.get("image", float("nan")),
            "train_seconds": seconds,
        }
        if self.strategy.kind == "region":  # Table 1's region-level minutes, in the same hours
            row["regions"] = regions - previous.get("cum_regions", 0)
            row["cum_regions"] = regions
        round_regions = row.get("regions", 0)
        row.update(cost_columns(queries, images, regions=regions))
        row.update(cost_columns(row["queries"], row["pixel_images"], prefix="round_", regions=round_regions))
        row.update({k: losses[k] for k in ("pseudo_images", "pseudo_pixels") if k in losses})
        return row

    def _candidates(self) -> np.ndarray:
        labelled = np.zeros(self.store.n_images, dtype=bool)
        labelled[self.store.labeled_images()] = True
        if self.strategy.kind == "binary":
            open_pairs = (self.store.answer_matrix() < 0).any(axis=1)
            return np.flatnonzero(~labelled & open_pairs)
        if self.strategy.kind == "region":  # images outside L with a pixel never asked, unlabelled
            open_ = ~labelled
            for i in self.store.labeled_images():
                free = self.store.label(i) == NO_LABEL
                asked = self.store.asked_pixels(i)
                open_[i] = bool((free if asked is None else free & ~asked).any())
            open_[self.store.initial_images] = False
            return np.flatnonzero(open_)
        return np.flatnonzero(~labelled)

    def _ask(self) -> None:
        """Ask the oracle whatever is pending and unanswered; each answer is stored at once."""
        queries = self.store.unanswered_pending()
        if queries:
            by = getattr(self.oracle, "by", "unknown")
            for image, cls, present, *took in self.oracle.ask(queries):  # took: [seconds] if measured
                self.store.record([(image, cls, present)], by=by, seconds=took[0] if took else None)
        images = self.store.unlabeled_pending()
        if images:
            self.store.add_labels(self.oracle.annotate(images))
        regions = self.store.unlabeled_pending_regions()
        if regions:
            labels = self.oracle.annotate_regions(regions, getattr(self.strategy, "region_annotation", "pixels"))
            if callable(getattr(self.strategy, "sieve", None)):
                labels = self._sieve(labels, regions)
            self.store.add_region_labels(labels)
        self._view = None
        self.store.end_round()

    def _sieve(self, labels: dict[int, np.ndarray], regions: dict[int, np.ndarray]) -> dict[int, np.ndarray]:
        """The strategy's sieve over each annotation, with the predictions the regions were
        chosen from. After a resume they are made again: the model is a function of the store,
        which has not changed since the round began."""
        view = self._view
        if view is None:
            model, _ = self.train()
            view = self._pixel_view(model, sorted(labels))
        row_of = {int(i): r for r, i in enumerate(view.ids)}
        out = dict(labels)
        for row, prob in view.probabilities([row_of[int(i)] for i in labels]):
            image = int(view.ids[row])
            out[image] = self.strategy.sieve(image, labels[image], regions[image], prob)
        return out

    # ------------------------------------------------------------------ rounds
    def step(self) -> dict | None:
        """Run (or finish) one round; returns the result row it evaluated, or None if it only
        finished a pending round or everything was already done."""
        store, settings = self.store, self.settings
        if store.in_round:
            self._ask()
            return None
        if self.done:
            return None
        start = time.perf_counter()
        model, losses = self.train()
        row = self._row(model, losses, time.perf_counter() - start)
        if store.iteration >= settings.iterations:
            store.add_row(row)
            return row
        candidates = self._candidates()
        if len(candidates):
            request = self._propose(model, candidates)
        else:  # everything has been asked: the round asks nothing (and costs nothing)
            request = Request()
        row.update({f"select_{k}": v for k, v in request.info.items()})
        store.begin_round(request.queries, request.images, regions=request.regions, row=row)
        logger.info("%s seed %d round %d: mIoU %.2f, asking %d queries / %d images / %d regions",
                    row["strategy"], settings.seed, row["iteration"], row["miou"],
                    len(request.queries), len(request.images), request.n_regions)
        self._ask()
        return row

    def _propose(self, model: torch.nn.Module, candidates: np.ndarray) -> Request:
        """The strategy's request, from the scores of ``candidates`` (not empty) under ``model``."""
        store, settings = self.store, self.settings
        pool_scores = presence_and_features(
            model, self.pool, self.labels.queryable, settings.batch_size, ids=candidates,
            features=settings.features, size_divisor=self.size_divisor(model))
        rng = np.random.default_rng([settings.seed, store.iteration, 7])
        answers = store.answer_matrix()[candidates]
        budget = settings.pixel_budget if self.strategy.kind == "pixel" else settings.budget
        extra = self._pixel_context(model, candidates) if getattr(self.strategy, "needs_pixels", False) else {}
        return self.strategy.propose(Context(candidates, pool_scores, answers, budget, settings.c_max, rng, **extra))

    def _pixel_view(self, model: torch.nn.Module, ids) -> PixelView:
        """Per-pixel probabilities of the pool images ``ids`` under ``model``, on demand. Batches
        are at most 64 images: a batch holds L probabilities per pixel, far more than its images."""
        return PixelView(model, self.pool, ids, batch_size=min(64, self.settings.batch_size),
                         size_divisor=self.size_divisor(model))

    def _pixel_context(self, model: torch.nn.Module, candidates: np.ndarray) -> dict:
        """Context fields of strategies that look at pixels: predictions on demand, the
        candidates' partial labels and asked masks, labelled pixels per label (each image at its
        own size)."""
        store, n_labels = self.store, self.labels.n_labels
        self._view = self._pixel_view(model, candidates)
        labelled = store.labeled_images()
        counts = np.zeros(n_labels, dtype=np.int64)
        for i in labelled:
            mask = store.label(i)
            counts += np.bincount(mask[mask != NO_LABEL].ravel(), minlength=n_labels)[:n_labels]
        in_pool = set(candidates.tolist())
        return {"pixels": self._view, "labels": {i: store.label(i) for i in labelled if i in in_pool},
                "label_counts": counts,
                "asked": {i: mask for i, mask in store.asked_regions().items() if i in in_pool}}

    def run(self, progress: Callable[[dict | None], None] | None = None) -> list[dict]:
        """Run rounds until done; returns the store's history."""
        self.check_store()
        while not self.done:
            row = self.step()
            if progress is not None:
                progress(row)
        return self.store.history
