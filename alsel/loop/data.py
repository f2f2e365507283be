"""Digit scenes; moved to :mod:`alsel.datasets.digits`, this name is kept for old imports.

``alsel.loop.data`` *is* that module (the same object in ``sys.modules``), so code that reads or
patches its attributes, private ones included, keeps working.
"""

import sys

from alsel.datasets import digits

sys.modules[__name__] = digits
