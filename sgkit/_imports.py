"""Optional dependencies of sgkit, detected in one place.

Every optional extra sgkit can use is probed once here and exposed as a ``WITH_*`` flag.
Code that needs an extra calls :func:`require`, which raises an :class:`ImportError` naming the
pip extra to install.
"""
from __future__ import annotations

import importlib.util

__all__ = [
    "WITH_DGL",
    "WITH_TORCH_SCATTER",
    "WITH_SKIMAGE",
    "WITH_H5PY",
    "WITH_GRAKEL",
    "WITH_STARLETTE",
    "WITH_UVICORN",
    "require",
]


def _has(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # pragma: no cover - broken installs
        return False


WITH_DGL: bool = _has("dgl")
WITH_TORCH_SCATTER: bool = _has("torch_scatter")
WITH_SKIMAGE: bool = _has("skimage")
WITH_H5PY: bool = _has("h5py")
WITH_GRAKEL: bool = _has("grakel")
WITH_STARLETTE: bool = _has("starlette")
WITH_UVICORN: bool = _has("uvicorn")

_EXTRA_OF = {
    "WITH_DGL": ("dgl", "dgl"),
    "WITH_TORCH_SCATTER": ("torch_scatter", "scatter"),
    "WITH_SKIMAGE": ("skimage", "data"),
    "WITH_H5PY": ("h5py", "data"),
    "WITH_GRAKEL": ("grakel", "all"),
    "WITH_STARLETTE": ("starlette", "editor"),
    "WITH_UVICORN": ("uvicorn", "editor"),
}


def require(flag: str, what: str | None = None) -> None:
    """Raise a helpful :class:`ImportError` when an optional dependency is missing.

    Args:
        flag: name of a ``WITH_*`` flag of this module, e.g. ``"WITH_DGL"``.
        what: optional description of the feature that needs it (for the message).

    Raises:
        KeyError: if ``flag`` is not a known flag.
        ImportError: if the dependency is not installed; the message names the pip extra.
    """
    if flag not in _EXTRA_OF:
        raise KeyError(f"unknown optional-dependency flag {flag!r}; known: {sorted(_EXTRA_OF)}")
    if globals()[flag]:
        return
    module, extra = _EXTRA_OF[flag]
    feature = f" for {what}" if what else ""
    raise ImportError(
        f"the optional dependency {module!r} is needed{feature} but is not installed; "
        f"install it with: pip install 'graphkits[{extra}]'"
    )
