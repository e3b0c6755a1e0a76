"""Sphinx configuration of the graphkits documentation (``make docs``)."""
from __future__ import annotations

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # the checkout's packages
sys.path.insert(0, str(HERE / "_ext"))
os.environ.setdefault("DGLBACKEND", "pytorch")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import apigen

project = "graphkits"
author = "graphkits authors"
copyright = "2026, graphkits authors"
release = version = "0.1.0"

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "runcode",
]
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"show-inheritance": True}
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_ivar = True  # dataclass "Attributes:" sections as fields, not second attribute entries
exclude_patterns = ["_build", "_generated", "Thumbs.db", ".DS_Store"]
html_theme = "furo"
html_title = "graphkits"
templates_path: list[str] = []
html_static_path: list[str] = []

# API pages are generated from each package's ``__all__`` before the build reads the sources.
apigen.write_api_pages(HERE / "api" / "generated")


def setup(app):
    app.connect("autodoc-process-docstring", apigen.join_wrapped_argument_names, priority=100)  # before Napoleon
    app.connect("autodoc-process-docstring", apigen.escape_fitted_attributes)
