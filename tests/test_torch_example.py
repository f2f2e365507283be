"""examples/torch_select.py and the example of docs/torch.md run as written (small sizes)."""

from __future__ import annotations

import re
import runpy
from pathlib import Path

import pytest

pytest.importorskip("torch")

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "torch_select.py"


def test_example_runs_and_prints_the_queries(capsys):
    main = runpy.run_path(str(EXAMPLE))["main"]
    selection = main(
        [
            "--images",
            "24",
            "--size",
            "32",
            "--train-steps",
            "2",
            "--batch-size",
            "5",
            "--budget",
            "6",
            "--cmax",
            "2",
            "--no-progress",
        ]
    )
    out = capsys.readouterr().out
    assert selection.pairs.shape == (6, 2)
    assert "G (6, 24) and R (24, 24)" in out
    assert "6 questions 'is class j in image i?'" in out
    for image in selection.images:
        assert f"image {image:4d}: classes" in out


def test_docs_torch_md_example_runs():
    text = (EXAMPLE.parent.parent / "docs" / "torch.md").read_text()
    block = re.findall(r"```python\n(.*?)```", text, flags=re.S)[0]
    namespace: dict = {}
    exec(compile(block, "docs/torch.md", "exec"), namespace)  # noqa: S102
    assert namespace["G"].shape == (5, 40) and namespace["R"].shape == (40, 40)
    assert namespace["prediction"].p.shape == (40, 5)
    assert namespace["prediction"].features.shape == (40, 8)
    assert namespace["sel"].pairs.shape == (10, 2)
