"""Run a model over the pool: class-presence probabilities, image features, pixel entropy.

The pass goes through the PyTorch adapters (:func:`alsel.torch.predict_pool`), so the loop works
with any segmentation model the adapters understand:

* presence p (N, C): mean softmax probability of each queryable label over the image's pixels
  (the paper's p_ij, Section 3.1), the labels ``classes`` (``LabelSpace.queryable``);
* features (N, d): the output of the module named by ``features`` (default: the model's
  ``feature_module`` attribute, the bottleneck for :class:`~alsel.models.tiny_unet.TinyUNet`),
  average-pooled by the adapter's hook; the pooled logits for a model without one (the
  adapter's fallback);
* pixel entropy (N,): mean over pixels of the softmax entropy (nats), the image score of the EE
  and entropy baselines, taken from the same pass (the adapter's ``output=`` hook sees each
  batch's logits).

Images of different sizes are padded per batch (:func:`alsel.datasets.pad_batch`); the padding
is the adapter's ignore mask and is left out of the entropy too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from alsel.datasets.base import pad_batch


@dataclass(frozen=True)
class PoolScores:
    """What the strategies need to know about the pool."""

    presence: np.ndarray
    features: np.ndarray
    pixel_entropy: np.ndarray


def padded_batches(images, ids: Sequence[int], batch_size: int, size_divisor: int = 1):
    """(images, valid) of ``ids`` of an ImageSet (or array), ``batch_size`` at a time, padded."""
    image = images.image if hasattr(images, "image") else (lambda i: images[i])
    for start in range(0, len(ids), batch_size):
        x, _, valid = pad_batch([np.asarray(image(i), dtype=np.float32) for i in ids[start:start + batch_size]],
                                None, size_divisor)
        yield torch.from_numpy(x), torch.from_numpy(valid)


def presence_and_features(
    model: torch.nn.Module, images, classes: Sequence[int] | int, batch_size: int = 256, *,
    ids: Sequence[int] | None = None, features: str | None = None, size_divisor: int = 1,
) -> PoolScores:
    """Score ``images`` (an ImageSet or an array (N, channels, H, W); rows ``ids``, default all)
    with ``model`` in one streamed pass. ``classes``: the logit channel of each queryable label
    (an int C means channels 0..C-1)."""
    from alsel.torch import predict_pool
    from alsel.torch.outputs import softmax_logits

    classes = list(range(classes)) if isinstance(classes, int) else list(classes)
    ids = list(range(len(images))) if ids is None else [int(i) for i in ids]
    entropy: list[torch.Tensor] = []
    valids: list[torch.Tensor] = []

    def logits_and_entropy(raw: object) -> torch.Tensor:
        valid = valids.pop(0)
        logits = softmax_logits(raw, tuple(valid.shape[-2:])).float()  # at the input size
        valid = valid.to(logits.device)
        prob = torch.softmax(logits, dim=1)
        pixel = -(prob * torch.log(prob.clamp_min(1e-12))).sum(dim=1)
        if bool(valid.all()):
            entropy.append(pixel.mean(dim=(1, 2)))
        else:
            entropy.append((pixel * valid).sum(dim=(1, 2)) / valid.sum(dim=(1, 2)))
        return logits

    def batches():
        for x, valid in padded_batches(images, ids, batch_size, size_divisor):
            valids.append(valid)
            # an all-valid batch goes as a plain tensor: the same numbers as before padding existed
            yield x if bool(valid.all()) else {"image": x, "ignore": ~valid}

    feature = features if features is not None else getattr(model, "feature_module", None)
    prediction = predict_pool(model, batches(), features=feature, output=logits_and_entropy, progress=False)
    return PoolScores(prediction.p[:, classes], prediction.features,
                      torch.cat(entropy).double().cpu().numpy())
