"""Malicious and low-quality clients for robustness experiments (pure, seeded functions)."""
from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

__all__ = ["ATTACKS", "apply_attack", "select_clients", "noisy_labels", "finite_rows"]

ATTACKS: tuple[str, ...] = ("sign_flip", "scale", "noise", "nan", "inf")


def select_clients(num_clients: int, fraction: float, seed: int) -> np.ndarray:
    """Boolean mask ``[M]`` marking ``round(fraction * M)`` clients chosen at random.

    Args:
        num_clients: ``M``.
        fraction: fraction in ``[0, 1]``.
        seed: random seed.
    """
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"fraction must lie in [0, 1], got {fraction!r}")
    mask = np.zeros(num_clients, dtype=bool)
    k = int(round(fraction * num_clients))
    mask[np.random.default_rng(seed).choice(num_clients, size=k, replace=False)] = True
    return mask


def apply_attack(
    theta: Tensor,
    client_params: Tensor,
    kind: str,
    *,
    scale: float = 10.0,
    noise_std: float = 1.0,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Corrupt the submitted parameters of malicious clients.

    With ``delta_i = theta_i - theta`` the update of client ``i``:

    * ``"sign_flip"``: submits ``theta - delta_i``;
    * ``"scale"``: submits ``theta + scale * delta_i`` (default x10);
    * ``"noise"``: submits ``theta_i + N(0, noise_std^2)``;
    * ``"nan"`` / ``"inf"``: submits a vector of NaN / +inf.

    Args:
        theta: global parameters the clients started from, ``[P]`` or ``[M, P]``.
        client_params: honest client parameters ``[M, P]``.
        kind: one of :data:`ATTACKS`.
        scale: factor of ``"scale"``.
        noise_std: standard deviation of ``"noise"``.
        generator: random generator of ``"noise"``.

    Returns:
        The corrupted parameters ``[M, P]`` (new tensor).
    """
    if kind not in ATTACKS:
        raise ValueError(f"attack must be one of {ATTACKS}, got {kind!r}")
    delta = client_params - theta
    if kind == "sign_flip":
        return client_params - 2 * delta
    if kind == "scale":
        return theta + scale * delta
    if kind == "noise":
        noise = torch.randn(client_params.shape, generator=generator, dtype=client_params.dtype)
        return client_params + noise_std * noise
    value = float("nan") if kind == "nan" else float("inf")
    return torch.full_like(client_params, value)


def noisy_labels(
    y: Tensor,
    indices: np.ndarray,
    num_classes: int,
    noise: float,
    seed: int,
) -> Tensor:
    """Copy of ``y`` whose entries at ``indices`` are, with probability ``noise``, random labels.

    Args:
        y: labels ``[N]``.
        indices: positions that may be corrupted (low-quality clients' training samples).
        num_classes: number of classes.
        noise: probability of replacing a label by a uniformly random class.
        seed: random seed.
    """
    if not 0.0 <= noise <= 1.0:
        raise ValueError(f"label noise must lie in [0, 1], got {noise!r}")
    out = y.clone()
    rng = np.random.default_rng(seed)
    idx = np.asarray(indices, dtype=np.int64)
    hit = idx[rng.random(idx.size) < noise]
    out[torch.as_tensor(hit)] = torch.as_tensor(rng.integers(0, num_classes, size=hit.size), dtype=out.dtype)
    return out


def finite_rows(client_params: Tensor) -> Tensor:
    """Boolean mask ``[M]`` of the clients whose parameters are all finite."""
    return torch.isfinite(client_params).all(dim=1)
