"""docs/experiment.md quotes reports that the committed results regenerate, byte for byte.

Each report folder under docs/experiment/ is rebuilt by `alsel report` from the committed
results.csv files it names; the summary tables docs/experiment.md shows are rebuilt from its
stats.csv by docs/experiment/summary.py. A result added without regenerating the report, or a
report regenerated without updating the page, fails here.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXPERIMENT = ROOT / "docs" / "experiment"
PAPER_LAMBDA = ["proposed", "proposed-lam0.001-minmax", "proposed-lam1e-05-minmax", "proposed-lam1-log",
                "proposed-lam0.1-log", "proposed-lam0.01-log"]

# report folder -> (results.csv files, relative to the repository root, in the order the docs give; --methods)
REPORTS = {
    "small": (["docs/experiment/small/results.csv"], None),
    "small-lambda": (["docs/experiment/small-lambda/results.csv"], None),
    "paper": ([f"docs/experiment/paper/{group}-seed{k}/results.csv" for group in ("binary", "pixel", "region")
               for k in range(5)], None),
    "paper-lambda": ([f"docs/experiment/paper/{group}-seed{k}/results.csv" for group in ("binary", "lambda")
                      for k in range(5)], PAPER_LAMBDA),
}
# report folders whose summary tables docs/experiment.md quotes
SUMMARISED = ("paper", "paper-lambda")


def _sources(name: str) -> list[str]:
    return [p for p in REPORTS[name][0] if (ROOT / p).is_file()]


def _skip_unless_committed(name: str) -> None:
    if not (EXPERIMENT / name / "stats.csv").is_file():
        pytest.skip(f"docs/experiment/{name}/ has no report yet (its parts have not run)")


@pytest.mark.parametrize("name", sorted(REPORTS))
def test_committed_report_is_what_alsel_report_makes_of_the_committed_results(tmp_path, name):
    _skip_unless_committed(name)
    methods = REPORTS[name][1]
    argv = [sys.executable, "-m", "alsel.cli", "report", *_sources(name), "--out", str(tmp_path), "--no-figures"]
    if methods:
        argv += ["--methods", ",".join(methods)]
    result = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    for file in ("stats.csv", "tables.md"):
        assert (tmp_path / file).read_text(encoding="utf-8") == (EXPERIMENT / name / file).read_text(
            encoding="utf-8"), f"regenerate docs/experiment/{name}/ (docs/experiment.md gives the command)"


@pytest.mark.parametrize("name", SUMMARISED)
def test_the_summary_tables_in_the_docs_are_those_of_the_committed_stats(name):
    _skip_unless_committed(name)
    result = subprocess.run([sys.executable, str(EXPERIMENT / "summary.py"), str(EXPERIMENT / name / "stats.csv")],
                            cwd=ROOT, capture_output=True, text=True, check=True)
    page = (ROOT / "docs" / "experiment.md").read_text(encoding="utf-8")
    for table in result.stdout.strip().split("\n\n"):
        assert table in page, (f"docs/experiment.md does not show the tables of docs/experiment/{name}/stats.csv: "
                               f"python docs/experiment/summary.py docs/experiment/{name}/stats.csv")
