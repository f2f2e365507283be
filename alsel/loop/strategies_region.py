"""The paper's other baselines: SSAL (pixel level, semi-supervised), PixBal and AMSP+S (region level).

* :class:`Ssal`: the images nearest the centres of k-means clusters of the pool's features (a
  representative set, k = the round's image budget), annotated in full, and a model trained
  with self-training (:class:`~alsel.loop.selftrain.SelfTraining`).
* :class:`PixBal`: SLIC superpixels scored by their mean pixel uncertainty and taken balanced over
  the classes the model predicts for them (each predicted class gets an equal share of the B
  regions, its most uncertain first; rarest labelled classes first); every pixel of a region
  annotated.
* :class:`AmspS`: small SLIC superpixels merged each round where the model's predicted class
  distributions agree (adaptive superpixels), scored by class-balanced uncertainty mass; one
  dominant label per region, then pixels the model finds unlikely for that label sieved out.

A region with any pixel asked before (labelled, or void or sieved and so still unlabelled) or
labelled is never asked. docs/experiment.md ("The baselines")
says where each departs from its paper.
"""

from __future__ import annotations

import numpy as np

from . import regions as rg
from .selftrain import SelfTraining
from .store import NO_LABEL
from .strategies import Context, Request, Strategy


class _Superpixels:
    """SLIC segment maps of the pool, computed once per image (they depend on the image only)."""

    def __init__(self, n_segments: int, compactness: float) -> None:
        if int(n_segments) < 1:
            raise ValueError(f"n_segments must be >= 1; got {n_segments}.")
        if not float(compactness) > 0:
            raise ValueError(f"compactness must be > 0; got {compactness}.")
        self.n_segments, self.compactness = int(n_segments), float(compactness)
        self._cache: dict[int, np.ndarray] = {}

    def __call__(self, image_id: int, image: np.ndarray) -> np.ndarray:
        if image_id not in self._cache:
            self._cache[image_id] = rg.superpixels(image, self.n_segments, self.compactness)
        return self._cache[image_id]


def _free(segments: np.ndarray, n: int, label: np.ndarray | None, asked: np.ndarray | None) -> np.ndarray:
    """Bool (n,): segments none of whose pixels was asked before or is labelled."""
    taken = np.zeros(segments.shape, dtype=bool)
    if label is not None:
        taken |= label != NO_LABEL
    if asked is not None:
        taken |= asked
    if not taken.any():
        return np.ones(n, dtype=bool)
    return np.bincount(segments[taken], minlength=n)[:n] == 0


def _region_request(image_ids: np.ndarray, segment_maps: dict[int, np.ndarray],
                    chosen_ids: np.ndarray, chosen_segments: np.ndarray, info: dict) -> Request:
    """Region maps (1..k in each image) of the chosen (image, segment) pairs."""
    out = {}
    for image in np.unique(chosen_ids):
        segs = chosen_segments[chosen_ids == image]
        lookup = np.zeros(int(segment_maps[int(image)].max()) + 1, dtype=np.int64)
        lookup[segs] = np.arange(1, len(segs) + 1)
        out[int(image)] = lookup[segment_maps[int(image)]]
    return Request(regions=out, info=info)


def _check_region_context(context: Context, name: str) -> None:
    if context.pixels is None:
        raise ValueError(f"strategy {name!r} needs per-pixel predictions: the loop must give "
                         "Context(pixels=PixelView(...)).")


class PixBal(Strategy):
    """Region level: superpixels by uncertainty, balanced over predicted classes.

    Parameters
    ----------
    n_segments, compactness
        SLIC's parameters (:func:`alsel.loop.regions.superpixels`).
    uncertainty : "entropy" or "margin"
        The pixel uncertainty averaged over a superpixel.
    """

    kind = "region"
    name = "pixbal"
    needs_pixels = True
    region_annotation = "pixels"

    def __init__(self, n_segments: int = 64, compactness: float = 0.1, uncertainty: str = "entropy") -> None:
        if uncertainty not in rg.UNCERTAINTIES:
            raise ValueError(f"uncertainty must be one of {rg.UNCERTAINTIES}; got {uncertainty!r}.")
        self.superpixels = _Superpixels(n_segments, compactness)
        self.uncertainty = uncertainty

    def propose(self, context: Context) -> Request:
        _check_region_context(context, self.name)
        labels, asked = context.labels or {}, context.asked or {}
        ids, segs, score, cls, maps = [], [], [], [], {}
        for row, prob in context.pixels.probabilities():
            image_id = int(context.candidates[row])
            seg = self.superpixels(image_id, context.pixels.image(row))
            n = int(seg.max()) + 1
            free = _free(seg, n, labels.get(image_id), asked.get(image_id))
            unc = rg.segment_means(rg.pixel_uncertainty(prob, self.uncertainty), seg, n)
            predicted = rg.segment_means(prob, seg, n).argmax(axis=1)
            keep = np.flatnonzero(free)
            ids.append(np.full(len(keep), image_id)), segs.append(keep)
            score.append(unc[keep]), cls.append(predicted[keep])
            maps[image_id] = seg
        if not ids:
            return Request()
        ids, segs, score, cls = map(np.concatenate, (ids, segs, score, cls))
        n_labels = int(prob.shape[0])
        counts = (np.zeros(n_labels) if context.label_counts is None
                  else np.asarray(context.label_counts, dtype=np.float64))
        # Within each predicted class, most uncertain first; the classes take turns, the class
        # with the fewest labelled pixels first: each gets ~B / (classes present) regions.
        by_class = np.lexsort((-score, cls))
        first = np.searchsorted(cls[by_class], cls[by_class], side="left")
        turn = np.empty(len(cls), dtype=np.int64)
        turn[by_class] = np.arange(len(cls)) - first
        class_order = np.argsort(np.argsort(counts, kind="stable"), kind="stable")
        order = np.lexsort((-score, class_order[cls], turn))[:context.budget]
        info = {"regions_scored": int(len(ids)), "classes_asked": int(len(np.unique(cls[order])))}
        return _region_request(ids, maps, ids[order], segs[order], info)


class AmspS(Strategy):
    """Region level: AMSP+S, adaptive superpixels with dominant labels and sieving.

    Parameters
    ----------
    n_segments, compactness
        SLIC's parameters for the base superpixels (small: merging makes them adaptive).
    merge_threshold : float
        Touching base superpixels whose mean predicted class distributions differ by a
        Jensen-Shannon divergence (nats) below it are merged (:func:`~alsel.loop.regions.merge_segments`).
    max_merge : float
        A merged superpixel has at most this many times the mean base superpixel's pixels.
    sieve_ratio : float in [0, 1]
        A pixel of a labelled region is dropped when the model's probability of the region's
        dominant label is below this fraction of its mean over the region
        (:func:`~alsel.loop.regions.sieve`); 0 keeps every pixel (AMSP without the "+S").
    uncertainty : "margin" or "entropy"
    """

    kind = "region"
    name = "amsp+s"
    needs_pixels = True
    region_annotation = "dominant"

    def __init__(self, n_segments: int = 128, compactness: float = 0.1, merge_threshold: float = 0.05,
                 max_merge: float = 4.0, sieve_ratio: float = 0.5, uncertainty: str = "margin") -> None:
        if uncertainty not in rg.UNCERTAINTIES:
            raise ValueError(f"uncertainty must be one of {rg.UNCERTAINTIES}; got {uncertainty!r}.")
        if not 0.0 <= float(merge_threshold):
            raise ValueError(f"merge_threshold must be >= 0; got {merge_threshold}.")
        if not 0.0 <= float(sieve_ratio) <= 1.0:
            raise ValueError(f"sieve_ratio must lie in [0, 1]; got {sieve_ratio}.")
        if not float(max_merge) >= 1.0:
            raise ValueError(f"max_merge must be >= 1; got {max_merge}.")
        self.max_merge = float(max_merge)
        self.superpixels = _Superpixels(n_segments, compactness)
        self.merge_threshold, self.sieve_ratio = float(merge_threshold), float(sieve_ratio)
        self.uncertainty = uncertainty

    def propose(self, context: Context) -> Request:
        _check_region_context(context, self.name)
        labels, asked = context.labels or {}, context.asked or {}
        ids, segs, score, maps, sizes = [], [], [], {}, []
        weights = None
        for row, prob in context.pixels.probabilities():
            if weights is None:
                counts = (np.zeros(prob.shape[0]) if context.label_counts is None
                          else np.asarray(context.label_counts, dtype=np.float64))
                weights = rg.class_weights(counts)
            image_id = int(context.candidates[row])
            base = self.superpixels(image_id, context.pixels.image(row))
            n_base = int(base.max()) + 1
            free_base = _free(base, n_base, labels.get(image_id), asked.get(image_id))
            merged = rg.merge_segments(base, rg.segment_means(prob, base, n_base), self.merge_threshold,
                                       allowed=free_base,
                                       max_pixels=int(self.max_merge * base.size / n_base))
            n = int(merged.max()) + 1
            free = _free(merged, n, labels.get(image_id), asked.get(image_id))
            size = np.bincount(merged.ravel(), minlength=n)
            mass = rg.segment_means(rg.pixel_uncertainty(prob, self.uncertainty), merged, n) * size
            dominant = rg.segment_means(prob, merged, n).argmax(axis=1)
            keep = np.flatnonzero(free)
            ids.append(np.full(len(keep), image_id)), segs.append(keep)
            score.append((weights[dominant] * mass)[keep]), sizes.append(size[keep])
            maps[image_id] = merged
        if not ids:
            return Request()
        ids, segs, score, sizes = map(np.concatenate, (ids, segs, score, sizes))
        order = np.argsort(-score, kind="stable")[:context.budget]
        info = {"regions_scored": int(len(ids)), "mean_region_pixels": float(sizes[order].mean()) if len(order) else 0.0}
        return _region_request(ids, maps, ids[order], segs[order], info)

    def sieve(self, image: int, labels: np.ndarray, region_map: np.ndarray, prob: np.ndarray) -> np.ndarray:
        """The annotation of ``image``'s regions with its likely-noisy pixels set to NO_LABEL."""
        return rg.sieve(labels, region_map, prob, self.sieve_ratio)


class Ssal(Strategy):
    """Pixel level: representative images (nearest to k-means centres of the features), annotated
    in full; training is semi-supervised (self-training on confident pseudo-labels).

    Parameters
    ----------
    threshold : float
        Confidence for a pseudo-label (:class:`~alsel.loop.selftrain.SelfTraining`).
    """

    kind = "pixel"
    name = "ssal"

    def __init__(self, threshold: float = 0.9) -> None:
        self.self_training = SelfTraining(threshold=threshold)

    def propose(self, context: Context) -> Request:
        from sklearn.cluster import KMeans

        features = np.asarray(context.scores.features, dtype=np.float64)
        n = len(features)
        k = min(context.budget, n)
        if k == 0:
            return Request()
        if k == n:
            return Request(images=sorted(int(i) for i in context.candidates))
        km = KMeans(n_clusters=k, n_init=4, random_state=int(context.rng.integers(2**31))).fit(features)
        distance = np.linalg.norm(features - km.cluster_centers_[km.labels_], axis=1)
        order = np.lexsort((distance, km.labels_))
        first = np.r_[True, km.labels_[order][1:] != km.labels_[order][:-1]]
        chosen = order[first]
        if len(chosen) < k:  # fewer distinct clusters than k (identical features): fill at random
            rest = np.setdiff1d(np.arange(n), chosen)
            chosen = np.r_[chosen, context.rng.choice(rest, size=k - len(chosen), replace=False)]
        return Request(images=sorted(int(i) for i in context.candidates[chosen]),
                       info={"clusters": int(k)})
