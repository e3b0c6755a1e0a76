"""Fast Fourier Convolution (FFC) building blocks (Chi et al., NeurIPS 2020).

Paper: https://proceedings.neurips.cc/paper/2020/hash/2fd5d41ec6cfab47e32164d5624269b1-Abstract.html

The three public layers are :class:`FourierUnit`, :class:`SpectralTransform` and :class:`FFC`.

Frequency-band option (thesis Table 8.4)
----------------------------------------
:class:`FourierUnit` can alter its spectrum right after the forward FFT (before the ``1x1``
convolution). Let :math:`Z = \\mathrm{rfft2}(x)` with orthonormal scaling and let ``band =
(lo, hi)``. Two readings are offered through ``band_domain``:

``"value"`` (default, the thesis semantics). The thesis' "frequency range" is the range of
the *values* of the real and imaginary parts of :math:`Z` (it "generally lies between -40 and
40"). Every real number :math:`v` in the stacked real/imaginary tensor is changed:

- ``band_action="keep"`` ("keep(-10,10)"): :math:`v \\leftarrow \\min(\\max(v, lo), hi)`,
  i.e. values are clamped into ``[lo, hi]``;
- ``band_action="remove"`` ("remove(-10,10)"): values strictly inside ``(lo, hi)`` are moved
  to the nearer edge, the midpoint ``(lo + hi) / 2`` going to ``hi``. For ``(-10, 10)`` this is
  the thesis rule "values from -10 to 0 become -10 and values from 0 to 10 become 10". (The
  public reference code swaps the two cases and maps *every* positive value to ``-10`` and
  every non-positive value to ``10``; we implement the rule the thesis states.)

``"frequency"``: a band of spatial frequencies. For coefficient :math:`Z[k_y, k_x]` the
radial frequency is :math:`r = \\sqrt{k_y^2 + k_x^2}` in cycles per image, with signed
:math:`k_y` (``torch.fft.fftfreq(H) * H``) and :math:`k_x \\ge 0`
(``torch.fft.rfftfreq(W) * W``). A coefficient is inside the band when ``lo <= r <= hi``;
``"keep"`` zeroes every coefficient outside the band, ``"remove"`` zeroes every coefficient
inside it. ``band=(0, 10)`` is the low-frequency band ``|k| <= 10``.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["FourierUnit", "SpectralTransform", "FFC", "apply_band"]

_ACTIONS = ("keep", "remove")
_DOMAINS = ("value", "frequency")


def _check_band(
    band: tuple[float, float] | None, band_action: str, band_domain: str
) -> tuple[float, float] | None:
    if band_action not in _ACTIONS:
        raise ValueError(f"band_action must be one of {_ACTIONS}, got {band_action!r}")
    if band_domain not in _DOMAINS:
        raise ValueError(f"band_domain must be one of {_DOMAINS}, got {band_domain!r}")
    if band is None:
        return None
    if len(band) != 2 or not float(band[0]) < float(band[1]):
        raise ValueError(f"band must be a pair (lo, hi) with lo < hi, got {band!r}")
    if band_domain == "frequency" and float(band[0]) < 0:
        raise ValueError(f"band for band_domain='frequency' must have lo >= 0, got {band!r}")
    return float(band[0]), float(band[1])


def apply_band(
    spec: Tensor,
    band: tuple[float, float],
    band_action: str = "keep",
    band_domain: str = "value",
    *,
    height: int | None = None,
) -> Tensor:
    """Apply the frequency-band option to a real-FFT spectrum (see the module docstring).

    Args:
        spec: complex tensor ``[..., H, W // 2 + 1]`` from :func:`torch.fft.rfft2`.
        band: ``(lo, hi)``.
        band_action: ``"keep"`` or ``"remove"``.
        band_domain: ``"value"`` or ``"frequency"``.
        height: spatial height ``H`` (defaults to ``spec.shape[-2]``).

    Returns:
        The altered complex spectrum (same shape).
    """
    lo, hi = _check_band(band, band_action, band_domain)  # type: ignore[misc]
    if band_domain == "value":
        parts = torch.view_as_real(spec)
        if band_action == "keep":
            parts = parts.clamp(lo, hi)
        else:
            mid = 0.5 * (lo + hi)
            inside = (parts > lo) & (parts < hi)
            edge = torch.where(parts < mid, torch.full_like(parts, lo), torch.full_like(parts, hi))
            parts = torch.where(inside, edge, parts)
        return torch.view_as_complex(parts.contiguous())
    h = spec.shape[-2] if height is None else height
    wr = spec.shape[-1]
    ky = torch.fft.fftfreq(h, device=spec.device) * h
    kx = torch.arange(wr, device=spec.device, dtype=ky.dtype)
    r = torch.sqrt(ky[:, None] ** 2 + kx[None, :] ** 2)
    inside = (r >= lo) & (r <= hi)
    mask = inside if band_action == "keep" else ~inside
    return spec * mask.to(spec.real.dtype)


class FourierUnit(nn.Module):
    r"""Fourier unit: convolution in the frequency domain.

    .. math::
        Z = \mathrm{rfft2}(x), \quad
        U = \mathrm{ReLU}(\mathrm{BN}(W_{1\times1} * [\Re Z, \Im Z])), \quad
        y = \mathrm{irfft2}(U_{re} + i\,U_{im}, s=(H, W))

    The real FFT runs over ``H`` and ``W`` with orthonormal scaling; real and imaginary
    parts are stacked as channels (channel ``2c`` is the real and ``2c + 1`` the imaginary
    part of input channel ``c``); the inverse FFT is given the input size, so odd sizes come
    back exactly.

    Note: because the ReLU acts on the spectrum, the real parts it passes are non-negative,
    and their inverse FFT concentrates at the origin pixel ``(0, 0)`` (about 20x the mean
    magnitude elsewhere for random input); this is inherent to the FFC design.

    Args:
        in_channels: input channels.
        out_channels: output channels.
        norm: apply batch norm after the ``1x1`` convolution.
        activation: apply ReLU after the normalisation.
        band: optional frequency band ``(lo, hi)``, see the module docstring.
        band_action: ``"keep"`` or ``"remove"``.
        band_domain: ``"value"`` (thesis Table 8.4) or ``"frequency"``.

    Shapes:
        - input: ``[B, in_channels, H, W]``
        - output: ``[B, out_channels, H, W]``
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        *,
        norm: bool = True,
        activation: bool = True,
        band: tuple[float, float] | None = None,
        band_action: str = "keep",
        band_domain: str = "value",
    ) -> None:
        super().__init__()
        if in_channels < 1 or out_channels < 1:
            raise ValueError(
                f"in_channels and out_channels must be >= 1, got {in_channels}, {out_channels}"
            )
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.band = _check_band(band, band_action, band_domain)
        self.band_action = band_action
        self.band_domain = band_domain
        self.conv = nn.Conv2d(2 * in_channels, 2 * out_channels, 1, bias=False)
        self.bn = nn.BatchNorm2d(2 * out_channels) if norm else nn.Identity()
        self.act = nn.ReLU(inplace=True) if activation else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        """Transform ``x`` ``[B, C_in, H, W]`` to ``[B, C_out, H, W]``."""
        b, c, h, w = x.shape
        spec = torch.fft.rfft2(x.float(), norm="ortho")
        if self.band is not None:
            spec = apply_band(spec, self.band, self.band_action, self.band_domain, height=h)
        z = torch.view_as_real(spec)  # [B, C, H, Wr, 2]
        z = z.permute(0, 1, 4, 2, 3).reshape(b, 2 * c, h, -1)
        z = self.act(self.bn(self.conv(z.to(x.dtype))))
        z = z.reshape(b, self.out_channels, 2, h, -1).permute(0, 1, 3, 4, 2).contiguous()
        out = torch.fft.irfft2(torch.view_as_complex(z.float()), s=(h, w), norm="ortho")
        return out.to(x.dtype)

    def extra_repr(self) -> str:
        s = f"{self.in_channels}, {self.out_channels}"
        if self.band is not None:
            s += f", band={self.band}, band_action={self.band_action!r}"
            s += f", band_domain={self.band_domain!r}"
        return s


def _to_tiles(x: Tensor) -> Tensor:
    """``[B, C, H, W]`` (H, W even) -> ``[B, 4C, H/2, W/2]`` (2x2 tiles stacked on channels)."""
    b, c, h, w = x.shape
    x = x.reshape(b, c, 2, h // 2, 2, w // 2).permute(0, 2, 4, 1, 3, 5)
    return x.reshape(b, 4 * c, h // 2, w // 2)


def _from_tiles(x: Tensor) -> Tensor:
    """Inverse of :func:`_to_tiles`."""
    b, c4, h2, w2 = x.shape
    c = c4 // 4
    x = x.reshape(b, 2, 2, c, h2, w2).permute(0, 3, 1, 4, 2, 5)
    return x.reshape(b, c, 2 * h2, 2 * w2)


class SpectralTransform(nn.Module):
    r"""Spectral transform of the FFC global branch (thesis Fig. 8.1-c).

    A ``1x1`` conv-BN-ReLU maps the input to ``hidden = out_channels // 2`` channels
    (:math:`x''`). Its first ``round(alpha * hidden)`` channels go to a global Fourier unit
    (FFT over the whole map), the remaining ones to a local Fourier unit, which splits the map
    into ``2 x 2`` tiles stacked on channels, transforms them and puts them back (odd sizes are
    zero-padded by one row/column first and cropped afterwards). Then
    :math:`y = W_{1\times1} * (x'' + [FU_g(x''_g), FU_l(x''_l)])`.

    Args:
        in_channels: input channels.
        out_channels: output channels (``>= 2``).
        alpha: share of the hidden channels sent to the global Fourier unit (``0..1``).
        **fu_kwargs: band options passed to both :class:`FourierUnit` s.

    Shapes:
        - input: ``[B, in_channels, H, W]``
        - output: ``[B, out_channels, H, W]``
    """

    def __init__(
        self, in_channels: int, out_channels: int, *, alpha: float = 0.5, **fu_kwargs: object
    ) -> None:
        super().__init__()
        if out_channels < 2:
            raise ValueError(f"out_channels must be >= 2, got {out_channels}")
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f"alpha must lie in [0, 1], got {alpha}")
        hidden = out_channels // 2
        self.alpha = alpha
        self.global_channels = int(round(alpha * hidden))
        self.local_channels = hidden - self.global_channels
        self.conv1 = nn.Sequential(
            nn.Conv2d(in_channels, hidden, 1, bias=False),
            nn.BatchNorm2d(hidden),
            nn.ReLU(inplace=True),
        )
        self.fu_global = (
            FourierUnit(self.global_channels, self.global_channels, **fu_kwargs)  # type: ignore[arg-type]
            if self.global_channels
            else None
        )
        self.fu_local = (
            FourierUnit(4 * self.local_channels, 4 * self.local_channels, **fu_kwargs)  # type: ignore[arg-type]
            if self.local_channels
            else None
        )
        self.conv2 = nn.Conv2d(hidden, out_channels, 1, bias=False)

    def _local(self, x: Tensor) -> Tensor:
        h, w = x.shape[-2:]
        xp = F.pad(x, [0, w % 2, 0, h % 2])
        y = _from_tiles(self.fu_local(_to_tiles(xp)))  # type: ignore[misc]
        return y[..., :h, :w]

    def forward(self, x: Tensor) -> Tensor:
        """Transform ``x`` ``[B, C_in, H, W]`` to ``[B, C_out, H, W]``."""
        x = self.conv1(x)
        parts = []
        g = self.global_channels
        if self.fu_global is not None:
            parts.append(self.fu_global(x[:, :g]))
        if self.fu_local is not None:
            parts.append(self._local(x[:, g:]))
        return self.conv2(x + torch.cat(parts, dim=1))


class FFC(nn.Module):
    r"""Fast Fourier convolution block with batch norm and ReLU on both outputs.

    Channels are split into local (``1 - ratio``) and global (``ratio``) parts:

    .. math::
        y_l = \mathrm{ReLU}(\mathrm{BN}(f_{l\to l}(x_l) + f_{g\to l}(x_g))), \quad
        y_g = \mathrm{ReLU}(\mathrm{BN}(f_{l\to g}(x_l) + \mathrm{ST}(x_g)))

    where the ``f`` are ``k x k`` convolutions and ``ST`` is a :class:`SpectralTransform`.
    Paths whose input or output has no channels are left out (``ratio_gin=0``: no global
    input, which equals a zero global input up to the BN shift of the absent path).

    Args:
        in_channels: total input channels.
        out_channels: total output channels.
        kernel_size: size of the local convolutions (odd; ``"same"`` padding).
        ratio_gin: global share of the input channels (``int(in_channels * ratio_gin)``).
        ratio_gout: global share of the output channels.
        alpha: global/local Fourier-unit split inside the spectral transform.
        **fu_kwargs: band options for the Fourier units.

    Shapes:
        - input: ``(x_l [B, C_l, H, W], x_g [B, C_g, H, W] or None)`` or a single tensor
          (all local).
        - output: ``(y_l, y_g)``; a part with zero channels is ``None``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        *,
        ratio_gin: float = 0.5,
        ratio_gout: float = 0.5,
        alpha: float = 0.5,
        **fu_kwargs: object,
    ) -> None:
        super().__init__()
        for name, r in (("ratio_gin", ratio_gin), ("ratio_gout", ratio_gout)):
            if not 0.0 <= r <= 1.0:
                raise ValueError(f"{name} must lie in [0, 1], got {r}")
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be a positive odd int, got {kernel_size}")
        self.in_cg = int(in_channels * ratio_gin)
        self.in_cl = in_channels - self.in_cg
        self.out_cg = int(out_channels * ratio_gout)
        self.out_cl = out_channels - self.out_cg
        if self.out_cg == 1:
            raise ValueError(
                f"ratio_gout={ratio_gout} gives a single global output channel; need 0 or >= 2"
            )
        pad = kernel_size // 2

        def conv(cin: int, cout: int) -> nn.Module | None:
            if cin == 0 or cout == 0:
                return None
            return nn.Conv2d(cin, cout, kernel_size, padding=pad, bias=False)

        self.l2l = conv(self.in_cl, self.out_cl)
        self.l2g = conv(self.in_cl, self.out_cg)
        self.g2l = conv(self.in_cg, self.out_cl)
        self.g2g = (
            SpectralTransform(self.in_cg, self.out_cg, alpha=alpha, **fu_kwargs)
            if self.in_cg and self.out_cg
            else None
        )
        self.bn_l = nn.BatchNorm2d(self.out_cl) if self.out_cl else None
        self.bn_g = nn.BatchNorm2d(self.out_cg) if self.out_cg else None
        self.act = nn.ReLU(inplace=True)

    @staticmethod
    def _sum(*terms: Tensor | None) -> Tensor | None:
        out = None
        for t in terms:
            if t is not None:
                out = t if out is None else out + t
        return out

    def forward(
        self, x: Tensor | tuple[Tensor | None, Tensor | None]
    ) -> tuple[Tensor | None, Tensor | None]:
        """Apply the block; see the class docstring for shapes."""
        x_l, x_g = (x, None) if isinstance(x, Tensor) else x
        if (x_l.shape[1] if x_l is not None else 0) != self.in_cl or (
            x_g.shape[1] if x_g is not None else 0
        ) != self.in_cg:
            raise ValueError(
                f"expected {self.in_cl} local and {self.in_cg} global input channels, got "
                f"{None if x_l is None else x_l.shape[1]} and "
                f"{None if x_g is None else x_g.shape[1]}"
            )

        def run(m: nn.Module | None, t: Tensor | None) -> Tensor | None:
            return None if m is None or t is None else m(t)

        y_l = self._sum(run(self.l2l, x_l), run(self.g2l, x_g))
        y_g = self._sum(run(self.l2g, x_l), run(self.g2g, x_g))
        if y_l is not None:
            y_l = self.act(self.bn_l(y_l))  # type: ignore[misc]
        if y_g is not None:
            y_g = self.act(self.bn_g(y_g))  # type: ignore[misc]
        return y_l, y_g
