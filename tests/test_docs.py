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


def test_every_test_named_in_reliability_md_exists():
    """docs/reliability.md cites the tests behind each guarantee; a renamed test must not leave
    the doc pointing at nothing."""
    doc = (ROOT / "docs" / "reliability.md").read_text()
    files = set(re.findall(r"tests/(test_\w+)\.py", doc))
    assert files, "docs/reliability.md names no test file"
    missing = sorted(f for f in files if not (ROOT / "tests" / f"{f}.py").is_file())
    assert not missing, f"test files named in docs/reliability.md do not exist: {missing}"
    source = "\n".join(p.read_text() for p in (ROOT / "tests").glob("test_*.py"))
    names = set(re.findall(r"`(test_\w+)`", doc)) - files
    assert names, "docs/reliability.md names no test"
    gone = sorted(n for n in names if f"def {n}(" not in source)
    assert not gone, f"tests named in docs/reliability.md do not exist: {gone}"
