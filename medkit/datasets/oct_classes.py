"""OCT label conventions and the subject splits of the real data sets.

Label convention (9 classes, thesis Table 8.1): ``0`` background (vitreous above the ILM and
everything below Bruch's membrane), ``1..7`` the retinal layers :data:`OCT_CLASSES` ``[1:8]``
and ``8`` intra-retinal fluid (:data:`FLUID`; fluid overrides the layer it lies in). UMN is
fluid-only (``0`` background, ``1`` fluid, :data:`UMN_CLASSES`).
"""
from __future__ import annotations

__all__ = ["DUKE_SPLITS", "FLUID", "OCT_CLASSES", "UMN_CLASSES", "UMN_SPLITS"]

OCT_CLASSES: tuple[str, ...] = (
    "background",
    "ILM",
    "NFL-IPL",
    "INL",
    "OPL",
    "ONL-ISM",
    "ISE",
    "OS-RPE",
    "Fluid",
)
UMN_CLASSES: tuple[str, ...] = ("background", "Fluid")
FLUID = 8  # label of intra-retinal fluid in OCT_CLASSES

#: Duke subjects (1-based) per split: 1-6 train, 7-8 validation, 9-10 test.
DUKE_SPLITS: dict[str, tuple[int, ...]] = {
    "train": (1, 2, 3, 4, 5, 6),
    "val": (7, 8),
    "test": (9, 10),
}
#: UMN subjects (0-based cell index) per split, as the Y-Net reference preprocessing.
UMN_SPLITS: dict[str, tuple[int, ...]] = {
    "train": tuple(range(19)),
    "val": tuple(range(19, 24)),
    "test": tuple(range(24, 29)),
}
