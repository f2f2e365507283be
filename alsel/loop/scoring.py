"""Run a model over the pool: class-presence probabilities, image features, pixel entropy.

SWAP POINT: this is the loop's own small scoring step. When ``alsel.torch`` (the PyTorch
adapters) lands, :func:`presence_and_features` is the one function to replace with it; the rest
of the loop only sees the arrays it returns.

* presence p (N, C): mean softmax probability of each queryable class over the image's pixels
  (the paper's p_ij, Section 3.1);
* features (N, d): the model's globally average-pooled encoder features if it has
  ``forward_with_features`` (as :class:`~alsel.loop.model.TinyUNet` does), else the
  average-pooled softmax maps;
* pixel entropy (N,): mean over pixels of the softmax entropy (nats), the image score of the EE
  and entropy baselines.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class PoolScores:
    """What the strategies need to know about the pool."""

    presence: np.ndarray
    features: np.ndarray
    pixel_entropy: np.ndarray


@torch.no_grad()
def presence_and_features(
    model: torch.nn.Module, images: np.ndarray, n_classes: int, batch_size: int = 256
) -> PoolScores:
    """Score ``images`` (N, channels, H, W) with ``model``; the first ``n_classes`` outputs are
    the queryable classes."""
    was_training = model.training
    model.eval()
    presence, features, entropy = [], [], []
    try:
        for start in range(0, len(images), batch_size):
            x = torch.as_tensor(images[start:start + batch_size])
            if hasattr(model, "forward_with_features"):
                logits, feats = model.forward_with_features(x)
            else:
                logits, feats = model(x), None
            prob = torch.softmax(logits, dim=1)
            if feats is None:
                feats = prob.mean(dim=(2, 3))
            presence.append(prob[:, :n_classes].mean(dim=(2, 3)))
            features.append(feats)
            entropy.append(-(prob * torch.log(prob.clamp_min(1e-12))).sum(dim=1).mean(dim=(1, 2)))
    finally:
        model.train(was_training)
    as_np = lambda parts: torch.cat(parts).double().numpy()  # noqa: E731
    return PoolScores(as_np(presence), as_np(features), as_np(entropy))
