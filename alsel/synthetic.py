"""Seeded synthetic pools for demos, tests and benchmarks (no model, no download).

Images come from ``n_clusters`` groups: features are a group centre plus noise (so R has real
redundancy structure), and class-presence probabilities are group propensities perturbed per
image in logit space (so most pairs are confident and some are not, as with a trained model).
"""

from __future__ import annotations

import numpy as np

from . import scores
from ._validation import as_count
from .problem import SelectionProblem


def random_pool(
    n_images: int,
    n_classes: int,
    n_features: int = 16,
    n_clusters: int = 8,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Return (p, features): presence probabilities (N, C) and features (N, d)."""
    n_images = as_count(n_images, "n_images", minimum=1)
    n_classes = as_count(n_classes, "n_classes", minimum=1)
    n_features = as_count(n_features, "n_features", minimum=1)
    n_clusters = as_count(n_clusters, "n_clusters", minimum=1)
    rng = np.random.default_rng(seed)
    group = rng.integers(n_clusters, size=n_images)
    centres = rng.normal(size=(n_clusters, n_features))
    features = centres[group] + 0.5 * rng.normal(size=(n_images, n_features))
    propensity_logit = rng.normal(scale=4.0, size=(n_clusters, n_classes))
    logits = propensity_logit[group] + rng.normal(scale=2.0, size=(n_images, n_classes))
    p = 1.0 / (1.0 + np.exp(-logits))
    return p, features


def random_problem(
    n_images: int = 1200,
    n_classes: int = 19,
    B: int = 200,
    C_max: int = 5,
    lam: float = 1.0,
    seed: int = 0,
    g_mapping: str = "minmax",
    r_mapping: str = "minmax",
) -> SelectionProblem:
    """A SelectionProblem built from :func:`random_pool` through :mod:`alsel.scores`.

    Defaults are the paper's scale (N = 1200, C = 19, B = 200, C_max = 5, lam = 1) and its
    min-max mappings.
    """
    p, features = random_pool(n_images, n_classes, seed=seed)
    G = scores.confidence(p, mapping=g_mapping)
    R = scores.redundancy(features, mapping=r_mapping)
    return SelectionProblem(G, R, B, C_max, lam)
