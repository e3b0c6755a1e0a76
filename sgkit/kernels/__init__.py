"""Graph kernels for scene graphs as scikit-learn estimators (GraKeL conventions).

* :class:`RandomWalkKernel`: directed, edge-labelled, frequency-normalised random-walk kernel
  (thesis eq. 10.6-10.9): the published code's ``mode="usggen"`` (default, the mode of the
  published MMD_G numbers) or the text's literal formula ``mode="thesis"``;
* :class:`ObjectSetKernel`: object-set kernel (thesis eq. 10.10-10.12).

``random_walk_pair`` and ``object_set_pair`` are the slow per-pair references.
"""
from .base import GraphKernel, normalize_gram
from .object_set import ObjectSetKernel, object_set_pair
from .random_walk import RandomWalkKernel, random_walk_pair

__all__ = [
    "GraphKernel",
    "ObjectSetKernel",
    "RandomWalkKernel",
    "normalize_gram",
    "object_set_pair",
    "random_walk_pair",
]
