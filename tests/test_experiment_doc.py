"""docs/experiment.md in step with its results, the demo with its config, a run repeatable on
one machine, and the plots labelled."""

from __future__ import annotations

import csv
import re
import tomllib
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "experiment.md"
RESULTS = ROOT / "docs" / "experiment" / "results.csv"
DEMO_RESULTS = ROOT / "docs" / "experiment" / "demo-results.csv"
TIMING = {"train_seconds", "select_seconds"}


def _section(title: str) -> str:
    text = DOC.read_text(encoding="utf-8")
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start:end if end >= 0 else None]


def _tables(text: str) -> list[list[list[str]]]:
    """The markdown tables of ``text``: rows of cells, header first, the |---| line dropped."""
    tables, current = [], []
    for line in text.splitlines() + [""]:
        if line.startswith("|"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if not all(re.fullmatch(r":?-+:?", c) for c in cells):
                current.append(cells)
        elif current:
            tables.append(current)
            current = []
    return tables


def _rows(path: Path) -> dict[str, dict[int, list[dict]]]:
    by: dict[str, dict[int, list[dict]]] = defaultdict(lambda: defaultdict(list))
    for row in csv.DictReader(path.open(encoding="utf-8")):
        by[row["strategy"]][int(row["iteration"])].append(row)
    return by


def test_the_docs_results_tables_are_those_of_results_csv():
    by = _rows(RESULTS)
    per_round, final = _tables(_section("Results"))[:2]
    assert per_round[0] == ["strategy", "kind", "it 0", "it 1", "it 2", "it 3", "it 4"]
    assert {row[0] for row in per_round[1:]} == set(by)
    for strategy, kind, *cells in per_round[1:]:
        for iteration, cell in enumerate(cells):
            mean, std = (float(x) for x in cell.strip("*").split(" ± "))
            mious = np.array([float(r["miou"]) for r in by[strategy][iteration]])
            assert (mean, std) == (round(mious.mean(), 1), round(mious.std(), 1)), (strategy, iteration)
            assert by[strategy][iteration][0]["kind"] == kind
    for strategy, mean_std, per_seed, answers, images, *hours in final[1:]:
        last = by[strategy][4]
        assert [float(x) for x in per_seed.split(", ")] == [round(float(r["miou"]), 1) for r in last]
        assert int(answers) == int(last[0]["cum_queries"]) and int(images) == int(last[0]["cum_pixel_images"])
        for cell, profile in zip(hours, ("flickr", "cityscapes", "pascal")):
            assert float(cell) == round(np.mean([float(r[f"hours_{profile}"]) for r in last]), 2)


def test_the_docs_demo_table_is_demo_results_csv_and_the_demo_config():
    by = _rows(DEMO_RESULTS)
    table = next(t for t in _tables(_section("Reproducibility")) if t[0][:2] == ["strategy", "kind"])
    assert {row[0] for row in table[1:]} == set(by)
    for strategy, kind, *cells in table[1:]:
        assert [float(c) for c in cells] == [round(float(by[strategy][i][0]["miou"]), 2) for i in range(len(cells))]
    demo = tomllib.loads((ROOT / "examples" / "loop-demo.toml").read_text(encoding="utf-8"))
    assert set(by) == set(demo["loop"]["strategies"])
    assert {int(r["seed"]) for its in by.values() for rows in its.values() for r in rows} == set(demo["loop"]["seeds"])
    assert all(sorted(its) == list(range(demo["loop"]["iterations"] + 1)) for its in by.values())


def test_the_doc_no_longer_claims_the_same_numbers_everywhere():
    text = DOC.read_text(encoding="utf-8")
    assert "prints the same seed-0 numbers" not in text


torch = pytest.importorskip("torch")
pytest.importorskip("sklearn")
pytest.importorskip("matplotlib")

from alsel.loop.experiment import load_config, plot_results, run_experiment  # noqa: E402

TINY = {"data": {"size": 16, "scale": [6, 10], "labeled": 4, "unlabeled": 12, "test": 4},
        "loop": {"iterations": 2, "budget": 4, "c_max": 2, "seeds": [0, 1],
                 "strategies": ["proposed", "ee", "pixel-entropy"]},
        "train": {"steps": 3, "epochs": 1, "batch_size": 4, "width": 4}}


def test_a_run_is_repeatable_on_one_machine(tmp_path):
    config = load_config(overrides=TINY)
    first = run_experiment(config, tmp_path / "a", plots=False)
    second = run_experiment(config, tmp_path / "b", plots=False)
    assert len(first) == 2 * 3 * 3
    strip = [[(k, v) for k, v in row.items() if k not in TIMING] for row in first]
    assert strip == [[(k, v) for k, v in row.items() if k not in TIMING] for row in second]


def test_plots_have_titles_integer_iteration_ticks_and_say_what_b_and_p_mean(tmp_path, monkeypatch):
    import matplotlib.figure

    figures = []
    save = matplotlib.figure.Figure.savefig
    monkeypatch.setattr(matplotlib.figure.Figure, "savefig",
                        lambda self, *a, **k: (figures.append(self), save(self, *a, **k))[1])
    rows = [{k: (float(v) if k in ("miou", "hours_cityscapes") else int(v) if k in ("iteration", "seed") else v)
             for k, v in row.items()} for row in csv.DictReader(RESULTS.open(encoding="utf-8"))]
    paths = plot_results(rows, tmp_path)
    assert [p.name for p in paths] == ["miou_vs_iteration.png", "miou_vs_hours.png"]
    for figure in figures:
        ax = figure.axes[0]
        assert ax.get_title() and "2 seeds" in ax.get_title()
        legend = [t.get_text() for t in ax.get_legend().get_texts()]
        assert "(B) binary feedback: yes/no answers" in legend
        assert "(P) pixel labels: whole images" in legend
        assert "proposed (B)" in legend and "pixel-random (P)" in legend
    ax = figures[0].axes[0]
    ax.figure.canvas.draw()
    ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
    assert ticks == [0, 1, 2, 3, 4]
