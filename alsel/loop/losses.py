"""Losses for training with pixel labels and yes/no answers (docs/loop.md).

* :func:`lse_pool`: log-sum-exp pooling of per-class score maps (Pinheiro & Collobert 2015,
  the paper's Section 4.4): ``s_c = (1/r) log( mean_{x,y} exp(r * y_c(x, y)) )``. Large r tends
  to the max over pixels, small r to the mean.
* :func:`answered_bce`: per-class sigmoid + binary cross-entropy of the pooled scores, on the
  answered (image, class) pairs only; unanswered pairs contribute nothing, not even a gradient.
* :func:`image_loss`: LSE pooling of the per-class log-probability maps (by default; raw logits
  optionally) -> presence probability -> :func:`answered_bce`.
* :func:`pixel_loss`, :func:`feedback_loss`: pixel cross-entropy on labelled pixels plus ``beta``
  times the image-level loss.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

#: Label of pixels without a label (images known only by yes/no answers).
IGNORE = -100
from .store import UNKNOWN  # noqa: F401  (1 present, 0 absent, UNKNOWN unanswered)


def lse_pool(scores: torch.Tensor, r: float) -> torch.Tensor:
    """Log-sum-exp pooling over the spatial axes: (n, C, H, W) -> (n, C).

    ``(1/r) * log( (1/HW) * sum exp(r * s) )``, computed stably (logsumexp). For r -> inf it tends
    to the max over pixels, for r -> 0 to the mean; it always lies between the two.
    """
    if not r > 0:
        raise ValueError(f"r must be > 0; got {r}. Large r approaches max pooling, small r mean pooling.")
    flat = scores.flatten(start_dim=2)
    return (torch.logsumexp(r * flat, dim=2) - math.log(flat.shape[2])) / r


def answered_bce(pooled: torch.Tensor, answers: torch.Tensor) -> torch.Tensor:
    """Mean BCE-with-logits of ``pooled`` (n, C) against ``answers`` (n, C) on answered pairs.

    ``answers`` holds 1 (present), 0 (absent) or :data:`UNKNOWN`; only the 0/1 entries count, and
    the loss is their mean (0 when there are none). Unanswered entries are not touched, so their
    gradient is exactly zero.
    """
    if pooled.shape != answers.shape:
        raise ValueError(f"pooled {tuple(pooled.shape)} and answers {tuple(answers.shape)} differ in shape.")
    answered = answers != UNKNOWN
    if not answered.any():
        return pooled.sum() * 0.0
    return F.binary_cross_entropy_with_logits(pooled[answered], answers[answered].to(pooled.dtype))


SCORES = ("logprob", "logits")


def image_loss(logits: torch.Tensor, answers: torch.Tensor, *, r: float = 5.0,
               score: str = "logprob") -> torch.Tensor:
    """Masked BCE of the LSE-pooled presence of the C queryable classes against ``answers``.

    ``logits`` (n, L, H, W) over all labels, queryable classes first; ``answers`` (n, C) with
    1 / 0 / :data:`UNKNOWN`. Background (label L-1) is never queried and takes no part.
    """
    c = answers.shape[1]
    if score == "logits":
        pooled = lse_pool(logits[:, :c], r)
    elif score == "logprob":
        log_q = lse_pool(torch.log_softmax(logits, dim=1)[:, :c], r).clamp(max=-1e-6)
        pooled = log_q - torch.log(-torch.expm1(log_q))
    else:
        raise ValueError(f"score must be one of {SCORES}; got {score!r}.")
    return answered_bce(pooled, answers)


def pixel_loss(logits: torch.Tensor, masks: torch.Tensor,
               weight: torch.Tensor | None = None) -> torch.Tensor:
    """Cross-entropy over the labelled pixels (:data:`IGNORE` elsewhere); 0 if there are none."""
    if not (masks != IGNORE).any():
        return logits.sum() * 0.0
    return F.cross_entropy(logits, masks, weight=weight, ignore_index=IGNORE)


def feedback_loss(
    logits: torch.Tensor,
    masks: torch.Tensor,
    answers: torch.Tensor,
    *,
    r: float = 5.0,
    beta: float = 1.0,
    score: str = "logprob",
    pixel_weight: torch.Tensor | None = None,
) -> tuple[torch.Tensor, dict[str, float]]:
    """Pixel cross-entropy plus ``beta`` x the image-level loss on answered pairs, on one batch.

    Parameters
    ----------
    logits : (n, L, H, W)
        The model's score maps over all L labels (digits first, background last).
    masks : (n, H, W) int64
        Pixel labels; :data:`IGNORE` where unknown (every pixel of an image known only by answers).
    answers : (n, C) int
        1 / 0 / :data:`UNKNOWN` for the C queryable classes, which are the first C labels.
    r : float
        LSE pooling sharpness.
    beta : float
        Weight of the image-level term.
    score : {"logprob", "logits"}
        What is pooled (:func:`image_loss`).
    pixel_weight : (L,) tensor, optional
        Per-label weights of the pixel cross-entropy (a weighted mean over labelled pixels).

    Returns
    -------
    loss, parts
        The scalar loss and its two terms as floats (``{"pixel": ..., "image": ...}``).
    """
    pixel = pixel_loss(logits, masks, pixel_weight)
    image = image_loss(logits, answers, r=r, score=score)
    loss = pixel + beta * image
    return loss, {"pixel": float(pixel.detach()), "image": float(image.detach())}
