"""Small segmentation models and a generated pool for the PyTorch adapter benchmarks."""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch import nn
from torch.nn import functional as F

CLASSES = 19
SIZE = 64


def conv(c_in: int, c_out: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(),
    )


class TinyUNet(nn.Module):
    """A two-level U-Net of 21k parameters: 16 channels at full resolution, 32 at half."""

    def __init__(self, num_classes: int = CLASSES, width: int = 16) -> None:
        super().__init__()
        self.stem = conv(3, width)
        self.down = nn.Sequential(conv(width, 2 * width, stride=2), conv(2 * width, 2 * width))
        self.up = conv(3 * width, width)
        self.classifier = nn.Conv2d(width, num_classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skip = self.stem(x)
        deep = F.interpolate(
            self.down(skip), size=x.shape[-2:], mode="bilinear", align_corners=False
        )
        return self.classifier(self.up(torch.cat([skip, deep], dim=1)))


class MinimalSegmenter(nn.Module):
    """Two strided convolutions, a 1x1 classifier, bilinear x4: almost no work per output pixel."""

    def __init__(self, num_classes: int = CLASSES, width: int = 16) -> None:
        super().__init__()
        self.encoder = nn.Sequential(conv(3, width, stride=2), conv(width, 2 * width, stride=2))
        self.classifier = nn.Conv2d(2 * width, num_classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(
            self.classifier(self.encoder(x)),
            size=x.shape[-2:],
            mode="bilinear",
            align_corners=False,
        )


MODELS = {"tiny U-Net": TinyUNet, "minimal": MinimalSegmenter}
FEATURE_MODULE = {"tiny U-Net": "down", "minimal": "encoder"}


def model(name: str) -> nn.Module:
    torch.manual_seed(0)
    return MODELS[name]().eval()


def generated_batches(
    n_images: int, batch_size: int = 32, size: int = SIZE
) -> Iterator[torch.Tensor]:
    """Batches made on the fly from a seed: the pool itself is never held in memory."""
    for start in range(0, n_images, batch_size):
        generator = torch.Generator().manual_seed(start)
        yield torch.randn(min(batch_size, n_images - start), 3, size, size, generator=generator)
