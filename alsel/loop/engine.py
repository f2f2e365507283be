"""A run: config -> data source, model factory, trainer, strategies, oracles -> loops -> results.

The data flow goes one way. :func:`run_experiment` takes a checked :class:`~alsel.loop.config.Config`,
builds the parts (:func:`make_source`, :func:`make_model_factory`, :func:`train_settings`,
:func:`make_oracle`), runs one :class:`~alsel.loop.loop.ActiveLearningLoop` per strategy and
seed, each on its own answer store under ``out/stores``, and writes results.csv and the plots
from the stores (:mod:`alsel.loop.results`, :mod:`alsel.loop.plots`).

The output folder is locked for the whole run (:mod:`alsel.loop.locking`); its config.json
records the config, and a folder holding a run of another config is refused. Running again with
the same folder resumes.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from .config import Config, ConfigError, read_text, resolve, spec_of, strategy_specs, validate
from .results import collect_rows, write_results
from .store import AnswerStore, StoreError, atomic_write_text
from .strategies import make_strategy
from .train import TrainConfig

logger = logging.getLogger(__name__)


# ------------------------------------------------------------------------------ the parts
def make_source(config: Config):
    """The data source of ``[data]``: an object with ``labels`` and ``load(seed) -> Split``."""
    data = config.data
    try:
        if data.source == "digits":
            from alsel.datasets.digits import DigitSource

            return DigitSource(size=data.size if isinstance(data.size, int) else tuple(data.size),
                               digits=tuple(data.digits), scale=tuple(data.scale), labeled=data.labeled,
                               unlabeled=data.unlabeled, test=data.test)
        from alsel.datasets.folder import FolderSource

        source = FolderSource(**data.source_kwargs())
    except (ValueError, TypeError, OSError) as exc:
        raise ConfigError(f"[data] ({data.source} source): {exc}") from None
    # every mask read once, now: a bad file is named before the run folder is made, not rounds later
    problems = source.check()
    if problems:
        shown = "\n  ".join(problems[:10]) + (f"\n  ... and {len(problems) - 10} more" if len(problems) > 10 else "")
        raise ConfigError(f"[data] root: {len(problems)} problem(s) in the data set; nothing was run:\n  {shown}")
    return source


def in_channels(source, split) -> int:
    """Channels of the images: the source's ``channels``, else those of the first pool image."""
    channels = getattr(source, "channels", None)
    return int(channels) if channels is not None else int(split.pool.image(0).shape[0])


def make_model_factory(config: Config, num_labels: int, channels: int,
                       model: Callable | None = None) -> Callable[[], Any]:
    """``() -> torch.nn.Module``: the factory of ``[model]`` (or ``model``) with its kwargs, tried
    once here so that a factory that fails says so before any round runs."""
    import torch

    factory = resolve(model if model is not None else config.model.factory, "[model] factory")
    kwargs = config.model_kwargs()

    def build() -> torch.nn.Module:
        return factory(num_labels=num_labels, in_channels=channels, **kwargs)

    call = f"{config.model.factory}(num_labels={num_labels}, in_channels={channels}, **{kwargs})"
    try:
        with torch.random.fork_rng():
            built = build()
    except Exception as exc:
        raise ConfigError(f"[model] factory: {call} failed: {type(exc).__name__}: {exc}; check [model] "
                          "kwargs against the factory's arguments.") from None
    if not isinstance(built, torch.nn.Module):
        raise ConfigError(f"[model] factory: {call} returned a {type(built).__name__}, not a torch.nn.Module.")
    return build


def train_settings(config: Config) -> TrainConfig:
    """alsel's trainer settings from ``[train]``."""
    train = config.train
    optimizer = train.optimizer
    return TrainConfig(
        steps=train.steps, epochs=train.epochs, batch_size=train.batch_size, lr=train.learning_rate,
        r=train.r, beta=train.beta, background_weight=train.background_weight, image_score=train.image_score,
        optimizer=optimizer.name, weight_decay=optimizer.weight_decay, momentum=optimizer.momentum,
        nesterov=optimizer.nesterov, betas=None if optimizer.betas is None else tuple(optimizer.betas),
        scheduler=train.scheduler)


class _Previews:
    """Pool images as the terminal oracle previews them: grey (H, W) in [0, 1]."""

    def __init__(self, pool) -> None:
        self.pool = pool

    def __getitem__(self, i: int) -> np.ndarray:
        image = self.pool.image(int(i))
        grey = image.mean(axis=0)
        span = float(grey.max() - grey.min())
        return (grey - grey.min()) / span if span > 0 else np.zeros_like(grey)


def make_oracle(config: Config, pool, out: Path, label: str, seed: int, store: AnswerStore):
    """Who answers the queries of one store: ``[loop] oracle``."""
    from .oracles import CsvOracle, SimulatedOracle, TerminalOracle

    kind = config.loop.oracle
    if kind == "simulated":
        return SimulatedOracle(pool, config.loop.error_rate, seed=seed)
    if kind == "terminal":
        return TerminalOracle(pool.labels.query_names, images=_Previews(pool),
                              names=[pool.name(i) for i in range(len(pool))])
    if kind == "csv":
        return CsvOracle(out / "queries" / f"{label}-seed{seed}.csv", store)
    from ..annotate.images import ImageSource
    from ..annotate.oracle import WebOracle

    web = config.web.model_dump()
    if pool.root is not None:  # the data set's own files
        return WebOracle.for_run(out, store, ImageSource(pool.root, len(pool), store.image_names), seed, **web)
    try:
        images = np.stack([pool.image(i) for i in range(len(pool))])
    except ValueError:
        raise ConfigError("[loop] oracle = 'web' shows image files; this in-memory pool has images of "
                          "different sizes and no folder; use a folder data source ([data] source = "
                          "'folder').") from None
    return WebOracle.for_run(out, store, images, seed, **web)


def open_store(path: Path, pool, n_labeled: int, label: str, seed: int) -> AnswerStore:
    """The store of one strategy and seed: loaded, or created with L's masks and the pool's
    class and image names."""
    labels = pool.labels
    if path.exists():
        store = AnswerStore.load(path)
        if list(store.classes) != list(labels.query_names):
            raise StoreError(f"{path}: its classes {list(store.classes)} are not the data's queryable labels "
                             f"{list(labels.query_names)}; use the run's own config, or another output folder.")
        return store
    initial = {}
    for i in range(n_labeled):
        mask = pool.mask(i)
        if mask is None:
            raise ConfigError(f"[data] labeled: image {pool.name(i)} of L has no mask; L needs pixel labels.")
        initial[i] = mask
    names = [pool.name(i) for i in range(len(pool))] if pool.root is not None else None
    return AnswerStore.create(path, len(pool), labels.query_names, labels=initial, image_names=names,
                              meta={"strategy": label, "seed": seed})


# ------------------------------------------------------------------------------ the run
def run_experiment(config: Config | dict, out: str | os.PathLike,
                   progress: Callable[[int], Any] | None = None, plots: bool = True, *,
                   model: Callable | None = None, train_step: Callable | None = None) -> list[dict]:
    """Run (or resume) every strategy x seed of ``config``; write results.csv and the plots.

    Parameters
    ----------
    config : Config or dict
        From :func:`~alsel.loop.config.load_config`, or a dict of sections (checked here).
    out : path
        The run folder, locked for the whole run (:func:`alsel.loop.locking.hold`): a second
        process on the same folder gets :class:`~alsel.loop.locking.Busy` at once.
    progress : callable (total) -> tqdm-like, optional
        Its ``update()`` is ticked once per evaluated round.
    plots : bool
        Write miou_vs_iteration.png and miou_vs_hours.png.
    model : callable, optional
        A model factory ``(num_labels=, in_channels=, **[model] kwargs) -> torch.nn.Module``
        instead of ``[model] factory`` (config.json records it as ``module:qualname``).
    train_step : callable, optional
        The training step ``(model, batch) -> loss`` instead of ``[train] train_step``
        (:class:`~alsel.loop.train.TrainBatch`).

    Returns all result rows.
    """
    from .locking import hold

    config = validate(config)
    if model is not None:
        config = config.model_copy(update={"model": config.model.model_copy(update={"factory": spec_of(model)})})
    if train_step is not None:
        config = config.model_copy(update={"train": config.train.model_copy(update={"train_step": spec_of(train_step)})})
    source = make_source(config)  # a data folder that cannot be read is refused before out/ is made
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    with hold(out, "run folder"):
        _claim_folder(out, config)
        return _run_locked(config, source, out, progress, plots, model, train_step)


def _claim_folder(out: Path, config: Config) -> None:
    """Write config.json into a new run folder, or check that the folder holds this config's run.

    Called with the folder's lock held, so no other process can write config.json between the
    check and the write.
    """
    saved = out / "config.json"
    fix = "use another output folder, or delete it to start over"
    current = config.to_json()
    if not saved.exists():
        if (out / "stores").exists():
            raise ConfigError(f"{out} holds answer stores (stores/) but no config.json; {fix}.")
        atomic_write_text(saved, json.dumps(current, indent=2))
        return
    text = read_text(saved, "the run's config", fix)
    try:
        previous = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{saved} is not valid JSON ({exc}), so the run in {out} cannot be checked "
                          f"against this config; {fix}.") from None
    if not isinstance(previous, dict):
        raise ConfigError(f"{saved} does not hold a config (a JSON object; got {type(previous).__name__}); "
                          f"{fix}.")
    if previous != current:
        changed = sorted(f"[{section}] {key}" for section, values in current.items() for key in values
                         if not isinstance(previous.get(section), dict)
                         or previous[section].get(key, ...) != values[key])
        raise ConfigError(f"{out} holds a run of a different config ({saved}; differs in "
                          f"{', '.join(changed) or 'its sections'}); {fix}.")


def _run_locked(config: Config, source, out: Path, progress, plots: bool, model, train_step) -> list[dict]:
    import torch

    from .loop import ActiveLearningLoop, LoopSettings
    from .oracles import OracleStopped
    from .plots import plot_results

    if config.loop.threads:
        torch.set_num_threads(config.loop.threads)
    specs = strategy_specs(config)
    step = resolve(train_step if train_step is not None else config.train.train_step, "[train] train_step") \
        if (train_step is not None or config.train.train_step is not None) else None
    loop_cfg = config.loop
    total = len(specs) * len(loop_cfg.seeds) * (loop_cfg.iterations + 1)
    bar = progress(total) if progress is not None else None
    stopped = None
    try:
        for seed in loop_cfg.seeds:
            split = source.load(seed)
            pool, test = split.pool, split.test
            build = make_model_factory(config, pool.labels.n_labels, in_channels(source, split), model)
            settings = dict(
                iterations=loop_cfg.iterations, budget=loop_cfg.budget,
                pixel_budget=config.pixel_budget(len(pool) - split.n_labeled), c_max=loop_cfg.c_max,
                train=train_settings(config), train_step=step, features=config.model.features,
                size_divisor=config.model.size_divisor)
            for label, name, params in specs:
                store = open_store(out / "stores" / f"{label}-seed{seed}.json", pool, split.n_labeled, label, seed)
                loop = ActiveLearningLoop(
                    store, make_strategy(name, **params), make_oracle(config, pool, out, label, seed, store),
                    pool, test, build, LoopSettings(seed=seed, label=label, **settings))
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
        plot_results(rows, out, loop_cfg.cost_profile)
    if stopped is not None:
        raise stopped
    return rows
