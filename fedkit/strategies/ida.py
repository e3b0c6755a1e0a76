"""Inverse distance aggregation (IDA) and its combinations with FedAvg and INTRAC."""
from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor

from fedkit.aggregation import combine_weights, fedavg_weights, ida_weights, intrac_weights
from fedkit.strategies.base import Strategy
from fedkit.validation import check_number

__all__ = ["IDA"]


class IDA(Strategy):
    r"""IDA: weights inversely proportional to the L1 distance of each client to the mean client.

    .. math::
        \alpha_i \propto \frac{1}{\lVert \bar\theta - \theta_i \rVert_1 + \epsilon}

    optionally multiplied by the FedAvg weights :math:`N_i / N` (``fedavg=True``, "IDA + FedAvg")
    and/or the INTRAC weights :math:`1 / \max(f, \mathrm{acc}_i)` (``intrac=True``,
    "IDA + INTRAC") and renormalised. Paper: https://arxiv.org/abs/2008.07665 (thesis Sec. 6.4).

    Args:
        fedavg: multiply by the sample-count weights.
        intrac: multiply by the inverse-training-accuracy weights.
        eps: the constant of the inverse distance.
        intrac_floor: floor of the accuracies (default ``1/M``).
        name: display name (default built from the components).
    """

    def __init__(
        self,
        fedavg: bool = False,
        intrac: bool = False,
        eps: float = 1e-8,
        intrac_floor: float | None = None,
        name: str | None = None,
    ) -> None:
        check_number("eps", eps, low=0.0, low_open=True)
        if intrac_floor is not None:
            check_number("intrac_floor", intrac_floor, low=0.0, low_open=True)
        self.fedavg = bool(fedavg)
        self.intrac = bool(intrac)
        self.eps = float(eps)
        self.intrac_floor = intrac_floor
        parts = ["IDA"] + (["FedAvg"] if fedavg else []) + (["INTRAC"] if intrac else [])
        self.name = name or " + ".join(parts)

    def weights(
        self,
        client_params: Tensor,
        num_samples: Tensor | Sequence[float],
        train_accuracy: Tensor | Sequence[float] | None = None,
    ) -> Tensor:
        ws = [ida_weights(client_params, eps=self.eps)]
        if self.fedavg:
            ws.append(fedavg_weights(num_samples))
        if self.intrac:
            if train_accuracy is None:
                raise ValueError("train_accuracy is required when intrac=True")
            ws.append(intrac_weights(train_accuracy, floor=self.intrac_floor))
        return combine_weights(*ws).to(client_params.dtype) if len(ws) > 1 else ws[0]

    def __repr__(self) -> str:
        return f"IDA(fedavg={self.fedavg}, intrac={self.intrac}, eps={self.eps})"
