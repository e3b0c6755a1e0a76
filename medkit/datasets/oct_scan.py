"""Drawing of one synthetic OCT B-scan: layer boundaries, speckle, fluid pockets, vessel shadows.

Private helpers of :func:`medkit.datasets.oct_synthetic.synthetic_oct`, with the layer and fluid
reflectivity constants of the fluid models (``"texture"``, ``"dark"``, ``"turbid"``).
"""
from __future__ import annotations

import math

import numpy as np
from scipy import ndimage

from medkit.datasets.oct_classes import FLUID

# nominal layer thickness (fraction of H), mean reflectivity and speckle correlation length
# (Gaussian sigma in pixels: small = high spatial frequencies) of the 7 layers
_THICK = np.array([0.035, 0.09, 0.06, 0.045, 0.11, 0.03, 0.06])
_MEAN = np.array([0.95, 0.62, 0.32, 0.58, 0.26, 0.85, 0.75])
_SIGMA = np.array([0.5, 1.4, 0.8, 2.2, 0.6, 1.8, 1.0])
_FLUID_MEAN = 0.12
_FLUID_SIGMA = 3.5
# "texture" fluid model (default): fluid is hyporeflective but its mean overlaps the INL/ONL
# intensity range; what sets it apart is its texture (weak, long-range correlated
# reflectivity and almost no speckle), see :func:`synthetic_oct`.
_FLUID_TEX_MEAN = 0.22
_FLUID_TEX_CONTRAST = 0.08
_FLUID_SPECKLE = 0.15
# "turbid" fluid model: tissue-like speckle and texture (sigma of the ONL), only slightly
# darker than the ONL it displaces; separable only by its mean over a wide area.
_FLUID_TURBID_MEAN = 0.23
_FLUID_MODELS = ("texture", "dark", "turbid")
# entropy word of the vessel-shadow generator (a stream separate from the scan's)
_SHADOW_STREAM = 0x5AD0


def _smooth_curve(rng: np.random.Generator, width: int, amplitude: float, n_waves: int = 3) -> np.ndarray:
    x = np.linspace(0.0, 1.0, width)
    y = np.zeros(width)
    for k in range(1, n_waves + 1):
        y += rng.normal(0, amplitude / k) * np.sin(2 * math.pi * (k * x + rng.uniform()))
    return y


def _speckle(rng: np.random.Generator, shape: tuple[int, int], sigma: float) -> np.ndarray:
    """Unit-variance noise with correlation length ``sigma`` (anisotropic: wider along x)."""
    n = ndimage.gaussian_filter(rng.standard_normal(shape), sigma=(sigma, 1.5 * sigma), mode="wrap")
    return n / (n.std() + 1e-8)


def _shadow_attenuation(
    rng: np.random.Generator, b: np.ndarray, height: int, width: int, mean_count: float
) -> np.ndarray:
    """Multiplicative attenuation map ``[H, W]`` of retinal vessel shadows.

    ``Poisson(mean_count)`` shadows, each at a uniform column ``x0`` with a full width of
    2-6 % of the image width (flat core, raised-cosine edges of a quarter of the width on
    each side) and a transmission factor uniform in ``[0.4, 0.6]``. A shadow starts at the
    vessel depth, uniform within the inner 20-80 % of the NFL-IPL (layer 2) at ``x0``, and
    extends to the bottom of the image. Overlapping shadows multiply.
    """
    att = np.ones((height, width))
    rows = np.arange(height)[:, None]
    xs = np.arange(width)[None, :]
    for _ in range(int(rng.poisson(mean_count))):
        x0 = rng.uniform(0.0, width)
        full = rng.uniform(0.02, 0.06) * width
        factor = rng.uniform(0.4, 0.6)
        c = int(np.clip(math.floor(x0), 0, width - 1))
        y0 = b[1, c] + rng.uniform(0.2, 0.8) * (b[2, c] - b[1, c])
        edge = max(full / 4.0, 0.5)
        d = np.abs(xs - x0) - (full / 2.0 - edge)  # < 0 inside the flat core
        ramp = 0.5 * (1 + np.cos(np.pi * np.clip(d, 0.0, edge) / edge))  # 1 -> 0 over the edge
        prof = np.where(d <= 0, 1.0, ramp)
        att = att * (1.0 - (1.0 - factor) * prof * (rows >= y0))
    return att


def _one_scan(
    rng: np.random.Generator,
    height: int,
    width: int,
    fluid_probability: float,
    max_fluid: int,
    noise: float,
    fluid_model: str = "texture",
    shadow_rng: np.random.Generator | None = None,
    shadows: float = 0.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    h, w = height, width
    xs = np.arange(w)
    # top boundary (ILM) with a foveal dip
    top = 0.22 * h + _smooth_curve(rng, w, 0.03 * h)
    fov_c = rng.uniform(0.3, 0.7) * w
    fov_w = rng.uniform(0.08, 0.15) * w
    dip = np.exp(-0.5 * ((xs - fov_c) / fov_w) ** 2)
    top = top + 0.06 * h * dip
    scale = rng.uniform(0.85, 1.15)
    bounds = [top]
    for k in range(7):
        t = _THICK[k] * h * scale * (1 + 0.15 * _smooth_curve(rng, w, 1.0, 2))
        if k in (1, 2):  # inner layers thin out at the fovea
            t = t * (1 - 0.7 * dip)
        bounds.append(bounds[-1] + np.clip(t, 0.5, None))
    b = np.stack(bounds)  # [8, W] boundary rows (float)
    rows = np.arange(h)[:, None]
    layer = (rows[None] >= b[:, None, :]).sum(0)  # 0 above ILM, 1..7 layers, 8 below
    labels = np.where(layer == 8, 0, layer).astype(np.int64)

    img = np.full((h, w), 0.04) + 0.03 * _speckle(rng, (h, w), 0.7)
    # choroid below the retina
    below = layer == 8
    img[below] = (0.35 * (1 + 0.6 * _speckle(rng, (h, w), 1.2)) * np.exp(-(rows - b[-1]) / (0.25 * h)))[below]
    for k in range(7):
        sel = layer == k + 1
        tex = _MEAN[k] * (1 + 0.35 * _speckle(rng, (h, w), _SIGMA[k]))
        img[sel] = tex[sel]
    fluid = np.zeros((h, w), dtype=bool)
    if rng.uniform() < fluid_probability:
        for _ in range(int(rng.integers(1, max_fluid + 1))):
            cx = rng.uniform(0.15, 0.85) * w
            c = int(np.clip(round(cx), 0, w - 1))
            lo, hi = b[2, c], b[5, c]  # INL .. ONL-ISM
            if hi - lo < 3:
                continue
            cy = rng.uniform(lo + 0.3 * (hi - lo), hi - 0.3 * (hi - lo))
            ry = rng.uniform(0.25, 0.45) * (hi - lo)
            rx = rng.uniform(1.5, 4.0) * ry
            ell = ((rows - cy) / ry) ** 2 + ((xs[None] - cx) / rx) ** 2 <= 1.0
            ell &= (layer >= 3) & (layer <= 5)
            fluid |= ell
        if fluid.any():
            if fluid_model == "dark":
                tex = _FLUID_MEAN * (1 + 0.35 * _speckle(rng, (h, w), _FLUID_SIGMA))
            elif fluid_model == "turbid":
                tex = _FLUID_TURBID_MEAN * (1 + 0.35 * _speckle(rng, (h, w), _SIGMA[4]))
            else:
                tex = _FLUID_TEX_MEAN * (1 + _FLUID_TEX_CONTRAST * _speckle(rng, (h, w), _FLUID_SIGMA))
            img[fluid] = tex[fluid]
    labels[fluid] = FLUID
    if shadow_rng is not None and shadows > 0:
        img = img * _shadow_attenuation(shadow_rng, b, h, w, shadows)
    speckle = rng.gamma(8.0, 1 / 8.0, size=(h, w))
    if fluid_model == "texture":
        # a homogeneous, weakly scattering medium: (almost) no fully developed speckle
        speckle = np.where(fluid, 1.0 + _FLUID_SPECKLE * (speckle - 1.0), speckle)
    img = img * speckle + noise * rng.standard_normal((h, w))
    img = np.clip(img, 0.0, 1.0)
    layer_labels = np.where(layer == 8, 0, layer).astype(np.int64)
    return img.astype(np.float32), labels, layer_labels
