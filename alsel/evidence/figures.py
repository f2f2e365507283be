"""The report's figures: the paper's Figure 2 against annotation hours, the paired differences
(a forest plot) and the λ / mapping study."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .analysis import Analysis, lambda_points
from .results import Results
from .stats import t_interval

__all__ = ["figure2", "forest_rows", "paired_figure", "lambda_figure"]

_STYLE = {"binary": ("-", "B"), "region": ("-.", "R"), "pixel": ("--", "P")}
# PNG metadata that does not change between matplotlib builds: byte-identical figures.
_METADATA = {"Software": None}


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _band(values: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean and t-interval per column of (seeds, points); no band with one seed."""
    intervals = [t_interval(values[:, j], level) for j in range(values.shape[1])]
    return (np.array([i.mean for i in intervals]), np.array([i.low for i in intervals]),
            np.array([i.high for i in intervals]))


def figure2(results: Results, analysis: Analysis, path: Path) -> Path:
    """mIoU against cumulative annotation hours (log x), one panel per cost profile, every method:
    mean over seeds with the t-interval band. The model trained on L alone (0 h) is drawn at a
    third of the horizon's low end."""
    plt = _plt()
    profiles = list(analysis.horizons)
    fig, axes = plt.subplots(1, max(1, len(profiles)), figsize=(5.2 * max(1, len(profiles)), 4.4),
                             dpi=100, squeeze=False)
    for ax, profile in zip(axes[0], profiles):
        low, _ = analysis.horizons[profile]
        for i, s in enumerate(analysis.strategies):
            runs = [results.runs[s][k] for k in sorted(results.runs[s])]
            hours = np.mean([r.hours[profile] for r in runs], axis=0)
            mean, lo, hi = _band(np.array([r.miou for r in runs]), analysis.level)
            x = np.where(hours > 0, hours, low / 3)
            style, letter = _STYLE.get(results.kinds[s], (":", results.kinds[s]))
            color = f"C{i % 10}"
            ax.plot(x, mean, style, color=color, marker="o", ms=2.5, lw=1.2, label=f"{s} ({letter})")
            if len(runs) > 1:  # mIoU is a percentage: the band is drawn within [0, 100]
                ax.fill_between(x, np.clip(lo, 0, 100), np.clip(hi, 0, 100), color=color, alpha=0.15, lw=0)
        ax.set_xscale("log")
        ax.set_xlabel(f"cumulative annotation hours ({profile}, Table 1)")
        ax.set_ylabel("test mIoU (%)")
        ax.set_title(f"{profile}", fontsize=10)
        ax.grid(alpha=0.3)
    n = sorted({len(results.runs[s]) for s in analysis.strategies})
    seeds = f"{n[0]}" if len(n) == 1 else f"{n[0]}–{n[-1]}"
    fig.suptitle(f"Test mIoU against annotation time: mean over {seeds} seeds, {analysis.level:.0%} CI "
                 f"(L alone drawn at left)", fontsize=10)
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, metadata=_METADATA)
    plt.close(fig)
    return path


def forest_rows(results: Results, analysis: Analysis, metric: str, profile: str = "") -> list[dict]:
    """One row per compared method on ``metric`` (and ``profile``), in the report's order: the
    mean difference reference − method with its interval, each seed's difference, and whether the
    verdict is resolved. Methods without a test (fewer than two shared seeds) are left out."""
    values = analysis.values[metric, profile]
    rows = []
    for c in analysis.comparisons:
        if c.metric != metric or c.profile != profile or c.test is None or c.test.n < 2:
            continue
        per_seed = [values[analysis.reference][k] - values[c.other][k] for k in c.seeds]
        rows.append({"method": c.other, "kind": results.kinds[c.other], "mean": c.test.diff.mean,
                     "low": c.test.diff.low, "high": c.test.diff.high, "per_seed": per_seed,
                     "resolved": c.verdict.startswith("resolved"), "p_holm": c.p_holm})
    return rows


def paired_figure(results: Results, analysis: Analysis, path: Path, profile: str) -> Path | None:
    """A forest plot of the paired comparisons: reference − method on final mIoU and on the AUC
    under ``profile``, the mean with its interval (filled where the verdict is resolved) over each
    seed's difference. None (nothing written) when no comparison has a test."""
    panels = [("final_miou", "", "final mIoU")]
    if profile in analysis.horizons:
        panels.append(("auc", profile, f"AUC, log {profile} hours"))
    panels = [(m, p, t, forest_rows(results, analysis, m, p)) for m, p, t in panels]
    panels = [panel for panel in panels if panel[3]]
    if not panels:
        return None
    plt = _plt()
    height = 1.7 + 0.42 * max(len(rows) for *_, rows in panels)
    fig, axes = plt.subplots(1, len(panels), figsize=(6.0 * len(panels), height), dpi=100, squeeze=False)
    for ax, (_, _, title, rows) in zip(axes[0], panels):
        y = np.arange(len(rows))[::-1]
        for yi, row in zip(y, rows):
            color = "C3" if row["resolved"] and row["mean"] < 0 else "C2" if row["resolved"] else "0.35"
            ax.plot(row["per_seed"], [yi] * len(row["per_seed"]), "|", color=color, ms=7, alpha=0.6)
            ax.plot([row["low"], row["high"]], [yi, yi], "-", color=color, lw=2)
            ax.plot(row["mean"], yi, "o", ms=7, color=color, mfc=color if row["resolved"] else "white", mew=1.5)
        ax.axvline(0.0, color="black", lw=0.8)
        letters = [_STYLE.get(row["kind"], ("", row["kind"]))[1] for row in rows]
        ax.set_yticks(y, [f"{row['method']} ({letter}), Holm p {row['p_holm']:.2g}"
                          for row, letter in zip(rows, letters)], fontsize=8)
        ax.set_xlabel(f"{analysis.reference} − method: {title}", fontsize=9)
        ax.tick_params(axis="x", labelsize=8)
        ax.grid(alpha=0.3, axis="x")
    fig.suptitle(f"{analysis.reference} against each method, paired by seed, in mIoU points: mean and "
                 f"{analysis.level:.0%} CI\n(filled: resolved; green: {analysis.reference} better, red: worse; "
                 "ticks: seeds)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, metadata=_METADATA)
    plt.close(fig)
    return path


def lambda_figure(results: Results, analysis: Analysis, path: Path, profile: str) -> Path | None:
    """Final mIoU and AUC (under ``profile``) against λ, one line per mapping, with t-intervals.
    None (nothing written) when fewer than two (λ, mapping) points exist; λ = 0 is drawn at the
    left of the smallest positive λ."""
    points = lambda_points(results)
    if len(set(points.values())) < 2:
        return None
    plt = _plt()
    metrics = [("final_miou", "", "final mIoU (%)")]
    if profile in analysis.horizons:
        metrics.append(("auc", profile, f"AUC over log hours ({profile}, mIoU %)"))
    positive = [lam for lam, _ in points.values() if lam > 0]
    zero_at = (min(positive) / 10) if positive else 1.0
    fig, axes = plt.subplots(1, len(metrics), figsize=(5.2 * len(metrics), 4.2), dpi=100, squeeze=False)
    mappings = sorted({m for _, m in points.values()})
    for ax, (metric, prof, ylabel) in zip(axes[0], metrics):
        for j, mapping in enumerate(mappings):
            labels = sorted((s for s, (_, m) in points.items() if m == mapping), key=lambda s: points[s][0])
            lam = np.array([points[s][0] for s in labels])
            ivs = [analysis.intervals[metric, prof][s] for s in labels]
            mean = np.array([iv.mean for iv in ivs])
            err = np.array([[iv.mean - iv.low for iv in ivs], [iv.high - iv.mean for iv in ivs]])
            err = np.where(np.isnan(err), 0.0, err)
            x = np.where(lam > 0, lam, zero_at)
            ax.errorbar(x, mean, yerr=err, marker="o", ms=4, capsize=3, color=f"C{j}", label=f"G {mapping}")
        ax.set_xscale("log")
        ax.set_xlabel("λ (weight of the redundancy term)")
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(f"λ / mapping study: mean over seeds, {analysis.level:.0%} CI", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, metadata=_METADATA)
    plt.close(fig)
    return path
