"""Models the loop can build by name (``[model] factory = "module:function"``).

==============  ==================================================================
module          its one job
==============  ==================================================================
``tiny_unet``   the demo's compact U-Net (the default factory, ``tiny_unet``)
``hf``          Hugging Face transformers models from a config (random weights)
==============  ==================================================================

A factory is any function called as ``factory(num_labels=L, in_channels=ch, **kwargs)`` that
returns a ``torch.nn.Module`` mapping (n, ch, H, W) images to (n, L, h, w) logits (or an output
the adapters of :mod:`alsel.torch` read, such as ``.logits``).
"""
