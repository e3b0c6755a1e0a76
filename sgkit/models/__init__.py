"""Trainable scene-graph systems with ``fit`` / ``sample`` / ``save`` / ``load``."""
from .anomaly import anomaly_auroc, nll_auroc, nll_size_statistics, plot_nll_histograms, standardize_nll
from ._autoregressive import AutoregressiveSceneGraphModel
from .graphrnn import GraphRNN
from .scenegraphgen import SceneGraphGen
from .sg2im import SG2Im, SG2ImConfig

__all__ = [
    "SG2Im",
    "SG2ImConfig",
    "AutoregressiveSceneGraphModel",
    "GraphRNN",
    "SceneGraphGen",
    "anomaly_auroc",
    "nll_auroc",
    "nll_size_statistics",
    "plot_nll_histograms",
    "standardize_nll",
]
