"""alsel.torch.losses: the binary-feedback loss against computations written out here."""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")
from torch.nn import functional as F  # noqa: E402

from alsel.torch.losses import (  # noqa: E402
    UNKNOWN,
    binary_feedback_loss,
    feedback_loss,
    lse_pool,
    pixel_loss,
    presence_logits,
)


def logits_of(n: int = 3, labels: int = 4, size: tuple[int, int] = (8, 8), seed: int = 0):
    return torch.randn(n, labels, *size, generator=torch.Generator().manual_seed(seed))


def by_hand(logits: torch.Tensor, answers: torch.Tensor, classes: list[int], r: float) -> torch.Tensor:
    """Log-softmax, LSE-pooled per class, as a logit, BCE on the answered pairs: plain loops."""
    terms = []
    for i in range(logits.shape[0]):
        log_q = torch.log_softmax(logits[i].double(), dim=0)
        for column, channel in enumerate(classes):
            answer = int(answers[i, column])
            if answer == UNKNOWN:
                continue
            pooled = torch.log(torch.exp(r * log_q[channel]).mean()) / r
            logit = pooled - torch.log(1 - torch.exp(pooled))
            p = torch.sigmoid(logit)
            terms.append(-(answer * torch.log(p) + (1 - answer) * torch.log(1 - p)))
    return torch.stack(terms).mean()


def test_loss_equals_the_computation_by_hand_with_background_at_channel_zero():
    logits = logits_of(labels=4)
    answers = torch.tensor([[1, 0, UNKNOWN], [UNKNOWN, 1, 1], [0, UNKNOWN, 0]])
    queryable = [1, 2, 3]  # VOC-like: background at channel 0, never asked about
    loss = binary_feedback_loss(logits, answers, classes=queryable, r=5.0)
    torch.testing.assert_close(loss.double(), by_hand(logits, answers, queryable, 5.0), rtol=1e-5, atol=1e-6)
    # classes= maps column j to channel classes[j]: not the default first channels
    default = binary_feedback_loss(logits, answers, r=5.0)
    torch.testing.assert_close(default.double(), by_hand(logits, answers, [0, 1, 2], 5.0), rtol=1e-5, atol=1e-6)
    assert not torch.isclose(loss, default)
    # and the column order follows classes=
    swapped = binary_feedback_loss(logits, answers[:, [2, 0, 1]], classes=[3, 1, 2], r=5.0)
    torch.testing.assert_close(swapped, loss)


def test_valid_leaves_padding_out():
    logits = logits_of(n=2, size=(6, 5))
    padded = torch.full((2, 4, 8, 9), 50.0)  # padding that would dominate any pooling
    padded[:, :, :6, :5] = logits
    valid = torch.zeros(2, 8, 9, dtype=torch.bool)
    valid[:, :6, :5] = True
    answers = torch.tensor([[1, 0, 1], [0, 1, UNKNOWN]])
    expected = binary_feedback_loss(logits, answers, classes=[1, 2, 3])
    torch.testing.assert_close(
        binary_feedback_loss(padded, answers, classes=[1, 2, 3], valid=valid), expected
    )
    torch.testing.assert_close(lse_pool(padded, 3.0, valid), lse_pool(logits, 3.0))
    assert not torch.isclose(binary_feedback_loss(padded, answers, classes=[1, 2, 3]), expected)


def test_unanswered_pairs_get_exactly_zero_gradient():
    logits = logits_of(n=3).requires_grad_()
    answers = torch.tensor([[1, 0, 1], [UNKNOWN, UNKNOWN, UNKNOWN], [0, UNKNOWN, 1]])
    binary_feedback_loss(logits, answers, classes=[1, 2, 3]).backward()
    assert torch.equal(logits.grad[1], torch.zeros_like(logits.grad[1]))  # nothing answered
    assert logits.grad[0].abs().sum() > 0 and logits.grad[2].abs().sum() > 0
    # With score="logits" each class is pooled on its own channel: the unanswered (2, column 1)
    # leaves channel 2 of image 2 without gradient.
    raw = logits_of(n=3).requires_grad_()
    binary_feedback_loss(raw, answers, classes=[1, 2, 3], score="logits").backward()
    assert torch.equal(raw.grad[2, 2], torch.zeros_like(raw.grad[2, 2]))
    assert raw.grad[2, 1].abs().sum() > 0
    # Nothing answered at all: a zero loss that still backpropagates (zeros).
    none = logits_of(n=2).requires_grad_()
    loss = binary_feedback_loss(none, torch.full((2, 3), UNKNOWN), classes=[1, 2, 3])
    loss.backward()
    assert float(loss.detach()) == 0.0 and torch.equal(none.grad, torch.zeros_like(none.grad))


def test_lower_resolution_logits_pool_with_valid_area_downsampled():
    low = logits_of(n=2, size=(4, 4))  # e.g. SegFormer's 1/4 of a 16 x 16 input
    valid = torch.zeros(2, 16, 16, dtype=torch.bool)
    valid[:, :, :8] = True  # the left half: whole cells of the 4 x 4 map
    answers = torch.tensor([[1, 0, 1], [0, 1, 0]])
    expected = binary_feedback_loss(low[:, :, :, :2], answers, classes=[1, 2, 3])
    torch.testing.assert_close(
        binary_feedback_loss(low, answers, classes=[1, 2, 3], valid=valid), expected
    )


def test_lse_pool_lies_between_mean_and_max_and_tends_to_them():
    scores = logits_of(n=2)
    mean, maximum = scores.mean(dim=(2, 3)), scores.amax(dim=(2, 3))
    pooled = lse_pool(scores, 5.0)
    assert (mean <= pooled + 1e-6).all() and (pooled <= maximum + 1e-6).all()
    exact = scores.double()  # float32 cannot resolve r -> 0: (1/r) amplifies its rounding
    torch.testing.assert_close(lse_pool(exact, 1e-6), exact.mean(dim=(2, 3)), atol=1e-5, rtol=0)
    torch.testing.assert_close(lse_pool(scores, 1e4), maximum, atol=1e-3, rtol=0)
    by_loop = torch.log(torch.exp(5.0 * scores.double()).mean(dim=(2, 3))) / 5.0
    torch.testing.assert_close(pooled.double(), by_loop, rtol=1e-5, atol=1e-6)


def test_pixel_and_feedback_loss():
    logits = logits_of(n=2, size=(4, 4))
    masks = torch.randint(0, 4, (2, 8, 8), generator=torch.Generator().manual_seed(1))
    masks[0, :2] = 255
    up = F.interpolate(logits, size=(8, 8), mode="bilinear", align_corners=False)
    pixel = pixel_loss(logits, masks, ignore_index=255)
    torch.testing.assert_close(pixel, F.cross_entropy(up, masks, ignore_index=255))
    assert float(pixel_loss(logits, torch.full((2, 8, 8), 255), ignore_index=255)) == 0.0
    answers = torch.tensor([[1, UNKNOWN, 0], [0, 1, 1]])
    loss, parts = feedback_loss(logits, masks, answers, classes=[1, 2, 3], ignore_index=255, beta=0.5)
    image = binary_feedback_loss(logits, answers, classes=[1, 2, 3])
    torch.testing.assert_close(loss, pixel + 0.5 * image)
    assert parts == pytest.approx({"pixel": float(pixel), "image": float(image)})


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"answers": torch.zeros(2, 3)}, r"answers must be \(n, C\) with n = 3"),
        ({"answers": torch.zeros(3)}, r"answers must be \(n, C\)"),
        ({"answers": torch.full((3, 3), 2)}, "answers must hold 1, 0 or UNKNOWN"),
        ({"classes": [1, 2, 4]}, r"classes \[1, 2, 4\] must be channels 0..3"),
        ({"classes": [1, 1, 2]}, "classes .* repeat a channel"),
        ({"classes": [1, 2]}, "classes has 2 entries but the answers have 3 columns"),
        ({"classes": []}, "classes must be a non-empty"),
        ({"r": 0.0}, "r must be > 0"),
        ({"score": "prob"}, "score must be one of"),
        ({"valid": torch.ones(3, 8, 8)}, "valid must be a bool tensor"),
        ({"valid": torch.ones(2, 8, 8, dtype=torch.bool)}, "valid must be a bool tensor .* n = 3"),
        ({"valid": torch.zeros(3, 8, 8, dtype=torch.bool)}, "valid leaves out every pixel"),
    ],
)
def test_errors_name_the_argument(kwargs, match):
    arguments = {"answers": torch.tensor([[1, 0, 1]] * 3), "classes": [1, 2, 3], **kwargs}
    answers = arguments.pop("answers")
    with pytest.raises(ValueError, match=match):
        binary_feedback_loss(logits_of(), answers, **arguments)


def test_a_single_channel_needs_score_logits():
    with pytest.raises(ValueError, match="score='logits'"):
        presence_logits(logits_of(labels=1), n_classes=1)
    pooled = presence_logits(logits_of(labels=1), n_classes=1, score="logits", r=2.0)
    torch.testing.assert_close(pooled, lse_pool(logits_of(labels=1), 2.0))
    assert math.isfinite(float(pooled.sum()))
