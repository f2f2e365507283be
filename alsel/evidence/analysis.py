"""The statistics of a report: per-method intervals, paired comparisons with a reference, verdicts.

Metrics (all "higher is better"): ``final_miou`` (test mIoU after the last round) and, per cost
profile, ``auc`` (:func:`alsel.evidence.stats.log_hours_auc` over a horizon common to every method
and seed: from the cheapest first round of any method to the most expensive final round).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .results import LAMBDA_LABEL, Results, order
from .stats import Interval, Paired, holm, log_hours_auc, paired_test, t_interval

__all__ = ["Comparison", "Analysis", "analyse", "horizon", "lambda_points", "wilcoxon_floor"]


@dataclass(frozen=True)
class Comparison:
    """``reference`` against ``other`` on one metric (and profile), paired by seed."""

    metric: str
    profile: str            # "" for final_miou
    other: str
    seeds: tuple[int, ...]  # the seeds both have
    unpaired: tuple[str, ...]  # e.g. "ee lacks seed 3"
    test: Paired | None
    p_holm: float
    verdict: str


@dataclass
class Analysis:
    reference: str
    level: float
    alpha: float
    strategies: list[str]
    values: dict[tuple[str, str], dict[str, dict[int, float]]]   # (metric, profile) -> strategy -> seed -> value
    intervals: dict[tuple[str, str], dict[str, Interval]]
    comparisons: list[Comparison]
    horizons: dict[str, tuple[float, float]]                    # profile -> (low, high) hours
    notes: list[str] = field(default_factory=list)


def horizon(results: Results, profile: str) -> tuple[float, float] | None:
    """(low, high): the smallest positive and the largest cumulative hours of any complete run."""
    hours = np.concatenate([run.hours[profile] for runs in results.runs.values() for run in runs.values()])
    positive = hours[hours > 0]
    if positive.size == 0 or positive.min() == hours.max():
        return None
    return float(positive.min()), float(hours.max())


def wilcoxon_floor(n: int) -> float:
    """The smallest two-sided p-value of the exact signed-rank test with n nonzero differences."""
    return min(1.0, 2.0 / 2 ** n)


def _verdict(reference: str, test: Paired | None, p_holm: float, alpha: float, level: float) -> str:
    if test is None:
        return "not resolved (no shared seed)"
    if test.n < 2:
        return f"not resolved (n = {test.n}: no test)"
    excludes = test.diff.low > 0 or test.diff.high < 0
    if p_holm < alpha and excludes:
        side = "better" if test.diff.mean > 0 else "worse"
        return (f"resolved: {reference} {side} (Holm p = {p_holm:.3g} < {alpha:g}, "
                f"{level:.0%} CI excludes 0)")
    return f"not resolved (Holm p = {p_holm:.3g})"


def analyse(results: Results, reference: str = "proposed", level: float = 0.95,
            alpha: float = 0.05) -> Analysis:
    """Intervals per method and paired tests of ``reference`` against every other method."""
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), e.g. 0.05; got {alpha!r}.")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), e.g. 0.95; got {level!r}.")
    strategies = order(results.runs, results.kinds, reference)
    notes = []
    values: dict[tuple[str, str], dict[str, dict[int, float]]] = {("final_miou", ""): {}}
    for s in strategies:
        values["final_miou", ""][s] = {k: float(run.miou[-1]) for k, run in sorted(results.runs[s].items())}
    horizons = {}
    for profile in results.profiles:
        span = horizon(results, profile)
        if span is None:
            notes.append(f"no AUC under {profile}: every round costs the same hours (no horizon).")
            continue
        horizons[profile] = span
        values["auc", profile] = {
            s: {k: log_hours_auc(run.hours[profile], run.miou, *span) for k, run in sorted(results.runs[s].items())}
            for s in strategies}
    intervals = {key: {s: t_interval(list(v.values()), level) for s, v in per.items()}
                 for key, per in values.items()}
    comparisons = []
    if reference not in results.runs:
        notes.append(f"no paired tests: the reference strategy {reference!r} has no complete run "
                     f"(strategies: {', '.join(strategies)}); pass --reference.")
    else:
        for (metric, profile), per in values.items():
            family = []
            for other in strategies:
                if other == reference:
                    continue
                ref, oth = per[reference], per[other]
                shared = tuple(sorted(set(ref) & set(oth)))
                unpaired = tuple([f"{other} lacks seed {k}" for k in sorted(set(ref) - set(oth))]
                                 + [f"{reference} lacks seed {k}" for k in sorted(set(oth) - set(ref))])
                test = (paired_test([ref[k] for k in shared], [oth[k] for k in shared], level)
                        if shared else None)
                family.append((other, shared, unpaired, test))
            adjusted = holm([math.nan if t is None else t.p_t for *_, t in family])
            for (other, shared, unpaired, test), p in zip(family, adjusted):
                comparisons.append(Comparison(metric, profile, other, shared, unpaired, test, float(p),
                                              _verdict(reference, test, float(p), alpha, level)))
    return Analysis(reference, level, alpha, strategies, values, intervals, comparisons, horizons, notes)


def lambda_points(results: Results) -> dict[str, tuple[float, str]]:
    """label -> (λ, mapping) of every "proposed" strategy of the default pipeline.

    From the run's config.json where it defines the label (mapping: its G mapping, with ", R <r>"
    when R's is not min-max); else from a label like ``proposed-lam0.01-log``.
    """
    points = {}
    for label in results.runs:
        entry = results.definitions.get(label)
        if entry is not None:
            if entry.get("name") != "proposed" or entry.get("formulation") not in (None, "none"):
                continue
            if "lam" not in entry or "g_mapping" not in entry:
                continue
            mapping = str(entry["g_mapping"])
            if entry.get("r_mapping", "minmax") != "minmax":
                mapping += f", R {entry['r_mapping']}"
            points[label] = (float(entry["lam"]), mapping)
            continue
        match = LAMBDA_LABEL.fullmatch(label)
        if match:
            points[label] = (float(match.group("lam")), match.group("mapping"))
    return points
