"""Subcommands of the ``sgkit`` console script beyond ``mmd``.

Each module defines ``register(subparsers)``, which adds its subcommand(s) and sets
``func`` (``args -> exit status``) as the parser default; :func:`register_all` adds them all.
Exit statuses: 0 success, 1 invalid data (``validate``), 2 bad arguments or unreadable input
(the message on standard error names the argument, the value and, for files, the path).
"""
from __future__ import annotations

import argparse

from . import convert, demo, draw, edit, generate, stats, validate

__all__ = ["register_all"]


def register_all(subparsers: argparse._SubParsersAction) -> None:
    """Add every subcommand of this package to ``subparsers``."""
    for module in (demo, validate, convert, stats, draw, generate, edit):
        module.register(subparsers)
