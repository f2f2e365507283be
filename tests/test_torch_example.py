"""examples/torch_select.py runs (small sizes) and prints its queries."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest

pytest.importorskip("torch")

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "torch_select.py"


def test_example_runs_and_prints_the_queries(capsys):
    main = runpy.run_path(str(EXAMPLE))["main"]
    selection = main(["--images", "24", "--size", "32", "--train-steps", "2", "--batch-size", "5",
                      "--budget", "6", "--cmax", "2", "--no-progress"])
    out = capsys.readouterr().out
    assert selection.pairs.shape == (6, 2)
    assert "G (6, 24) and R (24, 24)" in out
    assert "6 questions 'is class j in image i?'" in out
    for image in selection.images:
        assert f"image {image:4d}: classes" in out
