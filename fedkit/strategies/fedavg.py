"""Federated averaging (McMahan et al., 2017) and the plain mean."""
from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor

from fedkit.aggregation import fedavg_weights, mean_weights
from fedkit.strategies.base import Strategy

__all__ = ["FedAvg"]


class FedAvg(Strategy):
    r"""FedAvg: :math:`\theta \leftarrow \sum_i \frac{N_i}{N} \theta_i`.

    Paper: https://arxiv.org/abs/1602.05629

    Args:
        weighting: ``"samples"`` (``N_i / N``, FedAvg) or ``"uniform"`` (plain mean, the
            thesis' "Mean" baseline).
        name: display name (default ``"FedAvg"`` / ``"Mean"``).
    """

    def __init__(self, weighting: str = "samples", name: str | None = None) -> None:
        if weighting not in ("samples", "uniform"):
            raise ValueError(f"weighting must be 'samples' or 'uniform', got {weighting!r}")
        self.weighting = weighting
        self.name = name or ("FedAvg" if weighting == "samples" else "Mean")

    def weights(
        self,
        client_params: Tensor,
        num_samples: Tensor | Sequence[float],
        train_accuracy: Tensor | Sequence[float] | None = None,
    ) -> Tensor:
        if self.weighting == "uniform":
            return mean_weights(int(client_params.shape[0])).to(client_params.dtype)
        return fedavg_weights(num_samples).to(client_params.dtype)

    def __repr__(self) -> str:
        return f"FedAvg(weighting={self.weighting!r})"
