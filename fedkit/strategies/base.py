"""The strategy interface shared by the built-in simulator and the Flower adapter."""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

import torch
from torch import Tensor

from fedkit.aggregation import server_update

__all__ = ["Strategy"]


class Strategy(ABC):
    """A server rule: aggregation weights and a server learning rate per round.

    Subclasses implement :meth:`weights` (and optionally :meth:`eta`); :meth:`aggregate` composes
    them with :func:`fedkit.aggregation.server_update`. ``personalization_epochs > 0`` asks the
    simulator to fine-tune every client locally after the last round before the local evaluation.

    Attributes:
        name: display name.
        personalization_epochs: local epochs of the final personalisation step (0: none).
    """

    name: str = "strategy"
    personalization_epochs: int = 0

    @abstractmethod
    def weights(
        self,
        client_params: Tensor,
        num_samples: Tensor | Sequence[float],
        train_accuracy: Tensor | Sequence[float] | None = None,
    ) -> Tensor:
        """Aggregation weights ``[M]`` (summing to one) of the participating clients.

        Args:
            client_params: flattened client parameters ``[M, P]``.
            num_samples: training-set sizes ``[M]``.
            train_accuracy: training accuracy ``[M]`` (needed by INTRAC).
        """

    def eta(self, server_round: int) -> float:
        """Server learning rate of round ``server_round`` (1-based); 1.0 means plain averaging."""
        return 1.0

    def aggregate(
        self,
        theta: Tensor,
        client_params: Tensor,
        num_samples: Tensor | Sequence[float],
        train_accuracy: Tensor | Sequence[float] | None = None,
        server_round: int = 1,
    ) -> Tensor:
        """New global parameters ``theta + eta_t * sum_i w_i (theta_i - theta)``.

        Args:
            theta: current global parameters ``[P]``.
            client_params: client parameters after local training ``[M, P]`` (all finite).
            num_samples: training-set sizes ``[M]``.
            train_accuracy: training accuracies ``[M]`` (optional unless the rule needs them).
            server_round: 1-based round number (for schedules).
        """
        w = self.weights(client_params, torch.as_tensor(num_samples), train_accuracy)
        return server_update(theta, client_params, w, eta=self.eta(server_round))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"
