"""The report's text: markdown tables (the paper's Tables 2 and 3, AUC, paired tests, λ study),
stats.csv and the verdict lines. Pure functions of an :class:`~alsel.evidence.analysis.Analysis`:
the same results give byte-identical text."""

from __future__ import annotations

import csv
import io
import math

import numpy as np

from .analysis import Analysis, lambda_points, wilcoxon_floor
from .results import Results
from .stats import Interval

__all__ = ["markdown", "stats_csv", "verdict_lines", "STATS_COLUMNS"]

_LETTER = {"binary": "B", "region": "R", "pixel": "P"}
STATS_COLUMNS = ("section", "metric", "profile", "strategy", "kind", "reference", "n", "seeds", "mean",
                 "ci_low", "ci_high", "p_t", "p_t_holm", "p_wilcoxon", "verdict")


def _num(x: float, digits: int = 2) -> str:
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"


def _p(x: float) -> str:
    return "–" if math.isnan(x) else f"{x:.3g}"


def _ci(interval: Interval, digits: int = 2) -> str:
    if interval.n < 2:
        return f"{_num(interval.mean, digits)} (1 seed)"
    return f"{_num(interval.mean, digits)} [{_num(interval.low, digits)}, {_num(interval.high, digits)}]"


def _name(results: Results, label: str) -> str:
    kind = results.kinds[label]
    return f"{label} ({_LETTER.get(kind, kind)})"


def _metric_title(metric: str, profile: str) -> str:
    return "final mIoU" if metric == "final_miou" else f"AUC ({profile})"


def markdown(results: Results, analysis: Analysis, sources: list[str]) -> str:
    """tables.md: what was merged, Tables 2 and 3, AUC, the paired tests and the λ study."""
    a, lines = analysis, []
    level = f"{a.level:.0%}"
    seeds = sorted({k for runs in results.runs.values() for k in runs})
    lines += ["# Results report", "",
              f"Merged from {', '.join(f'`{s}`' for s in sources)}. Final iteration: "
              f"{results.final_iteration}. Seeds: {', '.join(map(str, seeds))}. Intervals: {level} "
              f"Student t over seeds (mean [low, high]). (B) binary answers, (R) regions, (P) whole images.", ""]
    if results.unchecked:
        lines += [f"Not checked for comparability (no config.json beside them): "
                  f"{', '.join(f'`{u}`' for u in results.unchecked)}.", ""]
    if results.excluded:
        lines += [f"Left out on purpose (--methods): {', '.join(results.excluded)}.", ""]
    if results.incomplete:
        lines += ["Left out (not at the final iteration): "
                  + "; ".join(f"{s} seed {k} (at iteration {i})" for s, k, i in results.incomplete) + ".", ""]
    if results.duplicates:
        lines += [f"{results.duplicates} rows were given more than once, identically; each counted once.", ""]
    for note in a.notes:
        lines += [f"Note: {note}", ""]

    final = a.intervals["final_miou", ""]
    lines += ["## Final mIoU (Table 2)", "", f"| method | seeds | final mIoU (%), {level} CI | per seed |",
              "|---|---:|---|---|"]
    for s in a.strategies:
        per = a.values["final_miou", ""][s]
        lines.append(f"| {_name(results, s)} | {len(per)} | {_ci(final[s])} | "
                     + ", ".join(f"{k}: {v:.2f}" for k, v in per.items()) + " |")

    lines += ["", "## Annotation spent (Table 3)", "",
              "Mean over seeds of the totals after the last round (the initial set L is not counted).", "",
              "| method | answers | regions | images | " + " | ".join(f"hours {p}" for p in results.profiles) + " |",
              "|---|---:|---:|---:|" + "---:|" * len(results.profiles)]
    for s in a.strategies:
        runs = list(results.runs[s].values())
        cells = []
        for column in ("cum_queries", "cum_regions", "cum_pixel_images"):
            have = [r.counts[column][-1] for r in runs if column in r.counts]
            cells.append(f"{np.mean(have):.0f}" if len(have) == len(runs) else "–")
        for p in results.profiles:
            h = np.array([r.hours[p][-1] for r in runs])
            cells.append(f"{h.mean():.2f}" if np.ptp(h) == 0 else f"{h.mean():.2f} ({h.min():.2f}–{h.max():.2f})")
        lines.append(f"| {_name(results, s)} | " + " | ".join(cells) + " |")

    if a.horizons:
        lines += ["", "## Area under mIoU against annotation hours", "",
                  "Mean of the step curve mIoU(h) over log10 hours between a horizon common to all methods "
                  "(docs/experiment.md, Method); in mIoU %.", "",
                  "| method | " + " | ".join(f"AUC {p} [{lo:.3g} h, {hi:.3g} h]" for p, (lo, hi) in a.horizons.items())
                  + " |", "|---|" + "---|" * len(a.horizons)]
        for s in a.strategies:
            lines.append(f"| {_name(results, s)} | "
                         + " | ".join(_ci(a.intervals["auc", p][s]) for p in a.horizons) + " |")

    if a.comparisons:
        ns = sorted({c.test.n for c in a.comparisons if c.test is not None})
        lines += ["", f"## {a.reference} against each method (paired by seed)", "",
                  f"Difference = {a.reference} − method (positive: {a.reference} better), with its {level} t-interval; "
                  f"paired t-test p, Holm-adjusted over the methods of each metric, and the Wilcoxon signed-rank p. "
                  f"Resolved: Holm p < {a.alpha:g} and the interval excludes 0.", ""]
        if ns:
            lines += ["With n seeds the smallest two-sided Wilcoxon p is 2/2ⁿ: "
                      + ", ".join(f"{wilcoxon_floor(n):.4g} at n = {n}" for n in ns)
                      + (f" — it cannot resolve anything at {a.alpha:g}." if wilcoxon_floor(max(ns)) >= a.alpha
                         else "."), ""]
        lines += ["| metric | method | n | difference | t-test p | Holm p | Wilcoxon p | verdict |",
                  "|---|---|---:|---|---:|---:|---:|---|"]
        for c in a.comparisons:
            t = c.test
            extra = f" ({'; '.join(c.unpaired)})" if c.unpaired else ""
            lines.append(f"| {_metric_title(c.metric, c.profile)} | {_name(results, c.other)} | "
                         f"{0 if t is None else t.n} | {'–' if t is None else _ci(t.diff)} | "
                         f"{'–' if t is None else _p(t.p_t)} | {_p(c.p_holm)} | "
                         f"{'–' if t is None else _p(t.p_wilcoxon)} | {c.verdict}{extra} |")

    points = lambda_points(results)
    if len(set(points.values())) >= 2:
        lines += ["", "## λ / mapping study", "",
                  "| strategy | λ | mapping | final mIoU | " + " | ".join(f"AUC {p}" for p in a.horizons) + " |",
                  "|---|---:|---|---|" + "---|" * len(a.horizons)]
        for label in sorted(points, key=lambda s: (points[s][1], points[s][0], s)):
            lam, mapping = points[label]
            lines.append(f"| {label} | {lam:g} | {mapping} | {_ci(final[label])} | "
                         + " | ".join(_ci(a.intervals["auc", p][label]) for p in a.horizons) + " |")
    return "\n".join(lines) + "\n"


def _cell(x) -> str:
    if x is None:
        return ""
    if isinstance(x, float):
        return "" if math.isnan(x) else f"{x:.6g}"
    return str(x)


def stats_csv(results: Results, analysis: Analysis) -> str:
    """stats.csv: one row per (metric, profile, method) and one per paired comparison."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(STATS_COLUMNS)
    for (metric, profile), per in analysis.intervals.items():
        for s, iv in per.items():
            seeds = " ".join(map(str, analysis.values[metric, profile][s]))
            writer.writerow(map(_cell, ("method", metric, profile, s, results.kinds[s], "", iv.n, seeds,
                                        iv.mean, iv.low, iv.high, None, None, None, "")))
    for c in analysis.comparisons:
        t = c.test
        writer.writerow(map(_cell, (
            "paired", c.metric, c.profile, c.other, results.kinds[c.other], analysis.reference,
            0 if t is None else t.n, " ".join(map(str, c.seeds)),
            None if t is None else t.diff.mean, None if t is None else t.diff.low,
            None if t is None else t.diff.high, None if t is None else t.p_t, c.p_holm,
            None if t is None else t.p_wilcoxon, c.verdict + (f" ({'; '.join(c.unpaired)})" if c.unpaired else ""))))
    return buffer.getvalue()


def verdict_lines(analysis: Analysis) -> list[str]:
    """One line per comparison, as `alsel report` prints them."""
    out = []
    for c in analysis.comparisons:
        diff = "" if c.test is None else f" difference {c.test.diff.mean:+.2f} (n = {c.test.n})"
        out.append(f"{analysis.reference} vs {c.other}, {_metric_title(c.metric, c.profile)}:{diff}: {c.verdict}"
                   + (f" ({'; '.join(c.unpaired)})" if c.unpaired else ""))
    return out
