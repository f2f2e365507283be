"""Run a model over the pool: class-presence probabilities, image features, pixel entropy.

The pass goes through the PyTorch adapters (:func:`alsel.torch.predict_pool`), so the loop works
with any segmentation model the adapters understand:

* presence p (N, C): mean softmax probability of each queryable class over the image's pixels
  (the paper's p_ij, Section 3.1), the first C of the model's labels;
* features (N, d): the output of the module named by the model's ``feature_module`` attribute
  (the bottleneck for :class:`~alsel.loop.model.TinyUNet`), average-pooled by the adapter's
  hook; the pooled logits for a model without one (the adapter's fallback);
* pixel entropy (N,): mean over pixels of the softmax entropy (nats), the image score of the EE
  and entropy baselines, taken from the same pass (the adapter's ``output=`` hook sees each
  batch's logits).
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


def presence_and_features(
    model: torch.nn.Module, images: np.ndarray, n_classes: int, batch_size: int = 256
) -> PoolScores:
    """Score ``images`` (N, channels, H, W) with ``model`` in one streamed pass; the first
    ``n_classes`` outputs are the queryable classes."""
    from alsel.torch import predict_pool

    entropy: list[torch.Tensor] = []

    def logits_and_entropy(logits: torch.Tensor) -> torch.Tensor:
        prob = torch.softmax(logits.float(), dim=1)
        entropy.append(-(prob * torch.log(prob.clamp_min(1e-12))).sum(dim=1).mean(dim=(1, 2)))
        return logits

    batches = [torch.as_tensor(images[start:start + batch_size])
               for start in range(0, len(images), batch_size)]
    prediction = predict_pool(model, batches, features=getattr(model, "feature_module", None),
                              output=logits_and_entropy, progress=False)
    return PoolScores(prediction.p[:, :n_classes], prediction.features,
                      torch.cat(entropy).double().cpu().numpy())
