"""Interactive scene-graph image editor in the browser (``sgkit edit``).

A local web page over the edit API (:mod:`sgkit.data.edits`) and ``SIMSG.manipulate``: select a
node to replace or remove it, an edge to change its predicate, add a related node, generate,
undo, go to the next image and save. Needs the ``editor`` extra (Starlette, uvicorn).
"""
from __future__ import annotations

from .session import (
    EditError,
    EditorSession,
    EditState,
    SessionStore,
    supports_sampling,
)

__all__ = ["EditError", "EditState", "EditorSession", "SessionStore", "create_app", "supports_sampling"]


def __getattr__(name: str):  # the app needs Starlette: import it on first use
    if name == "create_app":
        from .app import create_app

        return create_app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
