"""Loss functions of the scene-graph-to-image models (SG2Im, SIMSG, DisPositioNet, MIGS).

- :func:`box_loss`: L1 between predicted and ground-truth boxes (thesis; not the MSE of the
  public SIMSG code);
- :func:`mask_loss`: binary cross-entropy of predicted box-relative masks;
- :func:`kl_normal`: closed-form KL divergence of a diagonal Gaussian from the standard normal;
- :func:`gan_loss`: adversarial losses on discriminator logits (``"bce"`` as in SG2Im,
  ``"hinge"`` as in SPADE, ``"lsgan"``);
- :func:`feature_matching_loss`: pix2pixHD/SPADE discriminator feature matching;
- :class:`VGGPerceptualLoss`: L1 distance of VGG16 features (Johnson et al. 2016,
  https://arxiv.org/abs/1603.08155). The architecture comes from torchvision; pretrained weights
  are read only from a local file given by the user (:mod:`sgkit.models.pretrained`), never
  downloaded. Without a file the loss is disabled with the message
  :data:`PERCEPTUAL_DISABLED_MESSAGE` and returns zero.
"""
from __future__ import annotations

import os
import warnings
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sgkit.models.pretrained import load_local_state_dict

__all__ = [
    "box_loss",
    "mask_loss",
    "kl_normal",
    "gan_loss",
    "multiscale_gan_loss",
    "feature_matching_loss",
    "VGGPerceptualLoss",
    "PERCEPTUAL_DISABLED_MESSAGE",
]

PERCEPTUAL_DISABLED_MESSAGE = (
    "VGG perceptual loss disabled: no local VGG16 weights file was given (pretrained weights are "
    "never downloaded). Pass vgg_weights=PATH to a torchvision vgg16 state dict (e.g. the file "
    "'vgg16-397923af.pth' from torchvision) to enable it."
)

_GAN_MODES = ("bce", "hinge", "lsgan")


def box_loss(pred: Tensor, target: Tensor) -> Tensor:
    r"""Mean absolute error of boxes, :math:`\frac{1}{4O}\sum_{o,k} |\hat b_{ok} - b_{ok}|`.

    Args:
        pred: ``[O, 4]`` predicted boxes.
        target: ``[O, 4]`` ground-truth boxes.
    """
    return F.l1_loss(pred, target)


def mask_loss(pred: Tensor, target: Tensor) -> Tensor:
    """Binary cross-entropy of mask probabilities; targets are resized to the prediction's
    ``M x M`` by area interpolation when the sizes differ.

    Args:
        pred: ``[O, M, M]`` mask probabilities.
        target: ``[O, M', M']`` masks in ``[0, 1]``.
    """
    if target.shape[-2:] != pred.shape[-2:]:
        target = F.interpolate(target.unsqueeze(1), size=pred.shape[-2:], mode="area").squeeze(1)
    return F.binary_cross_entropy(pred.clamp(1e-6, 1 - 1e-6), target.clamp(0, 1))


def kl_normal(mu: Tensor, logvar: Tensor) -> Tensor:
    r"""KL divergence of :math:`\mathcal N(\mu, \sigma^2)` from :math:`\mathcal N(0, 1)`,
    summed over the last dimension and averaged over the rest:

    .. math::
        \mathrm{KL} = -\tfrac12 \sum_k (1 + \log\sigma_k^2 - \mu_k^2 - \sigma_k^2).

    Args:
        mu: ``[..., K]`` means.
        logvar: ``[..., K]`` log-variances.
    """
    if mu.shape != logvar.shape:
        raise ValueError(f"mu and logvar must have the same shape, got {tuple(mu.shape)} and {tuple(logvar.shape)}")
    kl = -0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(dim=-1)
    return kl.mean() if kl.numel() else mu.new_zeros(())


def gan_loss(logits: Tensor, real: bool, mode: str = "bce", for_discriminator: bool = True) -> Tensor:
    r"""Adversarial loss on discriminator logits, averaged over all entries.

    - ``"bce"``: :math:`-\log \sigma(s)` for real targets, :math:`-\log(1 - \sigma(s))` for fake
      ones (the generator uses the non-saturating real target);
    - ``"hinge"``: discriminator :math:`\max(0, 1 - s)` (real) / :math:`\max(0, 1 + s)` (fake),
      generator :math:`-s`;
    - ``"lsgan"``: :math:`(s - 1)^2` (real) / :math:`s^2` (fake).

    Args:
        logits: discriminator output of any shape.
        real: target label (``True`` = real). For the generator pass ``real=True``.
        mode: ``"bce"``, ``"hinge"`` or ``"lsgan"``.
        for_discriminator: whether the loss trains the discriminator (matters for hinge).

    Returns:
        Scalar loss.
    """
    if mode not in _GAN_MODES:
        raise ValueError(f"mode must be one of {_GAN_MODES}, got {mode!r}")
    if mode == "bce":
        target = torch.ones_like(logits) if real else torch.zeros_like(logits)
        return F.binary_cross_entropy_with_logits(logits, target)
    if mode == "lsgan":
        return ((logits - (1.0 if real else 0.0)) ** 2).mean()
    if not for_discriminator:
        if not real:
            raise ValueError("hinge generator loss needs real=True")
        return -logits.mean()
    return F.relu(1.0 - logits).mean() if real else F.relu(1.0 + logits).mean()


def multiscale_gan_loss(
    outputs: Sequence, real: bool, mode: str = "bce", for_discriminator: bool = True
) -> Tensor:
    """:func:`gan_loss` averaged over the scales of a multi-scale discriminator.

    Args:
        outputs: list of logit tensors or of ``(logits, features)`` pairs.
        real, mode, for_discriminator: see :func:`gan_loss`.
    """
    losses = []
    for out in outputs:
        logits = out[0] if isinstance(out, (tuple, list)) else out
        losses.append(gan_loss(logits, real, mode, for_discriminator))
    return torch.stack(losses).mean()


def feature_matching_loss(fake_outputs: Sequence, real_outputs: Sequence) -> Tensor:
    r"""Discriminator feature matching (pix2pixHD, SPADE).

    .. math::
        \mathcal{L}_{FM} = \frac{1}{S} \sum_{s=1}^{S} \sum_{k} \lVert D_s^{(k)}(\hat x) -
        D_s^{(k)}(x) \rVert_1

    with mean absolute differences per layer and real features detached.

    Args:
        fake_outputs: per scale ``(logits, [features])`` for the generated images.
        real_outputs: the same for the real images.

    Returns:
        Scalar loss.
    """
    if len(fake_outputs) != len(real_outputs):
        raise ValueError(
            f"fake_outputs and real_outputs must have the same number of scales, got "
            f"{len(fake_outputs)} and {len(real_outputs)}"
        )
    total = None
    for (_, ff), (_, rf) in zip(fake_outputs, real_outputs):
        for f, r in zip(ff, rf):
            term = F.l1_loss(f, r.detach())
            total = term if total is None else total + term
    if total is None:
        raise ValueError("feature_matching_loss needs at least one scale with features")
    return total / len(fake_outputs)


def _vgg16_features() -> nn.Sequential:
    """The convolutional part of torchvision's VGG16 (built without the 120M-parameter head)."""
    try:
        from torchvision.models.vgg import cfgs, make_layers

        return make_layers(cfgs["D"], batch_norm=False)
    except (ImportError, KeyError):  # pragma: no cover - older/newer torchvision layouts
        from torchvision.models import vgg16

        return vgg16(weights=None).features


class VGGPerceptualLoss(nn.Module):
    r"""Perceptual loss on VGG16 features (torchvision architecture, local weights only).

    .. math::
        \mathcal{L}_p(\hat x, x) = \sum_{k} w_k \, \lVert \phi_k(\hat x) - \phi_k(x) \rVert_1

    with :math:`\phi_k` the activations after ``relu1_2``, ``relu2_2``, ``relu3_3`` and
    ``relu4_3`` of an ImageNet-normalised input. Without ``weights`` (or with a missing file
    when ``strict=False``) the loss warns with :data:`PERCEPTUAL_DISABLED_MESSAGE`, sets
    :attr:`enabled` to ``False`` and returns zero; random VGG features would be meaningless.

    Args:
        weights: path to a local torchvision ``vgg16`` state dict (full model or ``features``
            only). Loaded with ``torch.load(..., weights_only=True)``.
        layer_weights: weight :math:`w_k` of each of the four layers.
        warn: emit the warning when disabled.

    Shapes:
        - input, target: ``[B, 3, H, W]`` images in ``[0, 1]``.
        - output: scalar.
    """

    #: indices in ``vgg16().features`` after relu1_2, relu2_2, relu3_3, relu4_3.
    LAYERS: tuple[int, ...] = (3, 8, 15, 22)

    def __init__(
        self,
        weights: str | os.PathLike | None = None,
        layer_weights: Sequence[float] = (1.0, 1.0, 1.0, 1.0),
        warn: bool = True,
    ) -> None:
        super().__init__()
        layer_weights = tuple(float(w) for w in layer_weights)
        if len(layer_weights) != len(self.LAYERS):
            raise ValueError(
                f"layer_weights must have {len(self.LAYERS)} entries, got {len(layer_weights)}"
            )
        self.layer_weights = layer_weights
        self.enabled = False
        self.features: nn.Module | None = None
        if weights is None:
            if warn:
                warnings.warn(PERCEPTUAL_DISABLED_MESSAGE, UserWarning, stacklevel=2)
            return
        path = os.fspath(weights)
        features = _vgg16_features()[: self.LAYERS[-1] + 1]
        state = load_local_state_dict(path, argument="weights", what="vgg", strip_prefix="features.")
        wanted = features.state_dict().keys()
        missing = [k for k in wanted if k not in state]
        if missing:
            raise ValueError(
                f"weights file {path!r} is not a torchvision vgg16 state dict: missing {missing[:4]}"
            )
        features.load_state_dict({k: state[k] for k in wanted})
        for p in features.parameters():
            p.requires_grad_(False)
        self.features = features.eval()
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1))
        self.enabled = True

    def train(self, mode: bool = True) -> "VGGPerceptualLoss":
        """Keep the VGG in eval mode."""
        super().train(mode)
        if self.features is not None:
            self.features.eval()
        return self

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        """Perceptual distance (zero when disabled)."""
        if input.shape != target.shape:
            raise ValueError(
                f"input and target must have the same shape, got {tuple(input.shape)} and "
                f"{tuple(target.shape)}"
            )
        if not self.enabled or self.features is None:
            return input.new_zeros(())
        x = (input - self.mean) / self.std
        y = (target - self.mean) / self.std
        loss = input.new_zeros(())
        k = 0
        for i, layer in enumerate(self.features):
            x = layer(x)
            y = layer(y)
            if i in self.LAYERS:
                loss = loss + self.layer_weights[k] * F.l1_loss(x, y.detach())
                k += 1
        return loss

    def extra_repr(self) -> str:
        return f"enabled={self.enabled}"
