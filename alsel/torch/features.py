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

What a hook or callable gives is read as: a tensor; the first element of a tuple or list; the
``last_hidden_state`` of a transformers output. Its shape decides the pooling: (B, d, h, w)
is averaged over the kept pixels (the ignore mask area-downsampled to h x w); (B, L, d) token
sequences are averaged over the L tokens (the mask does not apply); (B, d) is used as it is.
"""

from __future__ import annotations

from collections.abc import Callable

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
    if isinstance(value, torch.Tensor):
        return value
    if isinstance(value, (tuple, list)) and value and isinstance(value[0], torch.Tensor):
        return value[0]
    hidden = getattr(value, "last_hidden_state", None)
    if isinstance(hidden, torch.Tensor):
        return hidden
    raise TypeError(
        f"{name} gave a {type(value).__name__}; expected a tensor, a tuple whose first element "
        "is a tensor, or an object with .last_hidden_state. Pass features= a callable that "
        "returns the tensor."
    )
