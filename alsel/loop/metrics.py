"""Evaluation: predicted label maps and mean intersection-over-union."""

from __future__ import annotations

import numpy as np
import torch


@torch.no_grad()
def predict(model: torch.nn.Module, images: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """Arg-max label maps (N, H, W) of ``model`` on ``images`` (N, channels, H, W)."""
    was_training = model.training
    model.eval()
    try:
        out = [model(torch.as_tensor(images[s:s + batch_size])).argmax(dim=1)
               for s in range(0, len(images), batch_size)]
    finally:
        model.train(was_training)
    return torch.cat(out).numpy()


def confusion(pred: np.ndarray, truth: np.ndarray, n_labels: int) -> np.ndarray:
    """Confusion matrix (n_labels, n_labels): rows truth, columns prediction, over all pixels."""
    index = truth.reshape(-1).astype(np.int64) * n_labels + pred.reshape(-1).astype(np.int64)
    return np.bincount(index, minlength=n_labels * n_labels).reshape(n_labels, n_labels)


def mean_iou(pred: np.ndarray, truth: np.ndarray, n_labels: int) -> float:
    """Mean IoU over the labels that occur in ``truth`` or ``pred`` (data-set level, in %)."""
    cm = confusion(pred, truth, n_labels)
    inter = np.diag(cm).astype(float)
    union = cm.sum(axis=0) + cm.sum(axis=1) - np.diag(cm)
    seen = union > 0
    return float(100.0 * np.mean(inter[seen] / union[seen]))
