"""Data for the active-learning loop: what an image set is, and where images come from.

=============  =================================================================
module         its one job
=============  =================================================================
``base``       the contract: :class:`LabelSpace`, :class:`ImageSet`, :class:`Split`, subsets,
               in-memory sets, padding
``digits``     digit scenes (no download): :class:`DigitSource`, and writing them as a folder
``folder``     images/ + masks/ + classes.txt on disk: :class:`ImageFolder`, :class:`FolderSource`
=============  =================================================================

docs/data.md describes the layout of a data set on disk and its conventions.
"""

from alsel.datasets.base import IGNORE, UNKNOWN, ArrayImageSet, ImageSet, LabelSpace, Split, Subset, pad_batch
from alsel.datasets.digits import DIGIT_LABELS, DigitSource, write_folder
from alsel.datasets.folder import FolderError, FolderSource, ImageFolder

# scikit-learn (digits) and Pillow (folders) are imported when first used: the loop extra.
__all__ = ["DIGIT_LABELS", "IGNORE", "UNKNOWN", "ArrayImageSet", "DigitSource", "FolderError", "FolderSource",
           "ImageFolder", "ImageSet", "LabelSpace", "Split", "Subset", "pad_batch", "write_folder"]
