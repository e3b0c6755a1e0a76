"""Segmentation networks: U-Net, Fast Fourier Convolution blocks and Y-Net."""
from medkit.nn.ffc import FFC, FourierUnit, SpectralTransform, apply_band
from medkit.nn.unet import ConvBlock, UNet, make_norm
from medkit.nn.ynet import YNet, count_parameters

__all__ = [
    "ConvBlock",
    "FFC",
    "FourierUnit",
    "SpectralTransform",
    "UNet",
    "YNet",
    "apply_band",
    "count_parameters",
    "make_norm",
]
