"""The results of a run folder: result rows from the answer stores, results.csv, summaries."""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

import numpy as np

from .store import AnswerStore, atomic_write_text


def kept(out: str | os.PathLike) -> dict[str, int]:
    """What the stores under ``out/stores`` hold: ``stores``, ``answers``, ``rows`` (evaluated
    rounds) and ``pixel_images`` (images labelled by pixel-level strategies, L not counted)."""
    totals = {"stores": 0, "answers": 0, "rows": 0, "pixel_images": 0}
    for path in sorted((Path(out) / "stores").glob("*.json")):
        store = AnswerStore.load(path)
        totals["stores"] += 1
        totals["answers"] += store.n_answers
        totals["rows"] += len(store.history)
        totals["pixel_images"] += len(store.labeled_images()) - len(store.initial_images)
    return totals


def collect_rows(out: Path) -> list[dict]:
    """All result rows of the stores under ``out/stores``."""
    rows = []
    for path in sorted((Path(out) / "stores").glob("*.json")):
        rows.extend(AnswerStore.load(path).history)
    return rows


def write_results(rows: list[dict], path: Path) -> None:
    """results.csv: one row per strategy, seed and iteration (union of all columns)."""
    columns: list[str] = []
    for row in rows:
        columns.extend(k for k in row if k not in columns)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()})
    atomic_write_text(path, buffer.getvalue())


def summarize(rows: list[dict], cost_profile: str = "cityscapes") -> list[dict]:
    """Per strategy: mean mIoU (and std over seeds) at each iteration, and the hours."""
    table: dict[str, dict[int, list[dict]]] = {}
    for row in rows:
        table.setdefault(row["strategy"], {}).setdefault(row["iteration"], []).append(row)
    summary = []
    for strategy, by_iter in table.items():
        for iteration in sorted(by_iter):
            group = by_iter[iteration]
            mious = np.array([r["miou"] for r in group])
            summary.append({
                "strategy": strategy, "kind": group[0]["kind"], "iteration": iteration,
                "miou": float(mious.mean()), "miou_std": float(mious.std()), "runs": len(group),
                "hours": float(np.mean([r[f"hours_{cost_profile}"] for r in group])),
            })
    return summary
