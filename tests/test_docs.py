"""The README's Python example and the docstring examples run as written."""

from __future__ import annotations

import doctest
import re
from pathlib import Path

import alsel.pipeline

ROOT = Path(__file__).resolve().parent.parent


def test_readme_python_example_runs():
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", readme, flags=re.S)
    assert blocks, "README has no Python example"
    namespace: dict = {}
    exec(compile(blocks[0], "README.md", "exec"), namespace)  # noqa: S102
    sel = namespace["sel"]
    assert sel.pairs.shape == (100, 2)
    assert sel.M.sum(axis=1).max() <= 5


def test_docstring_examples():
    result = doctest.testmod(alsel.pipeline, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
