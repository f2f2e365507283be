"""Training on pixel labels and yes/no answers (the loss is :func:`alsel.loop.losses.feedback_loss`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from .losses import IGNORE, image_loss, pixel_loss


@dataclass(frozen=True)
class TrainConfig:
    """How the model is trained each round (from scratch, as the paper retrains after each).

    ``max(steps, ceil(epochs * n_pixel / batch_size))`` optimizer steps, n_pixel being the number
    of pixel-labelled images: at least ``steps``, and at least ``epochs`` passes over the pixel
    labels, so that a large pixel-labelled set is not under-trained. Each step draws one batch of
    ``batch_size`` pixel-labelled images for the cross-entropy and, once there are answers, one
    batch of ``batch_size`` answered images for the image-level loss: the pixel supervision per
    step does not thin out as answered images accumulate. Adam with a one-cycle learning-rate
    schedule peaking at ``lr``. ``image_score`` is what the image-level loss pools (see
    :func:`alsel.loop.losses.image_loss`). ``background_weight`` is the weight of the background label in
    the pixel cross-entropy (the other labels weigh 1): background covers ~85% of the pixels of a
    digit scene, and at weight 1 the network learns the digits' identities far more slowly.
    """

    steps: int = 250
    epochs: int = 15
    batch_size: int = 8
    lr: float = 5e-3
    r: float = 5.0
    beta: float = 1.0
    background_weight: float = 0.2
    image_score: str = "logprob"


def steps_for(config: TrainConfig, n_pixel: int) -> int:
    """Optimizer steps of a round with ``n_pixel`` pixel-labelled images."""
    return max(1, config.steps, -(-config.epochs * n_pixel // config.batch_size))


def training_set(
    images: np.ndarray, labels: dict[int, np.ndarray], answers: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The images that carry any supervision, their masks (IGNORE where none) and answers.

    ``labels`` maps image id -> pixel labels; ``answers`` is the store's (N, C) matrix.
    """
    ids = sorted(set(labels) | set(np.flatnonzero((answers >= 0).any(axis=1)).tolist()))
    ids = np.asarray(ids, dtype=np.int64)
    h, w = images.shape[-2:]
    masks = np.full((len(ids), h, w), IGNORE, dtype=np.int64)
    for k, i in enumerate(ids):
        if int(i) in labels:
            masks[k] = labels[int(i)]
    return images[ids], masks, answers[ids].astype(np.int64)


def train_model(
    model: torch.nn.Module,
    images: np.ndarray,
    masks: np.ndarray,
    answers: np.ndarray,
    config: TrainConfig = TrainConfig(),
    *,
    seed: int = 0,
    n_labels: int | None = None,
    progress: Callable[[int, dict], None] | None = None,
) -> dict[str, float]:
    """Train ``model`` in place; returns the mean loss terms over the last pass through the data.

    Parameters
    ----------
    images : (n, channels, H, W) float32
    masks : (n, H, W) int64, :data:`~alsel.loop.losses.IGNORE` where a pixel has no label
    answers : (n, C) int, 1 / 0 / -1 (unknown)
    n_labels : int, optional
        Number of labels (the last is background); needed for ``background_weight`` != 1.
    progress : callable (step, terms), optional
        Called after every step.
    """
    if len(images) == 0:
        raise ValueError("nothing to train on: no image has pixel labels or answers.")
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    n_steps = steps_for(config, int((np.asarray(masks) != IGNORE).reshape(len(masks), -1).any(axis=1).sum()))
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=config.lr, total_steps=n_steps)
    weight = None
    if config.background_weight != 1.0:
        if n_labels is None:
            raise ValueError("background_weight != 1 needs n_labels (the last label is background).")
        weight = torch.ones(n_labels)
        weight[-1] = config.background_weight
    x_all, m_all, a_all = map(torch.as_tensor, (images, masks, answers))
    labelled = torch.nonzero((m_all != IGNORE).flatten(1).any(dim=1)).flatten()
    answered = torch.nonzero((a_all >= 0).any(dim=1)).flatten()
    draws = {"pixel": _Batches(labelled, config.batch_size, generator),
             "image": _Batches(answered, config.batch_size, generator)}
    model.train()
    recent: list[dict] = []
    window = max(1, -(-len(x_all) // config.batch_size))
    for step in range(n_steps):
        loss = torch.zeros(())
        terms = {"pixel": 0.0, "image": 0.0}
        if len(labelled):
            idx = draws["pixel"].next()
            pixel = pixel_loss(model(x_all[idx]), m_all[idx], weight)
            loss = loss + pixel
            terms["pixel"] = float(pixel.detach())
        if len(answered) and config.beta > 0:
            idx = draws["image"].next()
            image = image_loss(model(x_all[idx]), a_all[idx], r=config.r, score=config.image_score)
            loss = loss + config.beta * image
            terms["image"] = float(image.detach())
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
        recent = (recent + [terms])[-window:]
        if progress is not None:
            progress(step, terms)
    return {key: float(np.mean([t[key] for t in recent])) for key in ("pixel", "image")}


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
