"""Self-training around the loop's training: SSAL's semi-supervised half.

Teacher-student pseudo-labelling: a model trained on the labelled images (the teacher) labels
every pixel of the unlabelled images (each at its own size, padding left out) on which it is confident (top softmax probability >=
``threshold``), those pixels are added to the training set as if labelled (other pixels stay
without a label), and a fresh model (the student, same seed and initialisation) is trained on
the union. True labels always win over pseudo-labels. The student is the round's model.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from .store import NO_LABEL


@dataclass(frozen=True)
class SelfTraining:
    """Pseudo-labels of confident pixels of unlabelled images, one teacher -> student step.

    Parameters
    ----------
    threshold : float in (0, 1]
        A pixel gets the teacher's label when the teacher's top class probability reaches it.
    batch_size : int
        Images per forward pass of the teacher.
    """

    threshold: float = 0.9
    batch_size: int = 64

    def __post_init__(self) -> None:
        if not 0.0 < float(self.threshold) <= 1.0:
            raise ValueError(f"threshold must lie in (0, 1]; got {self.threshold}.")
        if int(self.batch_size) < 1:
            raise ValueError(f"batch_size must be >= 1; got {self.batch_size}.")

    def pseudo_labels(self, prob: np.ndarray) -> np.ndarray:
        """(H, W) int64 labels from class probabilities (L, H, W): the argmax where its
        probability reaches ``threshold``, :data:`~alsel.loop.store.NO_LABEL` elsewhere."""
        prob = np.asarray(prob)
        return np.where(prob.max(axis=0) >= self.threshold, prob.argmax(axis=0), NO_LABEL).astype(np.int64)

    def label_pool(self, teacher, images, ids: Sequence[int], size_divisor: int = 1) -> dict[int, np.ndarray]:
        """Pseudo-labels of the images ``ids`` (pool ids into ``images``, an ImageSet or an array)
        that get any pixel; each (H, W) at its image's own size."""
        from .pixels import PixelView

        view = PixelView(teacher, images, ids, batch_size=self.batch_size, size_divisor=size_divisor)
        out = {}
        for row, prob in view.probabilities():
            mask = self.pseudo_labels(prob)
            if (mask != NO_LABEL).any():
                out[int(view.ids[row])] = mask
        return out

    def run(self, fit: Callable[[dict[int, np.ndarray]], tuple[object, dict]],
            labels: dict[int, np.ndarray], images, unlabelled: Sequence[int],
            size_divisor: int | Callable[[object], int] = 1) -> tuple[object, dict]:
        """Teacher = ``fit(labels)``; student = ``fit(labels + pseudo-labels of unlabelled)``.

        ``fit`` trains a fresh model on a {pool id: mask} dict and returns (model, loss terms).
        ``size_divisor``: batches of the teacher are padded to its multiples (or a function of the
        teacher giving it).
        Returns the student and its loss terms plus ``pseudo_images`` and ``pseudo_pixels``.
        """
        teacher, _ = fit(labels)
        divisor = size_divisor(teacher) if callable(size_divisor) else size_divisor
        pseudo = self.label_pool(teacher, images, list(unlabelled), divisor)
        merged = dict(pseudo)
        for image, mask in labels.items():  # true labels win, pixel by pixel
            merged[image] = mask if image not in pseudo else np.where(mask != NO_LABEL, mask, pseudo[image])
        student, losses = fit(merged)
        pixels = int(sum(int((m != NO_LABEL).sum()) for m in pseudo.values()))
        return student, {**losses, "pseudo_images": len(pseudo), "pseudo_pixels": pixels}
