"""Scores of the paper: class-presence entropy (Eq. 1), confidence G (Eq. 2), redundancy R (Eq. 3).

Both G and R are mapped into [0, 1] as the paper says; the mapping is a named choice:

``"minmax"``
    (x - min) / (max - min) over the whole matrix, the paper's. A constant matrix maps to zeros.
``"log"`` (G only)
    min-max of log(alpha / H): the same order as the paper's G, on a logarithmic scale, so the
    uncertain pairs are spread over [0, 1] instead of packed near 0 (docs/relaxation.md).
``"affine"`` (R only)
    (1 + cos) / 2. It keeps R positive semidefinite (cosine matrices are PSD, and adding the
    all-ones PSD matrix keeps them so), which makes the QP relaxation of Eq. 4 convex. Min-max
    keeps PSD only when the smallest cosine is <= 0.
``"none"``
    No mapping (raw alpha / H, or raw cosine). Raw cosines can be negative, which ``select()``
    rejects.

Probabilities are clipped to [eps, 1 - eps] before the entropy, with ``eps = 1e-6`` by default:
an entropy of 0 would make G infinite, and a float32 model output cannot tell probabilities
closer to 0 or 1 than about 6e-8 apart anyway. Entropies are in nats.

Note the scale of G: alpha / H lies in [alpha / ln 2, alpha / H(eps)] (1.44 to about 6.8e4 for
alpha = 1, eps = 1e-6), so after min-max mapping most of G sits near 0 and the most confident
pairs set the scale. Choose lam with that in mind: at lam = 1 the redundancy term decides which
images are asked about and G only which classes within them (docs/relaxation.md measures it);
mapping="log" with lam ~ 0.01-0.1 lets both terms count.
"""

from __future__ import annotations

import numpy as np

from ._validation import as_float_array, check_choice

DEFAULT_EPS = 1e-6
G_MAPPINGS = ("minmax", "log", "none")
R_MAPPINGS = ("minmax", "affine", "none")


def _probabilities(p: object, eps: float) -> np.ndarray:
    p = as_float_array(p, "p", ndim=2)
    if not 0 < eps < 0.5:
        raise ValueError(f"eps must lie in (0, 0.5); got {eps}.")
    if (p < 0).any() or (p > 1).any():
        raise ValueError(
            f"p must hold probabilities in [0, 1]; got values in [{p.min():.4g}, {p.max():.4g}]. "
            "Apply a softmax or sigmoid to logits first."
        )
    return np.clip(p, eps, 1.0 - eps)


def entropy(p: object, eps: float = DEFAULT_EPS) -> np.ndarray:
    """Binary entropy H_ij (Eq. 1, nats) of class-presence probabilities p (N, C)."""
    p = _probabilities(p, eps)
    return -(p * np.log(p) + (1.0 - p) * np.log1p(-p))


def minmax(x: np.ndarray) -> np.ndarray:
    """Map x affinely onto [0, 1] by its global min and max (zeros if x is constant)."""
    low, high = float(x.min()), float(x.max())
    if high == low:
        return np.zeros_like(x, dtype=np.float64)
    return (x - low) / (high - low)


def confidence(
    p: object, alpha: float = 1.0, mapping: str = "minmax", eps: float = DEFAULT_EPS
) -> np.ndarray:
    """Confidence matrix G (C, N) = alpha / H (Eq. 2), classes first as in the paper.

    Parameters
    ----------
    p : array (N, C)
        Probability that image i contains class j (images first, as models produce them).
    alpha : float
        The paper's constant (1 in its experiments); only the scale changes with it.
    mapping : {"minmax", "log", "none"}
        How G is mapped into [0, 1] (see the module docstring).
    eps : float
        p is clipped to [eps, 1 - eps] so that G stays finite.
    """
    check_choice(mapping, "mapping", G_MAPPINGS)
    if not alpha > 0:
        raise ValueError(f"alpha must be > 0; got {alpha}.")
    G = (alpha / entropy(p, eps)).T
    if mapping == "log":
        return np.ascontiguousarray(minmax(np.log(G)))
    return np.ascontiguousarray(minmax(G) if mapping == "minmax" else G)


def cosine_similarity(features: object) -> np.ndarray:
    """Cosine similarity (N, N) between the rows of ``features`` (N, d); exactly symmetric."""
    F = as_float_array(features, "features", ndim=2)
    norms = np.linalg.norm(F, axis=1)
    zero = np.flatnonzero(norms == 0)
    if zero.size:
        raise ValueError(
            f"features has {zero.size} all-zero rows (first: image {zero[0]}); the cosine is "
            "undefined for them. Drop those images or use features that are not all zero."
        )
    unit = F / norms[:, None]
    cos = unit @ unit.T
    cos = (cos + cos.T) / 2
    np.clip(cos, -1.0, 1.0, out=cos)
    return cos


def redundancy(features: object, mapping: str = "minmax") -> np.ndarray:
    """Redundancy matrix R (N, N) from image features (N, d): cosine similarity (Eq. 3), mapped.

    Parameters
    ----------
    features : array (N, d)
        One feature vector per image.
    mapping : {"minmax", "affine", "none"}
        "minmax" is the paper's; "affine" = (1 + cos) / 2 keeps R positive semidefinite.
    """
    check_choice(mapping, "mapping", R_MAPPINGS)
    cos = cosine_similarity(features)
    if mapping == "minmax":
        return minmax(cos)
    if mapping == "affine":
        return (1.0 + cos) / 2.0
    return cos
