"""The plots of a run: test mIoU against the iteration and against annotation hours."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .results import summarize

_KINDS = {"binary": ("B", "binary feedback: yes/no answers"), "pixel": ("P", "pixel labels: whole images")}


def plot_results(rows: list[dict], out: Path, cost_profile: str = "cityscapes") -> list[Path]:
    """mIoU against iteration and against annotation hours (log scale), one line a strategy.

    Lines are marked (B) for binary feedback (solid) and (P) for pixel labels (dashed); with more
    than one seed the band is ± one standard deviation over the seeds.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.ticker import MaxNLocator

    summary = summarize(rows, cost_profile)
    strategies = list(dict.fromkeys(s["strategy"] for s in summary))
    seeds = len({row["seed"] for row in rows})
    runs = f"{seeds} seed{'s' if seeds > 1 else ''}" + (", mean ± std" if seeds > 1 else "")
    paths = []
    for x_key, xlabel, title, name in (
        ("iteration", "active-learning iteration", "Test mIoU after each round", "miou_vs_iteration.png"),
        ("hours", f"cumulative annotation hours (Table 1, {cost_profile} profile)",
         "Test mIoU against annotation time", "miou_vs_hours.png"),
    ):
        fig, ax = plt.subplots(figsize=(6.4, 4.6), dpi=100)
        kinds = []
        for strategy in strategies:
            pts = [s for s in summary if s["strategy"] == strategy]
            kind = pts[0]["kind"]
            kinds.append(kind)
            x = np.array([p[x_key] for p in pts], dtype=float)
            y = np.array([p["miou"] for p in pts])
            err = np.array([p["miou_std"] for p in pts])
            style = "--" if kind == "pixel" else "-"
            if x_key == "hours":
                x = np.maximum(x, 1e-3)  # iteration 0 costs nothing; draw it at the left edge
            ax.plot(x, y, style, marker="o", ms=3, label=f"{strategy} ({_KINDS.get(kind, (kind,))[0]})")
            if pts[0]["runs"] > 1:
                ax.fill_between(x, y - err, y + err, alpha=0.15)
        if x_key == "hours":
            ax.set_xscale("log")
        else:
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel(xlabel)
        ax.set_ylabel("test mIoU (%)")
        ax.set_title(f"{title} ({runs})", fontsize=10)
        ax.grid(alpha=0.3)
        handles, labels = ax.get_legend_handles_labels()
        for kind in dict.fromkeys(kinds):  # what (B) and (P) mean, as legend entries without a line
            letter, meaning = _KINDS.get(kind, (kind, kind))
            handles.append(Line2D([], [], linestyle="none"))
            labels.append(f"({letter}) {meaning}")
        ax.legend(handles, labels, fontsize=8)
        fig.tight_layout()
        path = Path(out) / name
        fig.savefig(path)
        plt.close(fig)
        paths.append(path)
    return paths
