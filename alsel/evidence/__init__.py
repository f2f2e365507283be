"""The evidence layer: statistics, tables and figures from the results.csv files of ``alsel run``.

Analysis only (nothing here trains or selects): :func:`load_results` merges the parts of one
experiment, :func:`analyse` computes per-method t-intervals and paired tests of a reference method
against every other, :func:`write_report` writes tables.md, stats.csv and the figures
(``alsel report``). The definitions are in docs/experiment.md, "Method".

The names are imported on first use, so that ``alsel`` (which registers ``alsel report``) does not
load scipy.stats for its other commands.
"""

from importlib import import_module

_WHERE = {
    "Analysis": "analysis", "Comparison": "analysis", "analyse": "analysis", "lambda_points": "analysis",
    "Report": "report", "write_report": "report",
    "EvidenceError": "results", "Results": "results", "Run": "results", "load_results": "results",
    "Interval": "stats", "Paired": "stats", "holm": "stats", "log_hours_auc": "stats",
    "paired_test": "stats", "t_interval": "stats",
}
__all__ = sorted(_WHERE)


def __getattr__(name: str):
    if name in _WHERE:
        return getattr(import_module(f".{_WHERE[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
