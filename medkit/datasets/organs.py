"""Organ segmentation volumes for MetaMedSeg: the public names of the organ data.

A data set (:class:`OrganVolumes`) is one *organ x modality x zone* combination, as in MetaMedSeg
(thesis lines 1540-1560: BRATS alone gives 12 source data sets): a list of volumes, each a stack of
2D slices ``[S, H, W]`` in slice order with a binary mask per slice. Tasks for meta-learning
(:mod:`medkit.meta.tasks`) are drawn from these volumes.

Two sources of volumes:

* :func:`synthetic_organs`: ten synthetic organs (seven source organs, three held-out target
  organs split into four target data sets like Table 7.1), each with its own shape family,
  intensities, modalities and zones. The cross-section changes smoothly from slice to slice (the
  organ grows, drifts, rotates and deforms along the volume), so slices sampled across one
  volume (volumetric tasks) cover the organ's variability. Seeded, vectorised, fast.
* :func:`load_decathlon`: the Medical Segmentation Decathlon NIfTI layout (``dataset.json``,
  ``imagesTr/``, ``labelsTr/``), split into one data set per modality and label, volumes
  normalised with the mean and standard deviation of their non-zero voxels, slices resized with
  :func:`medkit.datasets.oct.resize_pair` (images bilinearly, label maps with nearest neighbour,
  never interpolated) and kept when the object covers at least ``min_pixels`` pixels after resizing.

Where each part lives: :mod:`~medkit.datasets.organ_volumes` (the data set),
:mod:`~medkit.datasets.volume_normalization` (:func:`normalize_volume`),
:mod:`~medkit.datasets.organ_recipes` (the organ recipes), :mod:`~medkit.datasets.organ_shapes`
(drawing one volume), :mod:`~medkit.datasets.organs_synthetic` (the synthetic data sets) and
:mod:`~medkit.datasets.decathlon` (the Decathlon loader).
"""
from __future__ import annotations

from medkit.datasets.decathlon import _clean, load_decathlon  # noqa: F401  (_clean: former home)
from medkit.datasets.organ_recipes import (
    SOURCE_ORGANS,
    SYNTHETIC_ORGANS,
    TARGET_ORGANS,
    SyntheticOrgan,
)
from medkit.datasets.organ_shapes import _blob, _label_volume, _render  # noqa: F401  (former home)
from medkit.datasets.organ_volumes import OrganVolumes
from medkit.datasets.organs_synthetic import synthetic_organ, synthetic_organs
from medkit.datasets.volume_normalization import normalize_volume

__all__ = [
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
