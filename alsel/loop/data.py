"""Digit scenes: a semantic-segmentation data set that needs no download.

Each image is a square canvas with a few of scikit-learn's handwritten digits (real scans, 8x8,
shipped inside the package; ``sklearn.datasets.load_digits``) pasted at random scales and
positions. Pixel labels: the digit's class (0-9) where its stroke is, :data:`BACKGROUND` (10)
elsewhere. Everything is a function of the seed.

A digit's stroke is where its upscaled intensity reaches :data:`STROKE_THRESHOLD`; images are
composed with ``max`` and a later digit's stroke overwrites an earlier one's label, so the
invariant ``mask == BACKGROUND  <=>  image < STROKE_THRESHOLD`` holds on every pixel.

The 1,797 scanned digits are split once, by a fixed permutation, into a ``"train"`` part (80%)
and a ``"test"`` part (20%): scenes for the test set use digit scans never seen in training.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

N_DIGIT_CLASSES = 10
BACKGROUND = 10
N_LABELS = N_DIGIT_CLASSES + 1
CLASS_NAMES = tuple(str(d) for d in range(N_DIGIT_CLASSES))
STROKE_THRESHOLD = 0.35
POOLS = ("train", "test", "all")
_SPLIT_SEED = 20240611


@dataclass(frozen=True)
class Scenes:
    """A set of digit scenes.

    Attributes
    ----------
    images : float32 array (n, 1, H, W)
        Intensities in [0, 1].
    masks : int64 array (n, H, W)
        Pixel labels: digit class 0-9, or :data:`BACKGROUND`.
    """

    images: np.ndarray
    masks: np.ndarray

    def __len__(self) -> int:
        return len(self.images)

    @property
    def present(self) -> np.ndarray:
        """Bool array (n, 10): which digit classes have at least one pixel in each mask."""
        return presence_from_masks(self.masks)

    def subset(self, index: np.ndarray) -> "Scenes":
        """The scenes at ``index`` (copies)."""
        return Scenes(self.images[index].copy(), self.masks[index].copy())


def presence_from_masks(masks: np.ndarray) -> np.ndarray:
    """Bool array (n, 10): class j is present in image i iff some pixel of mask i equals j."""
    masks = np.asarray(masks)
    flat = masks.reshape(len(masks), -1)
    return np.stack([(flat == j).any(axis=1) for j in range(N_DIGIT_CLASSES)], axis=1)


@lru_cache(maxsize=1)
def _digits() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits  # ships the scans; no download

    data = load_digits()
    return (data.images / 16.0).astype(np.float32), data.target.astype(np.int64)


def _pool_indices(pool: str) -> np.ndarray:
    if pool not in POOLS:
        raise ValueError(f"pool must be one of {POOLS}; got {pool!r}.")
    n = len(_digits()[1])
    order = np.random.default_rng(_SPLIT_SEED).permutation(n)
    cut = int(round(0.8 * n))
    return {"train": order[:cut], "test": order[cut:], "all": np.arange(n)}[pool]


def _resize(digit: np.ndarray, size: int) -> np.ndarray:
    """Bilinear resize of a square 2-D array to (size, size), corners aligned."""
    from scipy.ndimage import map_coordinates

    coords = np.linspace(0, digit.shape[0] - 1, size)
    rows, cols = np.meshgrid(coords, coords, indexing="ij")
    return np.clip(map_coordinates(digit, [rows, cols], order=1), 0.0, 1.0)


def make_scenes(
    n: int,
    *,
    size: int = 32,
    digits: tuple[int, int] = (1, 3),
    scale: tuple[int, int] = (10, 16),
    pool: str = "train",
    seed: int = 0,
) -> Scenes:
    """Compose ``n`` digit scenes.

    Parameters
    ----------
    n : int
        Number of images.
    size : int
        Canvas side in pixels.
    digits : (low, high)
        Digits per image, drawn uniformly from low..high inclusive.
    scale : (low, high)
        Side of each pasted digit in pixels, drawn uniformly from low..high inclusive (<= size).
    pool : {"train", "test", "all"}
        Which scans to draw from (see the module docstring).
    seed : int
        Everything is a function of it.
    """
    if n < 0:
        raise ValueError(f"n must be >= 0; got {n}.")
    low, high = digits
    if not 1 <= low <= high:
        raise ValueError(f"digits must be (low, high) with 1 <= low <= high; got {digits}.")
    s_low, s_high = scale
    if not 4 <= s_low <= s_high <= size:
        raise ValueError(
            f"scale must be (low, high) with 4 <= low <= high <= size = {size}; got {scale}."
        )
    scans, targets = _digits()
    available = _pool_indices(pool)
    rng = np.random.default_rng(seed)
    images = np.zeros((n, 1, size, size), dtype=np.float32)
    masks = np.full((n, size, size), BACKGROUND, dtype=np.int64)
    for k in range(n):
        for _ in range(rng.integers(low, high + 1)):
            which = available[rng.integers(len(available))]
            side = int(rng.integers(s_low, s_high + 1))
            top, left = rng.integers(0, size - side + 1, size=2)
            patch = _resize(scans[which], side)
            window = (slice(top, top + side), slice(left, left + side))
            canvas = images[k, 0][window]
            np.maximum(canvas, patch, out=canvas)
            masks[k][window][patch >= STROKE_THRESHOLD] = targets[which]
    return Scenes(images, masks)
