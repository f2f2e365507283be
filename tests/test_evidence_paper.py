"""experiments/paper: the parts of the paper-regime experiment are one experiment that merges."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from alsel.evidence.results import LAMBDA_LABEL, comparable_config, strategy_definitions
from alsel.loop.config import Config, DigitsData, load_config
from alsel.loop.strategies import STRATEGIES

tomllib = pytest.importorskip("tomllib")  # Python 3.11+

PAPER = Path(__file__).resolve().parent.parent / "experiments" / "paper"
#: The keys of each config section (the parts use digit scenes).
SECTION_KEYS = {name: set((DigitsData if name == "data" else field.annotation).model_fields)
                for name, field in Config.model_fields.items()}
METHODS = {"proposed", "proposed-paper", "rr", "ee", "pixel-random", "pixel-entropy", "ssal", "pixbal", "amsp+s"}


def _generator():
    spec = importlib.util.spec_from_file_location("make_parts", PAPER / "make_parts.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _configs() -> dict[str, dict]:
    return {p.name: tomllib.loads(p.read_text(encoding="utf-8")) for p in sorted((PAPER / "parts").glob("*.toml"))}


def test_committed_parts_are_the_generators_output():
    expected = _generator().parts()
    committed = {p.name: p.read_text(encoding="utf-8") for p in (PAPER / "parts").glob("*.toml")}
    assert committed == expected, "run python experiments/paper/make_parts.py"


def test_parts_differ_only_in_seeds_and_strategies_and_use_known_keys():
    configs = _configs()
    first = comparable_config(next(iter(configs.values())))
    for name, config in configs.items():
        assert comparable_config(config) == first, name
        for section, values in config.items():
            assert section in SECTION_KEYS and set(values) <= SECTION_KEYS[section], name


def test_every_method_runs_on_every_seed_and_the_lambda_study_is_labelled_by_convention():
    runs: dict[str, set[int]] = {}
    for config in _configs().values():
        for label, entry in strategy_definitions(config).items():
            runs.setdefault(label, set()).update(config["loop"]["seeds"])
            match = LAMBDA_LABEL.fullmatch(label)
            if match:  # the label says what the config sets
                assert float(match["lam"]) == entry["lam"] and match["mapping"] == entry["g_mapping"]
    assert METHODS <= set(runs)
    assert all(seeds == {0, 1, 2, 3, 4} for seeds in runs.values()), runs
    assert sum(1 for label in runs if LAMBDA_LABEL.fullmatch(label)) >= 4


@pytest.mark.parametrize("name", sorted(p.name for p in (PAPER / "parts").glob("*.toml")))
def test_parts_validate_once_their_strategies_exist(name):
    config = _configs()[name]
    names = {e if isinstance(e, str) else e["name"] for e in config["loop"]["strategies"]}
    missing = names - set(STRATEGIES)
    if missing:
        pytest.skip(f"strategies {sorted(missing)} do not exist yet")
    load_config(PAPER / "parts" / name)
