"""G and R from a PyTorch segmentation model, then alsel.select: which yes/no questions to ask.

    python examples/torch_select.py                       # 200 images of 64x64, 6 classes
    python examples/torch_select.py --images 50 --size 32 --budget 10

The model is a small encoder-decoder trained for a few steps on generated images, standing in
for your trained one; the pool is generated on the fly by a Dataset (nothing is stored), with
the bottom rows of each image marked as padding that the ignore mask leaves out.
Needs ``pip install 'alsel[torch]'``.
"""

from __future__ import annotations

import argparse
import time

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

import alsel
from alsel.torch import pool_scores


class SmallSegmenter(nn.Module):
    """Encoder (two stride-2 convolutions) -> 1x1 classifier -> bilinear upsampling."""

    def __init__(self, num_classes: int, width: int = 16) -> None:
        super().__init__()
        self.encoder = nn.Sequential(
            nn.Conv2d(3, width, 3, stride=2, padding=1),
            nn.BatchNorm2d(width),
            nn.ReLU(),
            nn.Conv2d(width, 2 * width, 3, stride=2, padding=1),
            nn.BatchNorm2d(2 * width),
            nn.ReLU(),
        )
        self.classifier = nn.Conv2d(2 * width, num_classes, 1)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        logits = self.classifier(self.encoder(images))
        return nn.functional.interpolate(
            logits, size=images.shape[-2:], mode="bilinear", align_corners=False
        )


def generated_image(index: int, size: int, num_classes: int) -> tuple[torch.Tensor, torch.Tensor]:
    """An image with 1-3 rectangles of classes 1..C-1 (each its own colour) on background 0."""
    generator = torch.Generator().manual_seed(index)
    colours = torch.rand(num_classes, 3, 1, 1, generator=torch.Generator().manual_seed(12345))
    image = colours[0] + 0.1 * torch.randn(3, size, size, generator=generator)
    label = torch.zeros(size, size, dtype=torch.long)
    for _ in range(int(torch.randint(1, 4, (), generator=generator))):
        k = int(torch.randint(1, num_classes, (), generator=generator))
        top, left = torch.randint(0, size // 2, (2,), generator=generator).tolist()
        height, width = torch.randint(4, size // 2, (2,), generator=generator).tolist()
        image[:, top : top + height, left : left + width] += colours[k] - colours[0]
        label[top : top + height, left : left + width] = k
    return image, label


class GeneratedPool(Dataset):
    """The unlabeled pool, made from the index on the fly (nothing stored), bottom rows padded."""

    def __init__(self, n_images: int, size: int, num_classes: int, padding_rows: int = 4) -> None:
        self.n_images, self.size, self.num_classes = n_images, size, num_classes
        self.padding_rows = padding_rows

    def __len__(self) -> int:
        return self.n_images

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        image, _ = generated_image(10**6 + index, self.size, self.num_classes)
        ignore = torch.zeros(self.size, self.size, dtype=torch.bool)
        ignore[self.size - self.padding_rows :] = True  # padding: left out of p and the features
        image[:, ignore] = 0.0
        return {"image": image, "ignore": ignore}


def train_briefly(
    model: nn.Module, steps: int, size: int, num_classes: int, batch_size: int = 16
) -> None:
    """A few Adam steps on labelled generated images: a stand-in for your trained model."""
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    model.train()
    for step in range(steps):
        pairs = [
            generated_image(step * batch_size + i, size, num_classes) for i in range(batch_size)
        ]
        images, labels = torch.stack([p[0] for p in pairs]), torch.stack([p[1] for p in pairs])
        loss = nn.functional.cross_entropy(model(images), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


def main(argv: list[str] | None = None) -> alsel.Selection:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=200, help="pool size N")
    parser.add_argument("--classes", type=int, default=6, help="number of classes C")
    parser.add_argument("--size", type=int, default=64, help="image side in pixels")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--budget", type=int, default=40, help="queries B")
    parser.add_argument(
        "--cmax", type=int, default=3, help="largest number of queries for one image"
    )
    parser.add_argument("--lam", type=float, default=1.0, help="weight of the redundancy term")
    parser.add_argument(
        "--train-steps", type=int, default=40, help="training steps before the pass"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)

    torch.manual_seed(0)
    model = SmallSegmenter(args.classes)
    train_briefly(model, args.train_steps, args.size, args.classes)
    loader = DataLoader(
        GeneratedPool(args.images, args.size, args.classes), batch_size=args.batch_size
    )

    started = time.perf_counter()
    G, R = pool_scores(
        model,
        loader,
        num_classes=args.classes,
        features="encoder",
        progress=not args.no_progress,
    )
    print(
        f"G {G.shape} and R {R.shape} from one pass over {args.images} images in "
        f"{time.perf_counter() - started:.2f} s"
    )

    selection = alsel.select(G, R, B=args.budget, C_max=args.cmax, lam=args.lam)
    print(selection.summary())
    n_questions, n_images = len(selection.pairs), len(selection.images)
    print(f"{n_questions} questions 'is class j in image i?' on {n_images} images:")
    for image in selection.images:
        classes = selection.pairs[selection.pairs[:, 0] == image, 1]
        print(f"  image {image:4d}: classes {', '.join(map(str, classes))}")
    return selection


if __name__ == "__main__":
    main()
