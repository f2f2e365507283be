"""Annotation time, from the user study of Goswami et al. (Table 1).

Table 1 gives, per data set, the mean (± std) time to annotate **one** complete image at the
pixel level, **one** region (superpixel) of an image at the pixel level, and to answer **one**
binary query:

============  ===============  ==============  ===============
profile       pixel-level      region-level    binary query
============  ===============  ==============  ===============
flickr        7.8 ± 2.9 min    1.6 ± 1.2 min   2 ± 0.3 s
cityscapes    37.5 ± 6.3 min   3.6 ± 0.7 min   4 ± 0.8 s
pascal        18.2 ± 4.3 min   2.7 ± 1.1 min   3 ± 1.4 s
============  ===============  ==============  ===============

(Images of 513x513 for Flickr-Landscapes and PASCAL VOC, 768x768 for Cityscapes; 10 images a
data set, 3 annotators each, LabelMe.) The paper's Table 3 multiplies these means by the number
of annotations per iteration and the 25 iterations (e.g. Cityscapes pixel level:
37.5 min x 48 images x 25 = 750 h); :func:`hours` does the same, and the tests check that it
reproduces Table 3. The pixel labels of the initial set L are not counted (the paper's Table 3
does not count them either; they are the same for every strategy).

Digit scenes are far simpler than any of these data sets; the profiles price the *kind* of
annotation, as the paper's figures would for a real data set.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CostProfile:
    """Mean annotation times of one data set (Table 1); ``*_std`` are the table's ±."""

    name: str
    pixel_minutes: float
    region_minutes: float
    binary_seconds: float
    pixel_minutes_std: float
    region_minutes_std: float
    binary_seconds_std: float

    def hours(self, binary_queries: int = 0, regions: int = 0, full_images: int = 0) -> float:
        """Annotation time in hours of that many binary answers, regions and full images."""
        seconds = (
            binary_queries * self.binary_seconds
            + regions * self.region_minutes * 60.0
            + full_images * self.pixel_minutes * 60.0
        )
        return seconds / 3600.0


PROFILES: dict[str, CostProfile] = {
    "flickr": CostProfile("flickr", 7.8, 1.6, 2.0, 2.9, 1.2, 0.3),
    "cityscapes": CostProfile("cityscapes", 37.5, 3.6, 4.0, 6.3, 0.7, 0.8),
    "pascal": CostProfile("pascal", 18.2, 2.7, 3.0, 4.3, 1.1, 1.4),
}


def profile(name: str) -> CostProfile:
    """The Table 1 profile called ``name`` (flickr, cityscapes, pascal)."""
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(f"unknown cost profile {name!r}; choose one of {sorted(PROFILES)}.") from None


def hours(binary_queries: int = 0, regions: int = 0, full_images: int = 0,
          profile_name: str = "cityscapes") -> float:
    """Annotation hours under one profile (see :meth:`CostProfile.hours`)."""
    return profile(profile_name).hours(binary_queries, regions, full_images)


def cost_columns(binary_queries: int, full_images: int, prefix: str = "",
                 regions: int = 0) -> dict[str, float]:
    """Hours under every profile, as result-table columns ``{prefix}hours_<profile>``.

    ``regions`` is the number of regions (superpixels) labelled at the pixel level, priced at
    Table 1's region-level time (region-level strategies such as PixBal and AMSP+S).
    """
    return {
        f"{prefix}hours_{name}": p.hours(binary_queries=binary_queries, regions=regions,
                                         full_images=full_images)
        for name, p in PROFILES.items()
    }
