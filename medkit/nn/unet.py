"""2D U-Net (Ronneberger et al., 2015) with configurable depth, width and normalisation."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["UNet", "ConvBlock", "make_norm", "check_image_input"]

_NORMS = ("batch", "instance")


def make_norm(norm: str, channels: int) -> nn.Module:
    """Return a 2D normalisation layer.

    Args:
        norm: ``"batch"`` (:class:`torch.nn.BatchNorm2d`) or ``"instance"``
            (:class:`torch.nn.InstanceNorm2d` with learnable affine parameters).
        channels: number of channels.

    Raises:
        ValueError: if ``norm`` is not one of the two names.
    """
    if norm == "batch":
        return nn.BatchNorm2d(channels)
    if norm == "instance":
        return nn.InstanceNorm2d(channels, affine=True)
    raise ValueError(f"norm must be one of {_NORMS}, got {norm!r}")


class ConvBlock(nn.Sequential):
    """Two ``3x3 conv -> norm -> ReLU`` layers (the U-Net double convolution).

    Args:
        in_channels: input channels.
        out_channels: output channels of both convolutions.
        norm: ``"batch"`` or ``"instance"``.
    """

    def __init__(self, in_channels: int, out_channels: int, norm: str = "batch") -> None:
        super().__init__(
            nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
            make_norm(norm, out_channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False),
            make_norm(norm, out_channels),
            nn.ReLU(inplace=True),
        )


def check_image_input(x: Tensor, in_channels: int, depth: int, owner: str) -> None:
    """Shape check at a network's boundary: ``[B, in_channels, H, W]`` with ``H, W >= 2**depth``.

    ``depth`` max-pooling steps halve the spatial size (rounding down), so a side shorter than
    ``2**depth`` would reach a 0-pixel map. Only shapes are inspected (no host synchronisation).

    Raises:
        ValueError: naming the expected shape or the minimum size and the shape received.
    """
    if not torch.is_tensor(x) or x.dim() != 4 or x.shape[1] != in_channels:
        shape = tuple(x.shape) if torch.is_tensor(x) else type(x).__name__
        raise ValueError(f"{owner} input must have shape [B, {in_channels}, H, W], got {shape}")
    need = 2**depth
    if x.shape[0] == 0 or x.shape[-2] < need or x.shape[-1] < need:
        raise ValueError(
            f"{owner} with depth={depth} needs inputs of at least {need}x{need} pixels "
            f"(and a non-empty batch), got shape {tuple(x.shape)}"
        )


def _match(x: Tensor, ref: Tensor) -> Tensor:
    """Zero-pad or crop ``x`` on the bottom/right so its spatial size equals ``ref``'s."""
    dh = ref.shape[-2] - x.shape[-2]
    dw = ref.shape[-1] - x.shape[-1]
    if dh == 0 and dw == 0:
        return x
    return F.pad(x, [0, dw, 0, dh])


class UNet(nn.Module):
    r"""2D U-Net producing per-pixel class logits.

    Encoder level ``i`` (``i = 0..depth-1``) is a :class:`ConvBlock` with
    ``base_channels * 2**i`` channels followed by ``2x2`` max pooling; the bottleneck has
    ``base_channels * 2**depth`` channels; each decoder level upsamples with a ``2x2``
    transposed convolution, concatenates the encoder skip of the same level along channels
    and applies a :class:`ConvBlock`. A final ``1x1`` convolution gives logits (no softmax:
    apply the activation in the loss, MONAI style). Odd spatial sizes are supported (the
    upsampled map is zero-padded to the skip's size); each side must be at least
    ``2**depth`` pixels (:attr:`min_size`), checked once per forward pass.

    Paper: https://arxiv.org/abs/1505.04597

    Args:
        in_channels: input image channels.
        out_channels: number of classes (logit channels).
        base_channels: channels of the first level (the width).
        depth: number of down-sampling steps (``>= 1``).
        norm: ``"batch"`` or ``"instance"`` (MetaMedSeg uses instance norm).

    Shapes:
        - input: ``[B, in_channels, H, W]``
        - output: ``[B, out_channels, H, W]`` logits.

    Example:
        >>> net = UNet(1, 3, base_channels=8, depth=2)
        >>> net(torch.zeros(2, 1, 33, 30)).shape
        torch.Size([2, 3, 33, 30])
    """

    def __init__(
        self,
        in_channels: int = 1,
        out_channels: int = 2,
        *,
        base_channels: int = 16,
        depth: int = 4,
        norm: str = "batch",
    ) -> None:
        super().__init__()
        for name, value in (
            ("in_channels", in_channels),
            ("out_channels", out_channels),
            ("base_channels", base_channels),
            ("depth", depth),
        ):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if norm not in _NORMS:
            raise ValueError(f"norm must be one of {_NORMS}, got {norm!r}")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.base_channels = base_channels
        self.depth = depth
        self.norm = norm
        widths = [base_channels * 2**i for i in range(depth + 1)]
        self.encoder = nn.ModuleList()
        c = in_channels
        for w in widths[:-1]:
            self.encoder.append(ConvBlock(c, w, norm))
            c = w
        self.pool = nn.MaxPool2d(2)
        self.bottleneck = ConvBlock(widths[-2], widths[-1], norm)
        self.up = nn.ModuleList()
        self.decoder = nn.ModuleList()
        for i in reversed(range(depth)):
            self.up.append(nn.ConvTranspose2d(widths[i + 1], widths[i], 2, stride=2))
            self.decoder.append(ConvBlock(2 * widths[i], widths[i], norm))
        self.head = nn.Conv2d(widths[0], out_channels, 1)

    @property
    def min_size(self) -> int:
        """Smallest input height and width, ``2**depth``."""
        return 2**self.depth

    def encode(self, x: Tensor) -> tuple[Tensor, list[Tensor]]:
        """Run the encoder.

        Returns:
            ``(bottleneck_input, skips)`` where ``bottleneck_input`` is the pooled output of
            the last encoder level and ``skips`` the per-level features (finest first).
        """
        skips: list[Tensor] = []
        for block in self.encoder:
            x = block(x)
            skips.append(x)
            x = self.pool(x)
        return x, skips

    def decode(self, x: Tensor, skips: list[Tensor]) -> Tensor:
        """Run the decoder from bottleneck features ``x`` with encoder ``skips``; returns logits."""
        for up, block, skip in zip(self.up, self.decoder, reversed(skips)):
            x = _match(up(x), skip)
            x = block(torch.cat([x, skip], dim=1))
        return self.head(x)

    def forward(self, x: Tensor) -> Tensor:
        """Segment ``x`` (``[B, C_in, H, W]``) into logits ``[B, C_out, H, W]``."""
        check_image_input(x, self.in_channels, self.depth, "UNet")
        h, skips = self.encode(x)
        return self.decode(self.bottleneck(h), skips)

    def extra_repr(self) -> str:
        return (
            f"in_channels={self.in_channels}, out_channels={self.out_channels}, "
            f"base_channels={self.base_channels}, depth={self.depth}, norm={self.norm!r}"
        )
