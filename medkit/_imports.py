"""Optional-dependency flags for medkit (one place for the whole distribution: :mod:`sgkit._imports`)."""
from sgkit._imports import (  # noqa: F401
    WITH_DGL,
    WITH_FLWR,
    WITH_H5PY,
    WITH_MLXTEND,
    WITH_MONAI,
    WITH_NIBABEL,
    WITH_SKIMAGE,
    WITH_TORCH_SCATTER,
    require,
)

__all__ = [
    "WITH_DGL",
    "WITH_FLWR",
    "WITH_H5PY",
    "WITH_MLXTEND",
    "WITH_MONAI",
    "WITH_NIBABEL",
    "WITH_SKIMAGE",
    "WITH_TORCH_SCATTER",
    "require",
]
