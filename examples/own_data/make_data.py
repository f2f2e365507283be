"""Write a small data set in the image-folder layout: digit scenes as PNG image/mask pairs.

    python examples/own_data/make_data.py DATA_DIR [--images N] [--test N]

DATA_DIR/pool and DATA_DIR/test each get images/, masks/ and classes.txt (docs/data.md): grey
scenes of three sizes, non-square (24x32, 32x24, 28x28 by default), masks with labels 0-9 and
background 10. Nothing is downloaded. Then ``alsel run examples/own_data/config.toml`` reads
them (its [data] root is ``data/pool``, relative to the config file).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from alsel.datasets.digits import write_folder

SIZES = ((24, 32), (32, 24), (28, 28))


def make_data(root: str | Path, images: int = 120, test: int = 60, sizes=SIZES) -> Path:
    """Write ``images`` pool scenes and ``test`` test scenes (held-out digit scans) under ``root``."""
    root = Path(root)
    write_folder(root / "pool", images, sizes=sizes, pool="train", seed=0)
    write_folder(root / "test", test, sizes=sizes, pool="test", seed=1)
    return root


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", nargs="?", default=str(Path(__file__).parent / "data"))
    parser.add_argument("--images", type=int, default=120)
    parser.add_argument("--test", type=int, default=60)
    args = parser.parse_args()
    print(f"wrote {make_data(args.root, args.images, args.test)}")
