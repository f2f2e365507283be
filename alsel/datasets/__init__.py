"""Data for the active-learning loop: what an image set is, and where images come from.

=============  =================================================================
module         its one job
=============  =================================================================
``base``       the contract: :class:`LabelSpace`, :class:`ImageSet`, :class:`Split`, subsets,
               in-memory sets, padding
``digits``     digit scenes (no download): :class:`DigitSource`, and writing them as a folder
=============  =================================================================

docs/data.md describes the layout of a data set on disk and its conventions.
"""

from alsel.datasets.base import IGNORE, ArrayImageSet, ImageSet, LabelSpace, Split, Subset, pad_batch

__all__ = ["IGNORE", "ArrayImageSet", "ImageSet", "LabelSpace", "Split", "Subset", "pad_batch"]
