"""Argument and file checks shared by medkit's public entry points (losses, loaders, networks).

Every check raises with a message that names the argument, the value and, for files, the path.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from fedkit.validation import check_number

__all__ = ["check_number", "reading"]


@contextmanager
def reading(path: str | Path, what: str) -> Iterator[None]:
    """Re-raise a library's failure to read ``path`` as a ``ValueError`` naming the file.

    ``FileNotFoundError`` passes through unchanged (its message already names the path).

    Args:
        path: the file being read.
        what: a short description of the content (``"Duke subject file"``).
    """
    try:
        yield
    except FileNotFoundError:
        raise
    except Exception as err:  # the readers raise many unrelated types on corrupt input
        raise ValueError(
            f"cannot read {what} {str(path)!r} (corrupt or not in the expected format): "
            f"{type(err).__name__}: {err}"
        ) from err
