"""Digit scenes: a semantic-segmentation data set that needs no download.

Each image is a canvas (square or not) with a few of scikit-learn's handwritten digits (real scans, 8x8,
shipped inside the package; ``sklearn.datasets.load_digits``) pasted at random scales and
positions. Pixel labels: the digit's class (0-9) where its stroke is, :data:`BACKGROUND` (10)
elsewhere. Everything is a function of the seed.

A digit's stroke is where its upscaled intensity reaches :data:`STROKE_THRESHOLD`; images are
composed with ``max`` and a later digit's stroke overwrites an earlier one's label, so the
invariant ``mask == BACKGROUND  <=>  image < STROKE_THRESHOLD`` holds on every pixel.

The 1,797 scanned digits are split once, by a fixed permutation, into a ``"train"`` part (80%)
and a ``"test"`` part (20%): scenes for the test set use digit scans never seen in training.

As a data source of the loop, :class:`DigitSource` gives the pool and test set of a seed
(labels :data:`DIGIT_LABELS`); :func:`write_folder` saves scenes in the image-folder layout of
:mod:`alsel.datasets.folder`, for trying the folder path without a download.
"""

from __future__ import annotations

import numbers
import os
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from alsel.datasets.base import ArrayImageSet, LabelSpace, Split

N_DIGIT_CLASSES = 10
BACKGROUND = 10
N_LABELS = N_DIGIT_CLASSES + 1
CLASS_NAMES = tuple(str(d) for d in range(N_DIGIT_CLASSES))
STROKE_THRESHOLD = 0.35
POOLS = ("train", "test", "all")
_SPLIT_SEED = 20240611

#: The labels of digit scenes: the ten digits (asked about) and the background (never asked).
DIGIT_LABELS = LabelSpace(CLASS_NAMES + ("background",), background=BACKGROUND)


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


def canvas_shape(size: int | tuple[int, int], name: str = "size") -> tuple[int, int]:
    """``(height, width)`` of a canvas given as a side or as ``(height, width)``."""
    if isinstance(size, numbers.Integral) and not isinstance(size, bool):
        shape = (int(size), int(size))
    elif (isinstance(size, (tuple, list)) and len(size) == 2
          and all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in size)):
        shape = (int(size[0]), int(size[1]))
    else:
        raise TypeError(f"{name} must be an integer side or a pair (height, width) of integers; got {size!r}.")
    if min(shape) < 1:
        raise ValueError(f"{name} must be positive; got {size!r}.")
    return shape


def make_scenes(
    n: int,
    *,
    size: int | tuple[int, int] = 32,
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
    size : int or (height, width)
        Canvas side in pixels, or its height and width.
    digits : (low, high)
        Digits per image, drawn uniformly from low..high inclusive.
    scale : (low, high)
        Side of each pasted digit in pixels, drawn uniformly from low..high inclusive (at most
        the canvas' shorter side).
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
    height, width = canvas_shape(size)
    s_low, s_high = scale
    if not 4 <= s_low <= s_high <= min(height, width):
        raise ValueError(
            f"scale must be (low, high) with 4 <= low <= high <= the canvas' shorter side "
            f"{min(height, width)} (size = {size!r}); got {scale}."
        )
    scans, targets = _digits()
    available = _pool_indices(pool)
    rng = np.random.default_rng(seed)
    images = np.zeros((n, 1, height, width), dtype=np.float32)
    masks = np.full((n, height, width), BACKGROUND, dtype=np.int64)
    # On a square canvas this draws exactly what rng.integers(0, side + 1, size=2) drew before
    # non-square canvases existed, so seeds keep their scenes.
    room = np.array([height, width])
    for k in range(n):
        for _ in range(rng.integers(low, high + 1)):
            which = available[rng.integers(len(available))]
            side = int(rng.integers(s_low, s_high + 1))
            top, left = rng.integers(0, room - side + 1)
            patch = _resize(scans[which], side)
            window = (slice(top, top + side), slice(left, left + side))
            canvas = images[k, 0][window]
            np.maximum(canvas, patch, out=canvas)
            masks[k][window][patch >= STROKE_THRESHOLD] = targets[which]
    return Scenes(images, masks)


def _count(value: object, name: str) -> int:
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 0:
        raise ValueError(f"{name} must be an integer >= 0; got {value!r}.")
    return int(value)


class DigitSource:
    """Digit scenes as a data source of the loop: the pool and test set of each seed.

    ``load(seed)`` makes exactly the scenes the loop has always used (``make demo``'s numbers):
    the pool is ``make_scenes(labeled + unlabeled, pool="train", seed=seed)``, its first
    ``labeled`` scenes are L; the test set is ``make_scenes(test, pool="test", seed=10_000 + seed)``
    (scenes of held-out digit scans).

    Parameters
    ----------
    size : int or (height, width)
        Canvas size in pixels.
    digits, scale : (low, high)
        As in :func:`make_scenes`.
    labeled, unlabeled, test : int
        ``|L|``, ``|U|`` and the size of the test set.
    """

    labels = DIGIT_LABELS
    channels = 1

    def __init__(self, *, size: int | tuple[int, int] = 24, digits: tuple[int, int] = (1, 3),
                 scale: tuple[int, int] = (8, 12), labeled: int = 40, unlabeled: int = 300,
                 test: int = 300) -> None:
        self.labeled = _count(labeled, "labeled")
        self.unlabeled = _count(unlabeled, "unlabeled")
        self.test = _count(test, "test")
        self.scene_args = {"size": size, "digits": tuple(digits), "scale": tuple(scale)}
        make_scenes(0, **self.scene_args)  # checks size, digits and scale now, not at load()

    def load(self, seed: int) -> Split:
        """The pool (L first) and the test set of ``seed``."""
        pool = make_scenes(self.labeled + self.unlabeled, pool="train", seed=seed, **self.scene_args)
        test = make_scenes(self.test, pool="test", seed=10_000 + seed, **self.scene_args)
        return Split(ArrayImageSet(pool.images, pool.masks, DIGIT_LABELS),
                     ArrayImageSet(test.images, test.masks, DIGIT_LABELS), self.labeled)

    def __repr__(self) -> str:
        return (f"DigitSource(**{self.scene_args}, labeled={self.labeled}, unlabeled={self.unlabeled}, "
                f"test={self.test})")


def write_folder(
    root: str | os.PathLike,
    scenes: Scenes | int,
    *,
    sizes: Sequence[int | tuple[int, int]] = ((24, 32), (32, 24), (28, 28)),
    digits: tuple[int, int] = (1, 3),
    scale: tuple[int, int] = (8, 12),
    pool: str = "train",
    seed: int = 0,
    without_masks: Sequence[int] = (),
    mode: str = "L",
) -> ArrayImageSet:
    """Save digit scenes as a data set in the image-folder layout (docs/data.md).

    Writes ``root/images/<k>.png`` (8-bit), ``root/masks/<k>.png`` (label maps, background 10)
    and ``root/classes.txt`` (``0`` .. ``9``, ``background``), with ``k`` as five digits.

    Parameters
    ----------
    root : path
        The data set folder; must not hold an ``images`` or ``masks`` folder yet.
    scenes : Scenes or int
        The scenes to write, or how many to make: scene k is made on a canvas of
        ``sizes[k % len(sizes)]`` (scenes of one size come from one :func:`make_scenes` call,
        seeded from ``seed`` and the size's position in ``sizes``).
    sizes, digits, scale, pool, seed
        How scenes are made when ``scenes`` is a count (see :func:`make_scenes`).
    without_masks : sequence of int
        Scenes written without a mask (pool images nobody has labelled).
    mode : {"L", "RGB"}
        Grey images, or RGB with the grey value in every channel.

    Returns
    -------
    ArrayImageSet
        What was written: images as they read back (rounded to multiples of 1/255) and the masks
        (None for ``without_masks``); image k is the file of ``name(k)``.
    """
    from PIL import Image

    if mode not in ("L", "RGB"):
        raise ValueError(f"mode must be 'L' or 'RGB'; got {mode!r}.")
    if isinstance(scenes, Scenes):
        images, masks = list(scenes.images), list(scenes.masks)
    else:
        n = _count(scenes, "scenes")
        if not sizes:
            raise ValueError("sizes must name at least one canvas size.")
        shapes = [canvas_shape(s, "sizes entry") for s in sizes]
        images, masks = [None] * n, [None] * n
        seeds = np.random.SeedSequence(seed).spawn(len(shapes))
        for j, shape in enumerate(shapes):
            ids = range(j, n, len(shapes))
            made = make_scenes(len(ids), size=shape, digits=digits, scale=scale, pool=pool,
                               seed=int(seeds[j].generate_state(1)[0]))
            for k, image, mask in zip(ids, made.images, made.masks):
                images[k], masks[k] = image, mask
    unmasked = {int(k) for k in without_masks}
    if any(not 0 <= k < len(images) for k in unmasked):
        raise ValueError(f"without_masks must be scene ids 0..{len(images) - 1}; got {sorted(unmasked)}.")
    root = Path(root)
    for sub in ("images", "masks"):
        if (root / sub).exists():
            raise FileExistsError(f"{root / sub} exists; write_folder writes a new data set, give it an empty folder.")
        (root / sub).mkdir(parents=True)
    (root / "classes.txt").write_text("\n".join(DIGIT_LABELS.names) + "\n", encoding="utf-8")
    written_images, written_masks = [], []
    for k, (image, mask) in enumerate(zip(images, masks)):
        grey = np.rint(np.clip(image[0], 0.0, 1.0) * 255).astype(np.uint8)
        Image.fromarray(grey).convert(mode).save(root / "images" / f"{k:05d}.png")
        written_images.append(np.repeat(grey[None], 1 if mode == "L" else 3, axis=0).astype(np.float32) / 255)
        if k in unmasked:
            written_masks.append(None)
        else:
            Image.fromarray(mask.astype(np.uint8)).save(root / "masks" / f"{k:05d}.png")
            written_masks.append(mask.astype(np.int64))
    return ArrayImageSet(written_images, written_masks, DIGIT_LABELS)
