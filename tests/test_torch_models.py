"""Every model family of docs/torch.md's table, randomly initialised: p, features, G and R from
pool_scores / predict_pool against the same quantities computed here from the model's raw output.

transformers (SegFormer, UperNet, MaskFormer, Mask2Former) runs here. segmentation_models_pytorch
and torchvision cannot be imported beside this CPU torch (PyPI's torchvision wheels are CUDA
builds: "operator torchvision::nms does not exist"; smp imports timm, which imports torchvision),
so their tests skip here and run where those packages import.
"""

from __future__ import annotations

import warnings
from collections import OrderedDict

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402
from torch.nn import functional as F  # noqa: E402

from alsel.scores import DEFAULT_EPS  # noqa: E402
from alsel.torch import pool_scores, predict_pool  # noqa: E402

C = 4


def images(n: int = 5, size: int = 64, seed: int = 0) -> torch.Tensor:
    return torch.randn(n, 3, size, size, generator=torch.Generator().manual_seed(seed))


def batches(x: torch.Tensor, batch_size: int) -> list[torch.Tensor]:
    return [x[i : i + batch_size] for i in range(0, len(x), batch_size)]


def G_by_hand(p: np.ndarray) -> np.ndarray:
    """Eq. 2 with the default min-max mapping: 1 / binary entropy, scaled onto [0, 1]; (C, N)."""
    q = np.clip(p, DEFAULT_EPS, 1 - DEFAULT_EPS)
    G = 1.0 / -(q * np.log(q) + (1 - q) * np.log(1 - q))
    return ((G - G.min()) / (G.max() - G.min())).T


def R_by_hand(features: np.ndarray) -> np.ndarray:
    """Eq. 3 with the default min-max mapping: cosine similarities scaled onto [0, 1]."""
    unit = features / np.linalg.norm(features, axis=1, keepdims=True)
    cos = unit @ unit.T
    return (cos - cos.min()) / (cos.max() - cos.min())


def check_against_hand(model, pool, p, feats, *, rtol=1e-4, atol=1e-5, **kwargs) -> None:
    """predict_pool's p and features, and pool_scores' G and R, equal the hand computation."""
    prediction = predict_pool(model, pool, progress=False, **kwargs)
    np.testing.assert_allclose(prediction.p, p, rtol=rtol, atol=atol)
    np.testing.assert_allclose(prediction.features, feats, rtol=rtol, atol=atol)
    G, R = pool_scores(model, pool, progress=False, **kwargs)
    np.testing.assert_allclose(G, G_by_hand(p.astype(np.float64)), atol=1e-3)
    np.testing.assert_allclose(R, R_by_hand(feats.astype(np.float64)), atol=1e-3)


def softmax_mean(logits: torch.Tensor, size: tuple[int, int]) -> np.ndarray:
    """The paper's p: pixel softmax probabilities at the input size, averaged per class."""
    if tuple(logits.shape[-2:]) != tuple(size):
        logits = F.interpolate(logits, size=size, mode="bilinear", align_corners=False)
    return torch.softmax(logits.double(), dim=1).mean(dim=(2, 3)).numpy()


def pooled(feature_map: torch.Tensor) -> np.ndarray:
    return feature_map.double().mean(dim=(2, 3)).numpy()


# transformers ------------------------------------------------------------------------------


def test_segformer_logits_at_a_quarter_and_encoder_features():
    transformers = pytest.importorskip("transformers")
    config = transformers.SegformerConfig(
        num_encoder_blocks=2, depths=[1, 1], sr_ratios=[2, 1], hidden_sizes=[8, 16],
        patch_sizes=[7, 3], strides=[4, 2], num_attention_heads=[1, 1], mlp_ratios=[2, 2],
        decoder_hidden_size=16, num_labels=C,
    )  # fmt: skip
    torch.manual_seed(0)
    model = transformers.SegformerForSemanticSegmentation(config).eval()
    x = images(5, 32)
    with torch.no_grad():
        out = model(pixel_values=x)
        hidden = model.segformer(pixel_values=x).last_hidden_state
    assert out.logits.shape[-2:] == (8, 8)  # 1/4 of the input
    check_against_hand(
        model, batches(x, 2), softmax_mean(out.logits, (32, 32)), pooled(hidden),
        features="segformer", num_classes=C,
    )  # fmt: skip


def tiny_upernet():
    transformers = pytest.importorskip("transformers")
    backbone = transformers.ConvNextConfig(
        hidden_sizes=[8, 16, 24, 32], depths=[1, 1, 1, 1],
        out_features=["stage1", "stage2", "stage3", "stage4"],
    )  # fmt: skip
    config = transformers.UperNetConfig(
        backbone_config=backbone, hidden_size=16, num_labels=C, use_auxiliary_head=False
    )
    torch.manual_seed(1)
    return transformers.UperNetForSemanticSegmentation(config).eval()


def test_upernet_full_resolution_logits_and_backbone_feature_maps():
    model, x = tiny_upernet(), images(5, 64)
    with torch.no_grad():
        out = model(pixel_values=x)
        maps = model.backbone(x).feature_maps  # a BackboneOutput, shallow -> deep
    assert out.logits.shape[-2:] == (64, 64)  # full resolution, unlike SegFormer
    assert [m.shape[-1] for m in maps] == [16, 8, 4, 2]
    check_against_hand(
        model, batches(x, 2), softmax_mean(out.logits, (64, 64)), pooled(maps[-1]),
        features="backbone",
    )  # fmt: skip


def tiny_swin(size: int):
    transformers = pytest.importorskip("transformers")
    return transformers.SwinConfig(
        embed_dim=16, depths=[1, 1, 1, 1], num_heads=[1, 1, 2, 2], window_size=4,
        image_size=size, out_features=["stage1", "stage2", "stage3", "stage4"],
    )  # fmt: skip


def normalised(scores: torch.Tensor) -> torch.Tensor:
    return scores / scores.sum(dim=0, keepdim=True)


def test_mask2former_reads_as_hf_semantic_post_processing():
    """At Mask2Former's 384 x 384 input, HF's post-processing is the definition exactly."""
    transformers = pytest.importorskip("transformers")
    from transformers.models.mask2former import Mask2FormerImageProcessorPil

    from alsel.torch.outputs import query_scores

    config = transformers.Mask2FormerConfig(
        backbone_config=tiny_swin(384), num_labels=C, num_queries=6, hidden_dim=32,
        feature_size=32, mask_feature_size=32, encoder_feedforward_dim=32, dim_feedforward=32,
        encoder_layers=1, decoder_layers=2, num_attention_heads=2,
    )  # fmt: skip
    torch.manual_seed(2)
    model = transformers.Mask2FormerForUniversalSegmentation(config).eval()
    x = images(2, 384, seed=3)
    with torch.no_grad():
        out = model(pixel_values=x)
        backbone = model.model.pixel_level_module.encoder(x).feature_maps[-1]
    assert out.masks_queries_logits.shape[-2:] == (96, 96)
    hf = Mask2FormerImageProcessorPil().post_process_semantic_segmentation(
        out, target_sizes=[(384, 384)] * 2, return_segmentation_scores=True
    )
    mine = query_scores(out, 2, (384, 384), C, 0)
    for i in range(2):
        scores = hf[i].segmentation_scores
        assert scores.shape == (C, 384, 384)
        assert scores.sum(dim=0).max() > 1.01  # HF's scores are not a distribution: normalised
        torch.testing.assert_close(mine[i], normalised(scores), rtol=1e-4, atol=1e-6)
        assert torch.equal(mine[i].argmax(dim=0), hf[i].segmentation)
    p = np.stack([normalised(h.segmentation_scores).double().mean(dim=(1, 2)).numpy() for h in hf])
    check_against_hand(
        model, batches(x, 1), p, pooled(backbone), features="model.pixel_level_module.encoder",
        num_classes=C,
    )  # fmt: skip
    with pytest.raises(ValueError, match="query-based.*activation"):
        predict_pool(model, batches(x, 1), activation="sigmoid", progress=False)


def test_maskformer_reads_as_hf_semantic_post_processing():
    """MaskFormer's post-processing combines the low-resolution masks, then resizes the scores."""
    transformers = pytest.importorskip("transformers")
    from transformers.models.maskformer import MaskFormerImageProcessorPil

    from alsel.torch.outputs import query_scores

    decoder = {
        "model_type": "detr", "d_model": 32, "encoder_layers": 1, "decoder_layers": 1,
        "encoder_attention_heads": 2, "decoder_attention_heads": 2, "encoder_ffn_dim": 32,
        "decoder_ffn_dim": 32, "num_queries": 6,
    }  # fmt: skip
    config = transformers.MaskFormerConfig(
        backbone_config=tiny_swin(64), num_labels=C, num_queries=6, fpn_feature_size=32,
        mask_feature_size=32, decoder_config=decoder,
    )  # fmt: skip
    torch.manual_seed(4)
    model = transformers.MaskFormerForInstanceSegmentation(config).eval()
    x = images(3, 64, seed=5)
    with torch.no_grad():
        out = model(pixel_values=x)
    hf = MaskFormerImageProcessorPil().post_process_semantic_segmentation(
        out, target_sizes=[(64, 64)] * 3, return_segmentation_scores=True
    )
    mine = query_scores(out, 3, (64, 64), C, 0)
    for i in range(3):
        torch.testing.assert_close(mine[i], normalised(hf[i].segmentation_scores), rtol=1e-4, atol=1e-6)
        assert torch.equal(mine[i].argmax(dim=0), hf[i].segmentation)
    p = np.stack([normalised(h.segmentation_scores).double().mean(dim=(1, 2)).numpy() for h in hf])
    prediction = predict_pool(model, batches(x, 2), progress=False)
    np.testing.assert_allclose(prediction.p, p, rtol=1e-4, atol=1e-6)
    # features=None for a query-based model: the pooled per-pixel class probabilities
    np.testing.assert_allclose(prediction.features, p, rtol=1e-4, atol=1e-6)


# segmentation_models_pytorch and torchvision (skipped where they cannot be imported) ---------


def test_smp_deeplabv3plus_encoder_features_are_the_deepest_map():
    smp = pytest.importorskip(
        "segmentation_models_pytorch",
        reason="segmentation_models_pytorch (through timm, torchvision) does not import here",
    )
    torch.manual_seed(0)
    model = smp.DeepLabV3Plus(encoder_name="resnet18", encoder_weights=None, classes=C).eval()
    x = images(4, 64)
    with torch.no_grad():
        logits = model(x)
        maps = model.encoder(x)  # [x itself, stride 2, ..., stride 32]
    assert torch.equal(maps[0], x)
    deepest = maps[-1]
    assert deepest.shape[1] == 512
    check_against_hand(
        model, batches(x, 2), softmax_mean(logits, (64, 64)), pooled(deepest), features="encoder"
    )


@pytest.mark.parametrize("builder", ["deeplabv3_resnet50", "fcn_resnet50"])
def test_torchvision_backbone_ordered_dict_is_read_as_out(builder):
    pytest.importorskip("torchvision", reason="torchvision does not import beside this CPU torch")
    from torchvision.models import segmentation

    torch.manual_seed(0)
    model = getattr(segmentation, builder)(
        weights=None, weights_backbone=None, num_classes=C, aux_loss=True
    ).eval()
    x = images(3, 64)
    with torch.no_grad():
        out = model(x)
        features = model.backbone(x)  # OrderedDict {"out": layer4, "aux": layer3}
    assert list(features) == ["out", "aux"]
    check_against_hand(
        model, batches(x, 2), softmax_mean(out["out"], (64, 64)), pooled(features["out"]),
        features="backbone",
    )  # fmt: skip


# Containers of feature maps, with stand-ins for the packages above ---------------------------


class Pyramid(nn.Module):
    """Returns its stages' maps in a container, like the encoders and backbones above."""

    def __init__(self, form: str) -> None:
        super().__init__()
        self.form = form
        self.stage1 = nn.Conv2d(3, 6, 3, stride=2, padding=1)
        self.stage2 = nn.Conv2d(6, 10, 3, stride=2, padding=1)

    def forward(self, x):
        f1 = torch.relu(self.stage1(x))
        f2 = torch.relu(self.stage2(f1))
        if self.form == "smp":
            return [x, f1, f2]
        if self.form == "torchvision":
            return OrderedDict([("out", f2), ("aux", f1)])
        if self.form == "dict":
            return {"layer1": f1, "layer2": f2}
        return [f2, f1]  # "deep first": not shallow -> deep


class Segmenter(nn.Module):
    def __init__(self, form: str) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.encoder = Pyramid(form)
        self.head = nn.Conv2d(10, C, 1)

    def forward(self, x):
        maps = self.encoder(x)
        deepest = maps["out"] if isinstance(maps, dict) and "out" in maps else (
            list(maps.values())[-1] if isinstance(maps, dict) else max(maps, key=lambda m: m.shape[1]))
        return F.interpolate(self.head(deepest), size=x.shape[-2:], mode="bilinear")


@pytest.mark.parametrize("form", ["smp", "torchvision", "dict"])
def test_a_container_of_feature_maps_is_read_as_its_deepest_map(form):
    model, x = Segmenter(form).eval(), images(5, 32)
    with torch.no_grad():
        logits = model(x)
        deepest = torch.relu(model.encoder.stage2(torch.relu(model.encoder.stage1(x))))
    prediction = predict_pool(model, batches(x, 2), features="encoder", progress=False)
    assert prediction.features.shape == (5, 10)  # not the input image's 3 channels
    np.testing.assert_allclose(prediction.features, pooled(deepest), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(prediction.p, softmax_mean(logits, (32, 32)), rtol=1e-5, atol=1e-6)


def test_feature_maps_not_ordered_shallow_to_deep_are_refused():
    with pytest.raises(ValueError, match=r"not ordered shallow -> deep.*features= a callable"):
        predict_pool(Segmenter("deep first"), [images(2, 32)], features="encoder", progress=False)


def test_a_mixed_container_names_the_callable():
    class Mixed(nn.Module):
        def forward(self, x):
            return {"map": x, "vector": x.mean(dim=(2, 3))}

    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.part = Mixed()

        def forward(self, x):
            self.part(x)
            return x[:, :2]

    with pytest.raises(TypeError, match="features= a\\s+callable"):
        predict_pool(Model(), [images(2, 8)], features="part", progress=False)


# Batches: a pair is ambiguous -------------------------------------------------------------------


def test_a_pair_with_a_bool_target_is_refused_not_taken_as_an_ignore_mask():
    x = images(3, 16)
    target = torch.rand(3, 16, 16, generator=torch.Generator().manual_seed(0)) > 0.5
    model = Segmenter("smp")
    with pytest.raises(ValueError, match=r'ambiguous.*\{"image": images, "ignore": mask\}'):
        predict_pool(model, [(x, target)], progress=False)
    with pytest.raises(ValueError, match="ambiguous"):
        predict_pool(model, [[x, target]], progress=False)
    # The named forms: images alone, (images,), and a dict whose mask is an ignore mask.
    alone = predict_pool(model, [x], progress=False).p
    np.testing.assert_array_equal(predict_pool(model, [(x,)], progress=False).p, alone)
    masked = predict_pool(model, [{"image": x, "ignore": target}], progress=False).p
    assert not np.allclose(masked, alone)


# Precision --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("dtype", "tolerance"), [(torch.bfloat16, 3e-2), (torch.float64, 1e-6)])
def test_a_reduced_or_double_precision_model_gets_inputs_in_its_dtype(dtype, tolerance):
    model, x = Segmenter("smp").eval(), images(4, 32)
    reference = predict_pool(model, batches(x, 2), features="encoder", progress=False)
    model.to(dtype)
    other = predict_pool(model, batches(x, 2), features="encoder", progress=False)
    assert model.head.weight.dtype == dtype  # the model is not changed
    np.testing.assert_allclose(other.p, reference.p, atol=tolerance)
    np.testing.assert_allclose(other.features, reference.features, atol=10 * tolerance)


# Scores that cannot tell images apart ------------------------------------------------------------


class Constant(nn.Module):
    """Logits that ignore the image; features that point the same way for every image."""

    def __init__(self) -> None:
        super().__init__()
        self.bias = nn.Parameter(torch.tensor([0.3, -0.2, 0.5, 0.0]))
        self.encoder = nn.Identity()

    def forward(self, x):
        self.encoder(x.mean(dim=(1, 2, 3))[:, None] * 0 + 1 + x.mean(dim=(1, 2, 3))[:, None] ** 2)
        return self.bias[None, :, None, None].expand(x.shape[0], -1, *x.shape[-2:])


def test_constant_p_and_features_warn():
    x = images(6, 8)
    with pytest.warns(UserWarning) as record:
        G, R = pool_scores(Constant(), batches(x, 4), features="encoder", progress=False)
    messages = [str(w.message) for w in record]
    assert any("p are the same for every image" in m and "lowest image ids" in m for m in messages)
    assert any("features point the same way for every image" in m for m in messages)
    assert np.ptp(G, axis=1).max() == 0  # the same for every image (not for every class)


def test_varied_scores_do_not_warn():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pool_scores(Segmenter("smp"), batches(images(6, 16), 4), features="encoder", progress=False)


# MMSegmentation: predict mode's SegDataSample list (its models cannot be built here) ------------


def test_mmseg_predict_mode_seg_data_samples_are_stacked():
    structures = pytest.importorskip(
        "mmseg.structures", reason="mmsegmentation (with mmengine and mmcv) does not import here"
    )
    from mmengine.structures import PixelData

    class PredictMode(nn.Module):
        """What EncoderDecoder(mode="predict") returns: one SegDataSample per image."""

        def __init__(self):
            super().__init__()
            torch.manual_seed(0)
            self.head = nn.Conv2d(3, C, 3, padding=1)

        def forward(self, x):
            samples = []
            for logits in self.head(x):
                sample = structures.SegDataSample()
                sample.seg_logits = PixelData(data=logits)
                samples.append(sample)
            return samples

    model, x = PredictMode().eval(), images(5, 16)
    with torch.no_grad():
        logits = model.head(x)
    check_against_hand(model, batches(x, 2), softmax_mean(logits, (16, 16)), pooled(logits))
