"""A SPADE decoder with extra *source* channels that are concatenated, not used to normalise.

In semantic image manipulation (SIMSG) the decoder input is the scene layout plus features of
the masked source image. Only the layout modulates the normalisation; the source channels are
resized (nearest) to each block's resolution and concatenated to the normalised activation
before the block's first convolution.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sgkit.nn.crn import match_memory_format, resize_layout
from sgkit.nn.spade import SPADEDecoder, SPADEResBlock

__all__ = ["SourceSPADEDecoder", "SourceSPADEResBlock"]


class SourceSPADEResBlock(SPADEResBlock):
    r"""SPADE residual block whose first convolution also sees ``source_channels`` channels.

    .. math::
        h' = s(h) + W_2 * \sigma(\mathrm{SPADE}(W_1 * [\sigma(\mathrm{SPADE}(h, L)); S], L))

    Args:
        in_channels, out_channels, label_channels, hidden_channels, param_free_norm,
            spectral_norm: as :class:`~sgkit.nn.SPADEResBlock`.
        source_channels: channels of the source features ``S``.
    """

    def __init__(self, in_channels: int, out_channels: int, label_channels: int, source_channels: int,
                 hidden_channels: int = 128, param_free_norm: str = "batch", spectral_norm: bool = False) -> None:
        super().__init__(in_channels, out_channels, label_channels, hidden_channels, param_free_norm, spectral_norm)
        if not isinstance(source_channels, int) or source_channels <= 0:
            raise ValueError(f"source_channels must be a positive int, got source_channels={source_channels!r}")
        self.source_channels = source_channels
        sn = nn.utils.spectral_norm if spectral_norm else (lambda m: m)
        self.conv_0 = sn(nn.Conv2d(in_channels + source_channels, min(in_channels, out_channels), 3, padding=1))

    def forward(self, x: Tensor, layout: Tensor, source: Tensor | None = None) -> Tensor:  # type: ignore[override]
        """Apply the block; ``source`` ``[B, source_channels, H', W']`` is resized to ``x``."""
        if source is None:
            raise ValueError("source: SourceSPADEResBlock needs the source features, got None")
        shortcut = self.conv_s(self.norm_s(x, layout)) if self.learned_shortcut else x
        h = F.leaky_relu(self.norm_0(x, layout), 0.2)
        src = F.interpolate(source, size=h.shape[-2:], mode="nearest") if source.shape[-2:] != h.shape[-2:] else source
        dx = self.conv_0(torch.cat([h, src], dim=1))
        dx = self.conv_1(F.leaky_relu(self.norm_1(dx, layout), 0.2))
        return shortcut + dx


class SourceSPADEDecoder(SPADEDecoder):
    """:class:`~sgkit.nn.SPADEDecoder` whose input ends with ``source_channels`` channels that
    enter every block by concatenation (:class:`SourceSPADEResBlock`), not the normalisation.

    Args:
        layout_channels: channels of the layout part (used by SPADE and as the first input).
        source_channels: channels of the source part (the last channels of the input).
        dims, output_channels, hidden_channels, param_free_norm, spectral_norm,
            output_activation: as :class:`~sgkit.nn.SPADEDecoder`.

    Shapes:
        - input: ``[B, layout_channels + source_channels, H, W]``.
        - output: ``[B, output_channels, H, W]``.
    """

    def __init__(self, layout_channels: int, source_channels: int, dims: Sequence[int] = (1024, 512, 256, 128, 64),
                 output_channels: int = 3, hidden_channels: int = 128, param_free_norm: str = "batch",
                 spectral_norm: bool = False, output_activation: str = "sigmoid") -> None:
        super().__init__(layout_channels, dims, output_channels, hidden_channels, param_free_norm, spectral_norm,
                         output_activation)
        self.source_channels = source_channels
        blocks = []
        prev = layout_channels
        for d in self.dims:
            blocks.append(SourceSPADEResBlock(prev, d, layout_channels, source_channels, hidden_channels,
                                              param_free_norm, spectral_norm))
            prev = d
        self.blocks = nn.ModuleList(blocks)

    def forward(self, layout: Tensor) -> Tensor:
        """Decode ``[layout; source]`` into an image."""
        total = self.layout_channels + self.source_channels
        if layout.dim() != 4 or layout.shape[1] != total:
            raise ValueError(f"input must have shape [B, {total}, H, W] (layout + source), got {tuple(layout.shape)}")
        lay, src = layout[:, : self.layout_channels], layout[:, self.layout_channels:]
        h, w = lay.shape[-2:]
        factor = 2 ** (len(self.dims) - 1)
        if h % factor or w % factor:
            raise ValueError(f"input height and width must be divisible by {factor}, got {h}x{w}")
        lay, src = (match_memory_format(t, self.output[0].weight) for t in (lay, src))
        x = resize_layout(lay, (h // factor, w // factor))
        for i, block in enumerate(self.blocks):
            if i > 0:
                x = F.interpolate(x, scale_factor=2.0, mode="nearest")
            x = block(x, lay, src)
        out = self.output(F.leaky_relu(x, 0.2))
        return torch.sigmoid(out) if self.output_activation == "sigmoid" else out

    def extra_repr(self) -> str:
        return f"layout_channels={self.layout_channels}, source_channels={self.source_channels}, dims={self.dims}"
