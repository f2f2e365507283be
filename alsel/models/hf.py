"""Hugging Face transformers segmentation models built from a config, with random weights.

Nothing is downloaded: the model is made from a config object, so it runs where there is no
network (tests, the example in ``examples/own_data``). To start from pretrained weights, write
your own factory around ``from_pretrained`` (docs/loop.md, "Your own data and model").
"""

from __future__ import annotations

from collections.abc import Sequence

import torch


def segformer(num_labels: int, in_channels: int, *, hidden_sizes: Sequence[int] = (16, 32, 64, 128),
              depths: Sequence[int] = (1, 1, 1, 1), heads: Sequence[int] = (1, 2, 4, 8),
              decoder_hidden_size: int = 64, seed: int | None = None) -> torch.nn.Module:
    """A SegFormer (``SegformerForSemanticSegmentation``) of four stages, randomly initialised.

    The default is far smaller than SegFormer-B0 (hidden sizes 32-256, decoder 256). Its logits
    are at 1/4 of the input resolution (the loop's losses and scoring resize them); inputs are
    padded to a multiple of 32 (``size_divisor``); the image features are the tokens of the last
    encoder stage (``feature_module``).

    Parameters
    ----------
    num_labels, in_channels : int
        Labels of the segmentation and channels of the images.
    hidden_sizes, depths, heads : sequences of 4 ints
        Width, transformer blocks and attention heads of each stage.
    decoder_hidden_size : int
        Width of the all-MLP decode head.
    seed : int, optional
        Seed torch's generator before the weights are drawn (the loop seeds it already).
    """
    from transformers import SegformerConfig, SegformerForSemanticSegmentation

    if seed is not None:
        torch.manual_seed(seed)
    config = SegformerConfig(
        num_channels=in_channels, num_labels=num_labels, num_encoder_blocks=4,
        hidden_sizes=list(hidden_sizes), depths=list(depths), num_attention_heads=list(heads),
        decoder_hidden_size=decoder_hidden_size, sr_ratios=[8, 4, 2, 1],
        mlp_ratios=[2, 2, 2, 2], drop_path_rate=0.0)
    model = SegformerForSemanticSegmentation(config)
    last = len(hidden_sizes) - 1
    names = {name for name, _ in model.named_modules()}
    # the last stage's output: transformers 5 names it segformer.stages.<k>, 4.x has the encoder's
    # per-stage layer norms
    model.feature_module = next(name for name in (f"segformer.stages.{last}", f"segformer.encoder.layer_norm.{last}")
                                if name in names)
    model.size_divisor = 32
    return model
