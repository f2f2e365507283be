"""A segmentation model's raw output -> logits (B, C, H, W) at the input resolution.

Understood without help, in this order:

* a ``Tensor`` (B, C, h, w): plain modules, segmentation_models_pytorch, MMSegmentation's
  ``mode="tensor"``;
* a dict with ``"out"``: torchvision's segmentation models (the ``"aux"`` entry is ignored);
* an object with ``.logits``: Hugging Face transformers (SegFormer, UperNet, ...);
* a tuple or list: its first element (smp models with aux heads), read by these same rules;
  a list of MMSegmentation ``SegDataSample`` (one per image) is stacked from ``.seg_logits.data``.

Anything else needs ``output=``: a callable from the raw output to a (B, C, h, w) tensor.
Logits whose spatial size differs from the input's (transformers' are at 1/4 resolution) are
resized to the input size, bilinearly with ``align_corners=False``, before anything else, so
that probabilities are averaged over the same pixels as the ignore mask.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import torch
import torch.nn.functional as F

_HINT = "pass output=, a callable from the model's output to a (B, C, H, W) logits tensor"


def logits_from_output(
    raw: object, output: Callable[[object], object] | None = None
) -> torch.Tensor:
    """The (B, C, h, w) logits tensor in a model's raw output (see the module docstring)."""
    if output is not None:
        logits = output(raw)
        if not isinstance(logits, torch.Tensor):
            raise TypeError(
                "output= must return a torch.Tensor (B, C, H, W); "
                f"it returned {type(logits).__name__}."
            )
        return logits
    return _find_logits(raw, depth=0)


def _find_logits(raw: object, depth: int) -> torch.Tensor:
    if isinstance(raw, torch.Tensor):
        return raw
    if isinstance(raw, Mapping) and "out" in raw:
        return _find_logits(raw["out"], depth + 1)
    if hasattr(raw, "logits"):
        return _find_logits(raw.logits, depth + 1)
    if isinstance(raw, (tuple, list)) and raw and depth < 2:
        if hasattr(raw[0], "seg_logits"):
            return torch.stack([_seg_logits(sample) for sample in raw])
        return _find_logits(raw[0], depth + 1)
    described = type(raw).__name__
    if isinstance(raw, Mapping):
        described += f" with keys {sorted(map(str, raw))}"
    raise TypeError(f"cannot find the logits in the model's output ({described}); {_HINT}.")


def _seg_logits(sample: object) -> torch.Tensor:
    logits = sample.seg_logits
    return (
        logits.data if hasattr(logits, "data") and not isinstance(logits, torch.Tensor) else logits
    )


def check_logits(
    logits: torch.Tensor, n_images: int, size: tuple[int, int], num_classes: int | None, index: int
) -> torch.Tensor:
    """Validate logits of one batch and return them as float32 at the input size ``size``."""
    if logits.ndim != 4:
        raise ValueError(
            f"batch {index}: the model's logits must be 4-dimensional (B, C, H, W); got shape "
            f"{tuple(logits.shape)}. If they are laid out differently, {_HINT}."
        )
    if logits.shape[0] != n_images:
        raise ValueError(
            f"batch {index}: the model returned logits for {logits.shape[0]} images for a batch "
            f"of {n_images}; {_HINT}."
        )
    if num_classes is not None and logits.shape[1] != num_classes:
        raise ValueError(
            f"batch {index}: the model's logits have {logits.shape[1]} channels on the class axis "
            f"(axis 1 of {tuple(logits.shape)}) but num_classes={num_classes}. Pass the model's "
            "number of classes, or if the classes are on another axis (channels-last output), "
            "pass output=lambda out: out.permute(0, 3, 1, 2)."
        )
    if not logits.is_floating_point():
        raise TypeError(
            f"batch {index}: the model's logits must be floating point; got {logits.dtype}."
        )
    logits = logits.float()
    if tuple(logits.shape[-2:]) != tuple(size):
        logits = F.interpolate(logits, size=size, mode="bilinear", align_corners=False)
    return logits
