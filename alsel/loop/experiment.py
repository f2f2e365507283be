"""An experiment from a config file: several strategies x seeds on digit scenes -> CSV and plots.

The config (TOML or JSON) has up to four sections; every key is optional and defaults to
:data:`DEFAULTS` (the ``make demo`` experiment). Unknown sections or keys are refused::

    [data]                      # digit scenes (alsel.loop.data.make_scenes)
    size = 24                   # canvas side, pixels (divisible by 4)
    digits = [1, 3]             # digits per image, low..high
    scale = [8, 12]             # side of a pasted digit, pixels, low..high
    labeled = 40                # |L|, pixel-labelled from the start
    unlabeled = 300             # |U|, the pool queried
    test = 300                  # test set (scenes from held-out digit scans)

    [loop]
    iterations = 4              # rounds of Algorithm 1 (the paper: 25)
    budget = 100                # binary queries per round (the paper: 200 or 400)
    pixel_budget = 0            # images per pixel-level round; 0 = unlabeled / iterations
    c_max = 5                   # queries per image at most (the paper: 5)
    seeds = [0]                 # one run per seed; each seed draws its own L, U and test
    strategies = ["proposed", "rr", "ee", "pixel-random", "pixel-entropy"]
    oracle = "simulated"        # simulated | terminal | csv | web (people answer in a browser)
    error_rate = 0.0            # simulated oracle: chance of a wrong answer
    cost_profile = "cityscapes" # Table 1 profile of the hours plot (the CSV has all three)
    threads = 1                 # torch threads; 0 = torch's default (1 is fastest on a busy 2-core machine)

    [train]                     # alsel.loop.train.TrainConfig, plus the model's width
    steps = 250                 # optimizer steps per round, at least ...
    epochs = 15                 # ... and at least this many passes over the pixel-labelled images
    batch_size = 8
    lr = 0.005                  # peak of the one-cycle schedule (Adam)
    r = 5.0                     # LSE pooling sharpness
    beta = 1.0                  # weight of the image-level loss
    background_weight = 0.2     # weight of background in the pixel cross-entropy
    image_score = "logprob"     # what the image-level loss pools: logprob | logits (docs/loop.md)
    width = 16                  # U-Net width

    [proposed]                  # defaults of every "proposed" strategy (alsel.loop.strategies.Proposed)
    lam = 1.0
    g_mapping = "minmax"
    r_mapping = "minmax"
    formulation = "none"        # none = the default pipeline; "paper" with rounding "topb" = the paper's

    [web]                       # oracle = "web": the page of alsel.annotate (docs/annotate.md)
    host = "127.0.0.1"
    port = 8000                 # 0 = any free port (the URL with its token is printed)
    lease_seconds = 120.0       # a query stays with a page that does not answer it this long
    annotator = "unknown"       # name stored with answers of pages that give none

A strategy entry is a name, or a table with ``name``, an optional ``label`` and (for proposed)
its own parameters, e.g. ``{name = "proposed", label = "proposed-log", g_mapping = "log",
lam = 0.05}``.

Outputs in the output folder: ``results.csv`` (one row per strategy, seed and iteration),
``miou_vs_iteration.png``, ``miou_vs_hours.png``, ``config.json`` (the full config used) and
``stores/<label>-seed<k>.json`` (the answer stores). Running again with the same folder resumes;
a folder holding a run of a different config is refused, and so is a second process while a run
holds the folder (:mod:`alsel.loop.locking`). Every value is checked (:func:`validate`) before
anything is written.
"""

from __future__ import annotations

import copy
import csv
import json
import logging
import math
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from .costs import PROFILES
from .data import BACKGROUND, CLASS_NAMES, N_DIGIT_CLASSES, N_LABELS, make_scenes
from .losses import SCORES
from .store import AnswerStore, atomic_write_text
from .strategies import STRATEGIES, make_strategy
from .train import TrainConfig

logger = logging.getLogger(__name__)

DEFAULTS: dict[str, dict[str, Any]] = {
    "data": {"size": 24, "digits": [1, 3], "scale": [8, 12], "labeled": 40, "unlabeled": 300,
             "test": 300},
    "loop": {"iterations": 4, "budget": 100, "pixel_budget": 0, "c_max": 5, "seeds": [0],
             "strategies": ["proposed", "rr", "ee", "pixel-random", "pixel-entropy"],
             "oracle": "simulated", "error_rate": 0.0, "cost_profile": "cityscapes",
             "threads": 1},
    "train": {"steps": 250, "epochs": 15, "batch_size": 8, "lr": 0.005, "r": 5.0, "beta": 1.0,
              "background_weight": 0.2, "image_score": "logprob", "width": 16},
    "proposed": {"lam": 1.0, "alpha": 1.0, "g_mapping": "minmax", "r_mapping": "minmax",
                 "formulation": "none", "rounding": None, "solver": None},
    "web": {"host": "127.0.0.1", "port": 8000, "lease_seconds": 120.0, "annotator": "unknown"},
}
ORACLES = ("simulated", "terminal", "csv", "web")


class ConfigError(ValueError):
    """A config that cannot be run; the message names the key and the fix."""


def load_config(path: str | os.PathLike | None = None, overrides: dict | None = None) -> dict:
    """The full config: :data:`DEFAULTS`, updated by the file at ``path`` and by ``overrides``."""
    user: dict = {}
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"config file {path} does not exist.")
        if path.suffix not in (".toml", ".json"):
            raise ConfigError(f"{path}: a config must be a .toml or .json file.")
        text = _read_text(path, "config file", "save it as UTF-8")
        if path.suffix == ".toml":
            try:
                import tomllib
            except ModuleNotFoundError:  # Python 3.10
                raise ConfigError(f"{path}: reading TOML needs Python 3.11; write the config as JSON.") from None
            try:
                user = tomllib.loads(text)
            except tomllib.TOMLDecodeError as exc:
                raise ConfigError(f"{path}: invalid TOML: {exc}") from None
        else:
            try:
                user = json.loads(text)
            except json.JSONDecodeError as exc:
                raise ConfigError(f"{path}: invalid JSON: {exc}") from None
            if not isinstance(user, dict):
                raise ConfigError(f"{path}: a JSON config must be an object of sections, "
                                  f'e.g. {{"loop": {{"iterations": 4}}}}; got {type(user).__name__}.')
    config = copy.deepcopy(DEFAULTS)
    for source in (user, overrides or {}):
        for section, values in source.items():
            if section not in config:
                raise ConfigError(f"unknown config section [{section}]; sections are {sorted(config)}.")
            if not isinstance(values, dict):
                raise ConfigError(f"[{section}] must be a table of keys; got {values!r}.")
            for key, value in values.items():
                if key not in config[section]:
                    raise ConfigError(
                        f"unknown key {key!r} in [{section}]; valid keys: {sorted(config[section])}.")
                config[section][key] = value
    validate(config)
    return config


def _read_text(path: Path, what: str, fix: str) -> str:
    """The UTF-8 text of ``path``; ConfigError naming the file otherwise."""
    try:
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{what} {path} is not UTF-8 text (byte {exc.start}: {exc.reason}); {fix}.") from None
    except OSError as exc:
        raise ConfigError(f"cannot read {what} {path}: {exc.strerror or exc}.") from None


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise ConfigError(message)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    """A finite real number (bool is not one)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def validate(config: dict) -> None:
    """Raise :class:`ConfigError` naming the first key whose value cannot work.

    Every value is checked here, before any data is made or any file written; the parameters
    of the "proposed" strategies go through the validators :func:`alsel.select` itself uses.
    """
    data, loop, train = config["data"], config["loop"], config["train"]
    for key in ("size", "labeled", "unlabeled", "test"):
        _check(_is_int(data[key]) and data[key] >= 1, f"[data] {key} must be a positive integer; got {data[key]!r}.")
    _check(data["size"] % 4 == 0, f"[data] size must be divisible by 4 (the U-Net pools twice); got {data['size']}.")
    for key in ("digits", "scale"):
        _check(isinstance(data[key], (list, tuple)) and len(data[key]) == 2 and all(map(_is_int, data[key])),
               f"[data] {key} must be [low, high] integers; got {data[key]!r}.")
    low, high = data["digits"]
    _check(1 <= low <= high, f"[data] digits must be [low, high] with 1 <= low <= high; got {data['digits']!r}.")
    low, high = data["scale"]
    _check(4 <= low <= high <= data["size"],
           f"[data] scale must be [low, high] with 4 <= low <= high <= size ({data['size']}); got {data['scale']!r}.")
    for key in ("iterations", "budget", "c_max"):
        _check(_is_int(loop[key]) and loop[key] >= 1, f"[loop] {key} must be a positive integer; got {loop[key]!r}.")
    _check(_is_int(loop["pixel_budget"]) and loop["pixel_budget"] >= 0,
           f"[loop] pixel_budget must be an integer >= 0 (0 = unlabeled / iterations); got {loop['pixel_budget']!r}.")
    seeds = loop["seeds"]
    _check(isinstance(seeds, list) and seeds and all(_is_int(k) and k >= 0 for k in seeds),
           f"[loop] seeds must be a non-empty list of integers >= 0; got {seeds!r}.")
    _check(len(set(seeds)) == len(seeds), f"[loop] seeds must differ; got {seeds!r}.")
    _check(isinstance(loop["strategies"], list) and loop["strategies"],
           f"[loop] strategies must be a non-empty list; got {loop['strategies']!r}.")
    _check(isinstance(loop["oracle"], str) and loop["oracle"] in ORACLES,
           f"[loop] oracle must be one of {ORACLES}; got {loop['oracle']!r}.")
    _check(isinstance(loop["cost_profile"], str) and loop["cost_profile"] in PROFILES,
           f"[loop] cost_profile must be one of {sorted(PROFILES)}; got {loop['cost_profile']!r}.")
    _check(_is_number(loop["error_rate"]) and 0 <= loop["error_rate"] <= 1,
           f"[loop] error_rate must be a number in [0, 1]; got {loop['error_rate']!r}.")
    _check(_is_int(loop["threads"]) and loop["threads"] >= 0, f"[loop] threads must be an integer >= 0; got {loop['threads']!r}.")
    _check(_is_number(train["background_weight"]) and train["background_weight"] > 0,
           f"[train] background_weight must be a number > 0; got {train['background_weight']!r}.")
    _check(isinstance(train["image_score"], str) and train["image_score"] in SCORES,
           f"[train] image_score must be one of {SCORES}; got {train['image_score']!r}.")
    for key in ("steps", "epochs", "batch_size", "width"):
        _check(_is_int(train[key]) and train[key] >= 1, f"[train] {key} must be a positive integer; got {train[key]!r}.")
    for key in ("lr", "r"):
        _check(_is_number(train[key]) and train[key] > 0, f"[train] {key} must be a number > 0; got {train[key]!r}.")
    _check(_is_number(train["beta"]) and train["beta"] >= 0, f"[train] beta must be a number >= 0; got {train['beta']!r}.")
    web = config["web"]
    _check(isinstance(web["host"], str) and web["host"] != "", f"[web] host must be an address; got {web['host']!r}.")
    _check(_is_int(web["port"]) and 0 <= web["port"] <= 65535, f"[web] port must be 0..65535; got {web['port']!r}.")
    _check(_is_number(web["lease_seconds"]) and web["lease_seconds"] > 0, f"[web] lease_seconds must be > 0; got {web['lease_seconds']!r}.")
    _check(isinstance(web["annotator"], str) and web["annotator"].strip() != "",
           f"[web] annotator must be a non-empty name; got {web['annotator']!r}.")
    specs = strategy_specs(config)
    labels = [label for label, *_ in specs]
    duplicates = sorted({label for label in labels if labels.count(label) > 1})
    _check(not duplicates, f"[loop] strategies: labels must differ; {duplicates} appear twice (give each a 'label').")
    if loop["oracle"] != "simulated":
        pixel = [label for label, name, _ in specs if STRATEGIES[name].kind in ("pixel", "region")]
        _check(not pixel, f"[loop] strategies {pixel} label whole images or regions, which only the simulated "
                          "oracle can; drop them or use oracle = 'simulated'.")


_LABEL = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]*")


def strategy_specs(config: dict) -> list[tuple[str, str, dict]]:
    """(label, name, parameters) of each configured strategy, every parameter checked."""
    specs = []
    for entry in config["loop"]["strategies"]:
        if isinstance(entry, str):
            entry = {"name": entry}
        _check(isinstance(entry, dict) and "name" in entry,
               f"[loop] strategies: each entry is a name or a table with 'name'; got {entry!r}.")
        entry = dict(entry)
        name = entry.pop("name")
        _check(isinstance(name, str) and name in STRATEGIES,
               f"[loop] strategies: unknown strategy {name!r}; choose from {sorted(STRATEGIES)}.")
        label = entry.pop("label", name)
        # The label names the store file (stores/<label>-seed<k>.json) and the results' rows.
        _check(isinstance(label, str) and _LABEL.fullmatch(label) is not None,
               f"[loop] strategies: label {label!r} must be a name of letters, digits and . _ + - "
               "(it names a file); e.g. 'proposed-log'.")
        params = {}
        if name == "proposed":
            unknown = set(entry) - set(DEFAULTS["proposed"])
            _check(not unknown, f"[loop] strategy {label!r}: unknown parameter(s) {sorted(unknown)}; "
                                f"valid: {sorted(DEFAULTS['proposed'])}.")
            params = {**config["proposed"], **entry}
            _check_proposed(params, lambda key, label=label, own=set(entry): (
                f"[loop] strategy {label!r}: {key}" if key in own else f"[proposed] {key}"))
        else:
            _check(not entry, f"[loop] strategy {label!r} takes no parameters; got {sorted(entry)}.")
        specs.append((label, name, params))
    return specs


def _check_proposed(params: dict, where: Callable[[str], str]) -> None:
    """Check the parameters of a "proposed" strategy with the validators of :func:`alsel.select`
    and :mod:`alsel.scores`; ``where(key)`` says where in the config a key was set."""
    from .. import scores, solvers
    from .._validation import as_nonnegative_float, check_choice
    from ..formulations import FORMULATIONS, INTEGRAL_FORMULATIONS
    from ..pipeline import DEFAULT_SOLVER, _rounding_for

    def check(key: str, test: Callable[[], Any]) -> None:
        try:
            test()
        except (ValueError, TypeError, ImportError) as exc:  # ImportError: SolverUnavailable
            raise ConfigError(f"{where(key)}: {exc}") from None

    def positive(value: Any) -> None:
        if not _is_number(value) or value <= 0:
            raise ValueError(f"must be a finite number > 0; got {value!r}.")

    check("lam", lambda: as_nonnegative_float(params["lam"], "lam"))
    check("alpha", lambda: positive(params["alpha"]))
    check("g_mapping", lambda: check_choice(params["g_mapping"], "g_mapping", scores.G_MAPPINGS))
    check("r_mapping", lambda: check_choice(params["r_mapping"], "r_mapping", scores.R_MAPPINGS))
    formulation = params["formulation"]
    check("formulation", lambda: formulation in (None, "none")
          or check_choice(formulation, "formulation", ["none", *FORMULATIONS]))
    formulation = None if formulation == "none" else formulation
    integral = formulation in INTEGRAL_FORMULATIONS
    check("rounding", lambda: _rounding_for(formulation, params["rounding"], integral))
    solver = params["solver"]
    if formulation is None:
        _check(solver is None, f"{where('solver')}: solver {solver!r} has no effect without a relaxation "
                               "(formulation 'none'); drop it, or set a formulation such as 'symmetric'.")
        return

    def check_solver() -> None:
        backend = solvers.require(DEFAULT_SOLVER if solver is None else solver)
        solvers.check_options(backend, None, mip=integral)
        if formulation == "qp":
            solvers.check_qp(backend)

    check("solver", check_solver)


def _pixel_budget(config: dict) -> int:
    loop = config["loop"]
    return loop["pixel_budget"] or math.ceil(config["data"]["unlabeled"] / loop["iterations"])


def _datasets(config: dict, seed: int):
    data = config["data"]
    common = {"size": data["size"], "digits": tuple(data["digits"]), "scale": tuple(data["scale"])}
    pool = make_scenes(data["labeled"] + data["unlabeled"], pool="train", seed=seed, **common)
    test = make_scenes(data["test"], pool="test", seed=10_000 + seed, **common)
    return pool, test


def _oracle(config: dict, pool, out: Path, label: str, seed: int, store: AnswerStore):
    from .oracles import CsvOracle, SimulatedOracle, TerminalOracle

    kind = config["loop"]["oracle"]
    if kind == "web":
        from ..annotate.oracle import WebOracle

        return WebOracle.for_run(out, store, pool.images, seed, **config["web"])
    if kind == "simulated":
        return SimulatedOracle(pool.masks, config["loop"]["error_rate"], seed=seed)
    if kind == "terminal":
        return TerminalOracle(CLASS_NAMES, images=pool.images)
    return CsvOracle(out / "queries" / f"{label}-seed{seed}.csv", store)


def run_experiment(config: dict, out: str | os.PathLike,
                   progress: Callable[[int], Any] | None = None, plots: bool = True) -> list[dict]:
    """Run (or resume) every strategy x seed of ``config``; write results.csv and the plots.

    The output folder is locked for the whole run (:func:`alsel.loop.locking.hold`): a second
    process on the same folder gets :class:`~alsel.loop.locking.Busy` at once, before it reads or
    writes anything there. ``progress(total)`` may return a tqdm-like object with ``update()``;
    it is ticked once per evaluated round. Returns all result rows.
    """
    from .locking import hold

    validate(config)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    with hold(out, "run folder"):
        _claim_folder(out, config)
        return _run_locked(config, out, progress, plots)


def _claim_folder(out: Path, config: dict) -> None:
    """Write config.json into a new run folder, or check that the folder holds this config's run.

    Called with the folder's lock held, so no other process can write config.json between the
    check and the write.
    """
    saved = out / "config.json"
    fix = "use another output folder, or delete it to start over"
    if not saved.exists():
        if (out / "stores").exists():
            raise ConfigError(f"{out} holds answer stores (stores/) but no config.json; {fix}.")
        atomic_write_text(saved, json.dumps(config, indent=2))
        return
    text = _read_text(saved, "the run's config", fix)
    try:
        previous = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{saved} is not valid JSON ({exc}), so the run in {out} cannot be checked "
                          f"against this config; {fix}.") from None
    if not isinstance(previous, dict):
        raise ConfigError(f"{saved} does not hold a config (a JSON object; got {type(previous).__name__}); "
                          f"{fix}.")
    current = json.loads(json.dumps(config))  # as it would be saved: tuples become lists
    if previous != current:
        changed = sorted(f"[{section}] {key}" for section, values in current.items() for key in values
                         if not isinstance(previous.get(section), dict)
                         or previous[section].get(key, ...) != values[key])
        raise ConfigError(f"{out} holds a run of a different config ({saved}; differs in "
                          f"{', '.join(changed) or 'its sections'}); {fix}.")


def _run_locked(config: dict, out: Path, progress: Callable[[int], Any] | None,
                plots: bool) -> list[dict]:
    import torch

    from .loop import ActiveLearningLoop, LoopSettings
    from .model import TinyUNet
    from .oracles import OracleStopped

    if config["loop"]["threads"]:
        torch.set_num_threads(config["loop"]["threads"])
    specs = strategy_specs(config)
    loop_cfg, train_cfg = config["loop"], config["train"]
    settings_common = dict(
        iterations=loop_cfg["iterations"], budget=loop_cfg["budget"], pixel_budget=_pixel_budget(config),
        c_max=loop_cfg["c_max"],
        train=TrainConfig(**{k: v for k, v in train_cfg.items() if k != "width"}),
    )
    total = len(specs) * len(loop_cfg["seeds"]) * (loop_cfg["iterations"] + 1)
    bar = progress(total) if progress is not None else None
    stopped = None
    try:
        for seed in loop_cfg["seeds"]:
            pool, test = _datasets(config, seed)
            n_labeled = config["data"]["labeled"]
            for label, name, params in specs:
                store_path = out / "stores" / f"{label}-seed{seed}.json"
                if store_path.exists():
                    store = AnswerStore.load(store_path)
                else:
                    store = AnswerStore.create(
                        store_path, len(pool), CLASS_NAMES,
                        labels={i: pool.masks[i] for i in range(n_labeled)},
                        meta={"strategy": label, "seed": seed})
                loop = ActiveLearningLoop(
                    store, make_strategy(name, **params), _oracle(config, pool, out, label, seed, store),
                    pool.images, test.images, test.masks,
                    lambda: TinyUNet(1, N_LABELS, train_cfg["width"]),
                    LoopSettings(seed=seed, label=label, **settings_common), n_labels=N_LABELS)
                if bar is not None:
                    bar.update(len(store.history))  # rounds evaluated before a resume
                    if hasattr(bar, "set_postfix_str"):
                        bar.set_postfix_str(f"{label} seed {seed}")

                def tick(row, bar=bar):
                    if bar is not None and row is not None:
                        bar.update(1)
                try:
                    loop.run(progress=tick)
                except OracleStopped as exc:
                    stopped = exc
                    break
            if stopped is not None:
                break
    finally:
        if bar is not None and hasattr(bar, "close"):
            bar.close()
    rows = collect_rows(out)
    write_results(rows, out / "results.csv")
    if plots and rows:
        plot_results(rows, out, config["loop"]["cost_profile"])
    if stopped is not None:
        raise stopped
    return rows


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
    import io

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


__all__ = ["DEFAULTS", "ConfigError", "load_config", "validate", "run_experiment", "kept", "summarize",
           "plot_results", "write_results", "collect_rows", "BACKGROUND", "N_DIGIT_CLASSES"]
