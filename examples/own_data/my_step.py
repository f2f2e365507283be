"""A training step of your own, for ``[train] train_step = "my_step:step"`` (put this folder on
PYTHONPATH) or ``run_experiment(config, out, train_step=step)``.

alsel calls it once per optimizer step with a batch of the images that carry any supervision;
it returns the loss, and alsel runs backward, the optimizer and the schedule.
"""

import torch.nn.functional as F

from alsel.datasets import IGNORE
from alsel.torch import binary_feedback_loss


def step(model, batch):
    logits = model(batch.images).logits  # SegFormer: 1/4 resolution
    logits = F.interpolate(logits, size=batch.masks.shape[-2:], mode="bilinear", align_corners=False)
    loss = F.cross_entropy(logits, batch.masks, ignore_index=IGNORE) if (batch.masks != IGNORE).any() else 0 * logits.sum()
    return loss + binary_feedback_loss(logits, batch.answers, classes=batch.classes, valid=batch.valid)
