"""Configuration of the scene-graph-to-image models: :class:`SG2ImConfig` and named presets."""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any, Mapping

__all__ = ["PRESETS", "SG2ImConfig", "vocabulary_sizes"]

#: Named configurations. ``"crn-64"``/``"spade-64"``: thesis appendix A/B sizes and Table B.1
#: loss weights. ``"crn-small"``/``"spade-small"``: small CPU models for the examples and tests.
#: They deviate from Table B.1 in two places: a mask loss (weight 1; the thesis has none) to learn
#: object shapes quickly, and a box weight 10x smaller (1 for CRN, 5 for SPADE) because with a
#: 32-dimensional GCN the box loss otherwise dominates the shared object features and the objects'
#: colours are not learned (on ShapesWorld after 200 steps: object check 0.70 with weight 1 vs
#: 0.32-0.38 with weight 10).
PRESETS: dict[str, dict[str, Any]] = {
    "crn-64": dict(
        decoder="crn", image_size=64, embedding_dim=128, gconv_dim=128, gconv_hidden_dim=512,
        gconv_layers=5, head_hidden_dim=128, mask_size=16, layout_noise_dim=32,
        decoder_dims=(1024, 512, 256, 128, 64), d_img_dims=(64, 128, 256),
        d_obj_dims=(64, 128, 256), d_num_scales=1, gan_mode="bce",
        box_weight=10.0, gan_global_weight=0.01, gan_object_weight=0.01, aux_weight=0.1,
        perceptual_weight=0.0, feature_matching_weight=0.0, image_l1_weight=1.0,
        mask_weight=0.0, lr=1e-4,
    ),
    "spade-64": dict(
        decoder="spade", image_size=64, embedding_dim=128, gconv_dim=128, gconv_hidden_dim=512,
        gconv_layers=5, head_hidden_dim=128, mask_size=16, layout_noise_dim=32,
        decoder_dims=(1024, 512, 256, 128, 64), d_img_dims=(64, 128, 256),
        d_obj_dims=(64, 128, 256), d_num_scales=2, gan_mode="hinge",
        box_weight=50.0, gan_global_weight=1.0, gan_object_weight=0.1, aux_weight=0.1,
        perceptual_weight=10.0, feature_matching_weight=10.0, image_l1_weight=1.0,
        mask_weight=0.0, lr=1e-4,
    ),
    "crn-small": dict(
        decoder="crn", image_size=64, embedding_dim=32, gconv_dim=32, gconv_hidden_dim=64,
        gconv_layers=3, head_hidden_dim=64, mask_size=16, layout_noise_dim=2,
        decoder_dims=(64, 32, 32, 16), d_img_dims=(16, 32, 64), d_obj_dims=(16, 32, 64),
        d_num_scales=1, gan_mode="bce", crop_size=16,
        box_weight=1.0, gan_global_weight=0.01, gan_object_weight=0.01, aux_weight=0.1,
        perceptual_weight=0.0, feature_matching_weight=0.0, image_l1_weight=1.0,
        mask_weight=1.0, lr=1e-3,
    ),
    "spade-small": dict(
        decoder="spade", image_size=64, embedding_dim=32, gconv_dim=32, gconv_hidden_dim=64,
        gconv_layers=3, head_hidden_dim=64, mask_size=16, layout_noise_dim=2,
        decoder_dims=(64, 32, 16, 16), spade_hidden_dim=16, d_img_dims=(16, 32, 64),
        d_obj_dims=(16, 32, 64), d_num_scales=2, gan_mode="hinge", crop_size=16,
        box_weight=5.0, gan_global_weight=1.0, gan_object_weight=0.1, aux_weight=0.1,
        perceptual_weight=10.0, feature_matching_weight=10.0, image_l1_weight=1.0,
        mask_weight=1.0, lr=1e-3,
    ),
}


def vocabulary_sizes(num_objects: int | None, num_predicates: int | None, vocab: Any = None) -> tuple[int, int]:
    """``(num_objects, num_predicates)`` given directly or read from ``vocab``.

    Raises:
        ValueError: when neither both numbers nor a vocabulary are given.
    """
    if num_objects is None and num_predicates is None and vocab is not None:
        num_objects, num_predicates = vocab.num_objects, vocab.num_predicates
    if num_objects is None or num_predicates is None:
        raise ValueError("num_objects and num_predicates: give both, or a vocabulary (vocab=...), got "
                         f"num_objects={num_objects!r}, num_predicates={num_predicates!r}")
    return num_objects, num_predicates


@dataclass
class SG2ImConfig:
    """Hyper-parameters of :class:`SG2Im` (stored in checkpoints).

    Args:
        num_objects: number of object categories.
        num_predicates: number of predicate categories.
        decoder: ``"crn"`` or ``"spade"``.
        image_size: side of the (square) generated images.
        embedding_dim: object and predicate embedding size.
        gconv_dim: node/predicate size inside and after the GCN.
        gconv_hidden_dim: hidden size of the GCN MLPs.
        gconv_layers: number of :class:`~sgkit.nn.TripleConv` layers.
        head_hidden_dim: hidden size of the box MLP.
        mask_size: side ``M`` of the predicted box-relative masks; 0 = box layouts.
        layout_noise_dim: channels of Gaussian noise concatenated to the layout.
        decoder_dims: channels of the CRN modules / SPADE blocks.
        spade_hidden_dim: hidden channels of each SPADE normalisation.
        d_img_dims, d_obj_dims: channels of the image / object discriminators.
        d_num_scales: scales of the image discriminator (thesis: 1 for CRN, 2 for SPADE).
        d_normalization: normalisation in the discriminators.
        crop_size: side of the object crops fed to the object discriminator.
        gan_mode: ``"bce"``, ``"hinge"`` or ``"lsgan"``.
        box_weight, gan_global_weight, gan_object_weight, aux_weight, perceptual_weight,
            feature_matching_weight, image_l1_weight, mask_weight: loss weights
            (:math:`\\lambda_b, \\lambda_g, \\lambda_o, \\lambda_a, \\lambda_p, \\lambda_f,
            \\lambda_{im}` and a binary cross-entropy mask loss).
        lr: Adam learning rate (generator and discriminators).
        betas: Adam betas.
        vgg_weights: optional local path of torchvision VGG16 weights for the perceptual loss.
        image_node: add SG2Im's ``__image__`` node per image, joined to every object by an
            ``__in_image__`` edge, so that isolated objects keep their identity through the GCN
            (a :class:`~sgkit.nn.TripleConv` node without triplets loses its input).
        graph_encoder: ``"triple_gcn"`` (SG2Im's :class:`~sgkit.nn.TripleGCN`) or ``"dsgn"``
            (DisPositioNet's :class:`~sgkit.nn.DSGN`, thesis Table C.1 sizes).
        decoder_normalization: normalisation inside the CRN / SPADE decoder (``"batch"``,
            ``"instance"`` or ``"none"``).
    """

    num_objects: int
    num_predicates: int
    decoder: str = "crn"
    image_size: int = 64
    embedding_dim: int = 128
    gconv_dim: int = 128
    gconv_hidden_dim: int = 512
    gconv_layers: int = 5
    head_hidden_dim: int = 128
    mask_size: int = 16
    layout_noise_dim: int = 32
    decoder_dims: tuple[int, ...] = (1024, 512, 256, 128, 64)
    spade_hidden_dim: int = 128
    d_img_dims: tuple[int, ...] = (64, 128, 256)
    d_obj_dims: tuple[int, ...] = (64, 128, 256)
    d_num_scales: int = 1
    d_normalization: str = "batch"
    crop_size: int = 32
    gan_mode: str = "bce"
    box_weight: float = 10.0
    gan_global_weight: float = 0.01
    gan_object_weight: float = 0.01
    aux_weight: float = 0.1
    perceptual_weight: float = 0.0
    feature_matching_weight: float = 0.0
    image_l1_weight: float = 1.0
    mask_weight: float = 0.0
    lr: float = 1e-4
    betas: tuple[float, float] = (0.5, 0.999)
    vgg_weights: str | None = None
    image_node: bool = True
    graph_encoder: str = "triple_gcn"
    decoder_normalization: str = "batch"

    def __post_init__(self) -> None:
        for name in ("decoder_dims", "d_img_dims", "d_obj_dims", "betas"):
            setattr(self, name, tuple(getattr(self, name)))
        for name in ("num_objects", "num_predicates", "image_size", "embedding_dim", "gconv_dim",
                     "gconv_hidden_dim", "gconv_layers", "head_hidden_dim", "spade_hidden_dim",
                     "d_num_scales", "crop_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"{name} must be a positive int, got {name}={value!r}")
        for name in ("mask_size", "layout_noise_dim"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be a non-negative int, got {name}={value!r}")
        if self.decoder not in ("crn", "spade"):
            raise ValueError(f"decoder must be 'crn' or 'spade', got decoder={self.decoder!r}")
        if self.graph_encoder not in ("triple_gcn", "dsgn"):
            raise ValueError(f"graph_encoder must be 'triple_gcn' or 'dsgn', got graph_encoder={self.graph_encoder!r}")
        if self.decoder_normalization not in ("batch", "instance", "none"):
            raise ValueError("decoder_normalization must be 'batch', 'instance' or 'none', got "
                             f"decoder_normalization={self.decoder_normalization!r}")
        if self.gan_mode not in ("bce", "hinge", "lsgan"):
            raise ValueError(
                f"gan_mode must be 'bce', 'hinge' or 'lsgan', got gan_mode={self.gan_mode!r}"
            )
        factor = 2 ** (len(self.decoder_dims) - (1 if self.decoder == "spade" else 0))
        if self.image_size % factor:
            raise ValueError(
                f"image_size={self.image_size} must be divisible by {factor} for "
                f"{len(self.decoder_dims)} {self.decoder} decoder stages"
            )
        for name in ("box_weight", "gan_global_weight", "gan_object_weight", "aux_weight",
                     "perceptual_weight", "feature_matching_weight", "image_l1_weight",
                     "mask_weight", "lr"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or value < 0 or math.isnan(value):
                raise ValueError(f"{name} must be a non-negative number, got {name}={value!r}")

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (lists for tuples) suitable for ``torch.save(..., weights_only)``."""
        d = asdict(self)
        for k, v in d.items():
            if isinstance(v, tuple):
                d[k] = list(v)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "SG2ImConfig":
        """Inverse of :meth:`to_dict` (unknown keys raise ``ValueError``)."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown SG2ImConfig fields: {unknown}")
        return cls(**dict(d))

    @classmethod
    def preset(cls, name: str, num_objects: int | None = None, num_predicates: int | None = None, *,
               vocab: Any = None, **overrides: Any) -> "SG2ImConfig":
        """A named configuration from :data:`PRESETS` with optional overrides; the vocabulary
        sizes come from ``num_objects``/``num_predicates`` or from ``vocab``."""
        if name not in PRESETS:
            raise ValueError(f"preset must be one of {sorted(PRESETS)}, got preset={name!r}")
        num_objects, num_predicates = vocabulary_sizes(num_objects, num_predicates, vocab)
        kwargs = dict(PRESETS[name])
        kwargs.update(overrides)
        return cls(num_objects=num_objects, num_predicates=num_predicates, **kwargs)
