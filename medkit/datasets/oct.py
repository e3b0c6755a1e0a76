"""Retinal OCT B-scans: the public names of the OCT data (synthetic generator, Duke and UMN loaders).

Label convention (9 classes, thesis Table 8.1): ``0`` background (vitreous above the ILM and
everything below Bruch's membrane), ``1..7`` the retinal layers :data:`OCT_CLASSES` ``[1:8]``
and ``8`` intra-retinal fluid (fluid overrides the layer it lies in). UMN is fluid-only
(``0`` background, ``1`` fluid).

Label masks are always resized with nearest-neighbour interpolation (images bilinearly), so
label values are never interpolated.

Where each part lives: :mod:`~medkit.datasets.oct_classes` (classes and splits),
:mod:`~medkit.datasets.slice_resize` (:func:`resize_pair`), :mod:`~medkit.datasets.oct_scan`
(drawing one B-scan), :mod:`~medkit.datasets.oct_synthetic` (:func:`synthetic_oct`,
:class:`SyntheticOCT`), :mod:`~medkit.datasets.duke_oct` (:class:`DukeOCT`) and
:mod:`~medkit.datasets.umn_oct` (:class:`UMNOCT`).
"""
from __future__ import annotations

from medkit.datasets.duke_oct import DukeOCT, duke_subject_to_labels, load_duke_subject
from medkit.datasets.oct_classes import (
    DUKE_SPLITS,
    FLUID,  # noqa: F401  (the fluid label, former home)
    OCT_CLASSES,
    UMN_CLASSES,
    UMN_SPLITS,
)
from medkit.datasets.oct_scan import (  # noqa: F401  (private helpers, former home)
    _FLUID_MEAN,
    _FLUID_MODELS,
    _FLUID_SIGMA,
    _FLUID_SPECKLE,
    _FLUID_TEX_CONTRAST,
    _FLUID_TEX_MEAN,
    _FLUID_TURBID_MEAN,
    _MEAN,
    _SHADOW_STREAM,
    _SIGMA,
    _THICK,
    _one_scan,
    _shadow_attenuation,
    _smooth_curve,
    _speckle,
)
from medkit.datasets.oct_synthetic import SyntheticOCT, synthetic_oct
from medkit.datasets.slice_resize import resize_pair
from medkit.datasets.umn_oct import UMNOCT

__all__ = [
    "DUKE_SPLITS",
    "OCT_CLASSES",
    "UMNOCT",
    "UMN_CLASSES",
    "UMN_SPLITS",
    "DukeOCT",
    "SyntheticOCT",
    "duke_subject_to_labels",
    "load_duke_subject",
    "resize_pair",
    "synthetic_oct",
]
