"""Configuration of :class:`~sgkit.models.SIMSG`: :class:`SIMSGConfig`, presets and weight sets."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from sgkit.models.sg2im_config import PRESETS as SG2IM_PRESETS
from sgkit.models.sg2im_config import SG2ImConfig, vocabulary_sizes

__all__ = ["SIMSG_PRESETS", "SIMSG_WEIGHTS", "SIMSGConfig"]

#: Loss-weight sets per decoder. ``"thesis"``: thesis Table B.1. ``"reference"``: the public
#: configuration files of the SIMSG code (SPADE feature-matching and perceptual weights 5 instead
#: of 10; CRN identical). The global/object GAN weights are the products of the files'
#: ``discriminator_loss_weight`` and ``d_img_weight`` / ``d_obj_weight``.
SIMSG_WEIGHTS: dict[str, dict[str, dict[str, float]]] = {
    "thesis": {
        "crn": dict(gan_global_weight=0.01, gan_object_weight=0.01, aux_weight=0.1, box_weight=10.0,
                    feature_matching_weight=0.0, perceptual_weight=0.0, image_l1_weight=1.0),
        "spade": dict(gan_global_weight=1.0, gan_object_weight=0.1, aux_weight=0.1, box_weight=50.0,
                      feature_matching_weight=10.0, perceptual_weight=10.0, image_l1_weight=1.0),
    },
    "reference": {
        "crn": dict(gan_global_weight=0.01, gan_object_weight=0.01, aux_weight=0.1, box_weight=10.0,
                    feature_matching_weight=0.0, perceptual_weight=0.0, image_l1_weight=1.0),
        "spade": dict(gan_global_weight=1.0, gan_object_weight=0.1, aux_weight=0.1, box_weight=50.0,
                      feature_matching_weight=5.0, perceptual_weight=5.0, image_l1_weight=1.0),
    },
}

_SIMSG_COMMON: dict[str, Any] = dict(lr=2e-4, betas=(0.9, 0.999), feature_dim=128, image_branch_channels=32,
                                     mask_weight=0.0)

#: Named SIMSG configurations. ``"crn-64"``/``"spade-64"``: thesis appendix B sizes (GCN width
#: 128, 5 layers, decoder (1024, 512, 256, 128, 64), ``z_I`` of 128, image branch of 32 channels),
#: Adam lr 2e-4 with betas (0.9, 0.999); loss weights from :data:`SIMSG_WEIGHTS` (``weights=``).
#: ``"crn-small"``/``"spade-small"``: small CPU models. ``"crn-32-shapes"``: the CPU model of the
#: ShapesWorld reproduction (32 x 32 images, GCN width 64, ``z_I`` of 64 from 16 x 16 crops, image
#: branch of 16 channels, image L1 + box L1 + mask BCE, GAN terms off).
SIMSG_PRESETS: dict[str, dict[str, Any]] = {
    "crn-64": {**SG2IM_PRESETS["crn-64"], **_SIMSG_COMMON},
    "spade-64": {**SG2IM_PRESETS["spade-64"], **_SIMSG_COMMON},
    "crn-small": {**SG2IM_PRESETS["crn-small"], **_SIMSG_COMMON, "feature_dim": 32, "image_branch_channels": 16,
                  "lr": 1e-3, "mask_weight": 1.0},
    "spade-small": {**SG2IM_PRESETS["spade-small"], **_SIMSG_COMMON, "feature_dim": 32,
                    "image_branch_channels": 16, "lr": 1e-3, "mask_weight": 1.0},
    "crn-32-shapes": dict(
        decoder="crn", image_size=32, embedding_dim=32, gconv_dim=64, gconv_hidden_dim=128, gconv_layers=3,
        head_hidden_dim=64, mask_size=16, layout_noise_dim=0, decoder_dims=(64, 32, 32, 16),
        d_img_dims=(16, 32, 64), d_obj_dims=(16, 32, 64), crop_size=16, feature_dim=64, feature_crop_size=16,
        feature_channels=32, image_branch_channels=16, box_weight=1.0, gan_global_weight=0.0,
        gan_object_weight=0.0, aux_weight=0.0, perceptual_weight=0.0, feature_matching_weight=0.0,
        image_l1_weight=1.0, mask_weight=1.0, lr=2e-3, betas=(0.9, 0.999),
    ),
}


@dataclass
class SIMSGConfig(SG2ImConfig):
    """Hyper-parameters of :class:`~sgkit.models.SIMSG` (all of :class:`SG2ImConfig` plus these).

    Args:
        feature_dim: size of the visual feature ``z_I`` of every node.
        feature_encoder: ``"auto"`` (VGG16 when ``feature_weights`` is given, else the CNN),
            ``"cnn"`` or ``"vgg16"`` (see :class:`~sgkit.nn.VisualFeatureEncoder`).
        feature_weights: local torchvision VGG16 weights file for the frozen trunk.
        feature_crop_size: side of the object crops the encoder sees.
        feature_channels: channels of the CNN encoder.
        image_branch_channels: channels of the masked-source-image branch entering the decoder.
        box_mask_prob: probability that a node's box is hidden in training (0.35).
        feature_mask_prob: probability that a node's feature is hidden in training (0.25).
        use_gt_masks: lay out with the given object masks (when the data have them) instead of
            the predicted ones.
        supervised: the fully supervised baseline: trained on (source image, target graph) ->
            target image pairs without masking; its graph encoder gets the boxes but no ``z_I``.
        grey_value: value (in ``[0, 1]`` pixel space) painted over hidden regions before crops.
        feature_fill: what replaces a masked ``z_I``: ``"zero"`` or ``"gaussian"`` (a draw from
            the per-dimension statistics of training features,
            :meth:`~sgkit.models.SIMSG.fit_feature_statistics`).
        box_loss: ``"l1"`` (thesis) or ``"mse"`` (the public code).
    """

    feature_dim: int = 128
    feature_encoder: str = "auto"
    feature_weights: str | None = None
    feature_crop_size: int = 16
    feature_channels: int = 32
    image_branch_channels: int = 32
    box_mask_prob: float = 0.35
    feature_mask_prob: float = 0.25
    use_gt_masks: bool = False
    supervised: bool = False
    grey_value: float = 0.5
    feature_fill: str = "zero"
    box_loss: str = "l1"

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("feature_dim", "feature_crop_size", "feature_channels", "image_branch_channels"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"{name} must be a positive int, got {name}={value!r}")
        if self.feature_encoder not in ("auto", "cnn", "vgg16"):
            raise ValueError(f"feature_encoder must be 'auto', 'cnn' or 'vgg16', got "
                             f"feature_encoder={self.feature_encoder!r}")
        for name, allowed in (("feature_fill", ("zero", "gaussian")), ("box_loss", ("l1", "mse"))):
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {name}={getattr(self, name)!r}")
        for name in ("box_mask_prob", "feature_mask_prob", "grey_value"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or math.isnan(value) or not 0 <= value <= 1:
                raise ValueError(f"{name} must be a number in [0, 1], got {name}={value!r}")

    @classmethod
    def preset(cls, name: str, num_objects: int | None = None, num_predicates: int | None = None, *,
               vocab: Any = None, weights: str | None = None, **overrides: Any) -> "SIMSGConfig":
        """A named configuration of :data:`SIMSG_PRESETS`.

        Args:
            name: preset name.
            num_objects, num_predicates, vocab: vocabulary sizes (give both numbers or ``vocab``).
            weights: optional loss-weight set of :data:`SIMSG_WEIGHTS` (``"thesis"`` or
                ``"reference"``) for the preset's decoder; applied before ``overrides``.
            overrides: any other field.
        """
        if name not in SIMSG_PRESETS:
            raise ValueError(f"preset must be one of {sorted(SIMSG_PRESETS)}, got preset={name!r}")
        if weights is not None and weights not in SIMSG_WEIGHTS:
            raise ValueError(f"weights must be one of {sorted(SIMSG_WEIGHTS)}, got weights={weights!r}")
        num_objects, num_predicates = vocabulary_sizes(num_objects, num_predicates, vocab)
        kwargs = dict(SIMSG_PRESETS[name])
        if weights is not None:
            kwargs.update(SIMSG_WEIGHTS[weights][kwargs["decoder"]])
        kwargs.update(overrides)
        return cls(num_objects=num_objects, num_predicates=num_predicates, **kwargs)
