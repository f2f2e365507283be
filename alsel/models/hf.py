"""Hugging Face transformers segmentation models built from a config, with random weights:
:func:`segformer`, :func:`upernet` and the query-based :func:`mask2former`.

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


def upernet(num_labels: int, in_channels: int, *, hidden_sizes: Sequence[int] = (16, 32, 64, 128),
            depths: Sequence[int] = (1, 1, 1, 1), hidden_size: int = 64,
            seed: int | None = None) -> torch.nn.Module:
    """An UperNet (``UperNetForSemanticSegmentation``) on a ConvNeXt backbone, randomly initialised.

    Its logits are at full resolution; inputs are padded to a multiple of 32; the image features
    are the backbone's deepest feature map (``feature_module = "backbone"``: a ``BackboneOutput``,
    read as its last ``feature_maps`` entry).

    Parameters
    ----------
    num_labels, in_channels : int
    hidden_sizes, depths : sequences of 4 ints
        Width and blocks of each ConvNeXt stage.
    hidden_size : int
        Width of the UperNet decode head.
    seed : int, optional
        Seed torch's generator before the weights are drawn.
    """
    from transformers import ConvNextConfig, UperNetConfig, UperNetForSemanticSegmentation

    if seed is not None:
        torch.manual_seed(seed)
    backbone = ConvNextConfig(num_channels=in_channels, hidden_sizes=list(hidden_sizes), depths=list(depths),
                              out_features=["stage1", "stage2", "stage3", "stage4"])
    config = UperNetConfig(backbone_config=backbone, hidden_size=hidden_size, num_labels=num_labels,
                           use_auxiliary_head=False)
    model = UperNetForSemanticSegmentation(config)
    model.feature_module = "backbone"
    model.size_divisor = 32
    return model


def mask2former(num_labels: int, in_channels: int, *, embed_dim: int = 16, queries: int = 16,
                hidden_dim: int = 32, decoder_layers: int = 2, seed: int | None = None) -> torch.nn.Module:
    """A Mask2Former (``Mask2FormerForUniversalSegmentation``) on a small Swin, randomly initialised.

    A query-based model: alsel reads its output as the per-pixel class probabilities of Hugging
    Face's semantic post-processing, normalised per pixel (docs/torch.md), and trains it with the
    same losses through their logarithm (:func:`alsel.torch.outputs.softmax_logits`). Inputs are
    padded to a multiple of 32; the image features are the Swin encoder's deepest map.

    Parameters
    ----------
    num_labels, in_channels : int
    embed_dim : int
        Swin's width (stages of embed_dim, 2x, 4x, 8x).
    queries, hidden_dim, decoder_layers : int
        Mask queries, width and layers of the transformer decoder.
    seed : int, optional
        Seed torch's generator before the weights are drawn.
    """
    from transformers import Mask2FormerConfig, Mask2FormerForUniversalSegmentation, SwinConfig

    if seed is not None:
        torch.manual_seed(seed)
    backbone = SwinConfig(num_channels=in_channels, embed_dim=embed_dim, depths=[1, 1, 1, 1],
                          num_heads=[1, 1, 2, 2], window_size=4,
                          out_features=["stage1", "stage2", "stage3", "stage4"])
    config = Mask2FormerConfig(backbone_config=backbone, num_labels=num_labels, num_queries=queries,
                               hidden_dim=hidden_dim, feature_size=hidden_dim, mask_feature_size=hidden_dim,
                               encoder_feedforward_dim=hidden_dim, dim_feedforward=hidden_dim,
                               encoder_layers=1, decoder_layers=decoder_layers, num_attention_heads=2)
    model = Mask2FormerForUniversalSegmentation(config)
    model.feature_module = "model.pixel_level_module.encoder"
    model.size_divisor = 32
    return model
