"""An experiment from a config file (``alsel run``): the names of the engine, in one place.

The pieces live in their own modules, and the data flow goes one way through them:

* :mod:`alsel.loop.config`: the typed config (:func:`load_config`, :class:`Config`, :class:`ConfigError`);
* :mod:`alsel.loop.engine`: config -> data source, model, trainer, strategies, oracles -> loops
  (:func:`run_experiment`);
* :mod:`alsel.loop.results`: result rows, results.csv, summaries (:func:`kept`, :func:`summarize`);
* :mod:`alsel.loop.plots`: the two plots.

docs/loop.md and docs/experiment.md describe the config's sections and keys.
"""

from __future__ import annotations

from .config import Config, ConfigError, load_config, strategy_specs, validate
from .engine import make_model_factory, make_oracle, make_source, run_experiment
from .plots import plot_results
from .results import collect_rows, kept, summarize, write_results

__all__ = ["Config", "ConfigError", "load_config", "validate", "strategy_specs", "run_experiment",
           "make_source", "make_model_factory", "make_oracle", "kept", "summarize", "plot_results",
           "write_results", "collect_rows"]
