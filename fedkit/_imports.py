"""Optional dependencies of fedkit, detected in one place.

Each extra fedkit can use is probed once (without importing it) and exposed as a ``WITH_*`` flag;
code that needs one calls :func:`require`, which raises an :class:`ImportError` naming the pip
extra to install.
"""
from __future__ import annotations

import importlib.util

__all__ = ["WITH_FLWR", "WITH_MLXTEND", "require"]


def _has(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # pragma: no cover - broken installs
        return False


WITH_FLWR: bool = _has("flwr")
WITH_MLXTEND: bool = _has("mlxtend")

_EXTRA_OF = {"WITH_FLWR": ("flwr", "flower"), "WITH_MLXTEND": ("mlxtend", "data")}


def require(flag: str, what: str | None = None) -> None:
    """Raise a helpful :class:`ImportError` when an optional dependency is missing.

    Args:
        flag: name of a ``WITH_*`` flag of this module, e.g. ``"WITH_FLWR"``.
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
