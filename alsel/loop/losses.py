"""The loop's losses: those of :mod:`alsel.torch.losses` (public API), under the loop's names.

* :func:`lse_pool`, :func:`answered_bce`, :func:`pixel_loss`, :func:`feedback_loss`: as defined there;
* :func:`image_loss`: :func:`alsel.torch.losses.binary_feedback_loss` (docs/loop.md).
"""

from __future__ import annotations

from alsel.torch.losses import (  # noqa: F401  (re-exported)
    IGNORE,
    SCORES,
    UNKNOWN,
    answered_bce,
    binary_feedback_loss,
    feedback_loss,
    lse_pool,
    pixel_loss,
)

image_loss = binary_feedback_loss
