"""One element of the pool's iterable -> images (B, channels, H, W) and an optional ignore mask."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import torch

BATCH_FORMS = (
    "a tensor (B, channels, H, W) or one image (channels, H, W); (images,); "
    'or a dict {"image": images, "ignore": ignore} ("ignore" optional: a bool tensor (B, H, W), '
    "True where a pixel is left out)"
)
# A pair (images, x) is refused: x may be an ignore mask or a ground-truth target, and a bool
# target (a binary segmentation mask) looks exactly like an ignore mask.
PAIR_REFUSED = (
    "a pair (images, x) is ambiguous: x could be an ignore mask or a ground-truth target (a bool "
    'target looks exactly like an ignore mask). Give {"image": images, "ignore": mask} for an '
    'ignore mask, or images only (a DataLoader over (image, target) pairs can collate to dicts: '
    'collate_fn=lambda items: {"image": torch.stack([image for image, _ in items])})'
)


@dataclass(frozen=True)
class Batch:
    """Images and ignore mask of one batch, on the device the model runs on."""

    images: torch.Tensor
    ignore: torch.Tensor | None

    def __len__(self) -> int:
        return self.images.shape[0]

    def to(self, device: torch.device, dtype: torch.dtype | None = None) -> Batch:
        """The same batch on ``device``, images cast to ``dtype`` if given (the model's: a
        bfloat16 model needs bfloat16 inputs); ``non_blocking``, a no-op where nothing changes."""
        ignore = None if self.ignore is None else self.ignore.to(device, non_blocking=True)
        return Batch(self.images.to(device, dtype=dtype, non_blocking=True), ignore)

    @property
    def size(self) -> tuple[int, int]:
        """(H, W) of the input images."""
        return tuple(self.images.shape[-2:])


def as_batch(item: object, device: torch.device, index: int) -> Batch:
    """Parse one element of the pool (see ``BATCH_FORMS``) and move it to ``device``."""
    return parse_batch(item, index).to(device)


def parse_batch(item: object, index: int) -> Batch:
    """Parse and check one element of the pool (see ``BATCH_FORMS``), where it lies."""
    if isinstance(item, Mapping):
        if "image" not in item:
            raise ValueError(
                f"batch {index} is a dict without an 'image' key (keys: {sorted(map(str, item))}); "
                f"each batch must be {BATCH_FORMS}."
            )
        images, ignore = item["image"], item.get("ignore")
    elif isinstance(item, (tuple, list)):
        if len(item) == 2:
            raise ValueError(f"batch {index}: {PAIR_REFUSED}.")
        if len(item) != 1:  # (images,) is what a DataLoader over TensorDataset(x) yields
            raise ValueError(
                f"batch {index} is a {type(item).__name__} of {len(item)} elements; "
                f"each batch must be {BATCH_FORMS}. A DataLoader that yields (image, label) "
                "pairs needs a dataset that returns images only."
            )
        images, ignore = item[0], None
    else:
        images, ignore = item, None

    images = _as_tensor(images, f"batch {index}: the images")
    if images.ndim == 3:
        images = images.unsqueeze(0)
        if ignore is not None:
            ignore = _as_tensor(ignore, f"batch {index}: the ignore mask").unsqueeze(0)
    if images.ndim != 4:
        raise ValueError(
            f"batch {index}: images must be (B, channels, H, W) or one image (channels, H, W); "
            f"got shape {tuple(images.shape)}."
        )
    if not images.is_floating_point():
        raise TypeError(
            f"batch {index}: images must be floating point (normalized as the model expects); "
            f"got dtype {images.dtype}. Convert them, e.g. images.float() / 255."
        )
    if ignore is not None:
        ignore = _check_ignore(_as_tensor(ignore, f"batch {index}: the ignore mask"), images, index)
    return Batch(images, ignore)


def _as_tensor(value: object, what: str) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        return value
    if isinstance(value, np.ndarray):
        return torch.from_numpy(value)
    raise TypeError(f"{what} must be a torch.Tensor or numpy array; got {type(value).__name__}.")


def _check_ignore(ignore: torch.Tensor, images: torch.Tensor, index: int) -> torch.Tensor:
    expected = (images.shape[0], *images.shape[-2:])
    if ignore.dtype != torch.bool:
        raise TypeError(
            f"batch {index}: the ignore mask must be a bool tensor (True = pixel left out); got "
            f"dtype {ignore.dtype}. If this is a label map, give the pool images only."
        )
    if tuple(ignore.shape) != expected:
        raise ValueError(
            f"batch {index}: the ignore mask must have shape (B, H, W) = {expected} like the "
            f"images; got {tuple(ignore.shape)}."
        )
    return ignore
