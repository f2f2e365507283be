"""A segmentation model's raw output -> per-pixel class scores (B, C, H, W) at the input resolution.

Understood without help, in this order:

* a ``Tensor`` (B, C, h, w): plain modules, segmentation_models_pytorch, MMSegmentation's
  ``mode="tensor"``;
* an object with ``class_queries_logits`` (B, Q, C + 1) and ``masks_queries_logits``
  (B, Q, h, w): Hugging Face's query-based MaskFormer / Mask2Former (see :func:`query_scores`);
  these give per-pixel class *probabilities*, not logits;
* a dict with ``"out"``: torchvision's segmentation models (the ``"aux"`` entry is ignored);
* an object with ``.logits``: Hugging Face transformers (SegFormer, UperNet, ...);
* a tuple or list: its first element (smp models with aux heads), read by these same rules;
  a list of MMSegmentation ``SegDataSample`` (one per image) is stacked from ``.seg_logits.data``.

Anything else needs ``output=``: a callable from the raw output to a (B, C, h, w) tensor.
Logits whose spatial size differs from the input's (SegFormer's are at 1/4 resolution) are
resized to the input size, bilinearly with ``align_corners=False``, before anything else, so
that probabilities are averaged over the same pixels as the ignore mask.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import torch
import torch.nn.functional as F

#: What :class:`PixelScores` holds: logits (a softmax or sigmoid makes them probabilities) or
#: per-pixel probabilities over the classes already (query-based models).
KINDS = ("logits", "probabilities")

_HINT = "pass output=, a callable from the model's output to a (B, C, H, W) logits tensor"


@dataclass(frozen=True)
class PixelScores:
    """Per-pixel class scores (B, C, H, W), float32 at the input size, and what they are."""

    values: torch.Tensor
    kind: str  # one of KINDS


def pixel_scores(
    raw: object,
    output: Callable[[object], object] | None,
    n_images: int,
    size: tuple[int, int],
    num_classes: int | None,
    index: int,
) -> PixelScores:
    """Read one batch's raw model output as checked float32 scores at the input size ``size``."""
    if output is None and _is_query_output(raw):
        return PixelScores(query_scores(raw, n_images, size, num_classes, index), "probabilities")
    logits = logits_from_output(raw, output)
    return PixelScores(check_logits(logits, n_images, size, num_classes, index), "logits")


def _is_query_output(raw: object) -> bool:
    return isinstance(getattr(raw, "class_queries_logits", None), torch.Tensor) and isinstance(
        getattr(raw, "masks_queries_logits", None), torch.Tensor
    )


def query_scores(
    raw: object, n_images: int, size: tuple[int, int], num_classes: int | None, index: int
) -> torch.Tensor:
    """Per-pixel class probabilities (B, K, H, W) of a MaskFormer / Mask2Former output.

    Hugging Face's ``post_process_semantic_segmentation`` defines the score of class c at pixel x
    as S_c(x) = sum_q softmax(class_queries_logits[q])_c * sigmoid(masks_queries_logits[q](x)),
    the last ("no object") class dropped, and labels each pixel by argmax_c S_c(x). S is not a
    distribution over the classes (it sums to anything in (0, Q)), so it is normalised at each
    pixel here, q_c(x) = S_c(x) / sum_c' S_c'(x): a distribution like a softmax's, with the same
    argmax. The resizing to the input size follows each model's post-processing: Mask2Former
    resizes the mask logits before the sigmoid (to its 384 x 384 input; here to the input size),
    MaskFormer resizes S; both bilinearly with ``align_corners=False``.
    """
    class_logits, mask_logits = raw.class_queries_logits, raw.masks_queries_logits
    if (
        class_logits.ndim != 3
        or mask_logits.ndim != 4
        or class_logits.shape[:2] != mask_logits.shape[:2]
        or class_logits.shape[2] < 2
    ):
        raise ValueError(
            f"batch {index}: a query-based output needs class_queries_logits (B, Q, C + 1) and "
            f"masks_queries_logits (B, Q, h, w); got {tuple(class_logits.shape)} and "
            f"{tuple(mask_logits.shape)}. {_HINT[0].upper() + _HINT[1:]}."
        )
    if class_logits.shape[0] != n_images:
        raise ValueError(
            f"batch {index}: the model returned queries for {class_logits.shape[0]} images for a "
            f"batch of {n_images}; {_HINT}."
        )
    n_classes = class_logits.shape[2] - 1
    if num_classes is not None and n_classes != num_classes:
        raise ValueError(
            f"batch {index}: the model's class_queries_logits have {n_classes} classes (plus the "
            f"'no object' class) but num_classes={num_classes}. Pass the model's number of classes."
        )
    classes = torch.softmax(class_logits.float(), dim=-1)[..., :-1]
    masks = mask_logits.float()
    resize_masks = type(raw).__name__.startswith("Mask2Former")
    if resize_masks and tuple(masks.shape[-2:]) != tuple(size):
        masks = F.interpolate(masks, size=size, mode="bilinear", align_corners=False)
    scores = torch.einsum("bqc,bqhw->bchw", classes, torch.sigmoid(masks))
    if tuple(scores.shape[-2:]) != tuple(size):
        scores = F.interpolate(scores, size=size, mode="bilinear", align_corners=False)
    total = scores.sum(dim=1, keepdim=True).clamp_min(torch.finfo(scores.dtype).tiny)
    return scores / total


def softmax_logits(raw: object, size: tuple[int, int] | None = None) -> torch.Tensor:
    """Scores (B, C, h, w) whose softmax over axis 1 gives the model's per-pixel class probabilities.

    For a model with logits: its logits (:func:`logits_from_output`; differentiable), as float32
    resized bilinearly to ``size`` when given (default: left at the model's resolution). For a
    query-based model (MaskFormer / Mask2Former): the log of :func:`query_scores`' per-pixel
    probabilities, at ``size`` (default the mask logits' own size). A softmax of log-probabilities
    gives them back exactly, so a cross-entropy, the log-softmax pooling of
    :func:`alsel.torch.losses.binary_feedback_loss` and an entropy written for logits read a
    query-based model right, and can train it (the log is differentiable).
    """
    if not _is_query_output(raw):
        logits = logits_from_output(raw)
        if size is None or tuple(logits.shape[-2:]) == tuple(size):
            return logits
        return F.interpolate(logits.float(), size=size, mode="bilinear", align_corners=False)
    n_images = raw.class_queries_logits.shape[0]
    size = tuple(raw.masks_queries_logits.shape[-2:]) if size is None else tuple(size)
    probabilities = query_scores(raw, n_images, size, None, 0)
    return torch.log(probabilities.clamp_min(torch.finfo(probabilities.dtype).tiny))


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
