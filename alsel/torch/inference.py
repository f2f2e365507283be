"""The streaming pass: one forward pass over the pool -> p (N, C) and features (N, d).

Memory is constant in N apart from the two outputs: each batch's logits are reduced to (B, C)
and (B, d) on the device and dropped before the next batch; nothing of size N x H x W is kept.
"""

from __future__ import annotations

import contextlib
import itertools
import numbers
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import torch
from tqdm.auto import tqdm

from alsel._validation import as_count, check_choice
from alsel.torch.batches import parse_batch
from alsel.torch.distributed import (
    Shard,
    check_dst,
    distributed_sampler,
    refuse_sharded_loader,
    reporting_failure,
    resolve_group,
)
from alsel.torch.features import FeatureSource, FeatureSpec
from alsel.torch.outputs import pixel_scores
from alsel.torch.pooling import kept_weights
from alsel.torch.presence import ACTIVATIONS, REDUCTIONS, class_presence
from alsel.torch.rows import RowBuffer


@dataclass(frozen=True)
class PoolPrediction:
    """What one pass of the model over the pool gives, in pool order.

    Attributes
    ----------
    p : ndarray (N, C), float64
        Class-presence probability of class j in image i (the input of
        :func:`alsel.scores.confidence`).
    features : ndarray (N, d), float64
        One pooled feature vector per image (the input of :func:`alsel.scores.redundancy`).
    """

    p: np.ndarray
    features: np.ndarray

    @property
    def n_images(self) -> int:
        return self.p.shape[0]

    @property
    def n_classes(self) -> int:
        return self.p.shape[1]


def predict_pool(
    model: torch.nn.Module,
    images: Iterable,
    *,
    num_classes: int | None = None,
    reduction: str = "mean",
    activation: str = "softmax",
    lse_sharpness: float = 10.0,
    features: FeatureSpec = None,
    output: Callable[[object], torch.Tensor] | None = None,
    device: str | torch.device | None = None,
    autocast: bool | torch.dtype = False,
    progress: bool = True,
    distributed: bool | None = None,
    group: object | None = None,
    dst: int | None = None,
) -> PoolPrediction | None:
    """Run ``model`` once over the pool and return class-presence probabilities and features.

    The model runs in eval mode (each module's training flag is restored afterwards) under
    ``torch.inference_mode``; its logits are resized to the input size when they differ
    (SegFormer's 1/4-resolution ``.logits``), turned into pixel probabilities, and reduced
    over each image's kept pixels. Nothing per pixel is kept between batches.

    Parameters
    ----------
    model : torch.nn.Module
        A segmentation model called as ``model(images)``. Its output may be a tensor
        (B, C, H, W), a dict with ``"out"``, an object with ``.logits``, a MaskFormer /
        Mask2Former output (``class_queries_logits`` and ``masks_queries_logits``: read as Hugging
        Face's semantic post-processing scores, normalised per pixel), a tuple or list (first
        element) or a list of MMSegmentation ``SegDataSample``; anything else needs ``output=``.
        Inputs are cast to the dtype of the model's parameters (a bfloat16 model gets bfloat16).
    images : iterable or DataLoader
        Batches in pool order: a tensor (B, channels, H, W) (or one image (channels, H, W)),
        ``(images,)``, or a dict ``{"image": ..., "ignore": ...}``, where ``ignore`` is a bool
        tensor (B, H, W), True for pixels to leave out (padding, void). A pair ``(images, x)``
        is refused as ambiguous (a bool target looks like an ignore mask).
    num_classes : int or None
        Expected size of the class axis (axis 1 of the logits); checked on every batch. None:
        taken from the first batch and checked on the rest.
    reduction : {"mean", "max", "lse"}
        How pixel probabilities become one presence probability per class: "mean" is the
        paper's average; "max" the largest; "lse" the smooth maximum
        (1/r) log(mean exp(r q)) with r = ``lse_sharpness``.
    activation : {"softmax", "sigmoid"}
        Pixel probabilities: softmax over classes (one class per pixel) or a sigmoid per class
        (multi-label models, and single-logit binary models).
    lse_sharpness : float
        r of the "lse" reduction (> 0).
    features : None, str or callable
        None: the pooled logits (a fallback; a backbone layer describes images better). A dotted
        module path such as ``"backbone.layer4"``: that module's output, by a forward hook (a
        container of feature maps — smp's encoder list, torchvision's backbone dict, a
        BackboneOutput — is read as its deepest map). A
        callable ``(images, output) -> tensor``. Feature maps (B, d, h, w) are global-average
        pooled over the kept pixels, token sequences (B, L, d) averaged over tokens.
    output : callable or None
        Maps the model's raw output to logits (B, C, h, w) when the forms above do not apply.
    device : str, torch.device or None
        Where batches are sent; default the device of the model's parameters (CPU for a model
        without any). The model is not moved: it must already be there.
    autocast : bool or torch.dtype
        Run the forward pass under ``torch.autocast``: True uses bfloat16 on the CPU and float16
        on CUDA; a dtype chooses. Reductions always run in float32.
    progress : bool
        Show a tqdm progress bar (images processed) on stderr; in a distributed pass on rank 0
        of the group only, counting its own images.
    distributed : bool or None
        Score the pool across the processes of a torch.distributed group (docs/torch.md,
        "Across processes"). None (default): when a default process group is initialised with
        more than one process, or ``group`` is given. True: required. False: this process
        alone scores the whole pool (no collective is called).
    group : torch.distributed.ProcessGroup or None
        The group to shard over; default the default (world) group.
    dst : int or None
        None: every process of the group receives the result. A rank of the group: only that
        process does; the others return None.

    Every process must pass either the same pool in the same order (alsel runs the model on
    batches r, r + W, ... in process r and checks at the end that all saw the same pool), or
    a DataLoader with a ``DistributedSampler`` (alsel reads each image's pool index from the
    sampler, and counts its padding once). The result is the single-process one, in pool order.

    Returns
    -------
    PoolPrediction or None
        ``p`` (N, C) and ``features`` (N, d), float64 NumPy arrays in pool order; None on a
        process that is not ``dst``.

    Raises
    ------
    ValueError
        The pool is empty, the class axis disagrees with ``num_classes``, an ignore mask leaves
        out every pixel of an image, or the model produced NaN or infinite values; in a
        distributed pass also processes that passed different pools, or a sampler that leaves
        out images or does not match the group.
    DistributedPassError
        Another process of the group failed during the pass (its error is raised there).
    """
    if not isinstance(model, torch.nn.Module):
        raise TypeError(
            f"model must be a torch.nn.Module; got {type(model).__name__}. Wrap a function in an "
            "nn.Module whose forward calls it."
        )
    check_choice(reduction, "reduction", REDUCTIONS)
    check_choice(activation, "activation", ACTIVATIONS)
    if num_classes is not None:
        num_classes = as_count(num_classes, "num_classes", minimum=1)
    if (
        isinstance(lse_sharpness, bool)
        or not isinstance(lse_sharpness, numbers.Real)
        or not lse_sharpness > 0
    ):
        raise ValueError(f"lse_sharpness must be a number > 0; got {lse_sharpness!r}.")
    if output is not None and not callable(output):
        raise TypeError(
            f"output must be a callable (raw output -> logits tensor); got {type(output).__name__}."
        )
    device = resolve_device(model, device)
    input_dtype = model_dtype(model)
    amp_dtype = _autocast_dtype(device, autocast)
    feature_source = FeatureSource(model, features)
    group = resolve_group(distributed, group)
    dst = check_dst(dst, group)
    if group is None:
        refuse_sharded_loader(distributed_sampler(images))

    n_images = _pool_length(images)
    shard = None
    with reporting_failure(group):
        if group is not None:
            shard = Shard.start(images, group)
            progress = progress and shard.rank == 0
            # alsel's own sharding: this process scores about 1/W of what the loader yields
            n_images = None if shard.sampler_indices is None else n_images
        presence = RowBuffer("class-presence probabilities p", n_images)
        pooled = RowBuffer("features", n_images)
        with (
            _eval_mode(model),
            feature_source,
            torch.inference_mode(),
            _progress_bar(n_images, progress) as bar,
        ):
            for index, item in enumerate(images):
                batch = parse_batch(item, index)
                if shard is not None and not shard.owns(index, batch):
                    continue
                batch = batch.to(device, input_dtype)
                feature_source.before_forward()
                with _autocast(device, amp_dtype):
                    raw = model(batch.images)
                scores = pixel_scores(raw, output, len(batch), batch.size, num_classes, index)
                logits = scores.values
                if num_classes is None:
                    num_classes = logits.shape[1]
                pixel_activation = _pixel_activation(scores.kind, activation, num_classes)
                first = len(presence)
                weights = (
                    None
                    if batch.ignore is None
                    else kept_weights(batch.ignore, batch.size, first)
                )
                pooled.append(feature_source.pooled(batch, raw, logits, weights, first, index))
                presence.append(
                    class_presence(
                        logits, weights, reduction, pixel_activation, float(lse_sharpness)
                    )
                )
                bar.update(len(batch))

    if shard is not None:
        gathered = shard.gather(
            presence.rows() if len(presence) else None,
            pooled.rows() if len(pooled) else None,
            dst,
        )
        if gathered is None:
            return None
        p_rows, feature_rows = gathered
    elif not len(presence):
        raise ValueError("images yielded no batches: the pool is empty. Pass at least one image.")
    else:
        p_rows, feature_rows = presence.rows(), pooled.rows()
    p = _finite_array(p_rows, "class-presence probabilities p", "the model's logits")
    features_array = _finite_array(feature_rows, "features", feature_source.name)
    return PoolPrediction(p=p, features=features_array)


def _pixel_activation(kind: str, activation: str, num_classes: int) -> str | None:
    """The activation that turns this batch's scores into pixel probabilities (None: they are)."""
    if kind == "probabilities":
        if activation != "softmax":
            raise ValueError(
                f"activation={activation!r}, but the model's output is query-based (MaskFormer / "
                "Mask2Former: class_queries_logits and masks_queries_logits), which gives per-pixel "
                "class probabilities, one class per pixel, without an activation; leave activation "
                "at its default 'softmax' (one class per pixel), or pass output= to read logits."
            )
        if num_classes == 1:
            raise ValueError(
                "the model's query-based output has one class besides 'no object', so the "
                "per-pixel class distribution is always 1; pass output= to read its scores."
            )
        return None
    if activation == "softmax" and num_classes == 1:
        raise ValueError(
            "the model gives one logit per pixel, and a softmax over one class is "
            "always 1; pass activation='sigmoid' for a single-logit binary model."
        )
    return activation


def model_dtype(model: torch.nn.Module) -> torch.dtype | None:
    """The floating dtype of all the model's parameters (its buffers' if it has no parameters),
    which the images are cast to: a bfloat16 or float16 model refuses float32 inputs.

    None when there is none or several dtypes are mixed (the images are then given as they are).
    """
    for tensors in (model.parameters(), model.buffers()):
        dtypes = {t.dtype for t in tensors if t.is_floating_point()}
        if dtypes:
            return dtypes.pop() if len(dtypes) == 1 else None
    return None


def resolve_device(model: torch.nn.Module, device: str | torch.device | None) -> torch.device:
    """The device batches go to: ``device`` if given (it must hold the model), else the model's."""
    tensor = next(itertools.chain(model.parameters(), model.buffers()), None)
    model_device = None if tensor is None else tensor.device
    if device is None:
        return model_device or torch.device("cpu")
    try:
        device = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(
            f"device {device!r} is not a torch device ({exc}); e.g. 'cpu' or 'cuda'."
        ) from None
    if device.type == "cuda" and device.index is None and torch.cuda.is_available():
        device = torch.device("cuda", torch.cuda.current_device())
    if model_device is not None and model_device != device:
        raise ValueError(
            f"device={str(device)!r} but the model's parameters are on {str(model_device)!r}; "
            "move the model first (model.to(device)) or leave device unset."
        )
    return device


def _autocast_dtype(device: torch.device, autocast: bool | torch.dtype) -> torch.dtype | None:
    """The dtype ``autocast=`` asks for on ``device``, or None for no autocast."""
    if autocast is False:
        return None
    if autocast is True:
        return torch.float16 if device.type == "cuda" else torch.bfloat16
    if isinstance(autocast, torch.dtype):
        return autocast
    raise TypeError(f"autocast must be True, False or a torch.dtype; got {autocast!r}.")


def _autocast(device: torch.device, dtype: torch.dtype | None) -> contextlib.AbstractContextManager:
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


@contextlib.contextmanager
def _eval_mode(model: torch.nn.Module) -> Iterator[None]:
    """Eval mode for the pass; every module's own training flag is put back afterwards."""
    flags = [(module, module.training) for module in model.modules()]
    model.eval()
    try:
        yield
    finally:
        for module, training in flags:
            module.training = training


def _pool_length(images: Iterable) -> int | None:
    """Number of images a DataLoader will yield, when it can tell (else None)."""
    for source in (getattr(images, "sampler", None), getattr(images, "dataset", None)):
        if source is not None:
            try:
                return len(source)
            except TypeError:  # an IterableDataset and its sampler have no length
                continue
    return None


def _progress_bar(n_images: int | None, progress: bool) -> tqdm:
    return tqdm(
        total=n_images,
        unit="img",
        desc="alsel: model pass",
        disable=not progress,
        dynamic_ncols=True,
    )


def _finite_array(rows: torch.Tensor, what: str, source: str) -> np.ndarray:
    values = rows.double().cpu().numpy()
    finite = np.isfinite(values).all(axis=1)
    if not finite.all():
        bad = np.flatnonzero(~finite)
        raise ValueError(
            f"{what} of {bad.size} images are NaN or infinite (first: image {bad[0]}); "
            f"{source} produced non-finite values. Check the model's weights and inputs "
            "(and autocast, whose float16 can overflow)."
        )
    return values
