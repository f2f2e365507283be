"""The demo model, kept importable here: :class:`alsel.models.tiny_unet.TinyUNet`."""

from alsel.models.tiny_unet import TinyUNet, tiny_unet

__all__ = ["TinyUNet", "tiny_unet"]
