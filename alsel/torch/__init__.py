"""PyTorch adapters: class-presence probabilities p, features, G and R from a segmentation model.

``alsel.torch`` is imported on demand (``import alsel`` never imports torch). It needs the
``torch`` extra: ``pip install 'alsel[torch]'`` (torch and tqdm).

>>> from alsel.torch import predict_pool, pool_scores                  # doctest: +SKIP
>>> G, R = pool_scores(model, loader, num_classes=19)                   # doctest: +SKIP
>>> sel = alsel.select(G, R, B=200, C_max=5, lam=1.0)                   # doctest: +SKIP

See docs/torch.md for the output conventions understood, the presence reductions, feature
hooks, ignore masks, memory behaviour and the k-nearest-neighbour sparse R.
"""

from __future__ import annotations

try:
    import torch as _torch  # noqa: F401
    import tqdm as _tqdm  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        f"alsel.torch needs PyTorch and tqdm ({exc}). Install them with: pip install 'alsel[torch]'"
    ) from exc

from alsel.torch.inference import REDUCTIONS, PoolPrediction, predict_pool
from alsel.torch.knn import knn_redundancy
from alsel.torch.losses import binary_feedback_loss, feedback_loss
from alsel.torch.scoring import pool_scores

__all__ = ["REDUCTIONS", "PoolPrediction", "binary_feedback_loss", "feedback_loss", "knn_redundancy",
           "pool_scores", "predict_pool"]
