"""Regions of an image for the region-level baselines (PixBal, AMSP+S): superpixels, their
uncertainty and class, adaptive merging, dominant labels and sieving.

A *segment map* is an int array (H, W) giving each pixel the id of its superpixel, ``0 .. n-1``.
A *region map* (what a strategy asks for, what the store keeps pending) is an int array (H, W)
with 0 for "not asked" and ``1 .. k`` for the k regions asked in that image.

Everything here is NumPy / SciPy on whole arrays; the only per-image work is scikit-image's SLIC.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse
from scipy.sparse.csgraph import connected_components

from .store import NO_LABEL as IGNORE  # -100, as alsel.datasets.IGNORE; no torch import

#: The pixel-uncertainty measures :func:`pixel_uncertainty` knows.
UNCERTAINTIES = ("margin", "entropy")


def superpixels(image: np.ndarray, n_segments: int = 64, compactness: float = 0.1) -> np.ndarray:
    """SLIC superpixels (scikit-image) of one image (channels, H, W); a segment map.

    ``compactness`` trades colour against space; for intensities in [0, 1] about 0.1 (SLIC's
    default of 10 assumes Lab colours in 0..100). Connectivity is enforced, so every segment is
    one connected piece; ids are consecutive from 0.
    """
    from skimage.segmentation import slic

    image = np.asarray(image, dtype=np.float64)
    if image.ndim != 3:
        raise ValueError(f"image must be (channels, H, W); got shape {image.shape}.")
    if n_segments < 1:
        raise ValueError(f"n_segments must be >= 1; got {n_segments}.")
    if image.shape[0] == 1:
        segments = slic(image[0], n_segments=n_segments, compactness=compactness, start_label=0,
                        channel_axis=None, enforce_connectivity=True)
    else:
        segments = slic(np.moveaxis(image, 0, -1), n_segments=n_segments, compactness=compactness,
                        start_label=0, channel_axis=-1, enforce_connectivity=True,
                        convert2lab=image.shape[0] == 3 and image.max() <= 1.0)
    return np.unique(segments, return_inverse=True)[1].reshape(segments.shape).astype(np.int64)


def _membership(segments: np.ndarray, n: int) -> sparse.csr_matrix:
    """Sparse (n, H*W) 0/1 matrix: row s marks the pixels of segment s."""
    flat = segments.ravel()
    return sparse.csr_matrix((np.ones(flat.size), (flat, np.arange(flat.size))), shape=(n, flat.size))


def segment_means(values: np.ndarray, segments: np.ndarray, n: int | None = None) -> np.ndarray:
    """Mean of ``values`` (K, H, W) over each segment: (n, K). ``values`` (H, W) gives (n,)."""
    values = np.asarray(values, dtype=np.float64)
    squeeze = values.ndim == 2
    values = values.reshape(1 if squeeze else values.shape[0], -1)
    n = int(segments.max()) + 1 if n is None else n
    member = _membership(segments, n)
    sizes = np.asarray(member.sum(axis=1)).ravel()
    means = (member @ values.T) / np.maximum(sizes, 1)[:, None]
    return means[:, 0] if squeeze else means


def pixel_uncertainty(prob: np.ndarray, kind: str = "margin") -> np.ndarray:
    """Per-pixel uncertainty of class probabilities (L, H, W): ``"margin"`` 1 - (p1 - p2), the
    best-versus-second-best margin of Cai et al. and AMSP; ``"entropy"`` in nats."""
    prob = np.asarray(prob, dtype=np.float64)
    if kind == "margin":
        top2 = -np.partition(-prob, 1, axis=0)[:2]
        return 1.0 - (top2[0] - top2[1])
    if kind == "entropy":
        return -(prob * np.log(np.clip(prob, 1e-12, None))).sum(axis=0)
    raise ValueError(f"uncertainty must be one of {UNCERTAINTIES}; got {kind!r}.")


def adjacent_pairs(segments: np.ndarray) -> np.ndarray:
    """The pairs (a, b), a < b, of segments that touch (4-neighbourhood); int (m, 2), sorted."""
    a = np.concatenate([segments[:, :-1].ravel(), segments[:-1, :].ravel()])
    b = np.concatenate([segments[:, 1:].ravel(), segments[1:, :].ravel()])
    touch = a != b
    pairs = np.sort(np.stack([a[touch], b[touch]], axis=1), axis=1)
    return np.unique(pairs, axis=0) if len(pairs) else pairs.reshape(0, 2)


def js_divergence(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Jensen-Shannon divergence (nats, in [0, ln 2]) between rows of ``p`` and ``q`` (m, L)."""
    p, q = np.clip(p, 1e-12, None), np.clip(q, 1e-12, None)
    m = 0.5 * (p + q)
    return 0.5 * ((p * np.log(p / m)).sum(axis=1) + (q * np.log(q / m)).sum(axis=1))


def merge_segments(segments: np.ndarray, mean_prob: np.ndarray, threshold: float,
                   allowed: np.ndarray | None = None, max_pixels: int | None = None) -> np.ndarray:
    """AMSP's adaptive superpixels: join touching base segments whose mean predicted class
    distributions (``mean_prob``, (n, L)) differ by a Jensen-Shannon divergence below
    ``threshold``; connected groups of such pairs become one segment. Segments where
    ``allowed`` is False (e.g. already labelled) are never joined to any other.

    ``max_pixels`` bounds a merged segment's size: inside a group that is too large, the
    threshold of its pairs is halved and the grouping redone (up to 16 times; pairs of a group
    still too large are then not joined). Without it a model that predicts the same everywhere
    (an untrained one) would join a whole image into one region.

    Returns a segment map with consecutive ids (each new segment a union of base segments).
    """
    n = len(mean_prob)
    pairs = adjacent_pairs(segments)
    if allowed is not None and len(pairs):
        pairs = pairs[allowed[pairs[:, 0]] & allowed[pairs[:, 1]]]
    js = js_divergence(mean_prob[pairs[:, 0]], mean_prob[pairs[:, 1]]) if len(pairs) else np.zeros(0)
    limit = np.full(len(pairs), float(threshold))
    sizes = np.bincount(segments.ravel(), minlength=n)
    for attempt in range(17):
        join = js < limit
        graph = sparse.coo_matrix((np.ones(int(join.sum())), (pairs[join, 0], pairs[join, 1])), shape=(n, n))
        _, group = connected_components(graph, directed=False)
        if max_pixels is None:
            break
        too_big = np.bincount(group, weights=sizes)[group] > max_pixels  # per base segment
        inside = too_big[pairs[:, 0]] & join
        if not inside.any():
            break
        limit[inside] = 0.0 if attempt == 15 else limit[inside] / 2
    return np.unique(group, return_inverse=True)[1][segments]


def class_weights(label_counts: np.ndarray) -> np.ndarray:
    """Class-balance weights from the labelled pixels per class (L,): ``exp(-share)``, the
    class-balanced acquisition of Cai et al. (2021) that AMSP builds on; rare classes weigh
    near 1, a class holding all labelled pixels ``exp(-1)``."""
    counts = np.asarray(label_counts, dtype=np.float64)
    total = counts.sum()
    return np.exp(-(counts / total if total > 0 else np.zeros_like(counts)))


def dominant_labels(truth: np.ndarray, region_map: np.ndarray, n_labels: int) -> np.ndarray:
    """A dominant-label annotation: each region of ``region_map`` (0 outside) gets, on every one of
    its pixels, the most frequent label of ``truth`` inside it (ties: the smaller label;
    :data:`IGNORE` pixels of ``truth`` do not vote and stay IGNORE). IGNORE outside the regions."""
    truth = np.asarray(truth)
    out = np.full(truth.shape, IGNORE, dtype=np.int64)
    k = int(region_map.max())
    if k == 0:
        return out
    voting = (region_map > 0) & (truth != IGNORE)
    votes = np.bincount(region_map[voting] * n_labels + truth[voting],
                        minlength=(k + 1) * n_labels).reshape(k + 1, n_labels)
    winner = np.where(votes.sum(axis=1) > 0, votes.argmax(axis=1), IGNORE)
    out[voting] = winner[region_map[voting]]
    return out


def sieve(labels: np.ndarray, region_map: np.ndarray, prob: np.ndarray, ratio: float = 0.5) -> np.ndarray:
    """AMSP's sieving: in each region, drop (set to IGNORE) the pixels whose predicted probability
    of the region's dominant label is below ``ratio`` times that probability's mean over the
    region: where the model disagrees most with the dominant label, the label is most likely
    noise (a piece of another object inside the superpixel).

    ``labels`` (H, W): a dominant-label annotation (IGNORE outside the regions); ``prob``
    (L, H, W): the model's class probabilities when the regions were chosen.
    """
    labels = np.asarray(labels).copy()
    inside = (region_map > 0) & (labels != IGNORE)
    if not inside.any():
        return labels
    rows, cols = np.nonzero(inside)
    p_dominant = np.asarray(prob)[labels[rows, cols], rows, cols]
    regions = region_map[rows, cols]
    k = int(region_map.max()) + 1
    mean = np.bincount(regions, weights=p_dominant, minlength=k) / np.maximum(np.bincount(regions, minlength=k), 1)
    noisy = p_dominant < ratio * mean[regions]
    labels[rows[noisy], cols[noisy]] = IGNORE
    return labels


def region_count(region_map: np.ndarray) -> int:
    """Number of distinct regions (non-zero ids) in a region map."""
    ids = np.unique(np.asarray(region_map))
    return int((ids != 0).sum())
