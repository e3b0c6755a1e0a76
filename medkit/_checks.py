"""Argument and file checks shared by medkit's public entry points (losses, loaders, networks).

Every check raises with a message that names the argument, the value and, for files, the path.
"""
from __future__ import annotations

import math
import numbers
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["check_number", "reading"]


def check_number(
    name: str,
    value: object,
    *,
    low: float | None = None,
    low_open: bool = False,
    high: float | None = None,
) -> float:
    """Return ``value`` as a float after checking it is a finite real number in range.

    Args:
        name: argument name used in the message.
        value: the value passed by the caller.
        low: lower bound (``None``: unbounded).
        low_open: the lower bound is excluded (``value > low``).
        high: inclusive upper bound (``None``: unbounded).

    Raises:
        ValueError: for a non-number, a bool, NaN, an infinity or a value out of range.
    """
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(float(value))
    if ok and low is not None:
        ok = float(value) > low if low_open else float(value) >= low
    if ok and high is not None:
        ok = float(value) <= high
    if not ok:
        rng = []
        if low is not None:
            rng.append(f"{'>' if low_open else '>='} {low:g}")
        if high is not None:
            rng.append(f"<= {high:g}")
        cond = f" {' and '.join(rng)}" if rng else ""
        raise ValueError(f"{name} must be a finite number{cond}, got {value!r}")
    return float(value)


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
