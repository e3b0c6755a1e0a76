"""Trainable scene-graph systems with ``fit`` / ``sample`` / ``generate`` / ``save`` / ``load``.

Rooms: the models (:class:`SceneGraphGen`, :class:`GraphRNN`, :class:`SG2Im`, :class:`SIMSG`,
:class:`DisPositioNet`), the GAN base of
the image models (:mod:`~sgkit.models.scene_gan`), the staged generator
(:mod:`~sgkit.models.sg2im_generator`), losses (:mod:`~sgkit.models.losses`), the training loop
(:mod:`~sgkit.models.trainer`, :mod:`~sgkit.models.distributed`), checkpoints
(:mod:`~sgkit.models.checkpoint`), optional local weights (:mod:`~sgkit.models.pretrained`) and
NLL anomaly scores (:mod:`~sgkit.models.anomaly`).
"""
from .autoregressive import AutoregressiveSceneGraphModel
from .anomaly import anomaly_auroc, nll_auroc, nll_size_statistics, standardize_nll
from .checkpoint import NonFiniteError, load_checkpoint, save_checkpoint
from .dispositionet import DisManipulation, DisPositioNet, gaussian_kl, pairwise_region_l1
from .dispositionet_config import DISPOSITIONET_PRESETS, DisPositioNetConfig
from .dispositionet_generator import DisPositioNetGenerator, pose_to_affine, warp_patches
from .graphrnn import GraphRNN
from .migs import MIGS, MIGS_VARIANTS
from .scene_gan import SceneGAN
from .scenegraphgen import SceneGraphGen
from .sg2im import SG2Im
from .sg2im_config import PRESETS, SG2ImConfig
from .sg2im_generator import SG2ImGenerator
from .simsg import SIMSG, Manipulation
from .simsg_config import SIMSG_PRESETS, SIMSG_WEIGHTS, SIMSGConfig
from .simsg_generator import SIMSGBatch, SIMSGGenerator, sample_keep_flags
from .supervised_simsg import SupervisedSIMSG
from .trainer import Trainer

__all__ = [
    "PRESETS",
    "AutoregressiveSceneGraphModel",
    "DISPOSITIONET_PRESETS",
    "DisManipulation",
    "DisPositioNet",
    "DisPositioNetConfig",
    "DisPositioNetGenerator",
    "gaussian_kl",
    "pairwise_region_l1",
    "pose_to_affine",
    "warp_patches",
    "GraphRNN",
    "MIGS",
    "MIGS_VARIANTS",
    "NonFiniteError",
    "SG2Im",
    "SG2ImConfig",
    "SG2ImGenerator",
    "SIMSG",
    "SIMSGBatch",
    "SIMSGConfig",
    "SIMSGGenerator",
    "SIMSG_PRESETS",
    "SIMSG_WEIGHTS",
    "Manipulation",
    "SupervisedSIMSG",
    "sample_keep_flags",
    "SceneGAN",
    "SceneGraphGen",
    "Trainer",
    "anomaly_auroc",
    "load_checkpoint",
    "nll_auroc",
    "nll_size_statistics",
    "save_checkpoint",
    "standardize_nll",
]
