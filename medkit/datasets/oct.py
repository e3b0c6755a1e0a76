"""Retinal OCT B-scans: a seeded synthetic generator and loaders for Duke and UMN.

Label convention (9 classes, thesis Table 8.1): ``0`` background (vitreous above the ILM and
everything below Bruch's membrane), ``1..7`` the retinal layers :data:`OCT_CLASSES` ``[1:8]``
and ``8`` intra-retinal fluid (fluid overrides the layer it lies in). UMN is fluid-only
(``0`` background, ``1`` fluid).

Label masks are always resized with nearest-neighbour interpolation (images bilinearly), so
label values are never interpolated.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage
from torch import Tensor
from torch.utils.data import Dataset
from tqdm import tqdm

from medkit._checks import reading

__all__ = [
    "OCT_CLASSES",
    "UMN_CLASSES",
    "DUKE_SPLITS",
    "UMN_SPLITS",
    "SyntheticOCT",
    "synthetic_oct",
    "duke_subject_to_labels",
    "load_duke_subject",
    "DukeOCT",
    "UMNOCT",
    "resize_pair",
]

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
FLUID = 8

#: Duke subjects (1-based) per split: 1-6 train, 7-8 validation, 9-10 test.
DUKE_SPLITS: dict[str, tuple[int, ...]] = {
    "train": (1, 2, 3, 4, 5, 6),
    "val": (7, 8),
    "test": (9, 10),
}
#: UMN subjects (0-based cell index) per split, as the Y-Net reference preprocessing.
UMN_SPLITS: dict[str, tuple[int, ...]] = {
    "train": tuple(range(0, 19)),
    "val": tuple(range(19, 24)),
    "test": tuple(range(24, 29)),
}

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


def resize_pair(
    image: Tensor, labels: Tensor, size: tuple[int, int] | None
) -> tuple[Tensor, Tensor]:
    """Resize images bilinearly and label maps with nearest-neighbour.

    Args:
        image: ``[N, C, H, W]`` float.
        labels: ``[N, H, W]`` integer.
        size: target ``(H, W)`` or ``None`` (unchanged).
    """
    if size is None or tuple(image.shape[-2:]) == tuple(size):
        return image, labels
    img = F.interpolate(image, size=size, mode="bilinear", align_corners=False)
    lab = F.interpolate(labels[:, None].float(), size=size, mode="nearest-exact")[:, 0]
    return img, lab.round().long()


def duke_subject_to_labels(
    layers: np.ndarray, fluid: np.ndarray, height: int
) -> np.ndarray:
    """Turn Duke boundary annotations into label maps.

    Args:
        layers: ``[8, W, B]`` boundary rows (MATLAB 1-based: boundary ``k`` at value ``v``
            means row ``v - 1`` (0-based) is the first row below it); ``nan`` or ``0`` where
            not annotated. Boundaries are made non-decreasing (a later boundary above an
            earlier one is moved down to it, as the Y-Net reference preprocessing does).
        fluid: ``[H, W, B]`` fluid annotation (``> 0`` is fluid; ``nan`` is not).
        height: ``H``.

    Returns:
        ``[B, H, W]`` int64 labels: 0 background, 1..7 layers, 8 fluid. Columns without a
        complete annotation are background apart from fluid.
    """
    lay = np.asarray(layers, dtype=np.float64)
    lay = np.where(np.isfinite(lay) & (lay > 0), lay, np.nan)
    valid = np.isfinite(lay).all(axis=0)  # [W, B]
    lay = np.fmax.accumulate(np.nan_to_num(lay, nan=-np.inf), axis=0)
    rows = np.arange(height, dtype=np.float64)[:, None, None, None] + 1.0  # 1-based
    count = (rows >= lay[None]).sum(axis=1)  # [H, W, B] boundaries at or above the row
    lab = np.where((count >= 1) & (count <= 7), count, 0)
    lab = np.where(valid[None], lab, 0)
    fl = np.nan_to_num(np.asarray(fluid, dtype=np.float64), nan=0.0) > 0
    lab = np.where(fl, FLUID, lab)
    return np.ascontiguousarray(lab.transpose(2, 0, 1)).astype(np.int64)


def load_duke_subject(path: str | Path, annotator: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Load the annotated B-scans of one Duke DME subject (``Subject_XX.mat``).

    The file holds ``images`` ``[H, W, 61]``, ``manualLayers{a}`` ``[8, W, 61]`` and
    ``manualFluid{a}`` ``[H, W, 61]`` (``a`` = annotator); only B-scans with a layer
    annotation are kept, and columns are cropped to the annotated range (as the reference
    preprocessing).

    Returns:
        ``(images [B, H, W] float32 in [0, 1], labels [B, H, W] int64)``.

    Raises:
        FileNotFoundError: if ``path`` does not exist.
        KeyError: if a variable is missing (the message names the file).
        ValueError: for a corrupt file, an image with NaN/inf pixels, or layer / fluid arrays
            whose shape does not match the images (e.g. a layer width that differs from the
            image width); every message names the file. (Some byte-level corruptions inside
            the variable data make ``scipy.io.loadmat`` itself crash the interpreter, which
            cannot be caught from Python.)
    """
    from scipy.io import loadmat

    if annotator not in (1, 2):
        raise ValueError(f"annotator must be 1 or 2, got {annotator!r}")
    if not Path(path).is_file():
        raise FileNotFoundError(f"Duke subject file not found: {str(path)!r}")
    with reading(path, "Duke subject file"):
        mat = loadmat(str(path))
    keys = ("images", f"manualLayers{annotator}", f"manualFluid{annotator}")
    for k in keys:
        if k not in mat:
            raise KeyError(f"{path}: missing key {k!r} (found {sorted(k for k in mat if not k.startswith('__'))})")
    with reading(path, "Duke subject file"):
        images = np.asarray(mat["images"], dtype=np.float64)
        layers = np.asarray(mat[keys[1]], dtype=np.float64)
        fluid = np.asarray(mat[keys[2]], dtype=np.float64)
    if images.ndim == 2:
        images, layers, fluid = images[..., None], layers[..., None], fluid[..., None]
    if images.ndim != 3 or layers.ndim != 3 or layers.shape[0] != 8:
        raise ValueError(
            f"{str(path)!r}: expected images [H, W, B] and {keys[1]} [8, W, B], got "
            f"{images.shape} and {layers.shape}"
        )
    h, w, nb = images.shape
    if layers.shape[1:] != (w, nb):
        raise ValueError(
            f"{str(path)!r}: {keys[1]} has shape {layers.shape} (width {layers.shape[1]}, "
            f"{layers.shape[2]} B-scans) but images have shape {images.shape} (width {w}, {nb} B-scans)"
        )
    if fluid.shape != images.shape:
        raise ValueError(f"{str(path)!r}: {keys[2]} has shape {fluid.shape}, images {images.shape}")
    if not np.isfinite(images).all():
        raise ValueError(
            f"{str(path)!r}: images hold {int((~np.isfinite(images)).sum())} non-finite pixel(s) (NaN/inf)"
        )
    ann = np.isfinite(layers) & (layers > 0)
    scans = np.where(ann.any(axis=(0, 1)))[0]
    if scans.size == 0:
        raise ValueError(f"{path}: no annotated B-scan in {keys[1]!r}")
    cols = np.where(ann[:, :, scans].any(axis=(0, 2)))[0]
    c0, c1 = int(cols[0]), int(cols[-1]) + 1
    labels = duke_subject_to_labels(layers[:, c0:c1, scans], fluid[:, c0:c1, scans], images.shape[0])
    img = images[:, c0:c1, scans].transpose(2, 0, 1)
    scale = 255.0 if img.max() > 1.0 else 1.0
    return (img / scale).astype(np.float32), labels


class DukeOCT(Dataset):
    """Duke DME OCT data set (Chiu et al., 2015) from ``root/Subject_XX.mat`` files.

    Subjects 1-6 train, 7-8 validation, 9-10 test (:data:`DUKE_SPLITS`).

    Args:
        root: directory with ``Subject_01.mat`` ... ``Subject_10.mat``.
        split: ``"train"``, ``"val"`` or ``"test"``.
        size: resize every B-scan to ``(H, W)`` (the thesis uses ``(224, 224)``);
            ``None`` keeps the size (then all subjects must share it).
        annotator: ``1`` or ``2`` (thesis: expert 1).

    Items are ``(image [1, H, W] float, labels [H, W] long)`` with :data:`OCT_CLASSES`.
    """

    class_names = OCT_CLASSES
    num_classes = len(OCT_CLASSES)

    def __init__(
        self,
        root: str | Path,
        split: str = "train",
        *,
        size: tuple[int, int] | None = (224, 224),
        annotator: int = 1,
    ) -> None:
        if split not in DUKE_SPLITS:
            raise ValueError(f"split must be one of {tuple(DUKE_SPLITS)}, got {split!r}")
        root = Path(root)
        imgs, labs = [], []
        for s in DUKE_SPLITS[split]:
            path = root / f"Subject_{s:02d}.mat"
            if not path.is_file():
                raise FileNotFoundError(f"Duke subject file not found: {path}")
            im, lb = load_duke_subject(path, annotator)
            im_t, lb_t = resize_pair(torch.from_numpy(im)[:, None], torch.from_numpy(lb), size)
            imgs.append(im_t)
            labs.append(lb_t)
        self.images = torch.cat(imgs)
        self.labels = torch.cat(labs)

    def __len__(self) -> int:
        return self.images.shape[0]

    def __getitem__(self, i: int) -> tuple[Tensor, Tensor]:
        return self.images[i], self.labels[i]


class UMNOCT(Dataset):
    """UMN DME fluid data set (Rashno et al., 2017) from ``UMNDataset.mat``.

    Assumed format (the file the Y-Net reference code reads): MATLAB cell arrays
    ``AllSubjects`` and ``ManualFluid1`` of shape ``1 x S``; cell ``s`` holds the B-scans of
    subject ``s`` as ``[H, W, B]`` (images, 0..255) and the fluid annotation ``[H, W, B]``
    (``> 0`` is fluid). Subjects 0-18 train, 19-23 validation, 24-28 test
    (:data:`UMN_SPLITS`); labels are ``0`` background, ``1`` fluid.

    Args:
        path: the ``.mat`` file.
        split: ``"train"``, ``"val"`` or ``"test"``.
        size: resize to ``(H, W)`` (images bilinear, labels nearest) or ``None``.
        annotator: ``1`` or ``2`` (``ManualFluid{annotator}``).
    """

    class_names = UMN_CLASSES
    num_classes = 2

    def __init__(
        self,
        path: str | Path,
        split: str = "train",
        *,
        size: tuple[int, int] | None = (224, 224),
        annotator: int = 1,
    ) -> None:
        from scipy.io import loadmat

        if split not in UMN_SPLITS:
            raise ValueError(f"split must be one of {tuple(UMN_SPLITS)}, got {split!r}")
        if not Path(path).is_file():
            raise FileNotFoundError(f"UMN file not found: {path}")
        with reading(path, "UMN file"):
            mat = loadmat(str(path))
        key = f"ManualFluid{annotator}"
        for k in ("AllSubjects", key):
            if k not in mat:
                raise KeyError(f"{path}: missing key {k!r}")
        subjects = np.asarray(mat["AllSubjects"]).reshape(-1)
        masks = np.asarray(mat[key]).reshape(-1)
        imgs, labs = [], []
        for s in UMN_SPLITS[split]:
            if s >= len(subjects):
                break
            with reading(path, "UMN file"):
                im = np.asarray(subjects[s], dtype=np.float64)
                fl = np.nan_to_num(np.asarray(masks[s], dtype=np.float64), nan=0.0)
            if im.ndim == 2:
                im, fl = im[..., None], fl[..., None]
            if im.ndim != 3 or fl.shape != im.shape:
                raise ValueError(
                    f"{str(path)!r}: subject {s}: images {im.shape} and {key} {fl.shape} must both be [H, W, B]"
                )
            if not np.isfinite(im).all():
                raise ValueError(
                    f"{str(path)!r}: subject {s}: images hold {int((~np.isfinite(im)).sum())} non-finite "
                    "pixel(s) (NaN/inf)"
                )
            scale = 255.0 if im.max() > 1.0 else 1.0
            im_t = torch.from_numpy((im / scale).transpose(2, 0, 1).astype(np.float32))[:, None]
            lb_t = torch.from_numpy((fl > 0).transpose(2, 0, 1).astype(np.int64))
            im_t, lb_t = resize_pair(im_t, lb_t, size)
            imgs.append(im_t)
            labs.append(lb_t)
        if not imgs:
            raise ValueError(f"{path}: no subject of split {split!r} (file has {len(subjects)})")
        self.images = torch.cat(imgs)
        self.labels = torch.cat(labs)

    def __len__(self) -> int:
        return self.images.shape[0]

    def __getitem__(self, i: int) -> tuple[Tensor, Tensor]:
        return self.images[i], self.labels[i]
