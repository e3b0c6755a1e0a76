"""SPADE: spatially-adaptive normalisation and the SPADE image decoder.

Park et al., "Semantic Image Synthesis with Spatially-Adaptive Normalization", CVPR 2019
(https://arxiv.org/abs/1903.07291). As in the thesis (appendix A/C), the normalisation is
modulated by the scene layout (continuous object features) instead of a one-hot semantic map.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sgkit.nn.crn import (
    LayoutFactors,
    factored_layout_conv,
    layout_pyramid,
    match_memory_format,
    resize_layout,
    use_factors,
)

__all__ = ["SPADE", "SPADEDecoder", "SPADEResBlock"]


def _check_positive(name: str, value: int) -> None:
    if not isinstance(value, int) or value <= 0:
        raise ValueError(f"{name} must be a positive int, got {value!r}")


def _factored_conv(conv: nn.Conv2d, features: Tensor, masks: Tensor, noise: Tensor | None) -> Tensor:
    """``conv`` of a layout given as its factors (:func:`sgkit.nn.crn.factored_layout_conv`)."""
    return factored_layout_conv(conv.weight, conv.bias, conv.padding, features, masks, noise)


class SPADE(nn.Module):
    r"""Spatially-adaptive (de)normalisation.

    .. math::
        \mathrm{SPADE}(h, L) = \frac{h - \mu(h)}{\sigma(h)} \odot (1 + \gamma(L)) + \beta(L),
        \quad [\gamma, \beta] = W_{\gamma,\beta} * \mathrm{ReLU}(W_s * \mathrm{resize}(L))

    where :math:`\mu, \sigma` are batch (or instance) statistics without affine parameters.

    With :attr:`fused` set, the ``+1`` is folded into the bias of the :math:`\gamma`
    convolution, :math:`\beta` is added in place, and the ReLU is applied in place (the same
    maths, equal up to rounding).

    Args:
        norm_channels: channels of the normalised activation ``h``.
        label_channels: channels of the layout ``L``.
        hidden_channels: channels of the shared layout embedding.
        param_free_norm: ``"batch"`` or ``"instance"``.

    Shapes:
        - x: ``[B, norm_channels, h, w]``; layout: ``[B, label_channels, H, W]`` (any size).
        - output: ``[B, norm_channels, h, w]``.
    """

    fused: bool = False

    def __init__(
        self,
        norm_channels: int,
        label_channels: int,
        hidden_channels: int = 128,
        param_free_norm: str = "batch",
    ) -> None:
        super().__init__()
        _check_positive("norm_channels", norm_channels)
        _check_positive("label_channels", label_channels)
        _check_positive("hidden_channels", hidden_channels)
        if param_free_norm == "batch":
            self.norm: nn.Module = nn.BatchNorm2d(norm_channels, affine=False)
        elif param_free_norm == "instance":
            self.norm = nn.InstanceNorm2d(norm_channels, affine=False)
        else:
            raise ValueError(
                f"param_free_norm must be 'batch' or 'instance', got {param_free_norm!r}"
            )
        self.norm_channels = norm_channels
        self.label_channels = label_channels
        self.hidden_channels = hidden_channels
        self.shared = nn.Sequential(
            nn.Conv2d(label_channels, hidden_channels, 3, padding=1), nn.ReLU()
        )
        self.gamma = nn.Conv2d(hidden_channels, norm_channels, 3, padding=1)
        self.beta = nn.Conv2d(hidden_channels, norm_channels, 3, padding=1)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Reset the convolutions (default PyTorch init) and the running statistics."""
        self.shared[0].reset_parameters()
        self.gamma.reset_parameters()
        self.beta.reset_parameters()
        if hasattr(self.norm, "reset_running_stats") and self.norm.track_running_stats:
            self.norm.reset_running_stats()

    def forward(self, x: Tensor, layout: Tensor, factors: LayoutFactors | None = None) -> Tensor:
        """Normalise ``x`` and modulate it by the layout (with :attr:`fused`, ``factors`` may
        give the layout at ``x``'s resolution factored as ``(features, masks, noise)``)."""
        normalized = self.norm(x)
        if self.fused:
            if factors is None:
                shared = self.shared[0](resize_layout(layout, x.shape[-2:]))
            else:
                shared = _factored_conv(self.shared[0], *factors)
            actv = F.relu(shared, inplace=True)
            g = self.gamma
            scale = F.conv2d(actv, g.weight, g.bias + 1, g.stride, g.padding)
            return torch.mul(normalized, scale).add_(self.beta(actv))
        actv = self.shared(resize_layout(layout, x.shape[-2:]))
        return normalized * (1 + self.gamma(actv)) + self.beta(actv)

    def extra_repr(self) -> str:
        return (
            f"norm_channels={self.norm_channels}, label_channels={self.label_channels}, "
            f"hidden_channels={self.hidden_channels}"
        )


class SPADEResBlock(nn.Module):
    r"""SPADE residual block.

    .. math::
        h' = s(h) + W_2 * \sigma(\mathrm{SPADE}(W_1 * \sigma(\mathrm{SPADE}(h, L)), L)),

    with leaky ReLU :math:`\sigma` and a learned :math:`1\times1` shortcut
    :math:`s(h) = W_s * \mathrm{SPADE}(h, L)` when the channel count changes (else identity).
    With :attr:`fused` set, the leaky ReLUs and the residual sum work in place (same values).

    Args:
        in_channels: input channels.
        out_channels: output channels.
        label_channels: layout channels.
        hidden_channels: hidden channels of each SPADE layer.
        param_free_norm: ``"batch"`` or ``"instance"``.
        spectral_norm: wrap the convolutions in spectral normalisation.

    Shapes:
        - x: ``[B, in_channels, h, w]``; layout: ``[B, label_channels, H, W]``.
        - output: ``[B, out_channels, h, w]``.
    """

    fused: bool = False

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        label_channels: int,
        hidden_channels: int = 128,
        param_free_norm: str = "batch",
        spectral_norm: bool = False,
    ) -> None:
        super().__init__()
        _check_positive("in_channels", in_channels)
        _check_positive("out_channels", out_channels)
        self.in_channels = in_channels
        self.out_channels = out_channels
        middle = min(in_channels, out_channels)
        self.learned_shortcut = in_channels != out_channels
        sn = nn.utils.spectral_norm if spectral_norm else (lambda m: m)
        self.conv_0 = sn(nn.Conv2d(in_channels, middle, 3, padding=1))
        self.conv_1 = sn(nn.Conv2d(middle, out_channels, 3, padding=1))
        self.norm_0 = SPADE(in_channels, label_channels, hidden_channels, param_free_norm)
        self.norm_1 = SPADE(middle, label_channels, hidden_channels, param_free_norm)
        if self.learned_shortcut:
            self.conv_s = sn(nn.Conv2d(in_channels, out_channels, 1, bias=False))
            self.norm_s = SPADE(in_channels, label_channels, hidden_channels, param_free_norm)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Reset every convolution and SPADE layer."""
        for name in ("conv_0", "conv_1", "conv_s"):
            conv = getattr(self, name, None)
            if conv is not None:
                conv.reset_parameters()
        for name in ("norm_0", "norm_1", "norm_s"):
            norm = getattr(self, name, None)
            if norm is not None:
                norm.reset_parameters()

    def forward(self, x: Tensor, layout: Tensor, factors: LayoutFactors | None = None) -> Tensor:
        """Apply the block (``factors``: see :meth:`SPADE.forward`)."""
        shortcut = self.conv_s(self.norm_s(x, layout, factors)) if self.learned_shortcut else x
        dx = self.conv_0(F.leaky_relu(self.norm_0(x, layout, factors), 0.2, inplace=self.fused))
        dx = self.conv_1(F.leaky_relu(self.norm_1(dx, layout, factors), 0.2, inplace=self.fused))
        return dx.add_(shortcut) if self.fused else shortcut + dx

    def extra_repr(self) -> str:
        return f"in_channels={self.in_channels}, out_channels={self.out_channels}"


class SPADEDecoder(nn.Module):
    r"""SPADE image decoder (thesis Table C.2).

    The layout resized to ``H / 2^{K-1}`` enters the first of ``K = len(dims)`` SPADE residual
    blocks; blocks are separated by nearest-neighbour upsampling by two; then a
    :math:`3\times3` convolution, leaky ReLU and a :math:`1\times1` convolution map to the image,
    squashed to ``[0, 1]`` by a sigmoid.

    .. math::
        h_1 = R_1(\mathrm{resize}(L), L), \quad h_k = R_k(\mathrm{up}_2(h_{k-1}), L), \quad
        x = \mathrm{sigmoid}(W_o * \sigma(W_h * h_K))

    Thesis sizes: ``dims=(1024, 512, 256, 128, 64)`` for ``64 x 64`` images.

    :meth:`set_fused` (off by default) resizes the layout once per resolution, each level
    average-pooled from the next larger one, and hands every block the layout at its
    resolution (instead of each SPADE layer pooling the full layout), and makes every SPADE
    layer use its fused modulation; :meth:`forward` may then take the layout's factors (object
    vectors and masks) so that the SPADE layers' first convolutions work on the masks with
    per-object kernels: the same maths, equal up to rounding.

    Args:
        layout_channels: layout channels ``C``.
        dims: output channels of the residual blocks.
        output_channels: image channels (3).
        hidden_channels: hidden channels inside each SPADE layer.
        param_free_norm: ``"batch"`` or ``"instance"``.
        spectral_norm: spectral normalisation on the block convolutions.
        output_activation: ``"sigmoid"`` or ``"none"``.

    Shapes:
        - layout: ``[B, C, H, W]``, ``H`` and ``W`` divisible by ``2^(len(dims) - 1)``.
        - output: ``[B, output_channels, H, W]``.
    """

    def __init__(
        self,
        layout_channels: int,
        dims: Sequence[int] = (1024, 512, 256, 128, 64),
        output_channels: int = 3,
        hidden_channels: int = 128,
        param_free_norm: str = "batch",
        spectral_norm: bool = False,
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
        if output_activation not in ("sigmoid", "none"):
            raise ValueError(
                f"output_activation must be 'sigmoid' or 'none', got {output_activation!r}"
            )
        self.layout_channels = layout_channels
        self.dims = dims
        self.output_activation = output_activation
        blocks = []
        prev = layout_channels
        for d in dims:
            blocks.append(
                SPADEResBlock(prev, d, layout_channels, hidden_channels, param_free_norm,
                              spectral_norm)
            )
            prev = d
        self.blocks = nn.ModuleList(blocks)
        self.output = nn.Sequential(
            nn.Conv2d(prev, prev, 3, padding=1), nn.LeakyReLU(0.2), nn.Conv2d(prev, output_channels, 1)
        )
        self.reset_parameters()

    fused: bool = False

    def set_fused(self, fused: bool = True) -> SPADEDecoder:
        """Turn the fused layout resizing and SPADE modulation on or off; returns ``self``."""
        self.fused = bool(fused)
        for m in self.modules():
            if isinstance(m, (SPADE, SPADEResBlock)):
                m.fused = self.fused
        return self

    def reset_parameters(self) -> None:
        """Reset every block and the output convolutions."""
        for block in self.blocks:
            block.reset_parameters()
        for m in self.output:
            if isinstance(m, nn.Conv2d):
                m.reset_parameters()

    def forward(self, layout: Tensor, factors: LayoutFactors | None = None) -> Tensor:
        """Decode ``layout`` into an image.

        ``factors`` (used only when :attr:`fused` is set): the layout as ``(features [B, K, D],
        masks [B, K, H, W], noise [B, C - D, H, W] or None)`` with ``layout = cat([einsum(
        "bkd,bkhw->bdhw", features, masks), noise])``; when the unfolded masks are no larger
        than the layout (``9 K <= C``) the SPADE layers convolve the masks with per-object
        kernels instead of the ``C``-channel layout (equal up to rounding).
        """
        if layout.dim() != 4 or layout.shape[1] != self.layout_channels:
            raise ValueError(
                f"layout must have shape [B, {self.layout_channels}, H, W], "
                f"got {tuple(layout.shape)}"
            )
        h, w = layout.shape[-2:]
        factor = 2 ** (len(self.dims) - 1)
        if h % factor or w % factor:
            raise ValueError(
                f"layout height and width must be divisible by 2**(len(dims) - 1) = {factor}, "
                f"got {h}x{w}"
            )
        layout = match_memory_format(layout, self.output[0].weight)
        n = len(self.blocks)
        levels: list[LayoutFactors | None] = [None] * n
        if self.fused and use_factors(factors, layout):
            feats, masks, noise = factors  # type: ignore[misc]
            noise_at = layout_pyramid(match_memory_format(noise, self.output[0].weight), n) \
                if noise is not None else [None] * n
            levels = [(feats, m, z) for m, z in zip(layout_pyramid(masks, n), noise_at)]
            layouts = [layout] * n
        elif self.fused:
            layouts = layout_pyramid(layout, n)
        else:
            layouts = [layout] * n
        x = resize_layout(layouts[0], (h // factor, w // factor))
        for i, block in enumerate(self.blocks):
            if i > 0:
                x = F.interpolate(x, scale_factor=2.0, mode="nearest")
            x = block(x, layouts[i], levels[i])
        out = self.output(F.leaky_relu(x, 0.2))
        if self.output_activation == "sigmoid":
            out = torch.sigmoid(out)
        return out

    def extra_repr(self) -> str:
        return f"layout_channels={self.layout_channels}, dims={self.dims}"
