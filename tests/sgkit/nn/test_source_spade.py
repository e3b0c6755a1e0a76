"""SPADE decoder with source channels (sgkit.nn.source_spade)."""
import torch

from sgkit.nn import SourceSPADEDecoder


def test_spade_source_channels_are_concatenated_not_normalising():
    dec = SourceSPADEDecoder(6, 4, dims=(8, 8), hidden_channels=4).eval()
    for block in dec.blocks:
        assert block.norm_0.label_channels == 6 and block.norm_1.label_channels == 6
        assert block.conv_0.in_channels == block.in_channels + 4
    x = torch.randn(2, 10, 8, 8, generator=torch.Generator().manual_seed(0))
    y = x.clone()
    y[:, 6:] += 1
    assert dec(x).shape == (2, 3, 8, 8) and not torch.allclose(dec(x), dec(y))


def test_simsg_spade_uses_the_source_decoder():
    import warnings

    from sgkit.models import SIMSG, SIMSGConfig

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = SIMSG(SIMSGConfig.preset("spade-small", 36, 6, image_size=32), seed=0)
    assert isinstance(m.generator.decoder, SourceSPADEDecoder)
