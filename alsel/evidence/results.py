"""Reading and merging results.csv files written by ``alsel run`` (parts of one experiment).

An experiment too long for one sitting runs as parts: the same config with other seeds or other
strategies, each into its own folder. :func:`load_results` merges their results.csv files, and
refuses what would make the comparison unfair or ambiguous:

* a (strategy, seed, iteration) row given twice with different values (the ``*_seconds`` columns,
  wall-clock times, are not compared);
* one strategy label with two kinds, or (from the config.json beside each CSV) two definitions;
* configs that differ in anything but ``[loop] seeds``, ``[loop] strategies``,
  ``[loop] cost_profile`` (which hours the plots of ``alsel run`` show) and ``[web]``: such runs do
  not share L, U, test and the training recipe, so their seeds do not pair;
* a run whose iterations are not 0, 1, ..., k.

A run that has not reached the last iteration (still running, or stopped) is kept out of the
statistics and listed in :attr:`Results.incomplete`; nothing is dropped without being listed.
"""

from __future__ import annotations

import copy
import csv
import dataclasses
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = ["EvidenceError", "Run", "Results", "load_results", "comparable_config", "strategy_definitions",
           "REQUIRED_COLUMNS", "KIND_ORDER"]

REQUIRED_COLUMNS = ("strategy", "kind", "seed", "iteration", "miou")
#: Order of the kinds in every table and legend (the paper's B, R, P).
KIND_ORDER = ("binary", "region", "pixel")
#: Config keys that may differ between parts of one experiment.
FREE_KEYS = {"loop": ("seeds", "strategies", "cost_profile"), "web": None}
_HOURS = re.compile(r"hours_([A-Za-z0-9]+)")
#: "proposed-lam0.01-log": the λ-study label convention when no config.json says more.
LAMBDA_LABEL = re.compile(r"proposed-lam(?P<lam>[0-9][0-9.]*(?:[eE][+-]?[0-9]+)?)-(?P<mapping>[a-z]+)")


class EvidenceError(ValueError):
    """Results that cannot be merged or analysed; the message names the file, column or run."""


@dataclass(frozen=True)
class Run:
    """One strategy on one seed: its rounds in order (``iteration`` is 0..k)."""

    strategy: str
    kind: str
    seed: int
    iteration: np.ndarray
    miou: np.ndarray
    hours: dict[str, np.ndarray]       # profile -> cumulative hours per round
    counts: dict[str, np.ndarray]      # cum_queries / cum_regions / cum_pixel_images, where present
    sources: tuple[str, ...]           # the files its rows came from


@dataclass
class Results:
    """Merged results: complete runs by strategy and seed, and what was left out."""

    runs: dict[str, dict[int, Run]]             # strategy -> seed -> complete run
    kinds: dict[str, str]
    profiles: list[str]                          # cost profiles with an hours_<profile> column
    final_iteration: int
    incomplete: list[tuple[str, int, int]] = field(default_factory=list)  # (strategy, seed, last iteration)
    definitions: dict[str, dict | None] = field(default_factory=dict)    # label -> strategy entry (config.json)
    config: dict | None = None                   # the common config (seeds/strategies of the first part)
    unchecked: list[str] = field(default_factory=list)  # files without a config.json beside them
    duplicates: int = 0                          # identical rows given more than once
    excluded: list[str] = field(default_factory=list)  # strategies left out on purpose (:meth:`only`)

    @property
    def strategies(self) -> list[str]:
        """Every strategy with at least one complete run, in table order (see :func:`order`)."""
        return order(self.runs, self.kinds)

    def seeds(self, strategy: str) -> list[int]:
        return sorted(self.runs.get(strategy, {}))

    def only(self, labels) -> Results:
        """These strategies alone (``alsel report --methods``): the others' runs, including
        incomplete ones, are left out and listed in :attr:`excluded`. A label without a complete
        run is refused, naming the ones there are."""
        labels = list(dict.fromkeys(labels))
        unknown = [label for label in labels if label not in self.runs]
        if unknown or not labels:
            raise EvidenceError(f"--methods {','.join(unknown) or '(empty)'}: no complete run of that name; "
                                f"choose among: {', '.join(self.strategies)}.")
        keep = set(labels)
        others = sorted(set(self.runs) | {s for s, _, _ in self.incomplete})
        return dataclasses.replace(
            self, runs={s: r for s, r in self.runs.items() if s in keep},
            kinds={s: k for s, k in self.kinds.items() if s in keep},
            incomplete=[item for item in self.incomplete if item[0] in keep],
            definitions={s: d for s, d in self.definitions.items() if s in keep},
            excluded=[s for s in others if s not in keep])


def order(labels, kinds: dict[str, str], reference: str | None = None) -> list[str]:
    """Reference first, then by kind (binary, region, pixel, others), then by label."""
    def key(label: str):
        kind = kinds.get(label, "")
        rank = KIND_ORDER.index(kind) if kind in KIND_ORDER else len(KIND_ORDER)
        return (label != reference, rank, kind, label)
    return sorted(labels, key=key)


def comparable_config(config: dict) -> dict:
    """``config`` without the keys parts of one experiment may differ in (:data:`FREE_KEYS`)."""
    kept = copy.deepcopy(config)
    for section, keys in FREE_KEYS.items():
        if keys is None:
            kept.pop(section, None)
        elif isinstance(kept.get(section), dict):
            for key in keys:
                kept[section].pop(key, None)
    return kept


def strategy_definitions(config: dict) -> dict[str, dict]:
    """label -> its entry in ``[loop] strategies`` as a table (``name`` plus parameters); a
    "proposed" entry carries the ``[proposed]`` defaults it does not override."""
    out = {}
    for entry in config.get("loop", {}).get("strategies", []):
        entry = {"name": entry} if isinstance(entry, str) else dict(entry)
        label = entry.pop("label", entry.get("name"))
        if entry.get("name") == "proposed" and isinstance(config.get("proposed"), dict):
            entry = {**config["proposed"], **entry}
        out[str(label)] = entry
    return out


def _differences(a, b, path: str = "") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for key in sorted(set(a) | set(b)):
            where = f"[{key}]" if not path else f"{path} {key}"
            if key not in a or key not in b:
                out.append(where)
            else:
                out.extend(_differences(a[key], b[key], where))
        return out
    return [] if a == b else [path or "the config"]


def _read_config(csv_path: Path) -> dict | None:
    path = csv_path.parent / "config.json"
    if not path.is_file():
        return None
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise EvidenceError(f"{path} (beside {csv_path}) is not valid JSON: {exc}; restore the run's "
                            "config.json, or move the CSV to a folder without one.") from None
    if not isinstance(config, dict):
        raise EvidenceError(f"{path} (beside {csv_path}) does not hold a config (a JSON object).")
    return config


def _number(text: str, path: Path, line: int, column: str, integer: bool = False) -> float | int:
    try:
        value = float(text)
    except (TypeError, ValueError):
        value = math.nan
    if not math.isfinite(value) or (integer and value != int(value)):
        what = "an integer" if integer else "a finite number"
        raise EvidenceError(f"{path}, line {line}: column {column!r} must be {what}; got {text!r}.")
    return int(value) if integer else value


def _read_csv(path: Path) -> tuple[list[dict], list[str]]:
    if not path.is_file():
        raise EvidenceError(f"results file {path} does not exist.")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise EvidenceError(f"{path} is not UTF-8 text (byte {exc.start}); pass a results.csv of alsel run.") from None
    reader = csv.DictReader(text.splitlines())
    columns = list(reader.fieldnames or [])
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        raise EvidenceError(f"{path}: missing column(s) {missing}; a results.csv of alsel run has "
                            f"{list(REQUIRED_COLUMNS)} and hours_<profile>.")
    if not any(_HOURS.fullmatch(c) for c in columns):
        raise EvidenceError(f"{path}: no hours_<profile> column (e.g. hours_cityscapes); the report "
                            "needs the annotation hours of every round.")
    rows = []
    for line, raw in enumerate(reader, start=2):
        if None in raw or any(v is None for v in raw.values()):
            raise EvidenceError(f"{path}, line {line}: {len(columns)} columns expected (the header's).")
        if not raw["strategy"] or not raw["kind"]:
            raise EvidenceError(f"{path}, line {line}: empty 'strategy' or 'kind'.")
        row = dict(raw)
        row["_line"] = line
        row["seed"] = _number(raw["seed"], path, line, "seed", integer=True)
        row["iteration"] = _number(raw["iteration"], path, line, "iteration", integer=True)
        row["miou"] = _number(raw["miou"], path, line, "miou")
        for column in columns:
            if _HOURS.fullmatch(column) or column in ("cum_queries", "cum_regions", "cum_pixel_images"):
                row[column] = _number(raw[column], path, line, column) if raw[column] != "" else None
        rows.append(row)
    if not rows:
        raise EvidenceError(f"{path} holds no result rows.")
    return rows, columns


def _same(a, b) -> bool:
    """One value of two rows: numbers compared as numbers (NaN equals NaN), text as text."""
    try:
        x, y = float(a), float(b)
    except (TypeError, ValueError):
        return a == b
    return x == y or (math.isnan(x) and math.isnan(y))


def load_results(paths) -> Results:
    """Merge the results.csv files ``paths`` (see the module's docstring for what is refused)."""
    paths = [Path(p) for p in paths]
    if not paths:
        raise EvidenceError("no results file given; pass one or more results.csv of alsel run.")
    if len(set(map(str, paths))) != len(paths):
        raise EvidenceError(f"a results file is given twice: {[str(p) for p in paths]}.")
    merged: dict[tuple[str, int, int], tuple[dict, Path]] = {}
    kinds: dict[str, tuple[str, Path]] = {}
    profiles: list[str] = []
    base: tuple[dict, Path] | None = None
    definitions: dict[str, tuple[dict, Path]] = {}
    unchecked: list[str] = []
    iterations_of_config: int | None = None
    duplicates = 0
    for path in paths:
        rows, columns = _read_csv(path)
        for column in columns:
            match = _HOURS.fullmatch(column)
            if match and match.group(1) not in profiles:
                profiles.append(match.group(1))
        config = _read_config(path)
        if config is None:
            unchecked.append(str(path))
        else:
            if base is None:
                base = (config, path)
                iterations_of_config = config.get("loop", {}).get("iterations")
            else:
                diff = _differences(comparable_config(base[0]), comparable_config(config))
                if diff:
                    raise EvidenceError(
                        f"{path} comes from a run that is not comparable with {base[1]}: their configs "
                        f"(config.json beside each) differ in {', '.join(diff)}; parts of one experiment "
                        "may differ only in [loop] seeds, strategies, cost_profile and [web].")
            for label, entry in strategy_definitions(config).items():
                if label in definitions and definitions[label][0] != entry:
                    raise EvidenceError(
                        f"strategy {label!r} means two things: {definitions[label][0]} in the config beside "
                        f"{definitions[label][1]}, {entry} in the config beside {path}; give one a new label.")
                definitions.setdefault(label, (entry, path))
        for row in rows:
            label = row["strategy"]
            if label in kinds and kinds[label][0] != row["kind"]:
                raise EvidenceError(f"{path}, line {row['_line']}: strategy {label!r} has kind {row['kind']!r} "
                                    f"here and {kinds[label][0]!r} in {kinds[label][1]}.")
            kinds.setdefault(label, (row["kind"], path))
            key = (label, row["seed"], row["iteration"])
            if key in merged:
                other, other_path = merged[key]
                shared = [c for c in row if c in other and not c.startswith("_") and not c.endswith("_seconds")]
                differ = [c for c in shared if not _same(row[c], other[c])]
                if differ:
                    raise EvidenceError(
                        f"strategy {label!r}, seed {key[1]}, iteration {key[2]} is in {other_path} "
                        f"(line {other['_line']}) and {path} (line {row['_line']}) with different "
                        f"{', '.join(differ)}; keep one of the two runs.")
                duplicates += 1
                continue
            merged[key] = (row, path)
    missing_hours = [p for p in profiles if any(r[f"hours_{p}"] is None for r, _ in merged.values())]
    if missing_hours:
        raise EvidenceError(f"column hours_{missing_hours[0]} is missing or empty in some rows; every file "
                            "must have the same hours_<profile> columns.")
    groups: dict[tuple[str, int], list[tuple[dict, Path]]] = {}
    for (label, seed, _), item in sorted(merged.items()):
        groups.setdefault((label, seed), []).append(item)
    final = max(it for _, _, it in merged)
    if isinstance(iterations_of_config, int) and not isinstance(iterations_of_config, bool):
        if final > iterations_of_config:
            raise EvidenceError(f"rows reach iteration {final}, beyond [loop] iterations = "
                                f"{iterations_of_config} of the config beside {base[1]}.")
        final = iterations_of_config
    runs: dict[str, dict[int, Run]] = {}
    incomplete = []
    count_columns = ("cum_queries", "cum_regions", "cum_pixel_images")
    for (label, seed), items in groups.items():
        rows = [r for r, _ in items]
        iterations = np.array([r["iteration"] for r in rows])
        if not np.array_equal(iterations, np.arange(len(rows))):
            raise EvidenceError(f"strategy {label!r}, seed {seed}: iterations {iterations.tolist()} are not "
                                f"0, 1, ..., k (rows from {sorted({str(p) for _, p in items})}); a part is "
                                "missing or a file is cut.")
        if iterations[-1] < final:
            incomplete.append((label, seed, int(iterations[-1])))
            continue
        run = Run(
            strategy=label, kind=rows[0]["kind"], seed=seed, iteration=iterations,
            miou=np.array([r["miou"] for r in rows]),
            hours={p: np.array([r[f"hours_{p}"] for r in rows]) for p in profiles},
            counts={c: np.array([r[c] for r in rows], dtype=float) for c in count_columns
                    if all(r.get(c) is not None for r in rows)},
            sources=tuple(sorted({str(p) for _, p in items})))
        for p, h in run.hours.items():
            if np.any(np.diff(h) < 0):
                raise EvidenceError(f"strategy {label!r}, seed {seed}: hours_{p} decreases ({h.tolist()}); "
                                    "it must be cumulative.")
        runs.setdefault(label, {})[seed] = run
    results = Results(
        runs=runs, kinds={label: kind for label, (kind, _) in kinds.items()}, profiles=profiles,
        final_iteration=final, incomplete=incomplete,
        definitions={label: entry for label, (entry, _) in definitions.items()},
        config=None if base is None else base[0], unchecked=unchecked, duplicates=duplicates)
    if not runs:
        raise EvidenceError(f"no run reaches the final iteration {final} yet; incomplete: "
                            + ", ".join(f"{s} seed {k} (at {i})" for s, k, i in incomplete) + ".")
    return results
