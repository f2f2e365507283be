"""alsel.evidence: merging results files, pairing by seed, the report and `alsel report`."""

from __future__ import annotations

import csv
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from alsel.cli import main
from alsel.evidence import EvidenceError, analyse, lambda_points, load_results, write_report

COLUMNS = ["strategy", "kind", "seed", "iteration", "miou", "queries", "cum_queries", "cum_pixel_images",
           "train_seconds", "hours_flickr", "hours_cityscapes", "hours_pascal"]
# seconds per answer and per pixel-labelled image (Table 1)
PRICE = {"flickr": (2.0, 7.8 * 60), "cityscapes": (4.0, 37.5 * 60), "pascal": (3.0, 18.2 * 60)}


def rows_of(strategy: str, kind: str, seed: int, mious: list[float], per_round: int = 10) -> list[dict]:
    rows = []
    for it, miou in enumerate(mious):
        answers = it * per_round if kind == "binary" else 0
        images = it * per_round if kind == "pixel" else 0
        row = {"strategy": strategy, "kind": kind, "seed": seed, "iteration": it, "miou": miou,
               "queries": per_round if it and kind == "binary" else 0, "cum_queries": answers,
               "cum_pixel_images": images, "train_seconds": 1.5 + seed + it}
        for profile, (answer_s, image_s) in PRICE.items():
            row[f"hours_{profile}"] = (answers * answer_s + images * image_s) / 3600
        rows.append(row)
    return rows


def write_csv(path: Path, rows: list[dict], config: dict | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    if config is not None:
        (path.parent / "config.json").write_text(json.dumps(config))
    return path


def config_of(seeds, strategies, lr=0.005, iterations=2) -> dict:
    return {"data": {"labeled": 40}, "loop": {"iterations": iterations, "seeds": seeds, "strategies": strategies,
                                                "cost_profile": "cityscapes"},
            "train": {"lr": lr}, "proposed": {"lam": 1.0, "g_mapping": "minmax", "r_mapping": "minmax",
                                              "formulation": "none"},
            "web": {"port": 8000}}


# final mIoU per seed: proposed beats rr by 2, 3, 1 points on seeds 0, 1, 2
FINAL = {"proposed": [40.0, 42.0, 41.0], "rr": [38.0, 39.0, 40.0], "pixel-random": [50.0, 52.0, 51.0]}
KIND = {"proposed": "binary", "rr": "binary", "pixel-random": "pixel"}


def experiment_rows(strategies=("proposed", "rr", "pixel-random"), seeds=(0, 1, 2)) -> list[dict]:
    rows = []
    for seed in seeds:
        for s in strategies:
            rows += rows_of(s, KIND[s], seed, [30.0 + seed, 35.0, FINAL[s][seed]])
    return rows


def test_final_miou_is_paired_by_seed(tmp_path):
    results = load_results([write_csv(tmp_path / "a" / "results.csv", experiment_rows())])
    analysis = analyse(results, "proposed")
    final = {c.other: c for c in analysis.comparisons if c.metric == "final_miou"}
    # d = [2, 3, 1]: mean 2, s = 1, t = 2 / (1/sqrt 3) = 2 sqrt 3; df 2: p = 1 - t / sqrt(2 + t^2)
    t = 2 * math.sqrt(3)
    assert final["rr"].test.diff.mean == pytest.approx(2.0)
    assert final["rr"].test.p_t == pytest.approx(1 - t / math.sqrt(2 + t * t))
    assert final["rr"].seeds == (0, 1, 2) and final["rr"].unpaired == ()
    assert analysis.intervals["final_miou", ""]["rr"].mean == pytest.approx(39.0)


def test_a_method_missing_a_seed_is_paired_on_the_shared_seeds_and_reported(tmp_path):
    rows = [r for r in experiment_rows() if not (r["strategy"] == "rr" and r["seed"] == 0)]
    results = load_results([write_csv(tmp_path / "results.csv", rows)])
    comparison = next(c for c in analyse(results).comparisons if c.metric == "final_miou" and c.other == "rr")
    assert comparison.seeds == (1, 2) and comparison.unpaired == ("rr lacks seed 0",)
    # seeds 1, 2 only: d = [42 - 39, 41 - 40] = [3, 1]
    assert comparison.test.n == 2 and comparison.test.diff.mean == pytest.approx(2.0)
    text = (write_report([tmp_path / "results.csv"], tmp_path / "out", figures=False).files[0]).read_text()
    assert "rr lacks seed 0" in text


def test_a_seed_the_reference_lacks_is_reported_too(tmp_path):
    rows = [r for r in experiment_rows() if not (r["strategy"] == "proposed" and r["seed"] == 2)]
    results = load_results([write_csv(tmp_path / "results.csv", rows)])
    comparison = next(c for c in analyse(results).comparisons if c.metric == "final_miou" and c.other == "rr")
    assert comparison.seeds == (0, 1) and comparison.unpaired == ("proposed lacks seed 2",)
    assert comparison.test.diff.mean == pytest.approx(((40 - 38) + (42 - 39)) / 2)


def test_pairing_uses_seed_numbers_not_positions(tmp_path):
    # rr has seeds 1 and 2 only; proposed 0, 1, 2: rr's first value must meet proposed's seed 1
    rows = experiment_rows(("proposed",)) + [r for r in experiment_rows(("rr",)) if r["seed"] > 0]
    results = load_results([write_csv(tmp_path / "results.csv", rows)])
    comparison = next(c for c in analyse(results).comparisons if c.metric == "final_miou")
    assert comparison.test.diff.mean == pytest.approx(((42 - 39) + (41 - 40)) / 2)


def test_parts_merge_and_identical_duplicates_count_once(tmp_path):
    a = write_csv(tmp_path / "a" / "results.csv", experiment_rows(seeds=(0, 1)),
                  config_of([0, 1], ["proposed", "rr", "pixel-random"]))
    b_rows = experiment_rows(seeds=(1, 2))
    for row in b_rows:
        row["train_seconds"] += 100  # wall-clock times differ between runs: not compared
    b = write_csv(tmp_path / "b" / "results.csv", b_rows, config_of([1, 2], ["proposed", "rr", "pixel-random"]))
    results = load_results([a, b])
    assert results.seeds("rr") == [0, 1, 2]
    assert results.duplicates == 9  # seed 1: 3 strategies x 3 iterations


def test_overlapping_rows_that_disagree_are_refused(tmp_path):
    a = write_csv(tmp_path / "a" / "results.csv", experiment_rows(seeds=(0,)))
    rows = experiment_rows(seeds=(0,))
    rows[4]["miou"] = 99.0  # rr, seed 0, iteration 1
    b = write_csv(tmp_path / "b" / "results.csv", rows)
    with pytest.raises(EvidenceError, match=r"'rr', seed 0, iteration 1 .* different miou"):
        load_results([a, b])


def test_configs_that_differ_beyond_seeds_and_strategies_are_refused(tmp_path):
    a = write_csv(tmp_path / "a" / "results.csv", experiment_rows(seeds=(0,)), config_of([0], ["proposed"]))
    b = write_csv(tmp_path / "b" / "results.csv", experiment_rows(seeds=(1,)),
                  config_of([1], ["rr"], lr=0.01))
    with pytest.raises(EvidenceError, match=r"not comparable.*\[train\] lr"):
        load_results([a, b])


def test_one_label_with_two_definitions_is_refused(tmp_path):
    one = [{"name": "proposed", "label": "proposed-x", "lam": 0.1}]
    two = [{"name": "proposed", "label": "proposed-x", "lam": 0.01}]
    a = write_csv(tmp_path / "a" / "results.csv", experiment_rows(seeds=(0,)), config_of([0], one))
    b = write_csv(tmp_path / "b" / "results.csv", experiment_rows(seeds=(1,)), config_of([1], two))
    with pytest.raises(EvidenceError, match="'proposed-x' means two things"):
        load_results([a, b])


def test_incomplete_runs_are_left_out_and_listed(tmp_path):
    rows = experiment_rows() + rows_of("ee", "binary", 0, [30.0, 33.0])  # stops at iteration 1 of 2
    results = load_results([write_csv(tmp_path / "a" / "results.csv", rows,
                                      config_of([0, 1, 2], ["proposed"], iterations=2))])
    assert results.incomplete == [("ee", 0, 1)] and "ee" not in results.runs


@pytest.mark.parametrize("edit, pattern", [
    (lambda rows: [{k: v for k, v in r.items() if k != "miou"} for r in rows], r"missing column\(s\) \['miou'\]"),
    (lambda rows: [{**r, "miou": "high"} if i == 2 else r for i, r in enumerate(rows)], r"line 4: column 'miou'"),
    (lambda rows: [r for r in rows if not (r["strategy"] == "rr" and r["iteration"] == 1)],
     r"'rr', seed 0: iterations \[0, 2\]"),
    (lambda rows: [{**r, "kind": "pixel"} if i == 4 else r for i, r in enumerate(rows)],
     "strategy 'rr' has kind 'pixel' here and 'binary'"),
])
def test_bad_files_name_the_problem(tmp_path, edit, pattern):
    rows = edit(experiment_rows(seeds=(0,)))
    path = tmp_path / "results.csv"
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    with pytest.raises(EvidenceError, match=pattern):
        load_results([path])


def test_lambda_points_from_config_and_from_labels(tmp_path):
    strategies = ["proposed", {"name": "proposed", "label": "p-log", "g_mapping": "log", "lam": 0.01},
                  {"name": "proposed", "label": "p-paper", "formulation": "paper", "rounding": "topb"}]
    rows = []
    for label in ("proposed", "p-log", "p-paper"):
        rows += rows_of(label, "binary", 0, [30.0, 31.0, 32.0])
    results = load_results([write_csv(tmp_path / "a" / "results.csv", rows, config_of([0], strategies))])
    assert lambda_points(results) == {"proposed": (1.0, "minmax"), "p-log": (0.01, "log")}
    bare = rows_of("proposed-lam1e-05-minmax", "binary", 0, [30.0, 31.0, 32.0])
    results = load_results([write_csv(tmp_path / "b" / "results.csv", bare)])
    assert lambda_points(results) == {"proposed-lam1e-05-minmax": (1e-05, "minmax")}


def test_the_report_is_byte_identical_when_rerun(tmp_path):
    rows = experiment_rows()
    for lam, mapping in ((0.01, "log"), (0.001, "minmax")):
        label = f"proposed-lam{lam:g}-{mapping}"
        for seed in (0, 1, 2):
            rows += rows_of(label, "binary", seed, [30.0 + seed, 34.0, 39.0 + lam * 100])
    source = write_csv(tmp_path / "run" / "results.csv", rows)
    first = write_report([source], tmp_path / "one")
    # another process with another string-hash seed: no set or dict order may leak into the output
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    subprocess.run([sys.executable, "-m", "alsel.cli", "report", str(source), "--out", str(tmp_path / "two")],
                   check=True, capture_output=True, env=env)
    names = sorted(p.name for p in first.files)
    assert names == ["figure2.png", "lambda.png", "paired.png", "stats.csv", "tables.md"]
    for name in names:
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes(), name
    text = (tmp_path / "one" / "tables.md").read_text()
    assert "## λ / mapping study" in text and "| proposed-lam0.01-log | 0.01 | log |" in text


def test_cli_writes_the_report_and_prints_verdicts(tmp_path, capsys):
    source = write_csv(tmp_path / "results.csv", experiment_rows())
    status = main(["report", str(source), "--out", str(tmp_path / "out"), "--no-figures"])
    out = capsys.readouterr().out
    assert status == 0
    assert "proposed vs rr, final mIoU: difference +2.00 (n = 3): not resolved" in out
    with (tmp_path / "out" / "stats.csv").open() as f:
        rows = list(csv.DictReader(f))
    paired = [r for r in rows if r["section"] == "paired" and r["metric"] == "final_miou" and r["strategy"] == "rr"]
    assert paired and paired[0]["seeds"] == "0 1 2" and paired[0]["n"] == "3"


@pytest.mark.parametrize("argv, pattern", [
    (["missing.csv"], "results file missing.csv does not exist"),
    (["{csv}", "--reference", "ee"], "--reference 'ee' has no complete run"),
    (["{csv}", "--level", "95"], "--level: must be in (0, 1)"),
    (["{csv}", "--profile", "mars"], "--profile 'mars'"),
    (["{csv}", "{csv}"], "given twice"),
])
def test_cli_errors_exit_2_naming_the_problem(tmp_path, capsys, argv, pattern):
    source = write_csv(tmp_path / "results.csv", experiment_rows())
    argv = [a.format(csv=source) for a in argv]
    status = main(["report", *argv, "--out", str(tmp_path / "out")])
    assert status == 2
    assert pattern in capsys.readouterr().err


def test_sample_report_of_the_committed_experiment(tmp_path):
    """The committed docs/experiment/results.csv goes through the whole command."""
    source = Path(__file__).resolve().parent.parent / "docs" / "experiment" / "results.csv"
    result = subprocess.run([sys.executable, "-m", "alsel.cli", "report", str(source), "--out", str(tmp_path)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "proposed vs rr, final mIoU: difference +1.85 (n = 2)" in result.stdout
    assert (tmp_path / "figure2.png").stat().st_size > 0


def test_methods_keeps_only_those_strategies_and_says_so(tmp_path):
    rows = experiment_rows()
    for seed, final in enumerate([39.0, 30.0, 45.0]):         # ee: differences 1, 12, -4 (a large p)
        rows += rows_of("ee", "binary", seed, [30.0 + seed, 35.0, final])
    rows += rows_of("ee-short", "binary", 0, [30.0, 35.0])    # incomplete: stops at iteration 1
    source = write_csv(tmp_path / "results.csv", rows)
    whole = write_report([source], tmp_path / "all", figures=False)
    assert {c.other for c in whole.analysis.comparisons} == {"rr", "ee", "pixel-random"}
    status = main(["report", str(source), "--out", str(tmp_path / "out"), "--no-figures",
                   "--methods", "proposed, rr"])
    assert status == 0
    with (tmp_path / "out" / "stats.csv").open() as f:
        strategies = {r["strategy"] for r in csv.DictReader(f)}
    assert strategies == {"proposed", "rr"}
    text = (tmp_path / "out" / "tables.md").read_text()
    assert "Left out on purpose (--methods): ee, ee-short, pixel-random." in text
    assert "pixel-random" not in text.split("Left out on purpose")[1].split("\n", 1)[1]
    # Holm over one comparison: the adjusted p is the raw p (among three, rr's was doubled)
    kept = write_report([source], tmp_path / "two", methods=["proposed", "rr"], figures=False)
    (rr,) = [c for c in kept.analysis.comparisons if c.metric == "final_miou"]
    (rr_all,) = [c for c in whole.analysis.comparisons if c.metric == "final_miou" and c.other == "rr"]
    assert rr.p_holm == pytest.approx(rr.test.p_t) and rr_all.p_holm > rr.p_holm


@pytest.mark.parametrize("methods, pattern", [
    ("proposed,ee", "--methods ee: no complete run of that name; choose among: proposed, rr, pixel-random"),
    ("rr", "--methods rr leaves out the reference 'proposed'"),
    (" , ", "--methods: give one or more strategy labels"),
])
def test_methods_errors_name_the_flag(tmp_path, capsys, methods, pattern):
    source = write_csv(tmp_path / "results.csv", experiment_rows())
    status = main(["report", str(source), "--out", str(tmp_path / "out"), "--methods", methods])
    assert status == 2
    assert pattern in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_forest_plot_rows_are_the_paired_differences(tmp_path):
    from alsel.evidence.figures import forest_rows

    rows = experiment_rows()
    rows += rows_of("ee", "binary", 0, [30.0, 35.0, 39.0])    # one seed: no test, so no row
    results = load_results([write_csv(tmp_path / "results.csv", rows)])
    analysis = analyse(results, "proposed")
    forest = {r["method"]: r for r in forest_rows(results, analysis, "final_miou")}
    assert sorted(forest) == ["pixel-random", "rr"]
    assert forest["rr"]["per_seed"] == pytest.approx([2.0, 3.0, 1.0])
    assert forest["rr"]["mean"] == pytest.approx(2.0) and forest["rr"]["low"] < 0 < forest["rr"]["high"]
    assert forest["rr"]["kind"] == "binary" and not forest["rr"]["resolved"]
    # pixel-random is 10 points better on every seed: resolved, reference worse
    assert forest["pixel-random"]["per_seed"] == pytest.approx([-10.0, -10.0, -10.0])
    assert forest["pixel-random"]["resolved"]
    report = write_report([tmp_path / "results.csv"], tmp_path / "out")
    assert (tmp_path / "out" / "paired.png") in report.files
