"""Evaluation: predicted label maps and mean intersection-over-union, over images of any sizes."""

from __future__ import annotations

import numpy as np
import torch

from alsel.datasets.base import IGNORE


@torch.no_grad()
def predict(model: torch.nn.Module, images: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """Arg-max label maps (N, H, W) of ``model`` on ``images`` (N, channels, H, W)."""
    return np.concatenate([p for p, _ in _predictions(model, images, list(range(len(images))), batch_size, 1)])


def _predictions(model, images, ids, batch_size: int, size_divisor: int):
    """(label maps, valid) per padded batch, the model in eval mode."""
    from alsel.torch.outputs import softmax_logits

    from .scoring import padded_batches

    was_training = model.training
    model.eval()
    try:
        device = next((p.device for p in model.parameters()), torch.device("cpu"))
        for x, valid in padded_batches(images, ids, batch_size, size_divisor):
            logits = softmax_logits(model(x.to(device)), tuple(x.shape[-2:]))
            yield logits.argmax(dim=1).cpu().numpy(), valid.numpy()
    finally:
        model.train(was_training)


def confusion(pred: np.ndarray, truth: np.ndarray, n_labels: int) -> np.ndarray:
    """Confusion matrix (n_labels, n_labels): rows truth, columns prediction, over the pixels
    whose truth is a label (IGNORE pixels are left out)."""
    truth = truth.reshape(-1).astype(np.int64)
    pred = pred.reshape(-1).astype(np.int64)
    keep = truth != IGNORE
    index = truth[keep] * n_labels + pred[keep]
    return np.bincount(index, minlength=n_labels * n_labels).reshape(n_labels, n_labels)


def miou_from_confusion(cm: np.ndarray) -> float:
    """Mean IoU (%) over the labels that occur in the truth or the prediction."""
    inter = np.diag(cm).astype(float)
    union = cm.sum(axis=0) + cm.sum(axis=1) - np.diag(cm)
    seen = union > 0
    return float(100.0 * np.mean(inter[seen] / union[seen]))


def mean_iou(pred: np.ndarray, truth: np.ndarray, n_labels: int) -> float:
    """Mean IoU over the labels that occur in ``truth`` or ``pred`` (data-set level, in %)."""
    return miou_from_confusion(confusion(pred, truth, n_labels))


def evaluate(model: torch.nn.Module, test, n_labels: int, batch_size: int = 256, size_divisor: int = 1) -> float:
    """Test mIoU (%) of ``model`` on an ImageSet whose images may differ in size: one confusion
    matrix over every image's own pixels that have a label (padding and IGNORE left out)."""
    masks = [test.mask(i) for i in range(len(test))]
    missing = [test.name(i) for i, m in enumerate(masks) if m is None]
    if missing:
        raise ValueError(f"the test set needs a mask for every image; {len(missing)} have none "
                         f"(e.g. {missing[:3]}).")
    cm = np.zeros((n_labels, n_labels), dtype=np.int64)
    start = 0
    for pred, valid in _predictions(model, test, list(range(len(test))), batch_size, size_divisor):
        truth = np.full(pred.shape, IGNORE, dtype=np.int64)
        for k in range(len(pred)):  # one slice per image, to place each mask in its padded frame
            h, w = masks[start + k].shape
            truth[k, :h, :w] = masks[start + k]
        cm += confusion(pred, truth, n_labels)
        start += len(pred)
    return miou_from_confusion(cm)
