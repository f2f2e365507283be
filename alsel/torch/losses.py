"""The binary-feedback loss for any segmentation model's logits (the paper's Section 4.4).

Yes/no answers "is class c in image i?" supervise the model through its image-level presence
score: the per-class score maps are pooled over the image with log-sum-exp pooling (Pinheiro &
Collobert 2015) and compared with the answers by a binary cross-entropy on the answered pairs
only. Put it into an existing training script next to the pixel cross-entropy::

    from alsel.torch import binary_feedback_loss
    loss = F.cross_entropy(logits, masks, ignore_index=255)
    loss = loss + binary_feedback_loss(logits, answers, classes=queryable)

* ``answers`` (n, C): 1 (present), 0 (absent), :data:`UNKNOWN` (-1, not asked) for the C
  queryable classes; ``classes`` says which channel of ``logits`` each column is (the
  background, never asked about, is simply not among them). Default: the first C channels.
* ``valid`` (n, H, W) bool leaves padding out of the pooling (images of different sizes in one
  batch); pixels without a label but inside the image stay in (that is what the answer is about).
* Logits at a lower resolution than the masks (SegFormer's 1/4) are pooled as they are: the
  pooling is an average over the image, and ``valid`` is area-downsampled to the logits' size.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F

from alsel.datasets.base import IGNORE, UNKNOWN  # "no label" pixels, unanswered pairs
#: What :func:`binary_feedback_loss` may pool: log-probabilities (default) or raw logits.
SCORES = ("logprob", "logits")


def lse_pool(scores: torch.Tensor, r: float, valid: torch.Tensor | None = None) -> torch.Tensor:
    """Log-sum-exp pooling over the spatial axes: (n, C, H, W) -> (n, C).

    ``(1/r) * log( mean_x exp(r * s(x)) )`` over the pixels x of each image (those where
    ``valid``, a bool (n, H, W), is True, if given), computed stably. For r -> inf it tends to
    the max over pixels, for r -> 0 to the mean; it always lies between the two.
    """
    if not r > 0:
        raise ValueError(f"r must be > 0; got {r}. Large r approaches max pooling, small r mean pooling.")
    flat = scores.flatten(start_dim=2)
    if valid is None:
        return (torch.logsumexp(r * flat, dim=2) - math.log(flat.shape[2])) / r
    keep = _valid_at(valid, scores.shape).flatten(start_dim=1)  # (n, h*w)
    counts = keep.sum(dim=1)
    if bool((counts == 0).any()):
        empty = torch.nonzero(counts == 0).flatten().tolist()
        raise ValueError(f"valid leaves out every pixel of image(s) {empty} of the batch; each image "
                         "needs at least one valid pixel.")
    masked = (r * flat).masked_fill(~keep[:, None, :], float("-inf"))
    return (torch.logsumexp(masked, dim=2) - torch.log(counts.to(flat.dtype))[:, None]) / r


def _valid_at(valid: torch.Tensor, shape: torch.Size) -> torch.Tensor:
    """``valid`` (n, H, W) bool at the score maps' (h, w): a cell counts if most of it is valid."""
    if valid.dtype != torch.bool or valid.ndim != 3 or valid.shape[0] != shape[0]:
        raise ValueError(f"valid must be a bool tensor (n, H, W) with n = {shape[0]}; got "
                         f"{valid.dtype} {tuple(valid.shape)}.")
    if tuple(valid.shape[-2:]) == tuple(shape[-2:]):
        return valid
    area = F.adaptive_avg_pool2d(valid[:, None].float(), shape[-2:])[:, 0]
    return area >= 0.5


def answered_bce(pooled: torch.Tensor, answers: torch.Tensor) -> torch.Tensor:
    """Mean BCE-with-logits of ``pooled`` (n, C) against ``answers`` (n, C) on answered pairs.

    Only the 0/1 entries count and the loss is their mean (0 when there are none). Unanswered
    entries are not touched, so their gradient is exactly zero.
    """
    if pooled.shape != answers.shape:
        raise ValueError(f"pooled {tuple(pooled.shape)} and answers {tuple(answers.shape)} differ in shape.")
    answered = answers != UNKNOWN
    if not bool(answered.any()):
        return pooled.sum() * 0.0
    return F.binary_cross_entropy_with_logits(pooled[answered], answers[answered].to(pooled.dtype))


def presence_logits(logits: torch.Tensor, *, classes: Sequence[int] | None = None, n_classes: int | None = None,
                    r: float = 5.0, score: str = "logprob", valid: torch.Tensor | None = None) -> torch.Tensor:
    """The image-level presence score of each queried class, as a logit: (n, L, h, w) -> (n, C).

    ``score="logprob"`` (default) pools the log-softmax over all L labels and turns the pooled
    log-probability log q into the logit log(q / (1 - q)); ``"logits"`` pools the raw logits
    (for sigmoid, multi-label models). ``classes`` are the channels of the C queried classes
    (default: the first ``n_classes``).
    """
    if logits.ndim != 4:
        raise ValueError(f"logits must be (n, L, h, w); got shape {tuple(logits.shape)}.")
    index = _class_index(classes, n_classes, logits.shape[1], logits.device)
    if score == "logits":
        return lse_pool(logits.index_select(1, index), r, valid)
    if score != "logprob":
        raise ValueError(f"score must be one of {SCORES}; got {score!r}.")
    if logits.shape[1] < 2:
        raise ValueError("score='logprob' takes a softmax over the labels, which needs at least 2 "
                         "channels; use score='logits' for a single-channel (sigmoid) model.")
    log_q = lse_pool(torch.log_softmax(logits, dim=1).index_select(1, index), r, valid).clamp(max=-1e-6)
    return log_q - torch.log(-torch.expm1(log_q))


def _class_index(classes: Sequence[int] | None, n_classes: int | None, n_labels: int,
                 device: torch.device) -> torch.Tensor:
    if classes is None:
        if n_classes is None or not 1 <= n_classes <= n_labels:
            raise ValueError(f"the answers have {n_classes} columns but the logits {n_labels} channels; "
                             "pass classes=, the channel of each answered class.")
        return torch.arange(n_classes, device=device)
    index = torch.as_tensor(list(classes), dtype=torch.long, device=device)
    if index.ndim != 1 or len(index) == 0:
        raise ValueError(f"classes must be a non-empty sequence of channel indices; got {classes!r}.")
    if n_classes is not None and len(index) != n_classes:
        raise ValueError(f"classes has {len(index)} entries but the answers have {n_classes} columns; "
                         "give one channel per answered class.")
    if int(index.min()) < 0 or int(index.max()) >= n_labels:
        raise ValueError(f"classes {list(classes)} must be channels 0..{n_labels - 1} of the logits.")
    if len(set(index.tolist())) != len(index):
        raise ValueError(f"classes {list(classes)} repeat a channel; each answered class has its own.")
    return index


def binary_feedback_loss(logits: torch.Tensor, answers: torch.Tensor, *, classes: Sequence[int] | None = None,
                         r: float = 5.0, score: str = "logprob", valid: torch.Tensor | None = None) -> torch.Tensor:
    """Masked BCE of the LSE-pooled class presence against yes/no ``answers``.

    Parameters
    ----------
    logits : (n, L, h, w) float tensor
        The model's score maps over its L labels.
    answers : (n, C) int tensor
        1 / 0 / :data:`UNKNOWN` for the C queried classes.
    classes : sequence of C ints, optional
        The channel of each column of ``answers`` (default: channels 0..C-1).
    r : float
        LSE pooling sharpness (the paper: 5).
    score : {"logprob", "logits"}
        What is pooled (:func:`presence_logits`).
    valid : (n, H, W) bool tensor, optional
        True on the images' own pixels, False on padding.
    """
    if answers.ndim != 2 or answers.shape[0] != logits.shape[0]:
        raise ValueError(f"answers must be (n, C) with n = {logits.shape[0]} images; got {tuple(answers.shape)}.")
    stray = (answers != 1) & (answers != 0) & (answers != UNKNOWN)
    if bool(stray.any()):
        raise ValueError(f"answers must hold 1, 0 or UNKNOWN ({UNKNOWN}, not asked); got "
                         f"{answers[stray].unique().tolist()[:5]}. Map other codes before the loss.")
    pooled = presence_logits(logits, classes=classes, n_classes=answers.shape[1], r=r, score=score, valid=valid)
    return answered_bce(pooled, answers)


def pixel_loss(logits: torch.Tensor, masks: torch.Tensor, weight: torch.Tensor | None = None,
               ignore_index: int = IGNORE) -> torch.Tensor:
    """Cross-entropy over the labelled pixels (``ignore_index`` elsewhere); 0 if there are none.

    Logits at a lower resolution than ``masks`` are upsampled bilinearly first.
    """
    if not bool((masks != ignore_index).any()):
        return logits.sum() * 0.0
    if tuple(logits.shape[-2:]) != tuple(masks.shape[-2:]):
        logits = F.interpolate(logits, size=masks.shape[-2:], mode="bilinear", align_corners=False)
    return F.cross_entropy(logits, masks, weight=weight, ignore_index=ignore_index)


def feedback_loss(logits: torch.Tensor, masks: torch.Tensor, answers: torch.Tensor, *,
                  classes: Sequence[int] | None = None, ignore_index: int = IGNORE, r: float = 5.0,
                  beta: float = 1.0, score: str = "logprob", pixel_weight: torch.Tensor | None = None,
                  valid: torch.Tensor | None = None) -> tuple[torch.Tensor, dict[str, float]]:
    """Pixel cross-entropy plus ``beta`` x :func:`binary_feedback_loss`, on one batch.

    Returns the scalar loss and its two terms as floats (``{"pixel": ..., "image": ...}``).
    """
    pixel = pixel_loss(logits, masks, pixel_weight, ignore_index)
    image = binary_feedback_loss(logits, answers, classes=classes, r=r, score=score, valid=valid)
    loss = pixel + beta * image
    return loss, {"pixel": float(pixel.detach()), "image": float(image.detach())}


__all__ = ["UNKNOWN", "IGNORE", "SCORES", "lse_pool", "answered_bce", "presence_logits",
           "binary_feedback_loss", "pixel_loss", "feedback_loss"]
