"""Seeded synthetic OCT B-scans for Y-Net: :func:`synthetic_oct` and its data set :class:`SyntheticOCT`.

Labels follow :data:`medkit.datasets.oct_classes.OCT_CLASSES` (9 classes, fluid ``8``).
"""
from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset
from tqdm import tqdm

from medkit.datasets.oct_classes import FLUID, OCT_CLASSES
from medkit.datasets.oct_scan import _FLUID_MODELS, _SHADOW_STREAM, _one_scan

__all__ = ["SyntheticOCT", "synthetic_oct"]


def synthetic_oct(
    num_scans: int,
    *,
    height: int = 64,
    width: int = 128,
    seed: int = 0,
    fluid_probability: float = 0.8,
    max_fluid: int = 3,
    noise: float = 0.04,
    progress: bool = False,
    fluid_model: str = "texture",
    shadows: float = 0.0,
) -> tuple[Tensor, Tensor, Tensor]:
    """Generate synthetic OCT B-scans.

    Seven retinal layers lie between eight smooth boundaries with a foveal dip; each layer
    has its own mean reflectivity and speckle correlation length (different spatial frequency
    content per layer); fluid pockets (ellipses) are placed in the INL..ONL-ISM band;
    multiplicative (gamma) speckle and additive noise are applied.

    Fluid texture model (``fluid_model``):

    - ``"texture"`` (default): intra-retinal fluid is a homogeneous, weakly scattering
      medium. Its mean reflectivity (0.22) is hyporeflective but lies inside the intensity
      range of the INL (0.32) and ONL-ISM (0.26) it displaces, so intensity alone does not
      separate it; what does is its texture: reflectivity fluctuations of only 8 % with a
      long correlation length (Gaussian sigma 3.5 px: low spatial frequencies only) and the
      multiplicative speckle reduced to 15 % of its tissue strength (a medium without
      densely packed sub-resolution scatterers shows little fully developed speckle). Only
      the additive detector noise is white there. The retinal layers keep strong,
      short-correlated speckle (high spatial frequencies). This is the property the thesis
      (ch. 8) attributes to real OCT fluid: it is characterised by its spectral content
      rather than by local intensity. It is a texture model, not a physical simulation.
    - ``"dark"``: the earlier model, fluid much darker (0.12) than every layer and speckled
      like tissue (intensity alone nearly separates it).
    - ``"turbid"``: turbid (scattering) fluid, e.g. exudate-rich: fully developed speckle
      and the ONL's texture (35 % fluctuations, sigma 0.6 px), mean 0.23 against the ONL's
      0.26 and INL's 0.32. Per pixel it is buried in the speckle (about 50 % relative
      spread); a pocket is only identifiable by its slightly lower mean over many speckle
      grains (a wide area), not by a local texture difference. Used to test whether wider
      context makes the deep levels / Y-Net's spectral branch matter (it did not; see
      ``examples/oct_ynet.py``).

    Scans without fluid are identical under both models (same random draws).

    Vessel shadows (``shadows > 0``): retinal blood vessels in the inner retina absorb the
    light and cast a vertical hyporeflective band through all deeper layers. Each scan gets
    ``Poisson(shadows)`` of them (``shadows`` is the expected number per scan), each at a
    uniform column with a width of 2-6 % of the image width (soft raised-cosine edges) and a
    transmission factor uniform in ``[0.4, 0.6]``, starting at a vessel depth inside the
    NFL-IPL (layer 2) and extending to the bottom of the image. The attenuation multiplies
    the tissue (and fluid) reflectivity *before* the multiplicative speckle and the additive
    noise, so shadowed tissue keeps its speckle texture at a lower mean and the detector
    noise stays white. The vessel itself is not drawn. Labels are unchanged (shadowed tissue
    keeps its layer label, fluid under a shadow stays fluid). Locally, shadowed INL/ONL
    looks like (turbid) fluid; telling them apart needs vertical context over the retina's
    depth (a shadow continues above and below, a pocket is a local ellipse). The shadow
    randomness comes from a separate generator derived from ``seed``, so the scans and
    labels with ``shadows=0`` (the default) are bit-identical to those without the option,
    and the same seed gives the same geometry, fluid and speckle with and without shadows.

    Args:
        num_scans: number of B-scans.
        height: image height (``>= 16``).
        width: image width (``>= 16``).
        seed: random seed (same seed, same scans).
        fluid_probability: probability that a scan has fluid pockets.
        max_fluid: maximum number of pockets per scan.
        noise: standard deviation of the additive noise.
        progress: show a progress bar.
        fluid_model: ``"texture"``, ``"dark"`` or ``"turbid"`` (see above).
        shadows: expected number of vessel shadows per scan (``>= 0``; see above).

    Returns:
        ``(images [N, 1, H, W] float in [0, 1], labels [N, H, W] long in 0..8,
        layer_labels [N, H, W] long in 0..7 without fluid)``.
    """
    if num_scans < 0:
        raise ValueError(f"num_scans must be >= 0, got {num_scans}")
    if height < 16 or width < 16:
        raise ValueError(f"height and width must be >= 16, got {height}x{width}")
    if not 0.0 <= fluid_probability <= 1.0:
        raise ValueError(f"fluid_probability must lie in [0, 1], got {fluid_probability}")
    if max_fluid < 1:
        raise ValueError(f"max_fluid must be >= 1, got {max_fluid}")
    if fluid_model not in _FLUID_MODELS:
        raise ValueError(f"fluid_model must be one of {_FLUID_MODELS}, got {fluid_model!r}")
    if isinstance(shadows, bool) or not (
        isinstance(shadows, (int, float)) and math.isfinite(shadows) and shadows >= 0
    ):
        raise ValueError(f"shadows must be a finite number >= 0, got {shadows!r}")
    rng = np.random.default_rng(seed)
    shadow_rng = np.random.default_rng([seed, _SHADOW_STREAM]) if shadows > 0 else None
    imgs = np.zeros((num_scans, 1, height, width), np.float32)
    labs = np.zeros((num_scans, height, width), np.int64)
    lays = np.zeros((num_scans, height, width), np.int64)
    for i in tqdm(range(num_scans), desc="synthetic OCT", disable=not progress):
        imgs[i, 0], labs[i], lays[i] = _one_scan(
            rng, height, width, fluid_probability, max_fluid, noise, fluid_model,
            shadow_rng, float(shadows),
        )
    return torch.from_numpy(imgs), torch.from_numpy(labs), torch.from_numpy(lays)


class SyntheticOCT(Dataset):
    """Dataset of synthetic OCT B-scans (see :func:`synthetic_oct`).

    Items are ``(image [1, H, W] float, labels [H, W] long)``. The keyword arguments are
    those of :func:`synthetic_oct`.

    Attributes:
        images: ``[N, 1, H, W]``.
        labels: ``[N, H, W]`` with classes :data:`OCT_CLASSES`.
        layer_labels: ``[N, H, W]`` layer labels without fluid.
        fluid_masks: ``[N, H, W]`` bool fluid masks.
        class_names: :data:`OCT_CLASSES`.
    """

    class_names = OCT_CLASSES
    num_classes = len(OCT_CLASSES)

    def __init__(
        self,
        num_scans: int = 100,
        *,
        height: int = 64,
        width: int = 128,
        seed: int = 0,
        fluid_probability: float = 0.8,
        max_fluid: int = 3,
        noise: float = 0.04,
        progress: bool = False,
        fluid_model: str = "texture",
        shadows: float = 0.0,
    ) -> None:
        self.images, self.labels, self.layer_labels = synthetic_oct(
            num_scans,
            height=height,
            width=width,
            seed=seed,
            fluid_probability=fluid_probability,
            max_fluid=max_fluid,
            noise=noise,
            progress=progress,
            fluid_model=fluid_model,
            shadows=shadows,
        )
        self.fluid_masks = self.labels == FLUID

    def __len__(self) -> int:
        return self.images.shape[0]

    def __getitem__(self, i: int) -> tuple[Tensor, Tensor]:
        return self.images[i], self.labels[i]
