"""Data for the active-learning loop: what an image set is, and where images come from.

=============  =================================================================
module         its one job
=============  =================================================================
``base``       the contract: :class:`LabelSpace`, :class:`ImageSet`, in-memory sets, padding
=============  =================================================================
"""

from alsel.datasets.base import IGNORE, ArrayImageSet, ImageSet, LabelSpace, pad_batch

__all__ = ["IGNORE", "ArrayImageSet", "ImageSet", "LabelSpace", "pad_batch"]
