"""Library code leaves the user's global state alone: no matplotlib backend switch, no pyplot
figures, no torch thread setting (scripts, command lines and the demo's main may set threads)."""
from __future__ import annotations

import ast
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# Entry points that run as programs and take a --threads option.
PROGRAMS = {"sgkit/commands/_io.py", "fedkit/cli.py", "sgkit/demo.py", "sgkit/demo_image.py"}


def _library_files():
    for kit in ("sgkit", "fedkit", "medkit"):
        for path in (REPO / kit).rglob("*.py"):
            yield path.relative_to(REPO).as_posix(), path.read_text(encoding="utf-8")


def test_no_backend_switch_or_pyplot_in_library_code() -> None:
    bad = [name for name, text in _library_files()
           if re.search(r"matplotlib\.use\(|import matplotlib\.pyplot|from matplotlib import pyplot", text)]
    assert bad == []


def _calls_set_num_threads(text: str) -> bool:
    return any(isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
               and node.func.attr == "set_num_threads" for node in ast.walk(ast.parse(text)))


def test_threads_are_set_only_by_programs() -> None:
    bad = [name for name, text in _library_files() if _calls_set_num_threads(text) and name not in PROGRAMS]
    assert bad == []
