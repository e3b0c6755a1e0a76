"""LPIPS perceptual distance from local weights."""
from __future__ import annotations

import os
from typing import Optional

import torch
from torch import Tensor

from ._common import PathLike, _check_pair, _load_state

__all__ = ["LPIPS"]


_LPIPS_NETS = {
    # torchvision feature indices where each LPIPS stage ends, and the stage widths
    "alex": ((2, 5, 8, 10, 12), (64, 192, 384, 256, 256)),
    "vgg": ((4, 9, 16, 23, 30), (64, 128, 256, 512, 512)),
}


class LPIPS(torch.nn.Module):
    r"""Learned Perceptual Image Patch Similarity (Zhang et al., CVPR 2018), from local weights.

    `"The Unreasonable Effectiveness of Deep Features as a Perceptual Metric"
    <https://arxiv.org/abs/1801.03924>`_. Images are shifted/scaled as in the reference code, a
    torchvision AlexNet or VGG-16 gives features :math:`f_l` at five stages, each is normalised
    over channels, and

    .. math::
        d(x, y) = \sum_l \frac{1}{H_l W_l} \sum_{h,w} \lVert \mathbf{w}_l \odot
        (\hat{f}_l(x)_{hw} - \hat{f}_l(y)_{hw}) \rVert_2^2 .

    No weights are downloaded: ``backbone_weights`` is a local torchvision state dict
    (``alexnet-owt-7be5be79.pth`` or ``vgg16-397923af.pth``) and ``linear_weights`` the LPIPS
    linear-layer file of the reference package (``weights/v0.1/alex.pth`` or ``vgg.pth``, keys
    ``lin{l}.model.1.weight``). Either missing raises :class:`FileNotFoundError`. Only the
    ``features.*`` entries of the backbone file are used.

    Args:
        net: ``"alex"`` or ``"vgg"``.
        backbone_weights: local path to the backbone's torchvision weights.
        linear_weights: local path to the LPIPS linear weights.
        normalize: inputs are in ``[0, 1]`` (converted to ``[-1, 1]``); ``False`` if they are
            already in ``[-1, 1]``.
    """

    def __init__(
        self,
        net: str = "alex",
        backbone_weights: Optional[PathLike] = None,
        linear_weights: Optional[PathLike] = None,
        normalize: bool = True,
    ) -> None:
        super().__init__()
        if net not in _LPIPS_NETS:
            raise ValueError(f"net must be one of {sorted(_LPIPS_NETS)}, got net={net!r}")
        import torchvision

        backbone_state = _load_state(backbone_weights, f"LPIPS ({net}) backbone")
        linear_state = _load_state(linear_weights, f"LPIPS ({net}) linear layers")
        with torch.device("meta"):  # no random initialisation; every used weight is loaded
            model = torchvision.models.alexnet() if net == "alex" else torchvision.models.vgg16()
        ends, widths = _LPIPS_NETS[net]
        # only the convolutional part is used: accept a full torchvision file or its features.*
        feature_state = {
            key[len("features.") :]: value
            for key, value in backbone_state.items()
            if key.startswith("features.")
        }
        model.features.to_empty(device="cpu")
        model.features.load_state_dict(feature_state)
        self.net = net
        self.normalize = normalize
        self.features = model.features[: ends[-1]].eval()
        self.ends = ends
        weights = []
        for layer, width in enumerate(widths):
            key = f"lin{layer}.model.1.weight"
            if key not in linear_state:
                raise KeyError(
                    f"linear_weights: key {key!r} missing in {os.fspath(linear_weights)!r}"
                )
            w = linear_state[key].reshape(-1)
            if w.numel() != width:
                raise ValueError(f"linear_weights: {key} has {w.numel()} entries, expected {width}")
            weights.append(w.float())
        self.register_buffer("lin_weights", torch.cat(weights))
        self.register_buffer("shift", torch.tensor([-0.030, -0.088, -0.188]).view(1, 3, 1, 1))
        self.register_buffer("scale", torch.tensor([0.458, 0.448, 0.450]).view(1, 3, 1, 1))
        self.widths = widths
        for p in self.parameters():
            p.requires_grad_(False)

    def _stages(self, x: Tensor) -> list[Tensor]:
        outs, start = [], 0
        for end in self.ends:
            for i in range(start, end):
                x = self.features[i](x)
            outs.append(x)
            start = end
        return outs

    def forward(self, pred: Tensor, target: Tensor) -> Tensor:
        """LPIPS distance per image, ``[B]``."""
        _check_pair(pred, target)
        if self.normalize:
            pred, target = pred * 2 - 1, target * 2 - 1
        fx = self._stages((pred - self.shift) / self.scale)
        fy = self._stages((target - self.shift) / self.scale)
        total = pred.new_zeros(pred.size(0))
        offset = 0
        for a, b, width in zip(fx, fy, self.widths):
            a = a / (a.pow(2).sum(1, keepdim=True).sqrt() + 1e-10)
            b = b / (b.pow(2).sum(1, keepdim=True).sqrt() + 1e-10)
            w = self.lin_weights[offset : offset + width].view(1, -1, 1, 1)
            total = total + ((a - b) ** 2 * w).sum(1).mean(dim=(1, 2))
            offset += width
        return total

