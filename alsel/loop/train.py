"""Training on pixel labels and yes/no answers: alsel's trainer, or the user's own step.

Images of different sizes are padded into batches by :func:`alsel.datasets.pad_batch` (to a
multiple of the model's ``size_divisor``); the padding is IGNORE in the masks and False in
``valid``, which the image-level loss leaves out of its pooling. The answers' columns are the
labels ``labels.queryable``; the background weight applies to ``labels.background``.

A user's step (``[train] train_step = "module:function"``, or ``train_step=`` in Python) is
called as ``step(model, batch)`` with a :class:`TrainBatch` and returns the loss (alsel runs
backward, the optimizer and the schedule), or ``None`` after stepping ``batch.optimizer`` itself.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from alsel.datasets.base import IGNORE, LabelSpace, pad_batch
from alsel.torch.outputs import softmax_logits

from .losses import image_loss, pixel_loss

OPTIMIZERS = ("Adam", "AdamW", "SGD")
SCHEDULERS = ("onecycle", "cosine", "constant")


@dataclass(frozen=True)
class TrainConfig:
    """How the model is trained each round (from scratch, as the paper retrains after each).

    ``max(steps, ceil(epochs * n_pixel / batch_size))`` optimizer steps, n_pixel being the number
    of pixel-labelled images: at least ``steps``, and at least ``epochs`` passes over the pixel
    labels, so that a large pixel-labelled set is not under-trained. Each step draws one batch of
    ``batch_size`` pixel-labelled images for the cross-entropy and, once there are answers, one
    batch of ``batch_size`` answered images for the image-level loss: the pixel supervision per
    step does not thin out as answered images accumulate. ``optimizer`` (Adam, AdamW or SGD with
    ``weight_decay`` and, for SGD, ``momentum``/``nesterov``; ``betas`` for Adam/AdamW) follows the
    ``scheduler``: "onecycle" (peaking at ``lr``), "cosine" (from ``lr`` down to 0) or
    "constant". ``image_score`` is what the image-level loss pools (see
    :func:`alsel.loop.losses.image_loss`). ``background_weight`` is the weight of the background
    label in the pixel cross-entropy (the other labels weigh 1): background covers ~85% of the
    pixels of a digit scene, and at weight 1 the network learns the digits' identities far more
    slowly.
    """

    steps: int = 250
    epochs: int = 15
    batch_size: int = 8
    lr: float = 5e-3
    r: float = 5.0
    beta: float = 1.0
    background_weight: float = 0.2
    image_score: str = "logprob"
    optimizer: str = "Adam"
    weight_decay: float = 0.0
    momentum: float = 0.0
    nesterov: bool = False
    betas: tuple[float, float] | None = None
    scheduler: str = "onecycle"


@dataclass
class TrainBatch:
    """One training batch, as a user's ``train_step(model, batch)`` gets it.

    Attributes
    ----------
    images : float32 tensor (n, channels, H, W)
        Padded at the bottom and right to a common size (a multiple of the model's size divisor).
    masks : int64 tensor (n, H, W)
        Pixel labels; :data:`~alsel.datasets.IGNORE` (-100) where a pixel has none: padding,
        void pixels, and images known only through answers.
    answers : int64 tensor (n, C)
        1 yes / 0 no / -1 not asked, column j being label ``classes[j]``.
    valid : bool tensor (n, H, W)
        True on each image's own pixels, False on padding.
    classes : tuple of int
        The label (logit channel) of each answers column.
    labels : LabelSpace
    optimizer : torch.optim.Optimizer
        For a step that runs its own backward and update (and returns None).
    step : int
        0-based index of this step in the round.
    """

    images: torch.Tensor
    masks: torch.Tensor
    answers: torch.Tensor
    valid: torch.Tensor
    classes: tuple[int, ...]
    labels: LabelSpace
    optimizer: torch.optim.Optimizer
    step: int


TrainStep = Callable[[torch.nn.Module, TrainBatch], "torch.Tensor | None"]


def steps_for(config: TrainConfig, n_pixel: int) -> int:
    """Optimizer steps of a round with ``n_pixel`` pixel-labelled images."""
    return max(1, config.steps, -(-config.epochs * n_pixel // config.batch_size))


def make_optimizer(model: torch.nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    """The configured optimizer over ``model``'s parameters."""
    if config.optimizer == "SGD":
        return torch.optim.SGD(model.parameters(), lr=config.lr, momentum=config.momentum,
                               weight_decay=config.weight_decay, nesterov=config.nesterov)
    if config.optimizer not in ("Adam", "AdamW"):
        raise ValueError(f"optimizer must be one of {OPTIMIZERS}; got {config.optimizer!r}.")
    extra = {} if config.betas is None else {"betas": tuple(config.betas)}
    cls = torch.optim.Adam if config.optimizer == "Adam" else torch.optim.AdamW
    return cls(model.parameters(), lr=config.lr, weight_decay=config.weight_decay, **extra)


def make_scheduler(optimizer: torch.optim.Optimizer, config: TrainConfig, n_steps: int):
    """The configured learning-rate schedule over ``n_steps`` steps."""
    if config.scheduler == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=config.lr, total_steps=n_steps)
    if config.scheduler == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=n_steps)
    if config.scheduler == "constant":
        return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
    raise ValueError(f"scheduler must be one of {SCHEDULERS}; got {config.scheduler!r}.")


def training_set(pool, labels: dict[int, np.ndarray], answers: np.ndarray
                 ) -> tuple[list[np.ndarray], list[np.ndarray | None], np.ndarray]:
    """The images that carry any supervision, their masks (None where none) and answers.

    ``pool`` is an :class:`~alsel.datasets.ImageSet` (or an array (N, channels, H, W));
    ``labels`` maps image id -> pixel labels; ``answers`` is the store's (N, C) matrix.
    """
    ids = sorted(set(labels) | set(np.flatnonzero((answers >= 0).any(axis=1)).tolist()))
    image = pool.image if hasattr(pool, "image") else (lambda i: pool[i])
    images = [np.asarray(image(i), dtype=np.float32) for i in ids]
    masks = [labels.get(int(i)) for i in ids]
    return images, masks, answers[np.asarray(ids, dtype=np.int64)].astype(np.int64)


def _device(model: torch.nn.Module) -> torch.device:
    parameter = next(model.parameters(), None)
    return torch.device("cpu") if parameter is None else parameter.device


def train_model(
    model: torch.nn.Module,
    images: Sequence[np.ndarray],
    masks: Sequence[np.ndarray | None],
    answers: np.ndarray,
    config: TrainConfig = TrainConfig(),
    *,
    labels: LabelSpace,
    seed: int = 0,
    size_divisor: int = 1,
    train_step: TrainStep | None = None,
    progress: Callable[[int, dict], None] | None = None,
) -> dict[str, float]:
    """Train ``model`` in place; returns the mean loss terms over the last pass through the data.

    Parameters
    ----------
    images : sequence of float32 (channels, H, W), sizes may differ
    masks : sequence of int64 (H, W) with IGNORE where a pixel has no label, or None
    answers : (n, C) int, 1 / 0 / -1 (unknown); column j is label ``labels.queryable[j]``
    labels : LabelSpace
        The labels; its background gets ``config.background_weight`` in the cross-entropy.
    size_divisor : int
        Batches are padded to sides that are multiples of it.
    train_step : callable (model, TrainBatch) -> loss or None, optional
        The user's step instead of alsel's losses (one batch a step from every supervised image).
    progress : callable (step, terms), optional
        Called after every step.
    """
    n = len(images)
    if n == 0:
        raise ValueError("nothing to train on: no image has pixel labels or answers.")
    answers = np.asarray(answers)
    classes = tuple(labels.queryable)
    if answers.shape != (n, len(classes)):
        raise ValueError(f"answers must be (n, C) = ({n}, {len(classes)}) for {n} images and the "
                         f"{len(classes)} queryable labels; got {answers.shape}.")
    generator = torch.Generator().manual_seed(seed)
    device = _device(model)
    optimizer = make_optimizer(model, config)
    has_pixels = torch.tensor([m is not None and bool((np.asarray(m) != IGNORE).any()) for m in masks])
    n_steps = steps_for(config, int(has_pixels.sum()))
    schedule = make_scheduler(optimizer, config, n_steps)
    weight = None
    if config.background_weight != 1.0 and labels.background is not None and train_step is None:
        weight = torch.ones(labels.n_labels, device=device)
        weight[labels.background] = config.background_weight
    a_all = torch.as_tensor(answers, dtype=torch.int64)

    def batch(idx: torch.Tensor, step: int) -> TrainBatch:
        chosen = idx.tolist()
        x, m, valid = pad_batch([images[k] for k in chosen], [masks[k] for k in chosen], size_divisor)
        return TrainBatch(torch.from_numpy(x).to(device), torch.from_numpy(m).to(device),
                          a_all[idx].to(device), torch.from_numpy(valid).to(device), classes, labels,
                          optimizer, step)

    labelled = torch.nonzero(has_pixels).flatten()
    answered = torch.nonzero((a_all >= 0).any(dim=1)).flatten()
    if train_step is not None:
        draws = {"all": _Batches(torch.arange(n), config.batch_size, generator)}
    else:
        draws = {"pixel": _Batches(labelled, config.batch_size, generator),
                 "image": _Batches(answered, config.batch_size, generator)}
    model.train()
    recent: list[dict] = []
    window = max(1, -(-n // config.batch_size))
    for step in range(n_steps):
        if train_step is not None:
            terms = _user_step(train_step, model, batch(draws["all"].next(), step), optimizer)
        else:
            terms = _alsel_step(model, config, draws, batch, step, labelled, answered, weight, optimizer)
        schedule.step()
        recent = (recent + [terms])[-window:]
        if progress is not None:
            progress(step, terms)
    keys = dict.fromkeys(k for t in recent for k in t)
    return {key: float(np.mean([t.get(key, np.nan) for t in recent])) for key in keys}


def _logits(model: torch.nn.Module, images: torch.Tensor) -> torch.Tensor:
    return softmax_logits(model(images))


def _alsel_step(model, config: TrainConfig, draws: dict, batch, step: int, labelled, answered,
                weight, optimizer) -> dict[str, float]:
    loss = torch.zeros((), device=_device(model))
    terms = {"pixel": 0.0, "image": 0.0}
    if len(labelled):
        b = batch(draws["pixel"].next(), step)
        pixel = pixel_loss(_logits(model, b.images), b.masks, weight)
        loss = loss + pixel
        terms["pixel"] = float(pixel.detach())
    if len(answered) and config.beta > 0:
        b = batch(draws["image"].next(), step)
        # without padding the plain mean is the same pooling, and gives the pre-padding numbers
        valid = None if bool(b.valid.all()) else b.valid
        image = image_loss(_logits(model, b.images), b.answers, classes=b.classes, r=config.r,
                           score=config.image_score, valid=valid)
        loss = loss + config.beta * image
        terms["image"] = float(image.detach())
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return terms


def _user_step(train_step: TrainStep, model, b: TrainBatch, optimizer) -> dict[str, float]:
    optimizer.zero_grad(set_to_none=True)
    out = train_step(model, b)
    if out is None:  # the step ran backward and the optimizer itself
        return {}
    loss = out[0] if isinstance(out, tuple) else out
    if not isinstance(loss, torch.Tensor) or loss.ndim != 0:
        raise TypeError(f"train_step must return a scalar loss tensor (or None after stepping "
                        f"batch.optimizer itself); it returned {type(loss).__name__}"
                        f"{' of shape ' + str(tuple(loss.shape)) if isinstance(loss, torch.Tensor) else ''}.")
    loss.backward()
    optimizer.step()
    terms = {"loss": float(loss.detach())}
    if isinstance(out, tuple) and len(out) > 1 and isinstance(out[1], dict):
        terms.update({str(k): float(v) for k, v in out[1].items()})
    return terms


class _Batches:
    """Batches of ``batch_size`` indices drawn without replacement, epoch after epoch."""

    def __init__(self, pool: torch.Tensor, batch_size: int, generator: torch.Generator) -> None:
        self.pool, self.batch_size, self.generator = pool, batch_size, generator
        self.order = torch.empty(0, dtype=torch.long)

    def next(self) -> torch.Tensor:
        want = min(self.batch_size, len(self.pool))
        if len(self.order) < want:
            fresh = self.pool[torch.randperm(len(self.pool), generator=self.generator)]
            self.order = torch.cat([self.order, fresh])
        batch, self.order = self.order[:want], self.order[want:]
        return batch
