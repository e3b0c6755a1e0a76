"""Embedded and real medical segmentation data sets."""
from medkit.datasets.oct import (
    DUKE_SPLITS,
    OCT_CLASSES,
    UMN_CLASSES,
    UMN_SPLITS,
    DukeOCT,
    SyntheticOCT,
    UMNOCT,
    load_duke_subject,
    resize_pair,
    synthetic_oct,
)

__all__ = [
    "DUKE_SPLITS",
    "OCT_CLASSES",
    "UMN_CLASSES",
    "UMN_SPLITS",
    "DukeOCT",
    "SyntheticOCT",
    "UMNOCT",
    "load_duke_subject",
    "resize_pair",
    "synthetic_oct",
]

from medkit.datasets.organs import (  # noqa: E402  (MetaMedSeg organ volumes)
    SOURCE_ORGANS,
    SYNTHETIC_ORGANS,
    TARGET_ORGANS,
    OrganVolumes,
    SyntheticOrgan,
    load_decathlon,
    normalize_volume,
    synthetic_organ,
    synthetic_organs,
)

__all__ += [
    "SOURCE_ORGANS",
    "SYNTHETIC_ORGANS",
    "TARGET_ORGANS",
    "OrganVolumes",
    "SyntheticOrgan",
    "load_decathlon",
    "normalize_volume",
    "synthetic_organ",
    "synthetic_organs",
]
