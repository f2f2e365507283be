"""The loop on transformers models built from configs (random weights): SegFormer, UperNet and the
query-based Mask2Former, trained with alsel's losses, scored, evaluated, end to end."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from alsel.datasets import ArrayImageSet, LabelSpace  # noqa: E402
from alsel.loop.config import load_config  # noqa: E402
from alsel.loop.engine import run_experiment  # noqa: E402
from alsel.loop.scoring import presence_and_features  # noqa: E402
from alsel.models import hf  # noqa: E402

FACTORIES = {"segformer": hf.segformer, "upernet": hf.upernet, "mask2former": hf.mask2former}
LABELS = LabelSpace(("background", "a", "b", "c"), background=0)


def _hand_probabilities(out, size) -> torch.Tensor:
    """Per-pixel class probabilities (B, L, H, W) at ``size``, computed here from the raw output:
    softmax of the bilinearly resized logits, or for Mask2Former HF's semantic scores
    sum_q softmax(class)[:-1] * sigmoid(resized mask) normalised per pixel."""
    F = torch.nn.functional
    if hasattr(out, "class_queries_logits"):
        masks = F.interpolate(out.masks_queries_logits, size=size, mode="bilinear", align_corners=False)
        scores = torch.einsum("bqc,bqhw->bchw", out.class_queries_logits.softmax(-1)[..., :-1], masks.sigmoid())
        return scores / scores.sum(dim=1, keepdim=True)
    logits = F.interpolate(out.logits, size=size, mode="bilinear", align_corners=False)
    return logits.softmax(dim=1)


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_pool_presence_of_images_of_different_sizes_equals_a_computation_by_hand(name):
    """p of each image, scored in a batch padded to 64 x 64 with others, is the mean over that
    image's own pixels (not the padding) of the model's probabilities on the padded input."""
    model = FACTORIES[name](num_labels=4, in_channels=1, seed=0).eval()
    rng = np.random.default_rng(0)
    images = [rng.random((1, h, w), dtype=np.float32) for h, w in ((64, 64), (64, 32), (32, 64))]
    pool = ArrayImageSet(images, None, LABELS)
    got = presence_and_features(model, pool, LABELS.queryable, size_divisor=32)
    for i, image in enumerate(images):
        h, w = image.shape[1:]
        padded = torch.zeros(1, 1, 64, 64)
        padded[0, :, :h, :w] = torch.from_numpy(image)
        with torch.no_grad():
            q = _hand_probabilities(model(padded), (64, 64))[0, :, :h, :w]
        expected = q.mean(dim=(1, 2)).double().numpy()[list(LABELS.queryable)]
        np.testing.assert_allclose(got.presence[i], expected, rtol=1e-5, atol=1e-7)
    assert got.features.shape[0] == 3 and np.isfinite(got.features).all()


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_the_loop_trains_scores_and_asks_with_each_model(name, tmp_path):
    config = load_config(overrides={
        "data": {"size": 32, "scale": [8, 14], "labeled": 6, "unlabeled": 10, "test": 4},
        "model": {"factory": f"alsel.models.hf:{name}"},
        "train": {"steps": 3, "epochs": 1, "batch_size": 4, "optimizer": {"name": "AdamW", "lr": 1e-3}},
        "loop": {"iterations": 1, "budget": 6, "c_max": 2, "strategies": ["proposed", "ee"]},
    })
    rows = run_experiment(config, tmp_path / "run", plots=False)
    assert [(r["strategy"], r["iteration"]) for r in rows] == [
        ("ee", 0), ("ee", 1), ("proposed", 0), ("proposed", 1)]
    for row in rows:
        assert 0 <= row["miou"] <= 100 and np.isfinite(row["loss_pixel"])
    assert all(r["cum_queries"] == 6 for r in rows if r["iteration"] == 1)
    assert all(np.isfinite(r["loss_image"]) for r in rows if r["iteration"] == 1)


def test_a_query_model_trains_through_the_log_of_its_probabilities():
    """The pixel loss of Mask2Former in the loop is the NLL of HF's (normalised) semantic scores,
    and its gradient reaches the model."""
    from alsel.loop.train import _logits
    from alsel.torch.losses import pixel_loss

    model = hf.mask2former(num_labels=4, in_channels=1, seed=1).train()
    x = torch.rand(2, 1, 64, 64)
    masks = torch.randint(0, 4, (2, 64, 64))
    loss = pixel_loss(_logits(model, x), masks)
    out = model(x)
    size = tuple(out.masks_queries_logits.shape[-2:])
    q = _hand_probabilities(out, size)
    q = torch.nn.functional.interpolate(q.log(), size=(64, 64), mode="bilinear", align_corners=False)
    expected = torch.nn.functional.nll_loss(q.log_softmax(dim=1), masks)
    assert float(loss.detach()) == pytest.approx(float(expected.detach()), rel=1e-4)
    loss.backward()
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert grads and any(float(g.abs().sum()) > 0 for g in grads)
