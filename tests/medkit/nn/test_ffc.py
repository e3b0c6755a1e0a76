import pytest
import torch

from medkit.nn import FFC, FourierUnit, SpectralTransform, apply_band


def _identity_fu(c: int) -> FourierUnit:
    fu = FourierUnit(c, c, norm=False, activation=False)
    with torch.no_grad():
        fu.conv.weight.copy_(torch.eye(2 * c)[:, :, None, None])
    return fu


@pytest.mark.parametrize("size", [(8, 8), (7, 9), (5, 6), (1, 3)])
def test_fourier_unit_round_trip_identity_conv(size):
    torch.manual_seed(0)
    x = torch.randn(2, 3, *size)
    y = _identity_fu(3)(x)
    assert y.shape == x.shape
    torch.testing.assert_close(y, x, atol=1e-5, rtol=1e-5)


def test_fourier_unit_matches_manual_spectral_conv():
    # a 1x1 conv in the frequency domain == per-frequency complex channel mixing
    torch.manual_seed(1)
    fu = FourierUnit(2, 3, norm=False, activation=False)
    x = torch.randn(1, 2, 6, 7)
    z = torch.fft.rfft2(x, norm="ortho")[0]  # [2, 6, 4]
    w = fu.conv.weight[:, :, 0, 0].detach()  # [6, 4]: rows out (re, im), cols in (re, im)
    stacked = torch.stack([z.real, z.imag], 1).reshape(4, 6, 4)
    mixed = torch.einsum("oi,ihw->ohw", w, stacked).reshape(3, 2, 6, 4)
    ref = torch.fft.irfft2(torch.complex(mixed[:, 0], mixed[:, 1]), s=(6, 7), norm="ortho")
    torch.testing.assert_close(fu(x)[0], ref, atol=1e-5, rtol=1e-5)


def test_band_value_semantics_thesis_table_8_4():
    spec = torch.complex(torch.tensor([[-30.0, -5.0, 0.0, 4.0, 25.0]]), torch.tensor([[9.9, -10.0, -0.1, 10.0, 11.0]]))
    keep = apply_band(spec, (-10, 10), "keep", "value")
    torch.testing.assert_close(keep.real, torch.tensor([[-10.0, -5.0, 0.0, 4.0, 10.0]]))
    torch.testing.assert_close(keep.imag, torch.tensor([[9.9, -10.0, -0.1, 10.0, 10.0]]))
    rem = apply_band(spec, (-10, 10), "remove", "value")
    # (-10, 0) -> -10, [0, 10) -> 10, values outside (-10, 10) unchanged
    torch.testing.assert_close(rem.real, torch.tensor([[-30.0, -10.0, 10.0, 10.0, 25.0]]))
    torch.testing.assert_close(rem.imag, torch.tensor([[10.0, -10.0, -10.0, 10.0, 11.0]]))


def test_band_frequency_semantics():
    x = torch.randn(1, 1, 16, 16, dtype=torch.float64)
    spec = torch.fft.rfft2(x)
    ky = torch.fft.fftfreq(16, dtype=torch.float64) * 16
    kx = torch.arange(9, dtype=torch.float64)
    r = (ky[:, None] ** 2 + kx[None] ** 2).sqrt()
    keep = apply_band(spec, (0, 3), "keep", "frequency")
    rem = apply_band(spec, (0, 3), "remove", "frequency")
    inside = r <= 3
    assert torch.all(keep[..., ~inside] == 0) and torch.equal(keep[..., inside], spec[..., inside])
    assert torch.all(rem[..., inside] == 0) and torch.equal(rem[..., ~inside], spec[..., ~inside])
    torch.testing.assert_close(keep + rem, spec)
    # keeping only |k| <= 3 low-pass filters: high-frequency energy of the output is gone
    low = torch.fft.irfft2(keep, s=(16, 16))
    assert torch.fft.rfft2(low)[..., ~inside].abs().max() < 1e-9


def test_band_fourier_unit_option_changes_output():
    torch.manual_seed(0)
    x = torch.randn(2, 2, 12, 12) * 30
    fu = _identity_fu(2)
    fu_keep = _identity_fu(2)
    fu_keep.band, fu_keep.band_action, fu_keep.band_domain = (-10.0, 10.0), "keep", "value"
    y = fu_keep(x)
    z = torch.fft.rfft2(x, norm="ortho")
    ref = torch.fft.irfft2(apply_band(z, (-10, 10), "keep", "value"), s=(12, 12), norm="ortho")
    torch.testing.assert_close(y, ref, atol=1e-4, rtol=1e-4)
    assert not torch.allclose(y, fu(x))


def test_bad_band_args():
    with pytest.raises(ValueError, match="band_action"):
        FourierUnit(1, 1, band=(0, 1), band_action="drop")
    with pytest.raises(ValueError, match="band must be a pair"):
        FourierUnit(1, 1, band=(3, 1))
    with pytest.raises(ValueError, match="band_domain"):
        FourierUnit(1, 1, band=(0, 1), band_domain="phase")


@pytest.mark.parametrize("alpha", [0.0, 0.5, 1.0])
@pytest.mark.parametrize("size", [(8, 8), (7, 11)])
def test_spectral_transform_shapes_and_split(alpha, size):
    st = SpectralTransform(6, 8, alpha=alpha)
    assert st.global_channels + st.local_channels == 4
    assert st.global_channels == round(alpha * 4)
    assert (st.fu_global is None) == (alpha == 0.0)
    assert (st.fu_local is None) == (alpha == 1.0)
    y = st(torch.randn(2, 6, *size))
    assert y.shape == (2, 8, *size)


def test_local_fourier_unit_tiling():
    # the local Fourier unit works on the 2x2 tiles of the map stacked on channels
    from medkit.nn.ffc import _from_tiles, _to_tiles

    x = torch.randn(2, 3, 8, 10)
    t = _to_tiles(x)
    assert t.shape == (2, 12, 4, 5)
    torch.testing.assert_close(t[:, 0:3], x[..., :4, :5])
    torch.testing.assert_close(t[:, 3:6], x[..., :4, 5:])
    torch.testing.assert_close(t[:, 6:9], x[..., 4:, :5])
    torch.testing.assert_close(t[:, 9:12], x[..., 4:, 5:])
    torch.testing.assert_close(_from_tiles(t), x)
    # an FFT over a tile only: with an identity Fourier unit the local branch is the identity,
    # also for odd sizes (padded, then cropped)
    st = SpectralTransform(2, 4, alpha=0.0)
    st.fu_local = _identity_fu(4 * st.local_channels)
    y = torch.randn(1, 2, 7, 9)
    torch.testing.assert_close(st._local(y), y, atol=1e-5, rtol=1e-5)


def test_ffc_channel_split_and_shapes():
    f = FFC(1, 16, 3, ratio_gin=0.0, ratio_gout=0.5)
    assert f.in_cg == 0 and f.g2g is None and f.g2l is None
    y_l, y_g = f(torch.randn(2, 1, 9, 10))
    assert y_l.shape == (2, 8, 9, 10) and y_g.shape == (2, 8, 9, 10)
    f2 = FFC(16, 32, 3, ratio_gin=0.5, ratio_gout=0.25)
    z_l, z_g = f2((y_l, y_g))
    assert z_l.shape == (2, 24, 9, 10) and z_g.shape == (2, 8, 9, 10)
    f3 = FFC(32, 8, 1, ratio_gin=0.25, ratio_gout=0.0)
    o_l, o_g = f3((z_l, z_g))
    assert o_g is None and o_l.shape == (2, 8, 9, 10)
    assert (o_l >= 0).all()  # BN + ReLU


def test_ffc_global_path_sees_whole_image():
    # a change in one corner reaches the opposite corner in one block only via the spectral path
    torch.manual_seed(0)
    f = FFC(8, 8, 1, ratio_gin=0.5, ratio_gout=0.5).eval()
    x_l, x_g = torch.randn(1, 4, 16, 16), torch.randn(1, 4, 16, 16)
    x_g2 = x_g.clone()
    x_g2[..., 0, 0] += 5.0
    y = f((x_l, x_g))[1][..., 15, 15]
    y2 = f((x_l, x_g2))[1][..., 15, 15]
    assert not torch.allclose(y, y2)
    yl = f((x_l, x_g))[0][..., 15, 15]
    yl2 = f((x_l, x_g2))[0][..., 15, 15]
    torch.testing.assert_close(yl, yl2)  # 1x1 local conv: no long-range effect


def test_ffc_gradients_flow_through_fft():
    torch.manual_seed(0)
    f = FFC(4, 8, 3, ratio_gin=0.5, ratio_gout=0.5)
    y_l, y_g = f((torch.randn(2, 2, 7, 9), torch.randn(2, 2, 7, 9)))
    (y_l.sum() + y_g.square().sum()).backward()
    for name, p in f.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
    assert f.g2g.fu_global.conv.weight.grad.abs().sum() > 0
    assert f.g2g.fu_local.conv.weight.grad.abs().sum() > 0


def test_ffc_bad_args():
    with pytest.raises(ValueError, match="ratio_gout"):
        FFC(4, 4, ratio_gout=1.5)
    with pytest.raises(ValueError, match="kernel_size"):
        FFC(4, 4, 2)
    with pytest.raises(ValueError, match="expected 2 local and 2 global"):
        FFC(4, 4, 1)(torch.randn(1, 4, 8, 8))
