"""Cascaded refinement network (CRN) image decoder.

The decoder of SG2Im (Johnson et al., 2018, https://arxiv.org/abs/1804.01622), after Chen and
Koltun's cascaded refinement networks (https://arxiv.org/abs/1707.09405): a cascade of
refinement modules at doubling resolution; each module receives the previous module's output
(upsampled by two) concatenated with the scene layout resized to that resolution.
"""
from __future__ import annotations

from typing import Any, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["CRNModule", "CRNDecoder", "resize_layout"]

_NORMS = ("batch", "instance", "none")
_ACTIVATIONS = ("leakyrelu", "relu")


def _norm(kind: str, channels: int) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=True)
    return nn.Identity()


def _activation(kind: str) -> nn.Module:
    return nn.LeakyReLU(0.2) if kind == "leakyrelu" else nn.ReLU()


def _check_choice(name: str, value: str, choices: Sequence[str]) -> None:
    if value not in choices:
        raise ValueError(f"{name} must be one of {tuple(choices)}, got {value!r}")


def _check_positive(name: str, value: int) -> None:
    if not isinstance(value, int) or value <= 0:
        raise ValueError(f"{name} must be a positive int, got {value!r}")


class CRNModule(nn.Module):
    r"""One cascaded refinement module.

    .. math::
        h' = \sigma(\mathrm{N}(W_2 * \sigma(\mathrm{N}(W_1 * [h \,\|\, \mathrm{resize}(L)]))))

    with two :math:`3 \times 3` convolutions, normalisation :math:`\mathrm{N}` and leaky ReLU
    :math:`\sigma` (thesis appendix A/B).

    Args:
        layout_channels: channels ``C`` of the scene layout.
        input_channels: channels of the incoming feature map.
        output_channels: channels of the output feature map.
        normalization: ``"batch"``, ``"instance"`` or ``"none"``.
        activation: ``"leakyrelu"`` or ``"relu"``.

    Shapes:
        - layout: ``[B, C, H_L, W_L]`` (any resolution; resized bilinearly with area averaging
          when downsampling).
        - features: ``[B, input_channels, h, w]``.
        - output: ``[B, output_channels, h, w]``.
    """

    def __init__(
        self,
        layout_channels: int,
        input_channels: int,
        output_channels: int,
        normalization: str = "batch",
        activation: str = "leakyrelu",
    ) -> None:
        super().__init__()
        _check_positive("layout_channels", layout_channels)
        _check_positive("input_channels", input_channels)
        _check_positive("output_channels", output_channels)
        _check_choice("normalization", normalization, _NORMS)
        _check_choice("activation", activation, _ACTIVATIONS)
        self.layout_channels = layout_channels
        self.input_channels = input_channels
        self.output_channels = output_channels
        self.net = nn.Sequential(
            nn.Conv2d(layout_channels + input_channels, output_channels, 3, padding=1),
            _norm(normalization, output_channels),
            _activation(activation),
            nn.Conv2d(output_channels, output_channels, 3, padding=1),
            _norm(normalization, output_channels),
            _activation(activation),
        )
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Kaiming-initialise the convolutions and reset the normalisation layers."""
        for m in self.net:
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, a=0.2)
                nn.init.zeros_(m.bias)
            elif hasattr(m, "reset_parameters"):
                m.reset_parameters()

    def forward(self, layout: Tensor, features: Tensor, factors: LayoutFactors | None = None) -> Tensor:
        """Refine ``features`` given the layout (resized to the feature resolution); with
        ``factors`` (the layout at the feature resolution as ``(features, masks, noise)``, see
        :func:`factored_layout_conv`) the first convolution takes the features and the layout's
        factors separately instead of their concatenation (equal up to rounding)."""
        if factors is not None:
            conv = self.net[0]
            n = features.shape[1]
            y = F.conv2d(features, conv.weight[:, :n], conv.bias, 1, conv.padding)
            y = y.add_(factored_layout_conv(conv.weight[:, n:], None, conv.padding, *factors))
            return self.net[1:](y)
        size = features.shape[-2:]
        layout = resize_layout(layout, size)
        return self.net(torch.cat([features, layout], dim=1))

    def extra_repr(self) -> str:
        return (
            f"layout_channels={self.layout_channels}, input_channels={self.input_channels}, "
            f"output_channels={self.output_channels}"
        )


def resize_layout(layout: Tensor, size: tuple[int, int] | torch.Size) -> Tensor:
    """Resize a layout to ``size``: area averaging when shrinking, nearest when enlarging.

    Args:
        layout: ``[B, C, H, W]``.
        size: target ``(h, w)``.

    Returns:
        ``[B, C, h, w]``.
    """
    h, w = int(size[0]), int(size[1])
    if layout.shape[-2:] == (h, w):
        return layout
    if h <= layout.shape[-2] and w <= layout.shape[-1]:
        return F.adaptive_avg_pool2d(layout, (h, w))
    return F.interpolate(layout, size=(h, w), mode="nearest")


def match_memory_format(layout: Tensor, weight: Tensor) -> Tensor:
    """``layout`` in ``torch.channels_last`` format when the convolution ``weight`` is, so that
    a decoder's concatenations and convolutions need no conversion per module (values unchanged)."""
    if weight.dim() == 4 and weight.size(1) > 1 and weight.size(-1) > 1 and \
            weight.is_contiguous(memory_format=torch.channels_last):
        return layout.contiguous(memory_format=torch.channels_last)
    return layout


LayoutFactors = tuple[Tensor, Tensor, Tensor | None]


def layout_pyramid(layout: Tensor, levels: int) -> list[Tensor]:
    """``[B, C, H, W]`` maps at ``H / 2^k`` for ``k = levels - 1 .. 0`` (smallest first), each
    average-pooled from the next larger one."""
    h, w = layout.shape[-2:]
    out = [layout]
    for k in range(1, levels):
        out.append(resize_layout(out[-1], (h >> k, w >> k)))
    return out[::-1]


def factored_layout_conv(
    weight: Tensor, bias: Tensor | None, padding: Any, features: Tensor, masks: Tensor,
    noise: Tensor | None,
) -> Tensor:
    """Stride-1 ``conv2d(cat([einsum("bkd,bkhw->bdhw", features, masks), noise]), weight, bias)``.

    By linearity the object channels' convolution is a sum over each image's objects of its
    mask convolved with the kernel ``weight[:, :D] . f_o``: one matrix product per image of the
    unfolded ``K`` masks with the ``K`` per-object kernels (``K`` input channels instead of
    ``D``); the noise channels go through the convolution as they are.
    """
    out_ch, _, kh, kw = weight.shape
    b, k, h, w = masks.shape
    d = features.shape[-1]
    out = None
    if k > 0:
        kernels = torch.einsum("bkd,odq->bkqo", features, weight[:, :d].reshape(out_ch, d, kh * kw))
        cols = F.unfold(masks, (kh, kw), padding=padding)  # [B, K * kh * kw, h * w]
        out = torch.bmm(cols.transpose(1, 2), kernels.reshape(b, k * kh * kw, out_ch))
        out = out.view(b, h, w, out_ch).permute(0, 3, 1, 2)
    if noise is not None and noise.shape[1] > 0:
        y = F.conv2d(noise, weight[:, d:], bias, 1, padding)
        return y if out is None else y.add_(out)
    if out is None:
        out = masks.new_zeros(b, out_ch, h, w)
    return out if bias is None else out + bias.view(1, out_ch, 1, 1)


def use_factors(factors: LayoutFactors | None, layout: Tensor) -> bool:
    """Whether a fused decoder convolves the factors: given, and the unfolded masks (``9 K``
    values per pixel) no larger than the ``C``-channel layout."""
    return factors is not None and 9 * factors[1].shape[1] <= layout.shape[1]


class CRNDecoder(nn.Module):
    r"""Cascaded refinement network mapping a scene layout to an image.

    With ``K = len(dims)`` modules and output size ``H x W``, the cascade starts from a constant
    one-channel map of size ``H / 2^K``; before each module the features are upsampled by two, so
    the last module works at full resolution. Two output convolutions (:math:`3\times3` +
    leaky ReLU, :math:`1\times1`) map to ``output_channels``; a sigmoid puts images in
    ``[0, 1]``.

    .. math::
        h_0 = \mathbf{0}, \quad
        h_k = \mathrm{CRN}_k(L, \mathrm{up}_2(h_{k-1})), \quad
        x = \mathrm{sigmoid}(W_o * \sigma(W_h * h_K))

    The thesis sizes (appendix A/B) are ``dims=(1024, 512, 256, 128, 64)`` for ``64 x 64``
    images.

    Args:
        layout_channels: channels ``C`` of the layout.
        dims: output channels of the successive refinement modules.
        output_channels: image channels (3).
        normalization: ``"batch"``, ``"instance"`` or ``"none"``.
        activation: ``"leakyrelu"`` or ``"relu"``.
        output_activation: ``"sigmoid"`` (images in ``[0, 1]``) or ``"none"`` (raw).

    Shapes:
        - layout: ``[B, C, H, W]`` with ``H`` and ``W`` divisible by ``2^len(dims)``.
        - output: ``[B, output_channels, H, W]``.
    """

    def __init__(
        self,
        layout_channels: int,
        dims: Sequence[int] = (1024, 512, 256, 128, 64),
        output_channels: int = 3,
        normalization: str = "batch",
        activation: str = "leakyrelu",
        output_activation: str = "sigmoid",
    ) -> None:
        super().__init__()
        _check_positive("layout_channels", layout_channels)
        dims = tuple(dims)
        if len(dims) == 0:
            raise ValueError(f"dims must contain at least one channel count, got {dims!r}")
        for d in dims:
            _check_positive("dims entry", d)
        _check_positive("output_channels", output_channels)
        _check_choice("output_activation", output_activation, ("sigmoid", "none"))
        self.layout_channels = layout_channels
        self.dims = dims
        self.output_channels = output_channels
        self.output_activation = output_activation
        modules = []
        prev = 1
        for d in dims:
            modules.append(CRNModule(layout_channels, prev, d, normalization, activation))
            prev = d
        self.refinement = nn.ModuleList(modules)
        self.output = nn.Sequential(
            nn.Conv2d(prev, prev, 3, padding=1),
            _activation(activation),
            nn.Conv2d(prev, output_channels, 1),
        )
        self.reset_parameters()

    fused: bool = False

    def set_fused(self, fused: bool = True) -> CRNDecoder:
        """Turn the fused layout path on or off (see :meth:`forward`); returns ``self``."""
        self.fused = bool(fused)
        return self

    def reset_parameters(self) -> None:
        """Reset every module and the output convolutions."""
        for m in self.refinement:
            m.reset_parameters()
        for m in self.output:
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, a=0.2)
                nn.init.zeros_(m.bias)

    def forward(self, layout: Tensor, factors: LayoutFactors | None = None) -> Tensor:
        """Decode ``layout`` into an image.

        With :attr:`fused` set (:meth:`set_fused`) the layout is resized once per resolution, each
        level pooled from the next larger one, and, given its factors ``(features [B, K, D],
        masks [B, K, H, W], noise [B, C - D, H, W] or None)`` with ``layout = cat([einsum(
        "bkd,bkhw->bdhw", features, masks), noise])`` and ``9 K <= C``, the modules' first
        convolutions work on the factors (:func:`factored_layout_conv`); equal up to rounding.
        """
        if layout.dim() != 4 or layout.shape[1] != self.layout_channels:
            raise ValueError(
                f"layout must have shape [B, {self.layout_channels}, H, W], "
                f"got {tuple(layout.shape)}"
            )
        b, _, h, w = layout.shape
        factor = 2 ** len(self.dims)
        if h % factor or w % factor:
            raise ValueError(
                f"layout height and width must be divisible by 2**len(dims) = {factor}, "
                f"got {h}x{w}"
            )
        layout = match_memory_format(layout, self.output[0].weight)
        n = len(self.refinement)
        levels: list = [None] * n
        layouts = [layout] * n
        if self.fused and use_factors(factors, layout):
            obj, masks, noise = factors  # type: ignore[misc]
            noise_at = layout_pyramid(match_memory_format(noise, self.output[0].weight), n) \
                if noise is not None else [None] * n
            levels = [(obj, m, z) for m, z in zip(layout_pyramid(masks, n), noise_at)]
        elif self.fused:
            layouts = layout_pyramid(layout, n)
        feats = layout.new_zeros(b, 1, h // factor, w // factor)
        for module, lay, level in zip(self.refinement, layouts, levels):
            feats = F.interpolate(feats, scale_factor=2.0, mode="nearest")
            feats = module(lay, feats, level)
        out = self.output(feats)
        if self.output_activation == "sigmoid":
            out = torch.sigmoid(out)
        return out

    def extra_repr(self) -> str:
        return f"layout_channels={self.layout_channels}, dims={self.dims}"
