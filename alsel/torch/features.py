"""Where each image's feature vector comes from, and its global average pooling.

``features=None``
    The logits themselves, globally average-pooled over the kept pixels (a fallback: a model's
    class scores are a coarse description of an image; a backbone layer is usually better).
``features="backbone.layer4"``
    The output of the submodule at that dotted path (``model.get_submodule``), captured by a
    forward hook during the one pass.
``features=callable``
    ``features(images, output)`` with the batch on the device and the model's raw output,
    e.g. ``lambda images, out: out.hidden_states[-1]`` (transformers, with
    ``output_hidden_states=True``).

What a hook or callable gives is read as:

* a tensor, as it is;
* feature maps in a container, as the **deepest** map, never the first: a list or tuple of
  (B, d, h, w) maps (segmentation_models_pytorch's encoders return [input image, stride-2 map,
  ..., deepest map]), transformers' ``BackboneOutput.feature_maps``, a dict (torchvision's
  backbone, an ``IntermediateLayerGetter``, returns ``{"out": layer4, "aux": layer3}``: its
  ``"out"``; any other dict its last entry). The maps must be ordered shallow -> deep (each no
  larger than the one before), else it is an error;
* the ``last_hidden_state`` of a transformers output;
* the first element of any other tuple or list (a layer returning (hidden, attention)).

Its shape decides the pooling: (B, d, h, w)
is averaged over the kept pixels (the ignore mask area-downsampled to h x w); (B, L, d) token
sequences are averaged over the L tokens (the mask does not apply); (B, d) is used as it is.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import torch

from alsel.torch.batches import Batch
from alsel.torch.pooling import kept_weights, masked_mean

FeatureSpec = str | Callable[[torch.Tensor, object], object] | None


class FeatureSource:
    """Pooled features (B, d) for each batch; use as a context manager around the pass."""

    def __init__(self, model: torch.nn.Module, features: FeatureSpec) -> None:
        self._module: torch.nn.Module | None = None
        self._function = None
        self._captured: object = None
        self._handle = None
        if features is None:
            self.name = "the pooled logits"
        elif isinstance(features, str):
            self.name = f"module {features!r}"
            self._module = _submodule(model, features)
        elif callable(features):
            self.name = "the features callable"
            self._function = features
        else:
            raise TypeError(
                "features must be None (pooled logits), a dotted module path such as "
                "'backbone.layer4', or a callable (images, output) -> tensor; "
                f"got {type(features).__name__}."
            )

    def __enter__(self) -> FeatureSource:
        if self._module is not None:
            self._handle = self._module.register_forward_hook(self._capture)
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._handle is not None:
            self._handle.remove()
            self._handle = None
        self._captured = None

    def _capture(self, module: torch.nn.Module, inputs: object, output: object) -> None:
        self._captured = output

    def before_forward(self) -> None:
        """Forget the previous batch's hooked output."""
        self._captured = None

    def pooled(
        self,
        batch: Batch,
        raw_output: object,
        logits: torch.Tensor,
        weights: torch.Tensor | None,
        first_image: int,
        index: int,
    ) -> torch.Tensor:
        """Feature vectors (B, d) of one batch, float32."""
        if self._module is not None:
            if self._captured is None:
                raise ValueError(
                    f"batch {index}: {self.name} did not run during the model's forward pass; "
                    "hook a module that the forward pass calls, or pass features= a callable."
                )
            value = self._captured
        elif self._function is not None:
            value = self._function(batch.images, raw_output)
        else:
            return masked_mean(logits, weights)
        return self._pool(_as_tensor(value, self.name), batch, first_image, index)

    def _pool(
        self, value: torch.Tensor, batch: Batch, first_image: int, index: int
    ) -> torch.Tensor:
        if value.ndim not in (2, 3, 4) or value.shape[0] != len(batch):
            raise ValueError(
                f"batch {index}: {self.name} gave shape {tuple(value.shape)}; features must be "
                f"(B, d, h, w), (B, L, d) or (B, d) with B = {len(batch)} images."
            )
        value = value.float()
        if value.ndim == 4:
            weights = (
                None
                if batch.ignore is None
                else kept_weights(batch.ignore, value.shape[-2:], first_image)
            )
            return masked_mean(value, weights)
        if value.ndim == 3:
            return value.mean(dim=1)
        return value


def _submodule(model: torch.nn.Module, path: str) -> torch.nn.Module:
    try:
        return model.get_submodule(path)
    except AttributeError:
        names = [name for name, _ in model.named_modules() if name]
        shown = ", ".join(repr(n) for n in names[:12]) + (" ..." if len(names) > 12 else "")
        raise ValueError(
            f"features={path!r}: the model has no submodule at that dotted path; its modules "
            f"include {shown or 'none'} (see model.named_modules())."
        ) from None


def _as_tensor(value: object, name: str) -> torch.Tensor:
    """The feature tensor in what a hook or callable gave (see the module docstring)."""
    if isinstance(value, torch.Tensor):
        return value
    maps = getattr(value, "feature_maps", None)  # transformers' BackboneOutput
    if isinstance(maps, (tuple, list)) and maps:
        return _deepest(list(maps), f"{name} (.feature_maps)")
    hidden = getattr(value, "last_hidden_state", None)
    if isinstance(hidden, torch.Tensor):
        return hidden
    if isinstance(value, Mapping) and value:
        if "out" in value and isinstance(value["out"], torch.Tensor):
            return value["out"]  # torchvision's IntermediateLayerGetter: {"out": layer4, "aux": ...}
        return _deepest(list(value.values()), f"{name} (a dict with keys {sorted(map(str, value))})")
    if isinstance(value, (tuple, list)) and value:
        if len(value) > 1 and all(_is_map(v) for v in value):
            return _deepest(list(value), name)
        if isinstance(value[0], torch.Tensor):
            return value[0]  # (output, extras), e.g. a layer returning (hidden, attention)
    raise TypeError(
        f"{name} gave a {type(value).__name__}; expected a tensor, a sequence or dict of feature "
        "maps, an object with .feature_maps or .last_hidden_state, or a tuple whose first element "
        "is a tensor. Pass features= a callable (images, output) -> tensor."
    )


def _is_map(value: object) -> bool:
    return isinstance(value, torch.Tensor) and value.ndim == 4


def _deepest(maps: list, name: str) -> torch.Tensor:
    """The last (deepest) of feature maps ordered shallow -> deep; an error if they are not.

    smp encoders return [input image, stride-2 map, ..., deepest map]; transformers' backbones
    and torchvision's IntermediateLayerGetter list their stages shallow -> deep too. The order is
    checked (each map no larger than the one before) so that a container ordered otherwise is an
    error, not a silently chosen shallow map.
    """
    if not all(_is_map(m) for m in maps):
        shapes = [tuple(m.shape) if isinstance(m, torch.Tensor) else type(m).__name__ for m in maps]
        raise TypeError(
            f"{name} gave a container of {shapes}; a container is read as feature maps (B, d, h, w) "
            "ordered shallow -> deep, and its last (deepest) map is used. Pass features= a "
            "callable (images, output) -> tensor that picks the map."
        )
    sizes = [tuple(m.shape[-2:]) for m in maps]
    if any(b[0] > a[0] or b[1] > a[1] for a, b in zip(sizes, sizes[1:])):
        raise ValueError(
            f"{name} gave feature maps of spatial sizes {sizes}, not ordered shallow -> deep (each "
            "no larger than the one before), so the deepest one is not the last. Pass features= a "
            "callable (images, output) -> tensor that picks the map."
        )
    return maps[-1]
