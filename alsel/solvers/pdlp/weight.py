"""The primal weight a solve starts from, estimated by one exact line search of the dual.

PDLP's primal weight omega should balance the distances the two iterates travel; from a cold
start at zero that is ||y*|| / ||x*|| (Applegate et al. 2021, section 3.3). PDLP's default,
||c|| / ||b||, is 1 after bound and objective rescaling; it assumes that y* is on the scale of c.
On a dual-degenerate LP, where the bounds on x absorb nearly all of c, ||y*|| is orders of
magnitude smaller (alsel's selection LPs: 1e-7 to 5e-6 of ||x*||), and the restarts' smoothed
updates then spend much of a cold solve walking omega down. Warm starts use the estimate of the
changed LP too (docs/pdlp.md, "Primal weight at the start" and "Warm start").

The estimate: the Lagrangian dual of min c'x s.t. l <= Kx <= u, lo <= x <= up is

    d(y) = sum_r (l_r max(y_r, 0) + u_r min(y_r, 0)) + sum_j min over [lo_j, up_j] of (c - K'y)_j x_j.

At y = 0 the box minimizer x0 of c'x violates rows by g = proj_[l, u](K x0) - K x0, an ascent
direction of d. Along y = t g, d is concave and piecewise linear in t, with a kink where a
reduced cost (c - t K'g)_j changes sign; its maximizer t* is found exactly by sorting the kinks.
Then omega0 = ||t* g|| / ||x(t*)||: the scale of the first dual point that pays for the
violations, against the scale of the primal box point it prices. Where the estimate does not
apply (an infinite bound in a direction the line search uses, x0 already feasible, no finite
maximizer) it gives None, and the solve starts from a warm start's weight or from 1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .scaling import ScaledLP


def _box_minimizer(reduced: np.ndarray, lo: np.ndarray, up: np.ndarray, tie: np.ndarray) -> np.ndarray:
    """argmin over [lo, up] of reduced * x per column; ``tie`` where reduced == 0."""
    return np.where(reduced > 0, lo, np.where(reduced < 0, up, tie))


@dataclass(frozen=True)
class DualRay:
    """The line search's answer: the dual point y = t * direction that maximizes the dual along
    the direction, and the box minimizer x of the Lagrangian there."""

    t: float
    direction: np.ndarray
    x: np.ndarray


def dual_line_search(lp: ScaledLP) -> DualRay | None:
    """Maximize the Lagrangian dual along its ascent direction at y = 0 (module docstring);
    None where that maximizer does not exist or the dual is -inf along the way."""
    c, lo, up = lp.c, lp.col_lower, lp.col_upper
    x0 = _box_minimizer(c, lo, up, np.clip(0.0, lo, up))
    if not np.isfinite(x0).all():
        return None
    activity = lp.A @ x0
    g = np.clip(activity, lp.row_lower, lp.row_upper) - activity
    if not np.any(g):
        return None  # x0 is feasible, hence optimal: nothing to price
    a = lp.A.T @ g
    # for small t > 0 a column with c_j = 0 follows the sign of -t a_j
    x = _box_minimizer(np.where(c != 0, c, -a), lo, up, x0)
    moving = (c != 0) | (a != 0)
    if not np.isfinite(x[moving]).all():
        return None
    below, above = g > 0, g < 0  # rows x0 leaves below l (finite there) or above u
    row_part = float(lp.row_lower[below] @ g[below] + lp.row_upper[above] @ g[above])
    slope = row_part - float(a[moving] @ x[moving])  # d'(0+) along g: ||g||^2 when x0 is unique
    if not slope > 0:
        return None
    # column j's reduced cost c_j - t a_j changes sign at t_j = c_j / a_j > 0, where x_j jumps
    # to its other bound and the slope falls by |a_j| (up_j - lo_j)
    kinks = np.flatnonzero((c != 0) & (a != 0) & (np.sign(c) == np.sign(a)))
    order = kinks[np.argsort(c[kinks] / a[kinks], kind="stable")]
    slopes = slope - np.cumsum(np.abs(a[order]) * (up[order] - lo[order]))
    if not np.any(slopes <= 0):
        return None  # the dual rises for ever along g: no finite maximizer
    first = int(np.argmax(slopes <= 0))
    flipped = order[:first]
    x[flipped] = np.where(c[flipped] > 0, up[flipped], lo[flipped])
    return DualRay(float(c[order[first]] / a[order[first]]), g, x)


def estimate_primal_weight(lp: ScaledLP) -> float | None:
    """omega0 = ||y|| / ||x|| at the maximizer of the dual along its first ascent direction
    (module docstring), on the scaled LP; None where the estimate does not apply."""
    ray = dual_line_search(lp)
    if ray is None:
        return None
    x_norm = float(np.linalg.norm(ray.x))  # finite: columns past the maximizer keep x0
    weight = ray.t * float(np.linalg.norm(ray.direction)) / x_norm if x_norm > 0 else 0.0
    return weight if 0 < weight < np.inf else None
