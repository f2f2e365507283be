"""Per-pixel predictions of the candidates, on demand: what region-level strategies look at.

:class:`PixelView` runs the current model over a strategy's candidate images in batches, as the
strategy asks, and yields each image's class probabilities (L, H, W); nothing of the whole pool
is kept in memory at once. ``images`` is anything indexable by pool id that gives a (channels,
H, W) array (a NumPy array of the pool today; an image set later).
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
        Gives logits (n, L, H, W); evaluated in ``eval`` mode without gradients.
    images
        Indexable by pool id: (channels, H, W) float32.
    ids : int array (n,)
        Pool id of each candidate row (``Context.candidates``).
    batch_size : int
    """

    def __init__(self, model: torch.nn.Module, images, ids: Sequence[int], batch_size: int = 64) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1; got {batch_size}.")
        self.model, self.images = model, images
        self.ids = np.asarray(ids, dtype=np.int64)
        self.batch_size = int(batch_size)

    def __len__(self) -> int:
        return len(self.ids)

    def image(self, row: int) -> np.ndarray:
        """The image of candidate ``row``: (channels, H, W)."""
        return np.asarray(self.images[int(self.ids[row])])

    def probabilities(self, rows: Iterable[int] | None = None) -> Iterator[tuple[int, np.ndarray]]:
        """``(row, probabilities)`` for each of ``rows`` (default: all), in their order:
        softmax of the model's logits, float32 (L, H, W); computed ``batch_size`` images at a time."""
        rows = np.arange(len(self.ids)) if rows is None else np.asarray(list(rows), dtype=np.int64)
        device = next(self.model.parameters(), torch.empty(0)).device
        was_training = self.model.training
        self.model.eval()
        try:
            with torch.no_grad():
                for start in range(0, len(rows), self.batch_size):
                    chunk = rows[start:start + self.batch_size]
                    batch = torch.as_tensor(np.stack([self.image(r) for r in chunk]), dtype=torch.float32,
                                            device=device)
                    prob = torch.softmax(self.model(batch).float(), dim=1).cpu().numpy()
                    yield from zip(chunk.tolist(), prob)
        finally:
            self.model.train(was_training)
