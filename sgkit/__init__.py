"""sgkit: scene graphs as PyTorch Geometric ``HeteroData``.

Subpackages: :mod:`sgkit.data` (the scene-graph type, vocabulary, IO, converters),
:mod:`sgkit.datasets` (ShapesWorld, VG-like graphs), :mod:`sgkit.nn` (PyG layers),
:mod:`sgkit.models` (SceneGraphGen, GraphRNN, SG2Im), :mod:`sgkit.kernels` and
:mod:`sgkit.metrics` (graph kernels, MMD, statistics, image metrics).
"""
from . import data
from .data import EDGE, NODE, Vocabulary, from_triplets, to_triplets, validate

__version__ = "0.1.0"

__all__ = ["EDGE", "NODE", "Vocabulary", "data", "from_triplets", "to_triplets", "validate", "__version__"]
