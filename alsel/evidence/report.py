"""``alsel report``: merge results.csv files, write tables.md, stats.csv, figure2.png, paired.png, lambda.png."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .._files import atomic_write_text
from .analysis import Analysis, analyse, lambda_points
from .results import Results, load_results
from .tables import markdown, stats_csv, verdict_lines

__all__ = ["Report", "write_report"]


@dataclass(frozen=True)
class Report:
    results: Results
    analysis: Analysis
    files: list[Path]
    verdicts: list[str]


def write_report(paths, out: str | os.PathLike, reference: str = "proposed", level: float = 0.95,
                 alpha: float = 0.05, profile: str | None = None, figures: bool = True,
                 methods: Sequence[str] | None = None) -> Report:
    """Merge ``paths`` (results.csv files) and write the report into the folder ``out``.

    ``profile`` is the cost profile of the AUC panels of paired.png and lambda.png (default: the
    config's ``cost_profile``, else cityscapes). ``methods`` (strategy labels) keeps those alone,
    e.g. a λ study's variants and their reference out of a merge of larger parts. Everything is
    computed before anything is written.
    """
    results = load_results(paths)
    if methods is not None:
        if reference not in methods:
            raise ValueError(f"--methods {','.join(methods)} leaves out the reference {reference!r}: add it, "
                             "or name another with --reference.")
        results = results.only(methods)
    if reference not in results.runs:
        known = ", ".join(results.strategies)
        raise ValueError(f"--reference {reference!r} has no complete run in these results; "
                         f"choose one of: {known}.")
    analysis = analyse(results, reference, level, alpha)
    if profile is None:
        profile = (results.config or {}).get("loop", {}).get("cost_profile", "cityscapes")
    if profile not in results.profiles:
        raise ValueError(f"--profile {profile!r}: the results have hours for {results.profiles} only.")
    sources = [str(p) for p in paths]
    text, table = markdown(results, analysis, sources), stats_csv(results, analysis)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    files = [out / "tables.md", out / "stats.csv"]
    atomic_write_text(files[0], text)
    atomic_write_text(files[1], table)
    for stale in ("figure2.png", "paired.png", "lambda.png"):  # a rerun must not leave an older run's figure
        (out / stale).unlink(missing_ok=True)
    if figures:
        from .figures import figure2, lambda_figure, paired_figure

        if analysis.horizons:
            files.append(figure2(results, analysis, out / "figure2.png"))
        written = paired_figure(results, analysis, out / "paired.png", profile)
        if written is not None:
            files.append(written)
        if len(set(lambda_points(results).values())) >= 2:
            written = lambda_figure(results, analysis, out / "lambda.png", profile)
            if written is not None:
                files.append(written)
    return Report(results, analysis, files, verdict_lines(analysis))
