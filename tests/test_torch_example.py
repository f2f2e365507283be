"""examples/torch_select.py and the example of docs/torch.md run as written (small sizes)."""

from __future__ import annotations

import re
import runpy
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

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


def test_docs_torch_md_training_snippet_runs():
    """The three lines of "Training with yes/no answers" in a training step, as written."""
    from torch.nn import functional as F

    from alsel.torch import binary_feedback_loss
    from alsel.torch.losses import UNKNOWN

    text = (EXAMPLE.parent.parent / "docs" / "torch.md").read_text()
    (block,) = [b for b in re.findall(r"```python\n(.*?)```", text, flags=re.S)
                if "binary_feedback_loss(" in b]  # fmt: skip
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 4, 8, 8, generator=generator, requires_grad=True)
    masks = torch.randint(0, 4, (2, 8, 8), generator=generator)
    masks[0, :3] = 255  # pixels without a label
    answers = torch.tensor([[1, 0, UNKNOWN], [UNKNOWN, 1, 0]])
    namespace = {"F": F, "binary_feedback_loss": binary_feedback_loss, "logits": logits,
                 "masks": masks, "answers": answers, "queryable": [1, 2, 3]}  # fmt: skip
    exec(compile(block, "docs/torch.md", "exec"), namespace)  # noqa: S102
    expected = F.cross_entropy(logits, masks, ignore_index=255) + binary_feedback_loss(
        logits, answers, classes=[1, 2, 3]
    )
    torch.testing.assert_close(namespace["loss"], expected)
    assert logits.grad is not None and logits.grad.abs().sum() > 0
