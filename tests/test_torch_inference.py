"""alsel.torch.predict_pool: p and features against direct computations written out here."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402
from torch.nn import functional as F  # noqa: E402

from alsel.torch import PoolPrediction, predict_pool  # noqa: E402

C = 5


class Body(nn.Module):
    """backbone (stride 1 or 2) -> 1x1 classifier -> back to the input size."""

    def __init__(self, stride: int = 1, seed: int = 0) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.backbone = nn.Sequential(
            nn.Conv2d(3, 8, 3, stride=stride, padding=1), nn.BatchNorm2d(8), nn.ReLU()
        )
        self.classifier = nn.Conv2d(8, C, 1)
        self.stride = stride
        with torch.no_grad():  # non-trivial running statistics, so that eval mode matters
            self.backbone[1].running_mean.uniform_(-0.5, 0.5)
            self.backbone[1].running_var.uniform_(0.5, 2.0)

    def logits(self, x):
        out = self.classifier(self.backbone(x))
        return F.interpolate(out, size=x.shape[-2:], mode="nearest") if self.stride > 1 else out


class TensorModel(Body):
    def forward(self, x):
        return self.logits(x)


class DictModel(Body):
    def forward(self, x):
        return {"out": self.logits(x), "aux": torch.zeros(1)}


class TupleModel(Body):
    def forward(self, x):
        return self.logits(x), self.classifier(self.backbone(x))


class QuarterResolutionModel(nn.Module):
    """Like transformers' segmenters: an object with .logits at 1/4 of the input size."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(1)
        self.backbone = nn.Conv2d(3, 8, 4, stride=4)
        self.head = nn.Conv2d(8, C, 1)

    def forward(self, x):
        return SimpleNamespace(logits=self.head(self.backbone(x)), hidden_states=None)


class SegDataSampleModel(Body):
    """MMSegmentation's predict mode: a list of SegDataSample with seg_logits.data (C, H, W)."""

    def forward(self, x):
        return [
            SimpleNamespace(seg_logits=SimpleNamespace(data=logits)) for logits in self.logits(x)
        ]


def pool(n: int = 7, size: int = 16, seed: int = 0) -> torch.Tensor:
    return torch.randn(n, 3, size, size, generator=torch.Generator().manual_seed(seed))


def batches(images: torch.Tensor, batch_size: int) -> list[torch.Tensor]:
    return [images[i : i + batch_size] for i in range(0, len(images), batch_size)]


def direct(logits: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """p = per-class average of pixel softmax probabilities; features = average logits."""
    probabilities = logits.exp() / logits.exp().sum(dim=1, keepdim=True)
    return probabilities.mean(dim=(2, 3)).double().numpy(), logits.mean(dim=(2, 3)).double().numpy()


def reference_logits(model: nn.Module, images: torch.Tensor) -> torch.Tensor:
    model.eval()
    with torch.no_grad():
        return model.logits(images)


@pytest.mark.parametrize("model_class", [TensorModel, DictModel, TupleModel, SegDataSampleModel])
def test_output_forms_match_direct_computation(model_class):
    model, images = model_class(), pool()
    prediction = predict_pool(model, batches(images, 3), num_classes=C, progress=False)
    p, features = direct(reference_logits(model, images))
    assert isinstance(prediction, PoolPrediction)
    assert prediction.p.shape == (7, C) and prediction.features.shape == (7, C)
    np.testing.assert_allclose(prediction.p, p, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(prediction.features, features, rtol=1e-5, atol=1e-5)


def test_logits_object_at_quarter_resolution_is_upsampled_to_the_input():
    model, images = QuarterResolutionModel(), pool(size=16)
    prediction = predict_pool(model, batches(images, 4), progress=False)
    with torch.no_grad():
        low = model.head(model.backbone(images))
    assert low.shape[-2:] == (4, 4)
    full = F.interpolate(low, size=(16, 16), mode="bilinear", align_corners=False)
    p, features = direct(full)
    np.testing.assert_allclose(prediction.p, p, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(prediction.features, features, rtol=1e-5, atol=1e-5)
    # Not the same as averaging the low-resolution map: the upsampling is really done.
    p_low, _ = direct(low)
    assert not np.allclose(prediction.p, p_low, atol=1e-6)


def test_segformer_from_a_tiny_config():
    transformers = pytest.importorskip("transformers")
    config = transformers.SegformerConfig(
        num_channels=3,
        num_encoder_blocks=2,
        depths=[1, 1],
        sr_ratios=[2, 1],
        hidden_sizes=[8, 16],
        patch_sizes=[7, 3],
        strides=[4, 2],
        num_attention_heads=[1, 1],
        mlp_ratios=[2, 2],
        decoder_hidden_size=16,
        num_labels=C,
    )
    torch.manual_seed(0)
    model = transformers.SegformerForSemanticSegmentation(config)
    images = pool(n=5, size=32)
    prediction = predict_pool(
        model, batches(images, 2), num_classes=C, features="segformer", progress=False
    )

    model.eval()
    with torch.no_grad():
        low = model(pixel_values=images).logits
        hidden = model.segformer(pixel_values=images).last_hidden_state
    assert low.shape[-2:] == (8, 8)
    p, _ = direct(F.interpolate(low, size=(32, 32), mode="bilinear", align_corners=False))
    np.testing.assert_allclose(prediction.p, p, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        prediction.features, hidden.mean(dim=(2, 3)).double().numpy(), rtol=1e-4, atol=1e-5
    )


def test_feature_hook_and_callable():
    model, images = TensorModel(), pool()
    hooked = predict_pool(model, batches(images, 3), features="backbone.2", progress=False)
    called = predict_pool(
        model, batches(images, 3), features=lambda x, out: model.backbone(x), progress=False
    )
    model.eval()
    with torch.no_grad():
        expected = model.backbone(images).mean(dim=(2, 3)).double().numpy()
    assert hooked.features.shape == (7, 8)
    np.testing.assert_allclose(hooked.features, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(called.features, expected, rtol=1e-5, atol=1e-6)
    assert not model.backbone[2]._forward_hooks, "the hook is removed after the pass"


def test_token_and_vector_features():
    model, images = TensorModel(), pool()
    tokens = predict_pool(
        model, [images], features=lambda x, out: out.flatten(2).transpose(1, 2), progress=False
    )
    vectors = predict_pool(model, [images], features=lambda x, out: out[:, :, 0, 0], progress=False)
    logits = reference_logits(model, images)
    np.testing.assert_allclose(
        tokens.features, logits.mean(dim=(2, 3)).numpy(), rtol=1e-5, atol=1e-6
    )
    np.testing.assert_allclose(vectors.features, logits[:, :, 0, 0].numpy(), rtol=1e-6)


@pytest.mark.parametrize("sharpness", [1.0, 10.0])
def test_max_and_lse_reductions(sharpness):
    model, images = TensorModel(), pool()
    probabilities = torch.softmax(reference_logits(model, images).double(), dim=1)
    maximum = predict_pool(model, batches(images, 3), reduction="max", progress=False)
    lse = predict_pool(
        model, batches(images, 3), reduction="lse", lse_sharpness=sharpness, progress=False
    )
    np.testing.assert_allclose(maximum.p, probabilities.amax(dim=(2, 3)).numpy(), rtol=1e-5)
    naive_lse = torch.log(torch.exp(sharpness * probabilities).mean(dim=(2, 3))) / sharpness
    np.testing.assert_allclose(lse.p, naive_lse.numpy(), rtol=1e-5, atol=1e-6)
    mean = predict_pool(model, batches(images, 3), progress=False).p
    assert (mean <= lse.p + 1e-6).all() and (lse.p <= maximum.p + 1e-6).all()


def test_sigmoid_activation():
    model, images = TensorModel(), pool()
    prediction = predict_pool(model, [images], activation="sigmoid", progress=False)
    expected = (1 / (1 + torch.exp(-reference_logits(model, images)))).mean(dim=(2, 3))
    np.testing.assert_allclose(prediction.p, expected.numpy(), rtol=1e-5)


@pytest.mark.parametrize("model_class", [TensorModel, QuarterResolutionModel])
def test_batch_size_does_not_change_the_result(model_class):
    model, images = model_class(), pool(n=10)
    one = predict_pool(model, batches(images, 1), progress=False)
    for batch_size in (3, 10):
        other = predict_pool(model, batches(images, batch_size), progress=False)
        np.testing.assert_allclose(other.p, one.p, rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(other.features, one.features, rtol=1e-5, atol=1e-6)


def test_pool_order_is_preserved_and_dataloaders_work():
    model, images = TensorModel(), pool(n=9)
    forward = predict_pool(model, batches(images, 4), progress=False)
    backward = predict_pool(model, batches(images.flip(0), 4), progress=False)
    np.testing.assert_allclose(backward.p, forward.p[::-1], rtol=1e-5, atol=1e-7)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(images), batch_size=4)
    np.testing.assert_allclose(
        predict_pool(model, loader, progress=False).p, forward.p, rtol=1e-5, atol=1e-7
    )
    singles = predict_pool(model, list(images), progress=False)  # one (channels, H, W) image each
    np.testing.assert_allclose(singles.p, forward.p, rtol=1e-5, atol=1e-7)


def test_eval_mode_is_used_and_training_flags_are_restored():
    model, images = TensorModel(), pool()
    model.train()
    model.classifier.eval()  # a user's own choice, which must survive
    prediction = predict_pool(model, batches(images, 2), progress=False)
    assert model.training and model.backbone[1].training and not model.classifier.training
    np.testing.assert_allclose(
        prediction.p, direct(reference_logits(model, images))[0], rtol=1e-5, atol=1e-6
    )


def ignore_masks(n: int, size: int, seed: int = 0) -> torch.Tensor:
    masks = torch.rand(n, size, size, generator=torch.Generator().manual_seed(seed)) < 0.4
    masks[:, :, -3:] = True  # padding on the right
    return masks


def test_ignore_mask_leaves_pixels_out():
    model, images = TensorModel(), pool(n=6)
    ignore = ignore_masks(6, 16)
    prediction = predict_pool(
        model,
        [{"image": images[:4], "ignore": ignore[:4]}, {"image": images[4:], "ignore": ignore[4:]}],
        progress=False,
    )
    logits = reference_logits(model, images)
    probabilities = torch.softmax(logits, dim=1)
    for i in range(6):
        kept = ~ignore[i]
        np.testing.assert_allclose(
            prediction.p[i], probabilities[i][:, kept].mean(dim=1).numpy(), rtol=1e-5, atol=1e-6
        )
        np.testing.assert_allclose(
            prediction.features[i], logits[i][:, kept].mean(dim=1).numpy(), rtol=1e-5, atol=1e-5
        )
    for reduction in ("max", "lse"):
        other = predict_pool(model, [{"image": images, "ignore": ignore}], reduction=reduction, progress=False)
        unmasked = predict_pool(model, [images], reduction=reduction, progress=False)
        if reduction == "max":
            expected = [probabilities[i][:, ~ignore[i]].amax(dim=1).numpy() for i in range(6)]
            np.testing.assert_allclose(other.p, np.array(expected), rtol=1e-5)
        assert not np.allclose(other.p, unmasked.p)


def test_left_out_pixels_do_not_matter_even_when_nan():
    class PixelWise(nn.Module):  # each pixel's logits depend on that pixel only
        def __init__(self):
            super().__init__()
            torch.manual_seed(3)
            self.conv = nn.Conv2d(3, C, 1)

        def forward(self, x):
            return self.conv(x)

    model, images = PixelWise(), pool(n=4)
    ignore = ignore_masks(4, 16, seed=1)
    spoiled = images.clone()
    spoiled[ignore.unsqueeze(1).expand_as(images)] = float("nan")
    clean = predict_pool(model, [{"image": images, "ignore": ignore}], progress=False)
    dirty = predict_pool(model, [{"image": spoiled, "ignore": ignore}], progress=False)
    np.testing.assert_allclose(dirty.p, clean.p, rtol=1e-6)
    np.testing.assert_allclose(dirty.features, clean.features, rtol=1e-6)


def test_ignore_mask_weights_a_lower_resolution_feature_map():
    model, images = TensorModel(stride=2), pool(n=3)
    ignore = torch.zeros(3, 16, 16, dtype=torch.bool)
    ignore[:, :, :8] = True  # the left half: whole 2x2 cells of the stride-2 feature map
    prediction = predict_pool(model, [{"image": images, "ignore": ignore}], features="backbone", progress=False)
    model.eval()
    with torch.no_grad():
        feature_map = model.backbone(images)
    np.testing.assert_allclose(
        prediction.features, feature_map[:, :, :, 4:].mean(dim=(2, 3)).numpy(), rtol=1e-5, atol=1e-6
    )


def test_autocast_on_the_cpu_is_close_to_float32():
    model, images = TensorModel(), pool()
    exact = predict_pool(model, [images], progress=False)
    bf16 = predict_pool(model, batches(images, 3), autocast=True, progress=False)
    np.testing.assert_allclose(bf16.p, exact.p, atol=2e-2)


def test_progress_bar_on_and_off(capsys):
    model, images = TensorModel(), pool()
    predict_pool(model, batches(images, 3), progress=False)
    assert capsys.readouterr().err == ""
    predict_pool(model, batches(images, 3), progress=True)
    assert "7img" in capsys.readouterr().err.replace(" ", "")


# Bad input: each a clear error naming what to change.


def test_class_axis_disagreeing_with_num_classes():
    with pytest.raises(ValueError, match=r"5 channels on the class axis .* num_classes=4.*permute"):
        predict_pool(TensorModel(), [pool()], num_classes=4, progress=False)


def test_class_axis_changing_between_batches():
    class Changing(nn.Module):
        def forward(self, x):
            return torch.zeros(x.shape[0], 2 + int(x[0, 0, 0, 0] > 0), *x.shape[-2:])

    images = [torch.full((1, 3, 4, 4), -1.0), torch.full((1, 3, 4, 4), 1.0)]
    with pytest.raises(ValueError, match="num_classes=2"):
        predict_pool(Changing(), images, progress=False)


def test_empty_pool():
    with pytest.raises(ValueError, match="pool is empty"):
        predict_pool(TensorModel(), [], progress=False)
    with pytest.raises(ValueError, match="pool is empty"):
        predict_pool(TensorModel(), iter(()), progress=False)


def test_nan_outputs():
    class NaNModel(TensorModel):
        def forward(self, x):
            out = self.logits(x)
            out[2:3] = float("nan")  # the third image of each batch of 3: images 2 and 5
            return out

    with pytest.raises(ValueError, match=r"of 2 images are NaN or infinite \(first: image 2\)"):
        predict_pool(NaNModel(), batches(pool(), 3), progress=False)


def test_unknown_output_form_asks_for_output_callable():
    class Odd(nn.Module):
        def forward(self, x):
            return {"segmentation": torch.zeros(x.shape[0], C, 4, 4)}

    with pytest.raises(TypeError, match=r"keys \['segmentation'\].*output="):
        predict_pool(Odd(), [pool()], progress=False)
    prediction = predict_pool(
        Odd(), [pool()], output=lambda out: out["segmentation"], progress=False
    )
    np.testing.assert_allclose(prediction.p, 1 / C, rtol=1e-6)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"features": "backbone.layer4"}, ValueError, r"no submodule .*'backbone'"),
        ({"features": 3}, TypeError, "features must be"),
        ({"reduction": "median"}, ValueError, "reduction"),
        ({"activation": "relu"}, ValueError, "activation"),
        ({"lse_sharpness": 0}, ValueError, "lse_sharpness"),
        ({"num_classes": 0}, ValueError, "num_classes"),
        ({"device": "cuda"}, ValueError, r"model first \(model.to\(device\)\)"),
        ({"autocast": "yes"}, TypeError, "autocast"),
    ],
)
def test_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        predict_pool(TensorModel(), [pool()], progress=False, **kwargs)


@pytest.mark.parametrize(
    ("item", "error", "match"),
    [
        ({"image": pool(), "ignore": torch.zeros(7, 16, 16)}, TypeError, "bool tensor"),
        (
            {"image": pool(), "ignore": torch.zeros(7, 8, 8, dtype=torch.bool)},
            ValueError,
            r"shape \(B, H, W\)",
        ),
        ((pool(), None, None), ValueError, "3 elements"),
        ({"pixels": pool()}, ValueError, "'image' key"),
        (pool().to(torch.uint8), TypeError, "floating point"),
        (torch.zeros(16, 16), ValueError, "channels"),
        ("image.png", TypeError, "torch.Tensor or numpy array"),
    ],
)
def test_bad_batches(item, error, match):
    with pytest.raises(error, match=match):
        predict_pool(TensorModel(), [item], progress=False)


def test_an_image_with_every_pixel_left_out():
    ignore = torch.zeros(7, 16, 16, dtype=torch.bool)
    ignore[2] = True
    with pytest.raises(ValueError, match="image 2 leaves out every pixel"):
        predict_pool(TensorModel(), [{"image": pool(), "ignore": ignore}], progress=False)


def test_softmax_over_a_single_logit_is_refused():
    class Binary(nn.Module):
        def forward(self, x):
            return x[:, :1]

    with pytest.raises(ValueError, match="activation='sigmoid'"):
        predict_pool(Binary(), [pool()], progress=False)
    assert predict_pool(Binary(), [pool()], activation="sigmoid", progress=False).p.shape == (7, 1)


def test_hooked_module_that_does_not_run():
    class Unused(TensorModel):
        def __init__(self):
            super().__init__()
            self.spare = nn.Identity()

    with pytest.raises(ValueError, match="'spare' did not run"):
        predict_pool(Unused(), [pool()], features="spare", progress=False)


def test_rows_gather_in_order_through_buffer_growth():
    from alsel.torch.rows import RowBuffer

    buffer = RowBuffer("p", capacity=2)
    blocks = [torch.full((n, 3), float(i)) for i, n in enumerate([1, 3, 2, 5])]
    for block in blocks:
        buffer.append(block)
    assert torch.equal(buffer.rows(), torch.cat(blocks))
    with pytest.raises(ValueError, match="p changed size between batches"):
        buffer.append(torch.zeros(1, 4))


def test_an_unsized_generator_gives_what_a_list_gives():
    model, images = (
        TensorModel(),
        torch.randn(1100, 3, 2, 2, generator=torch.Generator().manual_seed(5)),
    )
    listed = predict_pool(model, batches(images, 64), progress=False)
    generated = predict_pool(
        model, (b for b in batches(images, 64)), progress=False
    )  # grows past 1024 rows
    np.testing.assert_array_equal(generated.p, listed.p)
    np.testing.assert_allclose(
        listed.p[1099], direct(reference_logits(model, images[1099:]))[0][0], rtol=1e-5
    )
