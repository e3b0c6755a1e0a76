"""Drawing of one synthetic organ volume: label maps, distractors and intensities per modality.

The cross-section changes smoothly from slice to slice (the organ grows, drifts, rotates and
deforms along the volume). Private helpers of :func:`medkit.datasets.organs_synthetic.synthetic_organ`.
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage

from medkit.datasets.organ_recipes import SyntheticOrgan


def _blob(
    X: np.ndarray,
    Y: np.ndarray,
    cx: np.ndarray,
    cy: np.ndarray,
    r: np.ndarray,
    aspect: float,
    rot: np.ndarray,
    amps: np.ndarray,
    phases: np.ndarray,
    bend: float = 0.0,
) -> np.ndarray:
    """Star-shaped blob per slice: ``[S, H, W]`` boolean.

    ``cx, cy, r, rot`` are ``[S]``; ``amps`` ``[K]`` harmonic amplitudes (orders 2..K+1) with
    per-slice ``phases`` ``[S, K]``; ``aspect`` stretches the second axis; ``bend`` curves it.
    """
    dx = X[None] - cx[:, None, None]
    dy = Y[None] - cy[:, None, None]
    c = np.cos(rot)[:, None, None]
    s = np.sin(rot)[:, None, None]
    u = c * dx + s * dy
    v = -s * dx + c * dy
    v = (v - bend * u**2) * aspect
    rad = np.hypot(u, v)
    phi = np.arctan2(v, u)
    shape = np.ones_like(rad)
    for k in range(len(amps)):
        shape = shape + amps[k] * np.cos((k + 2) * phi + phases[:, k, None, None])
    return rad < r[:, None, None] * shape


def _label_volume(
    organ: SyntheticOrgan, rng: np.random.Generator, num_slices: int, X: np.ndarray, Y: np.ndarray
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Label map ``[S, H, W]`` (values ``0..n``) plus boolean masks of unlabelled distractors."""
    S = num_slices
    t = np.linspace(0.0, 1.0, S)
    gamma = rng.uniform(0.7, 1.4)
    profile = 0.6 + 0.4 * np.sin(np.pi * t**gamma)  # size grows then shrinks: smooth in t

    def traj(c0: float, spread: float) -> np.ndarray:
        return c0 + rng.uniform(-spread, spread) * (t - 0.5) + rng.uniform(-0.03, 0.03) * np.sin(
            2 * np.pi * t + rng.uniform(0, 2 * np.pi)
        )

    def phases(k: int) -> np.ndarray:
        return rng.uniform(0, 2 * np.pi, k)[None, :] + rng.uniform(-1.5, 1.5, k)[None, :] * (t[:, None] - 0.5)

    def amps(k: int, scale: float) -> np.ndarray:
        return rng.uniform(0.3, 1.0, k) * scale / np.arange(1, k + 1)

    size = organ.size * rng.uniform(0.85, 1.15)
    r = size * profile
    rot = rng.uniform(-0.4, 0.4) + rng.uniform(-0.5, 0.5) * (t - 0.5)
    lab = np.zeros((S,) + X.shape, dtype=np.int64)
    fam = organ.family
    if fam == "blob":
        cx, cy = traj(rng.uniform(-0.25, 0.25), 0.2), traj(rng.uniform(-0.2, 0.2), 0.2)
        m = _blob(X, Y, cx, cy, r, rng.uniform(0.8, 1.3), rot, amps(3, 0.18), phases(3))
        lab[m] = 1
    elif fam == "crescent":
        cx, cy = traj(rng.uniform(-0.3, 0.0), 0.2), traj(rng.uniform(-0.2, 0.2), 0.2)
        outer = _blob(X, Y, cx, cy, r, rng.uniform(0.6, 0.8), rot, amps(2, 0.1), phases(2))
        off = 0.55 * r
        inner = _blob(
            X, Y, cx + off * np.cos(rot), cy + off * np.sin(rot), 0.8 * r, 0.8, rot, amps(2, 0.05), phases(2)
        )
        lab[outer & ~inner] = 1
    elif fam == "pair":
        cy = traj(rng.uniform(-0.1, 0.1), 0.1)
        for side in (-1.0, 1.0):
            cx = traj(side * rng.uniform(0.38, 0.45), 0.1)
            m = _blob(X, Y, cx, cy, r, rng.uniform(0.55, 0.7), np.pi / 2 + 0.3 * rot, amps(3, 0.12), phases(3))
            lab[m] = 1
    elif fam == "nested":
        cx, cy = traj(rng.uniform(-0.25, 0.25), 0.15), traj(rng.uniform(-0.25, 0.25), 0.15)
        outer = _blob(X, Y, cx, cy, r, rng.uniform(0.8, 1.2), rot, amps(3, 0.16), phases(3))
        shift = rng.uniform(0.15, 0.35) * r
        ang = rng.uniform(0, 2 * np.pi)
        inner = _blob(
            X, Y, cx + shift * np.cos(ang), cy + shift * np.sin(ang), 0.5 * r * rng.uniform(0.9, 1.1),
            rng.uniform(0.8, 1.2), rot, amps(2, 0.12), phases(2),
        )
        lab[outer] = 1
        lab[inner & outer] = 2
    elif fam == "twin":
        cx, cy = traj(rng.uniform(-0.3, 0.3), 0.15), traj(rng.uniform(-0.2, 0.2), 0.15)
        along = 0.9 * r
        for value, sign in ((1, -1.0), (2, 1.0)):
            m = _blob(
                X, Y, cx + sign * along * np.cos(rot), cy + sign * along * np.sin(rot), r,
                rng.uniform(1.4, 1.8), rot, amps(2, 0.1), phases(2),
            )
            lab[m & (lab == 0)] = value
    elif fam == "elongated":
        cx, cy = traj(rng.uniform(-0.15, 0.15), 0.15), traj(rng.uniform(-0.1, 0.2), 0.15)
        m = _blob(
            X, Y, cx, cy, r, rng.uniform(2.5, 3.5), rot, amps(2, 0.08), phases(2), bend=rng.uniform(-0.8, 0.8)
        )
        lab[m] = 1
    elif fam == "tube":
        for _ in range(rng.integers(1, 3)):
            cx, cy = traj(rng.uniform(-0.45, 0.45), 0.5), traj(rng.uniform(-0.4, 0.4), 0.5)
            outer = _blob(X, Y, cx, cy, r, rng.uniform(0.9, 1.2), rot, amps(2, 0.1), phases(2))
            inner = _blob(X, Y, cx, cy, 0.55 * r, 1.0, rot, amps(1, 0.05), phases(1))
            lab[outer & ~inner] = 1
    elif fam == "vessels":
        for _ in range(rng.integers(3, 6)):
            cx, cy = traj(rng.uniform(-0.5, 0.5), 0.4), traj(rng.uniform(-0.45, 0.45), 0.4)
            rr = r * rng.uniform(0.7, 1.4)
            lab[_blob(X, Y, cx, cy, rr, rng.uniform(0.8, 1.3), rot, amps(1, 0.05), phases(1))] = 1
    else:  # pragma: no cover - recipes are fixed
        raise ValueError(f"unknown shape family {fam!r}")
    distract = []
    for _ in range(organ.distractors):
        cx, cy = traj(rng.uniform(-0.55, 0.55), 0.3), traj(rng.uniform(-0.45, 0.45), 0.3)
        rd = organ.size * rng.uniform(0.4, 0.9) * profile[::-1]
        d = _blob(X, Y, cx, cy, rd, rng.uniform(0.7, 1.5), rot, amps(2, 0.15), phases(2))
        distract.append(d & (lab == 0))
    return lab, distract


def _render(
    organ: SyntheticOrgan,
    lab: np.ndarray,
    distract: list[np.ndarray],
    levels: tuple[float, ...],
    rng: np.random.Generator,
    X: np.ndarray,
    Y: np.ndarray,
    body: np.ndarray,
) -> np.ndarray:
    """Intensity volume ``[S, H, W]`` for one modality (before normalisation)."""
    img = np.zeros(lab.shape, dtype=np.float64)
    img[:, body] = levels[0]
    for value in range(1, len(levels)):
        img[lab == value] = levels[value]
    for d in distract:
        img[d] = float(rng.choice(levels[1:])) + rng.uniform(-0.25, 0.25)
    sigma_px = max(X.shape[0] / 24.0, 1.0)
    tex = ndimage.gaussian_filter(rng.standard_normal(lab.shape), sigma=(1.5, sigma_px, sigma_px))
    tex /= tex.std() + 1e-8
    img = img + organ.texture * tex * body[None]
    img = ndimage.gaussian_filter(img, sigma=(0, 0.6, 0.6))  # partial-volume blur
    img = img + organ.noise * rng.standard_normal(lab.shape)
    img[:, ~body] = 0.0
    return img.astype(np.float32)
