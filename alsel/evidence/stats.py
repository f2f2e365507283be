"""Statistics over seeds: t-intervals, paired tests, Holm's correction, area under a cost curve.

Every function here takes plain arrays; pairing by seed, merging files and reading configs live
in :mod:`alsel.evidence.results`. Conventions (docs/experiment.md, "Method"):

* A confidence interval is Student's t-interval over seeds, ``mean ± t(1 - α/2, n - 1) s / √n``.
  With 5 seeds a bootstrap has only 126 distinct resamples and BCa undercovers, so the t-interval
  is the one reported.
* A paired comparison takes the per-seed differences ``d = reference - other`` (positive: the
  reference is better) and reports the paired t-test (two-sided) with the t-interval of the mean
  difference, and the Wilcoxon signed-rank test (two-sided, exact for small n). With n = 5 the
  smallest two-sided Wilcoxon p is 2 / 2⁵ = 0.0625: it cannot reach 0.05 with five seeds.
* Holm's step-down correction is applied to the t-test p-values of one family (the comparisons of
  the reference with every other method on one metric).
* The area under the mIoU-vs-hours curve (:func:`log_hours_auc`) treats the curve as a step
  function (the mIoU a method has after spending h hours is that of its last round paid for by
  then, its final mIoU after its last round) and averages it over log10 hours between a common
  lower and upper horizon.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

__all__ = ["Interval", "Paired", "t_interval", "paired_test", "holm", "log_hours_auc"]


@dataclass(frozen=True)
class Interval:
    """Mean of ``n`` values with its two-sided confidence interval [low, high]."""

    n: int
    mean: float
    low: float
    high: float


@dataclass(frozen=True)
class Paired:
    """A paired comparison over ``n`` seeds of ``d = reference - other``.

    ``diff`` is the mean difference with its t-interval; ``p_t`` the paired t-test's two-sided
    p-value, ``p_wilcoxon`` the signed-rank test's (NaN where there is no test: n < 2).
    """

    n: int
    diff: Interval
    p_t: float
    p_wilcoxon: float


def _values(x, name: str) -> np.ndarray:
    values = np.asarray(x, dtype=float)
    if values.ndim != 1:
        raise ValueError(f"{name} must be a 1-D sequence of numbers; got shape {values.shape}.")
    if not np.all(np.isfinite(values)):
        raise ValueError(f"{name} must hold finite numbers; got {values.tolist()}.")
    return values


def _check_level(level: float) -> None:
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), e.g. 0.95; got {level!r}.")


def t_interval(x, level: float = 0.95) -> Interval:
    """Student's t confidence interval of the mean of ``x`` (one value per seed).

    With one value the interval is unbounded (NaN ends): one seed says nothing about the spread.
    """
    values = _values(x, "x")
    _check_level(level)
    n = values.size
    if n == 0:
        raise ValueError("x is empty: a confidence interval needs at least one value.")
    mean = float(values.mean())
    if n == 1:
        return Interval(1, mean, float("nan"), float("nan"))
    half = stats.t.ppf(0.5 + level / 2, n - 1) * values.std(ddof=1) / np.sqrt(n)
    return Interval(n, mean, float(mean - half), float(mean + half))


def paired_test(reference, other, level: float = 0.95) -> Paired:
    """Paired t-test and Wilcoxon signed-rank test of ``reference - other`` (both per seed, in the
    same seed order).

    Differences that are all equal make the t statistic infinite: p is then 0 (1 when they are
    all 0), and the interval is the difference itself.
    """
    a, b = _values(reference, "reference"), _values(other, "other")
    if a.shape != b.shape:
        raise ValueError(f"reference and other must pair one value per seed; got {a.size} and {b.size} values.")
    d = a - b
    diff = t_interval(d, level) if d.size else None
    n = d.size
    if n < 2:
        if n == 0:
            raise ValueError("no paired values: the two methods share no seed.")
        return Paired(n, diff, float("nan"), float("nan"))
    sd = d.std(ddof=1)
    mean = d.mean()
    if sd == 0:
        p_t = 1.0 if mean == 0 else 0.0
        diff = Interval(n, float(mean), float(mean), float(mean))
    else:
        t = mean / (sd / np.sqrt(n))
        p_t = float(2 * stats.t.sf(abs(t), n - 1))
    if np.all(d == 0):
        p_w = 1.0
    else:
        p_w = float(stats.wilcoxon(d, alternative="two-sided").pvalue)
    return Paired(n, diff, p_t, p_w)


def holm(p_values) -> np.ndarray:
    """Holm's step-down adjusted p-values, in the input order (NaN entries stay NaN, not counted).

    Sorted ascending, the i-th smallest of m p-values (i from 1) becomes
    ``max_{j <= i} min(1, (m - j + 1) p_(j))``.
    """
    p = np.asarray(p_values, dtype=float)
    if p.ndim != 1:
        raise ValueError(f"p_values must be 1-D; got shape {p.shape}.")
    known = ~np.isnan(p)
    if np.any((p[known] < 0) | (p[known] > 1)):
        raise ValueError(f"p_values must lie in [0, 1]; got {p.tolist()}.")
    adjusted = np.full_like(p, np.nan)
    values = p[known]
    m = values.size
    if m == 0:
        return adjusted
    order = np.argsort(values, kind="stable")
    scaled = np.minimum(1.0, (m - np.arange(m)) * values[order])
    result = np.empty(m)
    result[order] = np.maximum.accumulate(scaled)
    adjusted[known] = result
    return adjusted


def log_hours_auc(hours, miou, low: float, high: float) -> float:
    """Mean of the step curve ``mIoU(h)`` over ``log10 h`` in [low, high] (mIoU units).

    ``hours[k]`` is the cumulative annotation time paid for round k's model (non-decreasing; 0 for
    the model trained on L alone), ``miou[k]`` its test mIoU. The curve holds ``miou[k]`` from
    ``hours[k]`` until the next round's hours, and the final mIoU after the last round; before
    the first entry it is undefined, so ``hours[0]`` must be <= ``low``. The result is
    ``∫ mIoU(h) d log10 h / (log10 high - log10 low)``: the expected mIoU for a budget drawn
    log-uniformly from [low, high].
    """
    h, m = _values(hours, "hours"), _values(miou, "miou")
    if h.size == 0 or h.shape != m.shape:
        raise ValueError(f"hours and miou must be non-empty and of one length; got {h.size} and {m.size}.")
    if not 0 < low < high:
        raise ValueError(f"the horizon must satisfy 0 < low < high; got low={low!r}, high={high!r}.")
    if np.any(np.diff(h) < 0):
        raise ValueError(f"hours must be non-decreasing (cumulative); got {h.tolist()}.")
    if h[0] > low:
        raise ValueError(f"the curve starts at {h[0]:g} h, after the horizon's low end {low:g} h; "
                         "start it at 0 h (the model trained on L alone) or raise low.")
    starts = np.clip(h, low, high)
    ends = np.clip(np.append(h[1:], high), low, high)
    widths = np.log10(ends) - np.log10(starts)
    return float(np.dot(m, widths) / (np.log10(high) - np.log10(low)))
