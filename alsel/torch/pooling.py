"""Spatial reductions of (B, K, h, w) maps over the pixels an ignore mask keeps.

``ignore`` is (B, H, W) bool, True where a pixel is left out, at the input resolution. A map at
another resolution (a hooked feature map) is weighted by the mask area-downsampled to its size:
each cell counts by the fraction of its input pixels that are kept.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def kept_weights(ignore: torch.Tensor, size: tuple[int, int], first_image: int) -> torch.Tensor:
    """Weights (B, 1, h, w) in [0, 1]: the kept fraction of each cell of a map of ``size``."""
    keep = (~ignore).unsqueeze(1).float()
    empty = torch.nonzero(keep.sum(dim=(1, 2, 3)) == 0)
    if len(empty):
        raise ValueError(
            f"the ignore mask of image {first_image + int(empty[0])} leaves out every pixel; "
            "each image needs at least one kept pixel (or drop it from the pool)."
        )
    if tuple(keep.shape[-2:]) != tuple(size):
        keep = F.adaptive_avg_pool2d(keep, size)
    return keep


def masked_mean(x: torch.Tensor, weights: torch.Tensor | None) -> torch.Tensor:
    """Weighted mean over (h, w) -> (B, K); a plain mean when ``weights`` is None."""
    if weights is None:
        return x.mean(dim=(2, 3))
    kept = torch.where(weights > 0, x, 0.0) * weights  # where: NaN in left-out pixels stays out
    return kept.sum(dim=(2, 3)) / weights.sum(dim=(2, 3))


def masked_max(x: torch.Tensor, weights: torch.Tensor | None) -> torch.Tensor:
    """Maximum over the kept (h, w) -> (B, K)."""
    if weights is not None:
        x = torch.where(weights > 0, x, -math.inf)
    return x.amax(dim=(2, 3))


def masked_lse(x: torch.Tensor, weights: torch.Tensor | None, sharpness: float) -> torch.Tensor:
    """Log-mean-exp over the kept (h, w): (1/r) log(mean exp(r x)) -> (B, K).

    Lies between the mean (r -> 0) and the maximum (r -> inf); computed as a logsumexp, so it is
    stable for any r.
    """
    scaled = x * sharpness
    if weights is None:
        count = torch.tensor(float(x.shape[-2] * x.shape[-1]), device=x.device)
        return (torch.logsumexp(scaled, dim=(2, 3)) - count.log()) / sharpness
    log_weights = torch.where(weights > 0, weights.log(), -math.inf)
    scaled = torch.where(weights > 0, scaled, 0.0) + log_weights
    return (torch.logsumexp(scaled, dim=(2, 3)) - weights.sum(dim=(2, 3)).log()) / sharpness
