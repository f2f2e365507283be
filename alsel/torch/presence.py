"""Logits (B, C, H, W) -> class-presence probabilities p (B, C).

Pixel probabilities q_c(x) are the softmax over the class axis (``activation="softmax"``, one
class per pixel) or the sigmoid of each logit (``"sigmoid"``, multi-label models), or, for
query-based models (MaskFormer, Mask2Former), the per-pixel class distribution that
:func:`alsel.torch.outputs.query_scores` reads from their output (no activation). The
presence of class c in an image is a reduction of q_c over the kept pixels X:

``"mean"``
    (1/|X|) sum_x q_c(x): the paper's "average probability of pixels belonging to class j".
``"max"``
    max_x q_c(x): present if any pixel is confidently c (small objects count fully).
``"lse"``
    (1/r) log((1/|X|) sum_x exp(r q_c(x))), a smooth maximum between the two (``r`` is
    ``lse_sharpness``; r -> 0 gives the mean, r -> inf the maximum).
"""

from __future__ import annotations

import torch

from alsel.torch.pooling import masked_lse, masked_max, masked_mean

REDUCTIONS = ("mean", "max", "lse")
ACTIVATIONS = ("softmax", "sigmoid")


def class_presence(
    logits: torch.Tensor,
    weights: torch.Tensor | None,
    reduction: str,
    activation: str | None,
    lse_sharpness: float,
) -> torch.Tensor:
    """p (B, C) in [0, 1] from float logits (B, C, H, W) and kept-pixel weights (B, 1, H, W).

    ``activation=None``: ``logits`` are pixel probabilities already (query-based models) and are
    reduced as they are (a softmax of probabilities would flatten them towards 1/C).
    """
    if activation is None:
        probabilities = logits
    elif activation == "softmax":
        probabilities = torch.softmax(logits, dim=1)
    else:
        probabilities = torch.sigmoid(logits)
    if reduction == "mean":
        return masked_mean(probabilities, weights)
    if reduction == "max":
        return masked_max(probabilities, weights)
    return masked_lse(probabilities, weights, lse_sharpness).clamp_(0.0, 1.0)
