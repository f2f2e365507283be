"""A compact U-Net for the digit scenes: two poolings, ~120k parameters at width 16.

Small enough that an epoch over a few hundred 32x32 scenes takes about a second on 2 CPU cores.
The loop needs nothing specific to it: any ``torch.nn.Module`` mapping (n, channels, H, W) images
to (n, n_labels, H, W) logits works; its ``feature_module`` attribute, if any, names the module
whose pooled output serves as image features (else the adapters' fallback, the pooled logits).
"""

from __future__ import annotations

import torch
from torch import nn


def _block(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
        nn.Conv2d(c_out, c_out, 3, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    )


class TinyUNet(nn.Module):
    """U-Net with widths (w, 2w, 4w); H and W must be divisible by 4.

    ``forward(x)`` returns logits (n, n_labels, H, W); :meth:`forward_with_features` also returns
    the bottleneck, globally average-pooled (n, 4w): the image features F(x) of Eq. 3.
    """

    #: The module whose pooled output describes an image (read by alsel.loop.scoring's pass).
    feature_module = "bottleneck"
    #: Image sides must be multiples of this (two poolings); the loop pads batches to it.
    size_divisor = 4

    def __init__(self, in_channels: int = 1, n_labels: int = 11, width: int = 16) -> None:
        super().__init__()
        w = width
        self.enc1 = _block(in_channels, w)
        self.enc2 = _block(w, 2 * w)
        self.bottleneck = _block(2 * w, 4 * w)
        self.up2 = nn.ConvTranspose2d(4 * w, 2 * w, 2, stride=2)
        self.dec2 = _block(4 * w, 2 * w)
        self.up1 = nn.ConvTranspose2d(2 * w, w, 2, stride=2)
        self.dec1 = _block(2 * w, w)
        self.head = nn.Conv2d(w, n_labels, 1)
        self.pool = nn.MaxPool2d(2)

    def forward_with_features(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits (n, n_labels, H, W) and pooled bottleneck features (n, 4 * width)."""
        if x.shape[-1] % 4 or x.shape[-2] % 4:
            raise ValueError(f"TinyUNet needs H and W divisible by 4; got {tuple(x.shape[-2:])}.")
        e1 = self.enc1(x)
        e2 = self.enc2(self.pool(e1))
        b = self.bottleneck(self.pool(e2))
        d2 = self.dec2(torch.cat([self.up2(b), e2], dim=1))
        d1 = self.dec1(torch.cat([self.up1(d2), e1], dim=1))
        return self.head(d1), b.mean(dim=(2, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_with_features(x)[0]


def tiny_unet(num_labels: int, in_channels: int, width: int = 16) -> TinyUNet:
    """The loop's default model factory: ``TinyUNet(in_channels, num_labels, width)``."""
    return TinyUNet(in_channels, num_labels, width)
