"""Federated adaptive personalisation (FedAP, thesis Sec. 6.5)."""
from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor

from fedkit.aggregation import fedavg_weights, mean_weights
from fedkit.strategies.base import Strategy
from fedkit.validation import check_number

__all__ = ["FedAP"]


class FedAP(Strategy):
    r"""FedAP: a Reptile-style server step with a linearly decaying meta learning rate.

    .. math::
        \theta \leftarrow \theta + \eta_t \sum_i \frac{N_i}{N} (\theta_i - \theta),
        \qquad \eta_t = \eta_0 + (\eta_T - \eta_0) \frac{t - 1}{T - 1}

    and, after the last round, ``personalization_epochs`` local epochs on every client before it
    is evaluated on its own test split (thesis: :math:`\eta_0 = 1`, :math:`\eta_T = 0.46`,
    ``T = 220``, 7 personalisation epochs).

    Args:
        num_rounds: ``T``, the round at which ``eta_final`` is reached (constant afterwards).
        eta_initial: :math:`\eta_0`.
        eta_final: :math:`\eta_T`.
        personalization_epochs: local epochs after the last round.
        weighting: ``"samples"`` (``N_i/N``) or ``"uniform"``.
        name: display name.
    """

    def __init__(
        self,
        num_rounds: int,
        eta_initial: float = 1.0,
        eta_final: float = 0.46,
        personalization_epochs: int = 7,
        weighting: str = "samples",
        name: str = "FedAP",
    ) -> None:
        if not isinstance(num_rounds, int) or num_rounds < 1:
            raise ValueError(f"num_rounds must be a positive int, got {num_rounds!r}")
        check_number("eta_initial", eta_initial, low=0.0, low_open=True)
        check_number("eta_final", eta_final, low=0.0, low_open=True)
        if not isinstance(personalization_epochs, int) or personalization_epochs < 0:
            raise ValueError(f"personalization_epochs must be >= 0, got {personalization_epochs!r}")
        if weighting not in ("samples", "uniform"):
            raise ValueError(f"weighting must be 'samples' or 'uniform', got {weighting!r}")
        self.num_rounds = num_rounds
        self.eta_initial = float(eta_initial)
        self.eta_final = float(eta_final)
        self.personalization_epochs = int(personalization_epochs)
        self.weighting = weighting
        self.name = name

    def eta(self, server_round: int) -> float:
        if server_round < 1:
            raise ValueError(f"server_round must be >= 1, got {server_round}")
        if self.num_rounds == 1:
            return self.eta_final
        frac = min(1.0, (server_round - 1) / (self.num_rounds - 1))
        return self.eta_initial + (self.eta_final - self.eta_initial) * frac

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
        return (
            f"FedAP(num_rounds={self.num_rounds}, eta_initial={self.eta_initial}, eta_final={self.eta_final}, "
            f"personalization_epochs={self.personalization_epochs})"
        )
