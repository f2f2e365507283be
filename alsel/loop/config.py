"""The typed, validated config of ``alsel run`` (pydantic v2): sections, keys, defaults, errors.

A config is read from TOML or JSON (:func:`load_config`) into :class:`Config`; every value is
checked there, before any data is made or any file written, and every error is a
:class:`ConfigError` naming the key (``[section] key``) and what it must be. Unknown sections and
keys are refused. The sections (docs/loop.md, docs/experiment.md):

* ``[data]``: where the images come from: ``source = "digits"`` (default; digit scenes) or
  ``"folder"`` (an image folder, :class:`alsel.datasets.folder.FolderSource`), with that source's keys;
* ``[model]``: ``factory = "module:function"`` called as ``factory(num_labels=L, in_channels=ch,
  **kwargs)`` (default the demo's TinyUNet), ``kwargs``, ``features`` (module path of the image
  features), ``size_divisor``;
* ``[train]``: alsel's trainer (steps, optimizer, scheduler, loss weights) or ``train_step =
  "module:function"``, the user's own step;
* ``[loop]``, ``[proposed]``, ``[web]``: the rounds, the proposed strategy's defaults, the web oracle.
"""

from __future__ import annotations

import importlib
import json
import math
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from .costs import PROFILES
from .losses import SCORES
from .strategies import STRATEGIES

ORACLES = ("simulated", "terminal", "csv", "web")
DEFAULT_FACTORY = "alsel.models.tiny_unet:tiny_unet"


class ConfigError(ValueError):
    """A config that cannot be run; the message names the key and the fix."""


def _what(text: str) -> Any:
    """A field's ``description``: what the value must be (the error message says it)."""
    return text


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False, frozen=True)


PositiveInt = Annotated[int, Field(ge=1)]
Pair = Annotated[list[int], Field(min_length=2, max_length=2)]


class DigitsData(_Section):
    """``source = "digits"``: digit scenes (:class:`alsel.datasets.digits.DigitSource`)."""

    source: Literal["digits"] = "digits"
    size: Union[PositiveInt, Pair] = Field(24, description="a positive integer side, or [height, width]")
    digits: Pair = Field([1, 3], description="[low, high] integers")
    scale: Pair = Field([8, 12], description="[low, high] integers")
    labeled: int = Field(40, ge=1, description="a positive integer")
    unlabeled: int = Field(300, ge=1, description="a positive integer")
    test: int = Field(300, ge=1, description="a positive integer")

    @model_validator(mode="after")
    def _ranges(self) -> "DigitsData":
        low, high = self.digits
        if not 1 <= low <= high:
            raise ValueError(f"[data] digits must be [low, high] with 1 <= low <= high; got {self.digits!r}.")
        side = min(self.size) if isinstance(self.size, list) else self.size
        low, high = self.scale
        if not 4 <= low <= high <= side:
            raise ValueError(f"[data] scale must be [low, high] with 4 <= low <= high <= size ({side}); "
                             f"got {self.scale!r}.")
        return self


class FolderData(_Section):
    """``source = "folder"``: an image folder (:class:`alsel.datasets.folder.FolderSource`).

    Relative paths are relative to the config file's folder.
    """

    source: Literal["folder"]
    root: str = Field(description="the data set's folder (images/, masks/, classes.txt)")
    test_root: str | None = Field(None, description="a folder used whole as the test set, or omitted")
    labeled: int = Field(ge=0, description="an integer >= 0 (|L|, images with masks labelled from the start)")
    unlabeled: int | None = Field(None, ge=0, description="an integer >= 0 (|U|), or omitted for all the rest")
    test: int | None = Field(None, ge=0, description="an integer >= 0 (images held out of root), or omitted")
    ignore_label: int | None = Field(255, ge=0, description="the mask value of unlabelled pixels (e.g. 255)")
    background: str | int | None = Field("background", description="a label name or index, or omitted")
    queried: list[str | int] | None = Field(None, description="a list of label names or indices, or omitted")
    channels: Literal["rgb", "gray", "auto"] = Field("rgb", description="'rgb', 'gray' or 'auto'")
    mean: float | list[float] | None = Field(None, description="a number or one per channel")
    std: float | list[float] | None = Field(None, description="a number or one per channel")

    def source_kwargs(self) -> dict[str, Any]:
        """The keyword arguments of :class:`alsel.datasets.folder.FolderSource`."""
        return self.model_dump(exclude={"source"})


class ModelConfig(_Section):
    factory: str = Field(DEFAULT_FACTORY, description="'module:function', e.g. 'alsel.models.hf:segformer'")
    kwargs: dict[str, Any] = Field(default_factory=dict, description="a table of the factory's keyword arguments")
    features: str | None = Field(None, description="a dotted module path such as 'backbone.layer4'")
    size_divisor: int | None = Field(None, ge=1, description="a positive integer (sides are padded to its multiples)")


class OptimizerConfig(_Section):
    name: Literal["Adam", "AdamW", "SGD"] = Field("Adam", description="'Adam', 'AdamW' or 'SGD'")
    lr: float | None = Field(None, gt=0, description="a number > 0")
    weight_decay: float = Field(0.0, ge=0, description="a number >= 0")
    momentum: float = Field(0.0, ge=0, description="a number >= 0 (SGD only)")
    nesterov: bool = Field(False, description="true or false (SGD only)")
    betas: Annotated[list[float], Field(min_length=2, max_length=2)] | None = Field(
        None, description="[beta1, beta2] (Adam, AdamW only)")

    @model_validator(mode="after")
    def _fits(self) -> "OptimizerConfig":
        if self.name != "SGD":
            for key in ("momentum", "nesterov"):
                if key in self.model_fields_set:
                    raise ValueError(f"[train] optimizer.{key} is SGD's; drop it or set name = 'SGD'.")
        elif self.betas is not None:
            raise ValueError("[train] optimizer.betas are Adam's and AdamW's; drop them or use Adam/AdamW.")
        return self


#: [train] keys of alsel's own losses: meaningless beside a user's train_step.
LOSS_KEYS = ("r", "beta", "background_weight", "image_score")


class TrainSection(_Section):
    steps: int = Field(250, ge=1, description="a positive integer")
    epochs: int = Field(15, ge=1, description="a positive integer")
    batch_size: int = Field(8, ge=1, description="a positive integer")
    lr: float = Field(0.005, gt=0, description="a number > 0")
    r: float = Field(5.0, gt=0, description="a number > 0")
    beta: float = Field(1.0, ge=0, description="a number >= 0")
    background_weight: float = Field(0.2, gt=0, description="a number > 0")
    image_score: Literal[SCORES] = Field("logprob", description=f"one of {SCORES}")
    width: int | None = Field(None, ge=1, description="a positive integer (TinyUNet's width; "
                                                       "or [model] kwargs.width)")
    optimizer: OptimizerConfig = Field(default_factory=OptimizerConfig,
                                       description="a table {name = 'Adam'|'AdamW'|'SGD', lr, weight_decay, ...}")
    scheduler: Literal["onecycle", "cosine", "constant"] = Field(
        "onecycle", description="'onecycle', 'cosine' or 'constant'")
    train_step: str | None = Field(None, description="'module:function', your training step")

    @model_validator(mode="after")
    def _consistent(self) -> "TrainSection":
        if self.optimizer.lr is not None and "lr" in self.model_fields_set:
            raise ValueError("[train] lr and [train] optimizer.lr are both set; keep one.")
        if self.train_step is not None:
            set_here = [k for k in LOSS_KEYS if k in self.model_fields_set]
            if set_here:
                raise ValueError(f"[train] {', '.join(set_here)} configure alsel's loss, which a train_step "
                                 "replaces (your step computes the loss); drop them or drop train_step.")
        return self

    @property
    def learning_rate(self) -> float:
        return self.optimizer.lr if self.optimizer.lr is not None else self.lr


class LoopSection(_Section):
    iterations: int = Field(4, ge=1, description="a positive integer")
    budget: int = Field(100, ge=1, description="a positive integer")
    pixel_budget: int = Field(0, ge=0, description="an integer >= 0 (0 = unlabeled / iterations)")
    c_max: int = Field(5, ge=1, description="a positive integer")
    seeds: Annotated[list[Annotated[int, Field(ge=0)]], Field(min_length=1)] = Field(
        [0], description="a non-empty list of integers >= 0")
    strategies: Annotated[list[Any], Field(min_length=1)] = Field(
        ["proposed", "rr", "ee", "pixel-random", "pixel-entropy"], description="a non-empty list")
    oracle: Literal[ORACLES] = Field("simulated", description=f"one of {ORACLES}")
    error_rate: float = Field(0.0, ge=0, le=1, description="a number in [0, 1]")
    cost_profile: Literal[tuple(sorted(PROFILES))] = Field("cityscapes", description=f"one of {sorted(PROFILES)}")
    threads: int = Field(1, ge=0, description="an integer >= 0")

    @model_validator(mode="after")
    def _distinct(self) -> "LoopSection":
        if len(set(self.seeds)) != len(self.seeds):
            raise ValueError(f"[loop] seeds must differ; got {self.seeds!r}.")
        return self


class ProposedSection(_Section):
    """Checked by the validators :func:`alsel.select` itself uses (:func:`_check_proposed`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    lam: Any = 1.0
    alpha: Any = 1.0
    g_mapping: Any = "minmax"
    r_mapping: Any = "minmax"
    formulation: Any = "none"
    rounding: Any = None
    solver: Any = None


class WebSection(_Section):
    host: str = Field("127.0.0.1", min_length=1, description="an address")
    port: int = Field(8000, ge=0, le=65535, description="0..65535")
    lease_seconds: float = Field(120.0, gt=0, description="> 0")
    annotator: str = Field("unknown", pattern=r"\S", description="a non-empty name")


DataSection = Annotated[Union[DigitsData, FolderData], Field(discriminator="source")]


class Config(BaseModel):
    """The whole config of a run; ``Config.model_validate(dict)`` checks every value."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    data: DataSection = Field(default_factory=DigitsData)
    model: ModelConfig = Field(default_factory=ModelConfig)
    train: TrainSection = Field(default_factory=TrainSection)
    loop: LoopSection = Field(default_factory=LoopSection)
    proposed: ProposedSection = Field(default_factory=ProposedSection)
    web: WebSection = Field(default_factory=WebSection)

    @model_validator(mode="before")
    @classmethod
    def _default_source(cls, values: Any) -> Any:
        if isinstance(values, dict) and isinstance(values.get("data"), dict) and "source" not in values["data"]:
            values = {**values, "data": {**values["data"], "source": "digits"}}
        return values

    @model_validator(mode="after")
    def _across_sections(self) -> "Config":
        if self.train.width is not None:
            if self.model.factory != DEFAULT_FACTORY:
                raise ValueError("[train] width is the built-in TinyUNet's; with [model] factory = "
                                 f"{self.model.factory!r} put the model's arguments in [model] kwargs.")
            if "width" in self.model.kwargs:
                raise ValueError("[train] width and [model] kwargs.width are both set; keep one.")
        specs = strategy_specs(self)
        labels = [label for label, *_ in specs]
        duplicates = sorted({label for label in labels if labels.count(label) > 1})
        _check(not duplicates, f"[loop] strategies: labels must differ; {duplicates} appear twice (give each a 'label').")
        if self.loop.oracle != "simulated":
            painted = [label for label, name, _ in specs if STRATEGIES[name].kind in ("pixel", "region")]
            _check(not painted, f"[loop] strategies {painted} label whole images or regions, which only the "
                                f"simulated oracle can ([loop] oracle = {self.loop.oracle!r} answers yes/no "
                                "questions); drop them from [loop] strategies or use oracle = 'simulated'.")
        return self

    # -- what the engine reads
    def model_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of the model factory ([train] width included for TinyUNet)."""
        kwargs = dict(self.model.kwargs)
        if self.train.width is not None:
            kwargs["width"] = self.train.width
        return kwargs

    def pixel_budget(self, n_unlabeled: int) -> int:
        """Images per pixel-level round (0 in the config: ``ceil(|U| / iterations)``)."""
        return self.loop.pixel_budget or math.ceil(n_unlabeled / self.loop.iterations)

    def to_json(self) -> dict:
        """The config as saved in a run folder's config.json."""
        return self.model_dump(mode="json")


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise ConfigError(message)


# ------------------------------------------------------------------------------ reading
def load_config(path: str | os.PathLike | None = None, overrides: dict | None = None) -> Config:
    """The full config: the defaults, updated by the file at ``path`` and by ``overrides``
    (a dict of sections), every value checked (:class:`ConfigError` names the first bad key)."""
    user: dict = {}
    base = None
    if path is not None:
        path = Path(path)
        base = path.parent
        if not path.is_file():
            raise ConfigError(f"config file {path} does not exist.")
        if path.suffix not in (".toml", ".json"):
            raise ConfigError(f"{path}: a config must be a .toml or .json file.")
        text = read_text(path, "config file", "save it as UTF-8")
        if path.suffix == ".toml":
            import tomllib

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
    merged: dict[str, dict] = {}
    for source in (user, overrides or {}):
        for section, values in source.items():
            if section not in Config.model_fields:
                raise ConfigError(f"unknown config section [{section}]; sections are {sorted(Config.model_fields)}.")
            if not isinstance(values, dict):
                raise ConfigError(f"[{section}] must be a table of keys; got {values!r}.")
            merged.setdefault(section, {}).update(values)
    data = merged.get("data", {})
    if base is not None and data.get("source") == "folder":
        for key in ("root", "test_root"):  # relative to the config file, wherever alsel runs
            if isinstance(data.get(key), str) and not Path(data[key]).expanduser().is_absolute():
                data[key] = str(base / data[key])
    return validate(merged)


def read_text(path: Path, what: str, fix: str) -> str:
    """The UTF-8 text of ``path``; ConfigError naming the file otherwise."""
    try:
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{what} {path} is not UTF-8 text (byte {exc.start}: {exc.reason}); {fix}.") from None
    except OSError as exc:
        raise ConfigError(f"cannot read {what} {path}: {exc.strerror or exc}.") from None


def validate(config: Config | dict) -> Config:
    """A :class:`Config` from a dict of sections (or the same Config), every value checked; the
    factories named by "module:function" are imported. :class:`ConfigError` otherwise."""
    if isinstance(config, Config):
        return config  # checked when it was made (and frozen)
    try:
        checked = Config.model_validate(config)
    except ValidationError as exc:
        raise ConfigError(_message(exc, config)) from None
    for where, spec in (("[model] factory", checked.model.factory), ("[train] train_step", checked.train.train_step)):
        if spec is not None:
            resolve(spec, where)
    return checked


def _message(exc: ValidationError, raw: dict) -> str:
    """One line for the first error: the key, what it must be, what it got."""
    error = exc.errors(include_url=False)[0]
    loc = [str(part) for part in error["loc"]]
    if error["type"] in ("value_error", "assertion_error") and "ctx" in error:
        problem = error["ctx"].get("error")
        if isinstance(problem, ConfigError) or str(problem).startswith("["):
            return str(problem)
    if not loc:
        return error["msg"]
    section = loc[0]
    if section == "data" and len(loc) > 1 and loc[1] in ("digits", "folder"):
        loc = [section, *loc[2:]]  # the source tag pydantic adds to a discriminated union
    if error["type"] == "union_tag_invalid":
        got = error["input"].get("source") if isinstance(error["input"], dict) else error["input"]
        return f"[data] source must be 'digits' or 'folder'; got {got!r}."
    if error["type"] == "extra_forbidden":
        model = _section_model(section, raw, loc)
        key = loc[-1]
        inner = ".".join(loc[1:-1])
        where = f"[{section}]{' ' + inner if inner else ''}"
        return f"unknown key {key!r} in {where}; valid keys: {sorted(model.model_fields) if model else '?'}."
    if error["type"] == "missing":
        return f"[{section}] {'.'.join(loc[1:])} is required; {_description(section, raw, loc) or 'set it'}."
    what = _description(section, raw, loc)
    key = ".".join(p for p in loc[1:] if not p.isdigit()) or section
    got = error.get("input")
    if what:
        return f"[{section}] {key} must be {what}; got {got!r}."
    return f"[{section}] {key}: {error['msg']}; got {got!r}."


def _section_model(section: str, raw: dict, loc: list[str]):
    models = {"model": ModelConfig, "train": TrainSection, "loop": LoopSection, "proposed": ProposedSection,
              "web": WebSection}
    if section == "data":
        model = FolderData if (raw.get("data") or {}).get("source") == "folder" else DigitsData
    else:
        model = models.get(section)
    for part in loc[1:-1]:  # nested tables: [train] optimizer
        field = model.model_fields.get(part) if model else None
        model = field.annotation if field is not None and isinstance(field.annotation, type) \
            and issubclass(field.annotation, BaseModel) else None
    return model


def _description(section: str, raw: dict, loc: list[str]) -> str | None:
    model = _section_model(section, raw, loc[:1] + [""])
    parts = [p for p in loc[1:] if not p.isdigit()]
    for k, part in enumerate(parts):
        if model is None or part not in model.model_fields:
            return None
        field = model.model_fields[part]
        nested = isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel)
        if nested and k < len(parts) - 1:
            model = field.annotation
            continue
        return field.description
    return None


_SPEC = re.compile(r"[A-Za-z_][\w.]*:[A-Za-z_][\w.]*")


def resolve(spec: str | Callable, where: str) -> Callable:
    """The callable named by ``"module:function"`` (a callable passes through); ConfigError
    naming ``where`` if it cannot be imported."""
    if callable(spec):
        return spec
    if not isinstance(spec, str) or not _SPEC.fullmatch(spec):
        raise ConfigError(f"{where} must be 'module:function' (e.g. 'alsel.models.hf:segformer'); got {spec!r}.")
    module_name, name = spec.split(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f"{where}: cannot import module {module_name!r} ({exc}); install it, or put its "
                          "folder on PYTHONPATH.") from None
    target: Any = module
    for part in name.split("."):
        if not hasattr(target, part):
            raise ConfigError(f"{where}: module {module_name!r} has no {name!r}; check the name after ':'.")
        target = getattr(target, part)
    if not callable(target):
        raise ConfigError(f"{where}: {spec} is a {type(target).__name__}, not a function.")
    return target


def spec_of(function: Callable) -> str:
    """``"module:qualname"`` of a callable (what config.json records for one passed in Python)."""
    return f"{getattr(function, '__module__', '?')}:{getattr(function, '__qualname__', repr(function))}"


# ------------------------------------------------------------------------------ strategies
_LABEL = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]*")


def strategy_specs(config: Config | dict) -> list[tuple[str, str, dict]]:
    """(label, name, parameters) of each configured strategy, every parameter checked."""
    if isinstance(config, dict):
        strategies, proposed = config["loop"]["strategies"], dict(config["proposed"])
    else:
        strategies, proposed = config.loop.strategies, config.proposed.model_dump()
    specs = []
    for entry in strategies:
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
            unknown = set(entry) - set(ProposedSection.model_fields)
            _check(not unknown, f"[loop] strategy {label!r}: unknown parameter(s) {sorted(unknown)}; "
                                f"valid: {sorted(ProposedSection.model_fields)}.")
            params = {**proposed, **entry}
            _check_proposed(params, lambda key, label=label, own=set(entry): (
                f"[loop] strategy {label!r}: {key}" if key in own else f"[proposed] {key}"))
        else:
            _check(not entry, f"[loop] strategy {label!r} takes no parameters; got {sorted(entry)}.")
        specs.append((label, name, params))
    return specs


def _is_number(value: Any) -> bool:
    """A finite real number (bool is not one)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


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
