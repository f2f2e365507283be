"""Images and masks in a folder: the layout people have (docs/data.md).

::

    root/
      classes.txt          one label name per line; line k (from 0) names label k
      images/              the images: .png .jpg .jpeg .bmp .tif .tiff .webp (subfolders allowed)
        a.jpg
        city/b.png
      masks/               label maps, PNG, one per image with the same path and stem (optional)
        a.png
        city/b.png

A mask is a single-channel PNG whose values are label indices (a palette "P" PNG whose indices
are labels, as PASCAL VOC's, is fine); ``ignore_label`` (255 by default) marks pixels without a
label and becomes :data:`~alsel.datasets.base.IGNORE`. Images may differ in size; a mask has its
image's size. :class:`ImageFolder` checks the listing when it is made and each file when it is
read (:meth:`ImageFolder.check` reads every mask at once); :class:`FolderSource` draws the pool
and test set of a seed from it. Every error is a :class:`FolderError` naming the file.
"""

from __future__ import annotations

import numbers
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from alsel.datasets.base import IGNORE, LabelSpace, Split, Subset

#: Image files read (any case); other files in ``images/`` are refused, hidden ones skipped.
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
CHANNELS = ("rgb", "gray", "auto")
_GREY_MODES = ("1", "L", "LA", "I", "I;16", "I;16L", "I;16B", "I;16N", "F")
_HIGH_BIT_MODES = ("I", "I;16", "I;16L", "I;16B", "I;16N")
_MASK_MODES = ("1", "L", "P", "I", "I;16", "I;16L", "I;16B", "I;16N")


class FolderError(ValueError):
    """A data set folder that cannot be read as it is; the message names the file and the fix."""


def _files(folder: Path) -> list[Path]:
    """Every file under ``folder``, sorted by relative path; hidden files and folders skipped."""
    found = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        found += [Path(dirpath, f) for f in filenames if not f.startswith(".")]
    return sorted(found, key=lambda p: p.relative_to(folder).as_posix())


def read_classes(path: Path) -> tuple[str, ...]:
    """Label names from ``classes.txt``: one per line, trailing empty lines allowed."""
    if not path.is_file():
        raise FolderError(f"{path} is missing; write the label names there, one per line "
                          "(line k names label k, the value k in the masks).")
    try:
        lines = [line.strip() for line in path.read_text(encoding="utf-8-sig").splitlines()]
    except (OSError, UnicodeDecodeError) as exc:
        raise FolderError(f"{path} cannot be read as UTF-8 text ({exc}); save it as UTF-8.") from None
    while lines and not lines[-1]:
        lines.pop()
    empty = [k + 1 for k, line in enumerate(lines) if not line]
    if empty:
        raise FolderError(f"{path}: line {empty[0]} is empty; every line up to the last names a label "
                          "(line k from 0 names label k).")
    repeated = sorted({n for n in lines if lines.count(n) > 1})
    if repeated:
        raise FolderError(f"{path}: label names must differ; {repeated} repeat.")
    if len(lines) < 2:
        raise FolderError(f"{path} names {len(lines)} label(s); a segmentation needs at least 2.")
    return tuple(lines)


def _label_index(value: object, names: tuple[str, ...], what: str, path: Path) -> int:
    if isinstance(value, str):
        if value not in names:
            raise FolderError(f"{what} {value!r} is not a label of {path} ({list(names)}).")
        return names.index(value)
    if isinstance(value, numbers.Integral) and not isinstance(value, bool) and 0 <= value < len(names):
        return int(value)
    raise FolderError(f"{what} must be a label name or an index 0..{len(names) - 1} of {path}; got {value!r}.")


def _open(path: Path, what: str):
    from PIL import Image, UnidentifiedImageError

    try:
        return Image.open(path)
    except (OSError, UnidentifiedImageError, ValueError, Image.DecompressionBombError) as exc:
        raise FolderError(f"{path}: cannot read this {what} ({exc}); replace or remove the file.") from None


class ImageFolder:
    """An :class:`~alsel.datasets.base.ImageSet` over ``root/images``, ``root/masks`` and ``root/classes.txt``.

    Parameters
    ----------
    root : path
        The data set folder (layout in the module docstring and docs/data.md).
    ignore_label : int or None
        Mask value of pixels without a label (255: PASCAL VOC, Cityscapes trainIds); it must not
        be a label index. ``None``: masks have no such value.
    background : str, int or None
        The label never asked about, by name or index; ``None``: none is background.
    queried : sequence of str or int, optional
        The labels asked about; default every label but the background.
    channels : {"rgb", "gray", "auto"}
        Images are read as RGB (3 channels; grey images repeated) or grey (1; colour images
        converted with ITU-R 601 luma). ``"auto"``: what the first image is; a colour image after
        a grey first one is refused (pass ``"rgb"``).
    mean, std : float or sequence of float, optional
        Normalisation after scaling to [0, 1] (8-bit values / 255, 16-bit / 65535):
        ``(x - mean) / std`` per channel, e.g. ImageNet's ``mean=(0.485, 0.456, 0.406),
        std=(0.229, 0.224, 0.225)``. Default: images in [0, 1].
    require_masks : bool
        Refuse images without a mask (a test set needs them all).

    Attributes
    ----------
    labels : LabelSpace
    root : Path
        The ``images`` folder; ``name(i)`` is image i's path relative to it.
    folder : Path
        The data set folder.
    channels : int
        Channels of every image read (1 or 3).
    """

    def __init__(self, root: str | os.PathLike, *, ignore_label: int | None = 255,
                 background: str | int | None = "background", queried: Sequence[str | int] | None = None,
                 channels: str = "rgb", mean: float | Sequence[float] | None = None,
                 std: float | Sequence[float] | None = None, require_masks: bool = False) -> None:
        self.folder = Path(root)
        if not self.folder.is_dir():
            raise FolderError(f"{self.folder} is not a folder; root must be the data set folder that holds "
                              "images/, masks/ and classes.txt.")
        classes_path = self.folder / "classes.txt"
        names = read_classes(classes_path)
        if ignore_label is not None:
            if not isinstance(ignore_label, numbers.Integral) or isinstance(ignore_label, bool) \
                    or not 0 <= ignore_label <= 65535:
                raise FolderError(f"ignore_label must be a mask value 0..65535 or None; got {ignore_label!r}.")
            if ignore_label < len(names):
                raise FolderError(f"ignore_label {ignore_label} is the label {names[ignore_label]!r} of "
                                  f"{classes_path}; pass the value that marks unlabelled pixels, or None.")
            ignore_label = int(ignore_label)
        self.ignore_label = ignore_label
        if background is not None:
            try:
                background = _label_index(background, names, "background", classes_path)
            except FolderError as exc:
                raise FolderError(f"{exc} Name the background label, or pass background=None if no "
                                  "label is background.") from None
        if queried is not None:
            if isinstance(queried, (str, numbers.Integral)):
                raise FolderError(f"queried must be a sequence of label names; got {queried!r}; "
                                  f"write [{queried!r}].")
            queried = tuple(_label_index(q, names, "queried label", classes_path) for q in queried)
        try:
            self.labels = LabelSpace(names, background=background, queried=queried)
        except ValueError as exc:
            raise FolderError(f"{classes_path}: {exc}") from None

        if channels not in CHANNELS:
            raise FolderError(f"channels must be one of {CHANNELS}; got {channels!r}.")
        self._channel_mode = channels
        self.root = self.folder / "images"
        if not self.root.is_dir():
            raise FolderError(f"{self.root} is missing; put the images there (masks go in "
                              f"{self.folder / 'masks'}).")
        self._images: list[Path] = []
        keys: dict[str, Path] = {}
        for path in _files(self.root):
            if path.suffix.lower() not in IMAGE_SUFFIXES:
                raise FolderError(f"{path} is not an image file alsel reads ({', '.join(IMAGE_SUFFIXES)}); "
                                  "convert it or move it out of images/.")
            key = path.relative_to(self.root).with_suffix("").as_posix()
            if key in keys:
                raise FolderError(f"{keys[key]} and {path} have the same stem, so one mask would serve "
                                  "both; rename one.")
            keys[key] = path
            self._images.append(path)
        if not self._images:
            raise FolderError(f"{self.root} holds no images ({', '.join(IMAGE_SUFFIXES)}).")
        masks_dir = self.folder / "masks"
        found: dict[str, Path] = {}
        if masks_dir.is_dir():
            for path in _files(masks_dir):
                key = path.relative_to(masks_dir).with_suffix("").as_posix()
                if path.suffix.lower() != ".png":
                    raise FolderError(f"{path}: masks must be PNG label maps (a lossy format such as JPEG "
                                      "changes label values); save it as PNG.")
                if key not in keys:
                    raise FolderError(f"{path} is a mask without an image: no {self.root / key}.* "
                                      f"({', '.join(IMAGE_SUFFIXES)}); add the image or remove the mask.")
                found[key] = path
        self._masks: list[Path | None] = [
            found.get(p.relative_to(self.root).with_suffix("").as_posix()) for p in self._images]
        missing = [p for p, m in zip(self._images, self._masks) if m is None]
        if require_masks and missing:
            raise FolderError(f"{len(missing)} image(s) have no mask in {masks_dir}, e.g. {missing[0]} "
                              f"(needs {masks_dir / missing[0].relative_to(self.root).with_suffix('.png')}); "
                              "every image of this set needs one.")

        if channels == "auto":
            with _open(self._images[0], "image") as first:
                self.channels = 1 if first.mode in _GREY_MODES else 3
        else:
            self.channels = 3 if channels == "rgb" else 1
        self._mean = self._per_channel(0.0 if mean is None else mean, "mean")
        self._std = self._per_channel(1.0 if std is None else std, "std")
        if (self._std <= 0).any():
            raise FolderError(f"std must be > 0 in every channel; got {std!r}.")

    def _per_channel(self, value: float | Sequence[float], name: str) -> np.ndarray:
        array = np.asarray(value, dtype=np.float32).reshape(-1)
        if array.size not in (1, self.channels) or not np.isfinite(array).all():
            raise FolderError(f"{name} must be one finite number or {self.channels} (one per channel of "
                              f"channels={self._channel_mode!r}); got {value!r}.")
        return np.broadcast_to(array, (self.channels,)).reshape(-1, 1, 1).copy()

    def __len__(self) -> int:
        return len(self._images)

    def __repr__(self) -> str:
        return (f"ImageFolder({str(self.folder)!r}, {len(self)} images, {self.n_masks} with masks, "
                f"labels={list(self.labels.names)})")

    @property
    def n_masks(self) -> int:
        """How many images have a mask."""
        return sum(m is not None for m in self._masks)

    def has_mask(self, i: int) -> bool:
        """Whether image i has a mask file (from the listing; nothing is read)."""
        return self._masks[i] is not None

    def name(self, i: int) -> str:
        """Image i's path relative to :attr:`root` (``images/``), with ``/`` separators."""
        return self._images[i].relative_to(self.root).as_posix()

    def image_path(self, i: int) -> Path:
        return self._images[i]

    def mask_path(self, i: int) -> Path | None:
        return self._masks[i]

    def size(self, i: int) -> tuple[int, int]:
        """``(height, width)`` of image i, from its header."""
        with _open(self._images[i], "image") as image:
            width, height = image.size
        return height, width

    def image(self, i: int) -> np.ndarray:
        """Image i as float32 (channels, H, W), scaled and normalised (see the class docstring)."""
        path = self._images[i]
        with _open(path, "image") as image:
            try:
                if image.mode == "F":
                    raise FolderError(f"{path} holds 32-bit float pixels, whose scale alsel cannot know; "
                                      "save it as an 8- or 16-bit image.")
                if image.mode in _HIGH_BIT_MODES:
                    grey = np.asarray(image, dtype=np.float32) / 65535.0
                    pixels = grey[None] if self.channels == 1 else np.repeat(grey[None], 3, axis=0)
                else:
                    if self._channel_mode == "auto" and self.channels == 1 and image.mode not in _GREY_MODES:
                        raise FolderError(f"{path} is a colour image ({image.mode}) but channels='auto' "
                                          f"read the first image, {self._images[0]}, as grey; pass "
                                          "channels='rgb' (or 'gray' to convert).")
                    array = np.asarray(image.convert("L" if self.channels == 1 else "RGB"), dtype=np.float32)
                    pixels = (array[None] if self.channels == 1 else array.transpose(2, 0, 1)) / 255.0
            except (OSError, ValueError) as exc:
                if isinstance(exc, FolderError):
                    raise
                raise FolderError(f"{path}: cannot read this image ({exc}); replace or remove the file.") from None
        return ((pixels - self._mean) / self._std).astype(np.float32, copy=False)

    def mask(self, i: int) -> np.ndarray | None:
        """Mask i as int64 (H, W): label indices, :data:`IGNORE` where the ignore label is; None if none."""
        path = self._masks[i]
        if path is None:
            return None
        with _open(path, "mask") as mask:
            if mask.mode not in _MASK_MODES:
                raise FolderError(
                    f"{path} is a {mask.mode} image; masks must be single-channel label maps whose values "
                    "are label indices (palette 'P' PNGs are fine when the indices are the labels, as "
                    "PASCAL VOC's are). Convert a colour-coded mask by mapping each colour to its label "
                    "index (docs/data.md).")
            try:
                labels = np.asarray(mask, dtype=np.int64)
            except (OSError, ValueError) as exc:
                raise FolderError(f"{path}: cannot read this mask ({exc}); replace or remove the file.") from None
            mask_size = mask.size
        image_height, image_width = self.size(i)
        if mask_size != (image_width, image_height):
            raise FolderError(f"{path} is {mask_size[0]}x{mask_size[1]} (width x height) but its image "
                              f"{self._images[i]} is {image_width}x{image_height}; a mask has its image's size.")
        n = self.labels.n_labels
        outside = (labels < 0) | (labels >= n)
        ignored = outside & (labels == self.ignore_label) if self.ignore_label is not None else None
        if ignored is not None:
            outside &= ~ignored
        if outside.any():
            values = np.unique(labels[outside])
            allowed = f"0..{n - 1}" + ("" if self.ignore_label is None else f" or the ignore label {self.ignore_label}")
            raise FolderError(f"{path} has values {values[:10].tolist()} ({int(outside.sum())} pixels) that are "
                              f"neither labels of {self.folder / 'classes.txt'} ({allowed}); fix the mask, "
                              "add the labels to classes.txt, or pass the right ignore_label.")
        if ignored is not None:
            labels[ignored] = IGNORE
        return labels

    def check(self) -> list[str]:
        """Open every image and read every mask; every problem found, each naming its file.

        Image pixels are decoded on read only (a truncated image file shows then); masks are read
        whole, so their sizes and values are checked here.

        Returns
        -------
        list of str
            Empty when everything reads.
        """
        problems = []
        for i in range(len(self)):
            try:
                self.size(i)
                self.mask(i)
            except FolderError as exc:
                problems.append(str(exc))
        return problems


def _count(value: object, name: str, low: int = 0) -> int:
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < low:
        raise FolderError(f"{name} must be an integer >= {low}; got {value!r}.")
    return int(value)


class FolderSource:
    """An image folder as a data source of the loop: the pool and the test set of each seed.

    ``load(seed)`` draws, with a generator seeded by ``seed``: the test set (``test`` images with
    masks, unless ``test_root`` is given: then all of that folder, every image with a mask), then L
    (``labeled`` images with masks), then U (``unlabeled`` of the remaining images, with or
    without masks; ``None``: all of them). The three are disjoint; the pool lists L first.

    Parameters
    ----------
    root : path
        The data set folder of the pool (:class:`ImageFolder`).
    test_root : path, optional
        A data set folder used whole as the test set; its classes.txt must equal root's.
    labeled : int
        ``|L|``.
    unlabeled : int, optional
        ``|U|``; default all images that are neither in L nor in the test set.
    test : int, optional
        Images with masks held out of ``root`` as the test set (only without ``test_root``).
    ignore_label, background, queried, channels, mean, std
        As in :class:`ImageFolder`, for both folders.
    """

    def __init__(self, root: str | os.PathLike, *, test_root: str | os.PathLike | None = None,
                 labeled: int, unlabeled: int | None = None, test: int | None = None,
                 ignore_label: int | None = 255, background: str | int | None = "background",
                 queried: Sequence[str | int] | None = None, channels: str = "rgb",
                 mean: float | Sequence[float] | None = None, std: float | Sequence[float] | None = None) -> None:
        options = {"ignore_label": ignore_label, "background": background, "queried": queried,
                   "channels": channels, "mean": mean, "std": std}
        self.folder = ImageFolder(root, **options)
        self.labels = self.folder.labels
        self.channels = self.folder.channels
        self.labeled = _count(labeled, "labeled")
        self.unlabeled = None if unlabeled is None else _count(unlabeled, "unlabeled")
        if test_root is not None:
            if test is not None:
                raise FolderError("give test_root (a folder used whole as the test set) or test (images held "
                                  "out of root), not both.")
            self.test_folder: ImageFolder | None = ImageFolder(test_root, require_masks=True, **options)
            if self.test_folder.labels != self.labels:
                raise FolderError(f"{self.test_folder.folder / 'classes.txt'} names {list(self.test_folder.labels.names)} "
                                  f"but {self.folder.folder / 'classes.txt'} names {list(self.labels.names)}; "
                                  "pool and test set need the same labels.")
            self.test = 0
        else:
            if test is None:
                raise FolderError("a test set is needed: give test_root (a folder of images with masks) or "
                                  "test (how many images with masks of root to hold out).")
            self.test_folder = None
            self.test = _count(test, "test", low=1)
        self._masked = np.array([i for i in range(len(self.folder)) if self.folder.has_mask(i)], dtype=np.int64)
        if self.test + self.labeled > len(self._masked):
            raise FolderError(f"{self.folder.folder} has {len(self._masked)} images with masks; labeled = "
                              f"{self.labeled}" + (f" and test = {self.test}" if self.test else "")
                              + " need more. Lower them or add masks.")
        rest = len(self.folder) - self.test - self.labeled
        if self.unlabeled is not None and self.unlabeled > rest:
            raise FolderError(f"unlabeled = {self.unlabeled} but {self.folder.folder} has {rest} images left "
                              "after L and the test set; lower it or leave it out (all the rest).")

    def check(self) -> list[str]:
        """Every problem of the pool folder and the test folder (:meth:`ImageFolder.check`)."""
        folders = [self.folder] + ([self.test_folder] if self.test_folder is not None else [])
        return [problem for folder in folders for problem in folder.check()]

    def load(self, seed: int) -> Split:
        """The pool (L first, then U) and the test set of ``seed``."""
        rng = np.random.default_rng(seed)
        drawn = rng.permutation(self._masked)
        test_ids = np.sort(drawn[:self.test])
        labeled_ids = np.sort(drawn[self.test:self.test + self.labeled])
        rest = np.setdiff1d(np.arange(len(self.folder)), np.concatenate([test_ids, labeled_ids]))
        if self.unlabeled is not None:
            rest = np.sort(rng.choice(rest, size=self.unlabeled, replace=False))
        pool = Subset(self.folder, np.concatenate([labeled_ids, rest]))
        test = self.test_folder if self.test_folder is not None else Subset(self.folder, test_ids)
        return Split(pool, test, self.labeled)

    def __repr__(self) -> str:
        return (f"FolderSource({str(self.folder.folder)!r}, labeled={self.labeled}, unlabeled={self.unlabeled}, "
                + (f"test_root={str(self.test_folder.folder)!r})" if self.test_folder else f"test={self.test})"))
