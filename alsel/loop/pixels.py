"""Per-pixel predictions of the candidates, on demand: what region-level strategies look at.

:class:`PixelView` runs the current model over a strategy's candidate images in padded batches,
as the strategy asks, and yields each image's class probabilities at the image's own size
(L, H_i, W_i), the padding cut away; nothing of the whole pool is kept in memory at once.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

import numpy as np
import torch


class PixelView:
    """The model's per-pixel class probabilities and the images of the candidates.

    Parameters
    ----------
    model : torch.nn.Module
        Read by :func:`alsel.torch.outputs.softmax_logits` (logits, or a query-based model's
        log-probabilities), at the input size. Evaluated in
        ``eval`` mode without gradients.
    images : ImageSet, or an array indexable by pool id
        ``images.image(i)`` (or ``images[i]``): float32 (channels, H, W); sizes may differ.
    ids : int array (n,)
        Pool id of each candidate row (``Context.candidates``).
    batch_size : int
        Images per forward pass.
    size_divisor : int
        Batches are padded to sides that are multiples of it (the model's downsampling).
    """

    def __init__(self, model: torch.nn.Module, images, ids: Sequence[int], batch_size: int = 64,
                 size_divisor: int = 1) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1; got {batch_size}.")
        if size_divisor < 1:
            raise ValueError(f"size_divisor must be >= 1; got {size_divisor}.")
        self.model, self.images = model, images
        self.ids = np.asarray(ids, dtype=np.int64).reshape(-1)
        self.batch_size, self.size_divisor = int(batch_size), int(size_divisor)

    def __len__(self) -> int:
        return len(self.ids)

    def image(self, row: int) -> np.ndarray:
        """The image of candidate ``row``: float32 (channels, H, W) at its own size."""
        pool_id = int(self.ids[row])
        image = self.images.image(pool_id) if hasattr(self.images, "image") else self.images[pool_id]
        return np.asarray(image, dtype=np.float32)

    def probabilities(self, rows: Iterable[int] | None = None) -> Iterator[tuple[int, np.ndarray]]:
        """``(row, probabilities)`` for each of ``rows`` (default: all), in their order: softmax of
        the model's logits, float32 (L, H, W) at the image's own size; ``batch_size`` images at a
        time."""
        from alsel.torch.outputs import softmax_logits

        from .scoring import padded_batches

        rows = np.arange(len(self.ids)) if rows is None else np.asarray(list(rows), dtype=np.int64)
        device = next(self.model.parameters(), torch.empty(0)).device
        was_training = self.model.training
        self.model.eval()
        try:
            with torch.no_grad():
                batches = padded_batches(self.images, self.ids[rows].tolist(), self.batch_size, self.size_divisor)
                for start, (x, valid) in zip(range(0, len(rows), self.batch_size), batches):
                    logits = softmax_logits(self.model(x.to(device)), tuple(x.shape[-2:])).float()
                    prob = torch.softmax(logits, dim=1).cpu().numpy()
                    own = valid.numpy()
                    for k, row in enumerate(rows[start:start + self.batch_size].tolist()):
                        height, width = int(own[k, :, 0].sum()), int(own[k, 0, :].sum())
                        yield row, np.ascontiguousarray(prob[k, :, :height, :width])
        finally:
            self.model.train(was_training)
