"""Argument checks shared by the public entry points of fedkit (and medkit, which builds on it).

Every check raises a ``ValueError`` whose message names the argument and the value received.
"""
from __future__ import annotations

import math
import numbers

__all__ = ["check_number"]


def check_number(
    name: str,
    value: object,
    *,
    low: float | None = None,
    low_open: bool = False,
    high: float | None = None,
    high_open: bool = False,
) -> float:
    """Return ``value`` as a float after checking it is a finite real number in range.

    Args:
        name: argument name used in the message.
        value: the value passed by the caller.
        low: lower bound (``None``: unbounded).
        low_open: the lower bound is excluded (``value > low``).
        high: upper bound (``None``: unbounded).
        high_open: the upper bound is excluded (``value < high``).

    Raises:
        ValueError: for a non-number, a bool, NaN, an infinity or a value out of range.

    Example:
        >>> check_number("lr", 0.1, low=0.0, low_open=True)
        0.1
    """
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(float(value))
    if ok and low is not None:
        ok = float(value) > low if low_open else float(value) >= low
    if ok and high is not None:
        ok = float(value) < high if high_open else float(value) <= high
    if not ok:
        rng = []
        if low is not None:
            rng.append(f"{'>' if low_open else '>='} {low:g}")
        if high is not None:
            rng.append(f"{'<' if high_open else '<='} {high:g}")
        cond = f" {' and '.join(rng)}" if rng else ""
        raise ValueError(f"{name} must be a finite number{cond}, got {value!r}")
    return float(value)
