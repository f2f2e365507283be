"""The contract between data and the loop: labels, image sets, and batches of mixed sizes.

Inside alsel a mask is an int64 array (H, W) of label indices 0..L-1 into a
:class:`LabelSpace`, with :data:`IGNORE` where a pixel has no label (a data set's own ignore
label, 255 for PASCAL VOC and Cityscapes, is turned into IGNORE when it is read). Images are
float32 arrays (channels, H, W), normalized as the model expects; images of one set may differ
in size. :func:`pad_batch` makes a batch of them: padded to a common size, with the padding
marked in ``valid`` and IGNORE in the masks.

A data source (digit scenes, an image folder) gives a :class:`Split` per seed: the pool, whose
first ``n_labeled`` images are pixel-labelled from the start (L) and the rest queried (U), and
the test set. :class:`Subset` is an image set over some images of another.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

#: Pixel label "no label" inside alsel (PyTorch's default ``ignore_index``).
IGNORE = -100
#: Answer of a pair that was not asked (or not answered) in an answers matrix (N, C), beside
#: 1 = present and 0 = absent; column j is label ``LabelSpace.queryable[j]``.
UNKNOWN = -1


@dataclass(frozen=True)
class LabelSpace:
    """The labels of a segmentation and which of them are asked about.

    Attributes
    ----------
    names : tuple of str
        Name of every label; a mask's value k means ``names[k]``.
    background : int or None
        The label never asked about (``None``: no background).
    queried : tuple of int, optional
        The labels asked about; default every label but the background. A label that is neither
        queried nor background is still learnt from pixel labels, never asked about.
    """

    names: tuple[str, ...]
    background: int | None = None
    queried: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        names = tuple(str(n) for n in self.names)
        object.__setattr__(self, "names", names)
        if len(names) < 2:
            raise ValueError(f"a label space needs at least 2 labels; got {list(names)}.")
        if len(set(names)) != len(names):
            raise ValueError(f"label names must differ; {sorted({n for n in names if names.count(n) > 1})} repeat.")
        if self.background is not None and not 0 <= self.background < len(names):
            raise ValueError(f"background must be a label index 0..{len(names) - 1} or None; got {self.background!r}.")
        if self.queried is not None:
            queried = tuple(int(k) for k in self.queried)
            object.__setattr__(self, "queried", queried)
            if not queried or len(set(queried)) != len(queried) or not all(0 <= k < len(names) for k in queried):
                raise ValueError(f"queried must be distinct label indices 0..{len(names) - 1}; got {list(queried)}.")
            if self.background in queried:
                raise ValueError(f"queried includes the background label {self.background}; the background "
                                 "is never asked about.")

    @property
    def n_labels(self) -> int:
        """L, the number of labels (channels of the model's logits)."""
        return len(self.names)

    @property
    def queryable(self) -> tuple[int, ...]:
        """Label indices asked about, in order: column j of an answers matrix is label queryable[j]."""
        if self.queried is not None:
            return self.queried
        return tuple(k for k in range(len(self.names)) if k != self.background)

    @property
    def query_names(self) -> tuple[str, ...]:
        """Names of the queryable labels (the answer store's classes)."""
        return tuple(self.names[k] for k in self.queryable)

    def presence(self, mask: np.ndarray) -> np.ndarray:
        """Bool (C,): which queryable labels occur in ``mask`` (IGNORE pixels say nothing)."""
        counts = np.bincount(mask[mask >= 0].ravel(), minlength=self.n_labels)
        return counts[list(self.queryable)] > 0


@runtime_checkable
class ImageSet(Protocol):
    """A sequence of images with optional masks, indexed 0..len-1.

    ``root`` is the folder that holds the image files, ``name(i)`` the file of image i relative to
    it (for people who look at the images: the web page, Label Studio); an in-memory set has
    ``root`` None and names like ``00003``.
    """

    labels: LabelSpace
    root: Path | None

    def __len__(self) -> int: ...

    def image(self, i: int) -> np.ndarray:
        """float32 (channels, H, W)."""

    def mask(self, i: int) -> np.ndarray | None:
        """int64 (H, W) of label indices and IGNORE, or None if image i has no mask."""

    def name(self, i: int) -> str: ...


class ArrayImageSet:
    """An :class:`ImageSet` held in memory: arrays (N, channels, H, W) or lists of (channels, H, W)."""

    root = None

    def __init__(self, images: np.ndarray | Sequence[np.ndarray], masks: np.ndarray | Sequence | None,
                 labels: LabelSpace) -> None:
        if masks is not None and len(masks) != len(images):
            raise ValueError(f"masks has {len(masks)} entries for {len(images)} images.")
        self.images, self.masks, self.labels = images, masks, labels

    def __len__(self) -> int:
        return len(self.images)

    def image(self, i: int) -> np.ndarray:
        return np.asarray(self.images[i], dtype=np.float32)

    def mask(self, i: int) -> np.ndarray | None:
        if self.masks is None or self.masks[i] is None:
            return None
        return np.asarray(self.masks[i], dtype=np.int64)

    def name(self, i: int) -> str:
        return f"{i:05d}"


class Subset:
    """The images ``ids`` of another :class:`ImageSet`: image i here is image ``ids[i]`` there.

    ``labels``, ``root`` and ``name`` pass through, so a subset's image names are its files.
    """

    def __init__(self, base: ImageSet, ids: Sequence[int] | np.ndarray) -> None:
        array = np.asarray(ids)
        if array.size == 0:
            array = array.astype(np.int64).reshape(0)
        if array.ndim != 1 or not (np.issubdtype(array.dtype, np.integer)):
            raise TypeError(f"ids must be a 1-D sequence of integer image ids; got {ids!r}.")
        bad = array[(array < 0) | (array >= len(base))]
        if bad.size:
            raise ValueError(f"ids must be image ids 0..{len(base) - 1} of the base set; got "
                             f"{[int(i) for i in bad[:10]]}.")
        if len(np.unique(array)) != len(array):
            raise ValueError("ids must not repeat an image; each image of a subset is one image of the base.")
        self.base, self.ids = base, array.astype(np.int64)
        self.labels, self.root = base.labels, base.root

    def __len__(self) -> int:
        return len(self.ids)

    def image(self, i: int) -> np.ndarray:
        return self.base.image(int(self.ids[i]))

    def mask(self, i: int) -> np.ndarray | None:
        return self.base.mask(int(self.ids[i]))

    def name(self, i: int) -> str:
        return self.base.name(int(self.ids[i]))


@dataclass(frozen=True)
class Split:
    """What a data source gives for one seed.

    Attributes
    ----------
    pool : ImageSet
        The images of the loop: ids ``0..n_labeled-1`` are L (pixel-labelled from the start, they
        must have masks), the rest U (queried; their masks, where there are any, serve only the
        simulated oracle).
    test : ImageSet
        The images mIoU is measured on; every one has a mask.
    n_labeled : int
        ``|L|``.
    """

    pool: ImageSet
    test: ImageSet
    n_labeled: int

    def __post_init__(self) -> None:
        if not 0 <= self.n_labeled <= len(self.pool):
            raise ValueError(f"n_labeled must be 0..len(pool) = {len(self.pool)}; got {self.n_labeled}.")
        if self.pool.labels != self.test.labels:
            raise ValueError(f"pool and test must share one label space; got {self.pool.labels} and "
                             f"{self.test.labels}.")


def pad_batch(images: Sequence[np.ndarray], masks: Sequence[np.ndarray | None] | None = None,
              multiple: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Stack images of different sizes: padded at the bottom and right to a common size.

    The common size is the largest height and width, rounded up to a ``multiple`` (a model that
    downsamples by 32 needs sides divisible by 32).

    Returns
    -------
    images : float32 (n, channels, H, W), zero in the padding
    masks : int64 (n, H, W), IGNORE in the padding and for images without a mask
    valid : bool (n, H, W), True on each image's own pixels
    """
    if len(images) == 0:
        raise ValueError("pad_batch needs at least one image.")
    if not (isinstance(multiple, int) and multiple >= 1):
        raise ValueError(f"multiple must be an integer >= 1; got {multiple!r}.")
    channels = {im.shape[0] for im in images}
    if len(channels) != 1 or any(im.ndim != 3 for im in images):
        raise ValueError(f"images must all be (channels, H, W) with one channel count; got shapes "
                         f"{sorted({tuple(im.shape) for im in images})}.")
    height = -(-max(im.shape[1] for im in images) // multiple) * multiple
    width = -(-max(im.shape[2] for im in images) // multiple) * multiple
    n = len(images)
    out = np.zeros((n, channels.pop(), height, width), dtype=np.float32)
    out_masks = np.full((n, height, width), IGNORE, dtype=np.int64)
    valid = np.zeros((n, height, width), dtype=bool)
    for k, im in enumerate(images):
        h, w = im.shape[1:]
        out[k, :, :h, :w] = im
        valid[k, :h, :w] = True
        mask = None if masks is None else masks[k]
        if mask is not None:
            if mask.shape != (h, w):
                raise ValueError(f"mask {k} has shape {mask.shape} but its image is {h}x{w}.")
            out_masks[k, :h, :w] = mask
    return out, out_masks, valid
