"""Configuration of :class:`~sgkit.models.DisPositioNet`: :class:`DisPositioNetConfig` and presets."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from sgkit.models.sg2im_config import vocabulary_sizes
from sgkit.models.simsg_config import SIMSG_PRESETS, SIMSG_WEIGHTS, SIMSGConfig

__all__ = ["DISPOSITIONET_PRESETS", "DisPositioNetConfig"]

_THESIS_DSGN: dict[str, Any] = dict(graph_encoder="dsgn", dsgn_factors=16, dsgn_factor_channels=14, dsgn_layers=10,
                                    dsgn_iterations=12, dsgn_hidden_dim=512)

#: Named DisPositioNet configurations. ``"spade-64"``: SIMSG's ``"spade-64"`` with the thesis
#: DSGN (two chained stacks, 16 factors x 14 channels, 10 layers x 12 iterations, hidden 512),
#: appendix C encoders (64 hidden units) and SPADE loss weights of thesis Table B.1 (box weight
#: 50). ``"spade-32-shapes"``: the CPU model of the ShapesWorld reproduction (32 x 32 images,
#: SIMSG's ``"crn-32-shapes"`` sizes with a small SPADE decoder, DSGN of 2 layers x 3 iterations
#: with 8 factors of 8 channels, GAN terms off).
DISPOSITIONET_PRESETS: dict[str, dict[str, Any]] = {
    "spade-64": {**SIMSG_PRESETS["spade-64"], **SIMSG_WEIGHTS["thesis"]["spade"], **_THESIS_DSGN},
    "spade-32-shapes": {**SIMSG_PRESETS["crn-32-shapes"], "decoder": "spade", "decoder_dims": (64, 32, 16, 16),
                        "spade_hidden_dim": 16, "graph_encoder": "dsgn", "dsgn_factors": 8,
                        "dsgn_factor_channels": 8, "dsgn_layers": 2, "dsgn_iterations": 3, "dsgn_hidden_dim": 64},
}


@dataclass
class DisPositioNetConfig(SIMSGConfig):
    """Hyper-parameters of :class:`~sgkit.models.DisPositioNet` (all of :class:`SIMSGConfig` plus these).

    ``graph_encoder`` defaults to ``"dsgn"`` (two chained :class:`~sgkit.nn.DSGN` stacks,
    ``node inputs -> dsgn_hidden_dim -> gconv_dim``, predicates entering the routing);
    ``"triple_gcn"`` is the "disentangled embeddings only" ablation (SIMSG's graph network).

    Args:
        encoder_hidden_dim: hidden units of the appearance/pose encoders and the pose decoder.
        pose_param: affine parameterisation of the 6 pose numbers ``gamma``: ``"expm"`` (the
            matrix exponential of ``[[g1 g2 g3], [g4 g5 g6], [0 0 0]]``) or ``"decomposed"``
            (rotation ``g1``, shear ``g2``, log-scales ``g3, g4``, translation ``g5, g6``).
        kl_weight: weight of ``KL(q_A || N(0, I)) + KL(q_P || N(0, I))`` (each averaged over
            objects and latent dimensions).
        likelihood_weight: weight of the Gaussian (unit variance) negative log-likelihood of the
            target image, ``0.5 * mean squared error`` (0: the image L1 and adversarial terms act
            as the reconstruction term).
        sample_noise_scale: scale of the extra ``N(0, I)`` noise added to the appearance code of
            nodes whose visual feature is masked (the source of sample diversity).
        dsgn_factors, dsgn_factor_channels, dsgn_layers, dsgn_iterations: sizes of each DSGN stack.
        dsgn_hidden_dim: output width of the first DSGN stack.
    """

    decoder: str = "spade"
    graph_encoder: str = "dsgn"
    encoder_hidden_dim: int = 64
    pose_param: str = "expm"
    kl_weight: float = 1.0
    likelihood_weight: float = 0.0
    sample_noise_scale: float = 1.0
    dsgn_factors: int = 16
    dsgn_factor_channels: int = 14
    dsgn_layers: int = 10
    dsgn_iterations: int = 12
    dsgn_hidden_dim: int = 512

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("encoder_hidden_dim", "dsgn_factors", "dsgn_factor_channels", "dsgn_layers", "dsgn_iterations",
                     "dsgn_hidden_dim"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"{name} must be a positive int, got {name}={value!r}")
        if self.pose_param not in ("expm", "decomposed"):
            raise ValueError(f"pose_param must be 'expm' or 'decomposed', got pose_param={self.pose_param!r}")
        for name in ("kl_weight", "likelihood_weight", "sample_noise_scale"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or math.isnan(value) or value < 0:
                raise ValueError(f"{name} must be a non-negative number, got {name}={value!r}")

    @classmethod
    def preset(cls, name: str, num_objects: int | None = None, num_predicates: int | None = None, *,
               vocab: Any = None, weights: str | None = None, **overrides: Any) -> "DisPositioNetConfig":
        """A named configuration of :data:`DISPOSITIONET_PRESETS`.

        Args:
            name: preset name.
            num_objects, num_predicates, vocab: vocabulary sizes (give both numbers or ``vocab``).
            weights: ``"thesis"`` (KL weight 1) or ``"reference"`` (the public code's SPADE loss
                weights and KL weight 4, the magnitude of its doubled single-sample KL).
            overrides: any other field.
        """
        if name not in DISPOSITIONET_PRESETS:
            raise ValueError(f"preset must be one of {sorted(DISPOSITIONET_PRESETS)}, got preset={name!r}")
        if weights is not None and weights not in SIMSG_WEIGHTS:
            raise ValueError(f"weights must be one of {sorted(SIMSG_WEIGHTS)}, got weights={weights!r}")
        num_objects, num_predicates = vocabulary_sizes(num_objects, num_predicates, vocab)
        kwargs = dict(DISPOSITIONET_PRESETS[name])
        if weights is not None:
            kwargs.update(SIMSG_WEIGHTS[weights]["spade"])
            kwargs["kl_weight"] = 4.0 if weights == "reference" else 1.0
        kwargs.update(overrides)
        return cls(num_objects=num_objects, num_predicates=num_predicates, **kwargs)
