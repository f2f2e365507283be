"""G and R for ``alsel.select`` in one call: the model pass, then :mod:`alsel.scores`."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable

import numpy as np
import scipy.sparse as sp
import torch

from alsel import scores
from alsel._validation import check_choice
from alsel.torch.features import FeatureSpec
from alsel.torch.distributed import check_dst, resolve_group
from alsel.torch.inference import predict_pool, resolve_device
from alsel.torch.knn import check_knn, knn_redundancy


def pool_scores(
    model: torch.nn.Module,
    images: Iterable,
    *,
    num_classes: int | None = None,
    knn: int | None = None,
    alpha: float = 1.0,
    confidence_mapping: str = "minmax",
    redundancy_mapping: str = "minmax",
    eps: float = scores.DEFAULT_EPS,
    reduction: str = "mean",
    activation: str = "softmax",
    lse_sharpness: float = 10.0,
    features: FeatureSpec = None,
    output: Callable[[object], torch.Tensor] | None = None,
    device: str | torch.device | None = None,
    autocast: bool | torch.dtype = False,
    progress: bool = True,
    chunk_size: int | None = None,
    distributed: bool | None = None,
    group: object | None = None,
    dst: int | None = None,
) -> tuple[np.ndarray, np.ndarray | sp.csr_matrix] | None:
    """Confidence G (C, N) and redundancy R from one pass of ``model`` over the pool.

    ``G = alsel.scores.confidence(p, alpha, confidence_mapping, eps)`` and, by default,
    ``R = alsel.scores.redundancy(features, redundancy_mapping)`` (dense N x N), where p and
    the features come from :func:`predict_pool` (see it for ``num_classes``, ``reduction``,
    ``activation``, ``lse_sharpness``, ``features``, ``output``, ``device``, ``autocast`` and
    ``progress``).

    With ``knn=k``, R is instead the symmetric k-nearest-neighbour sparse matrix of
    :func:`knn_redundancy` (CSR, the dense R on the neighbour pattern and the diagonal),
    computed in blocks of ``chunk_size`` rows on the model's device.

    Under torch.distributed (``distributed``, ``group``, ``dst``: see :func:`predict_pool`)
    each process scores its shard of the pool; with ``knn`` the features are gathered on every
    process and each searches the neighbours of its share of the rows; G and R are computed on
    every process (``dst=None``) or on ``dst`` only, and equal the single-process ones.

    Both R forms go to :func:`alsel.select` as they are: it takes the dense R, and the sparse R
    with its default pipeline and the "sparse", "mccormick", "exact" and "qp" formulations.

    Scores that cannot tell the images apart give a ``UserWarning`` (not an error: the pool may
    really be uniform): p the same for every image (G constant, all zeros with "minmax"), or
    features pointing the same way for every image (every cosine 1, R constant). With both,
    select() would pick the lowest image ids.

    Returns
    -------
    (G, R) : G ndarray (C, N); R ndarray (N, N), or scipy.sparse.csr_matrix with ``knn``.
    None on a process that is not ``dst``.
    """
    # Argument errors before the (long) pass, not after it.
    check_choice(redundancy_mapping, "redundancy_mapping", scores.R_MAPPINGS)
    check_choice(confidence_mapping, "confidence_mapping", scores.G_MAPPINGS)
    if not alpha > 0:
        raise ValueError(f"alpha must be > 0; got {alpha}.")
    if knn is not None:
        check_knn(knn, n_images=None)
    group = resolve_group(distributed, group)
    dst = check_dst(dst, group)
    prediction = predict_pool(
        model,
        images,
        num_classes=num_classes,
        reduction=reduction,
        activation=activation,
        lse_sharpness=lse_sharpness,
        features=features,
        output=output,
        device=device,
        autocast=autocast,
        progress=progress,
        distributed=group is not None,
        group=group,
        dst=None if knn is not None else dst,  # every process needs the features to search
    )
    if prediction is None:
        return None
    G = scores.confidence(prediction.p, alpha=alpha, mapping=confidence_mapping, eps=eps)
    if prediction.n_images > 1:
        warn_if_constant(prediction.p, prediction.features, G)
    if knn is None:
        return G, scores.redundancy(prediction.features, redundancy_mapping)
    R = knn_redundancy(
        prediction.features,
        knn,
        redundancy_mapping,
        device=resolve_device(model, device),
        chunk_size=chunk_size,
        distributed=group is not None,
        group=group,
        dst=dst,
    )
    return None if R is None else (G, R)


#: Spread below which float32 model outputs count as the same for every image (float32 rounds
#: at about 6e-8 relative; a constant output computed in batches of different sizes differs by
#: that much, and min-max scaling would blow such noise up to the whole [0, 1]).
CONSTANT_SPREAD = 1e-6


def warn_if_constant(p: np.ndarray, features: np.ndarray, G: np.ndarray) -> None:
    """Warn when p or the features' directions are (nearly) the same for every image."""
    p_spread = float(np.ptp(p, axis=0).max())
    if p_spread <= CONSTANT_SPREAD or float(np.ptp(G, axis=1).max()) == 0.0:
        warnings.warn(
            "pool_scores: the class-presence probabilities p are the same for every image of the "
            f"pool (largest spread over the images {p_spread:.3g}), so G does not tell images "
            "apart (each class's G is the same for every image, or float noise blown up by "
            "confidence_mapping='minmax'); select() "
            "then ranks by R alone, and with a constant R too it picks the lowest image ids. "
            "Check that the model is trained and sees the images (eval-mode statistics, "
            "normalization).",
            UserWarning,
            stacklevel=3,
        )
    norms = np.linalg.norm(features, axis=1, keepdims=True)
    unit = features / np.where(norms > 0, norms, 1.0)
    direction_spread = float(np.ptp(unit, axis=0).max())
    if direction_spread <= CONSTANT_SPREAD:
        warnings.warn(
            "pool_scores: the features point the same way for every image of the pool (largest "
            f"spread of the unit vectors {direction_spread:.3g}), so every cosine similarity is 1 "
            "and R does not tell images apart (with redundancy_mapping='minmax' it is all zeros "
            "or float noise). Choose other features= (a backbone layer that depends on the image).",
            UserWarning,
            stacklevel=3,
        )
