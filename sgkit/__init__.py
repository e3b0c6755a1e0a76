"""sgkit: scene graphs as PyTorch Geometric ``HeteroData``.

Subpackages: :mod:`sgkit.data` (the scene-graph type, vocabulary, IO, converters, orderings,
sequence encoding, corruption), :mod:`sgkit.datasets` (ShapesWorld, VG-like graphs),
:mod:`sgkit.nn` (PyG layers and image modules), :mod:`sgkit.models` (SceneGraphGen, GraphRNN,
SG2Im), :mod:`sgkit.kernels` and :mod:`sgkit.metrics` (graph kernels, MMD, statistics, image
metrics) and :mod:`sgkit.viz` (drawings).

Example:
    >>> import sgkit
    >>> g = sgkit.from_triplets([0, 1], [(0, 0, 1)])
    >>> sgkit.to_triplets(g)
    ([0, 1], [(0, 0, 1)])
"""
from . import data, datasets, kernels, metrics, models, nn, viz
from .data import EDGE, NODE, Vocabulary, from_triplets, to_triplets, validate
from .datasets import ShapesWorld, vg_like_graphs
from .kernels import ObjectSetKernel, RandomWalkKernel
from .metrics import mmd
from .models import SG2Im, GraphRNN, SceneGraphGen

__version__ = "0.1.0"

__all__ = [
    "EDGE",
    "NODE",
    "GraphRNN",
    "ObjectSetKernel",
    "RandomWalkKernel",
    "SG2Im",
    "SceneGraphGen",
    "ShapesWorld",
    "Vocabulary",
    "__version__",
    "data",
    "datasets",
    "from_triplets",
    "kernels",
    "metrics",
    "mmd",
    "models",
    "nn",
    "to_triplets",
    "validate",
    "vg_like_graphs",
    "viz",
]
