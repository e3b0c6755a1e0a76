"""Writes the API reference pages from the packages' ``__all__`` (run by ``docs/conf.py``).

Each documented module gets a page with a summary table and ``automodule`` of exactly the
names in its ``__all__``; a name already documented under an earlier module (a re-export) is
listed as a link instead of being documented twice.
"""
from __future__ import annotations

import importlib
import re
import types
from pathlib import Path

#: kit -> (overview text, documented modules in order)
KITS: dict[str, tuple[str, list[str]]] = {
    "sgkit": ("Scene graphs as PyG ``HeteroData``: data, data sets, layers, models, kernels, metrics, drawings.",
              ["sgkit.data", "sgkit.datasets", "sgkit.nn", "sgkit.models", "sgkit.kernels", "sgkit.metrics",
               "sgkit.viz"]),
    "fedkit": ("Federated learning on non-IID clients: partitions, aggregation rules, strategies, simulator, Flower.",
               ["fedkit", "fedkit.flower"]),
    "medkit": ("Medical image segmentation: U-Net, Y-Net, losses, metrics, data sets, MetaMedSeg.",
               ["medkit.nn", "medkit.losses", "medkit.metrics", "medkit.datasets", "medkit.meta"]),
}


def _title(text: str, ch: str = "=") -> str:
    return f"{text}\n{ch * len(text)}\n"


def _module_page(name: str, seen: dict[int, str]) -> str:
    mod = importlib.import_module(name)
    names = [n for n in getattr(mod, "__all__", []) if not isinstance(getattr(mod, n), types.ModuleType)]
    own, links = [], []
    for n in names:
        obj = getattr(mod, n)
        key = id(obj)
        if key in seen and (callable(obj) or isinstance(obj, type)):
            links.append(f"- :py:obj:`{n} <{seen[key]}>` (documented as ``{seen[key]}``)")
        else:
            own.append(n)
            if callable(obj) or isinstance(obj, type):
                seen[key] = f"{name}.{n}"
    out = [f".. _api-{name}:\n", _title(f"``{name}``")]
    if own:
        out.append("Contents: " + ", ".join(f":py:obj:`~{name}.{n}`" for n in own) + ".\n")
    members = f"   :members: {', '.join(own)}\n   :undoc-members:\n" if own else "   :no-members:\n"
    out.append(f".. automodule:: {name}\n{members}   :show-inheritance:\n")
    if links:
        out.append(_title("Also available here", "-") + "\n" + "\n".join(links) + "\n")
    return "\n".join(out)


def _kit_page(kit: str, text: str, modules: list[str]) -> str:
    pkg = importlib.import_module(kit)
    top = [n for n in getattr(pkg, "__all__", []) if not isinstance(getattr(pkg, n), types.ModuleType)]
    out = [_title(f"``{kit}``"), text + "\n", ".. toctree::\n   :maxdepth: 1\n\n" + "".join(f"   {m}\n" for m in modules)]
    if top and modules[0] != kit:
        out.append(_title("Top-level names", "-") + f"\n``import {kit}`` gives: " + ", ".join(f"``{n}``" for n in top) + ".\n")
    return "\n".join(out)


def write_api_pages(folder: Path) -> None:
    """Write ``index.rst`` and one page per kit and module into ``folder`` (only files that change)."""
    folder.mkdir(parents=True, exist_ok=True)
    seen: dict[int, str] = {}
    pages = {"index.rst": _title("API reference") + "\nGenerated from the docstrings; each page lists the "
             "names in the module's ``__all__``.\n\n.. toctree::\n   :maxdepth: 2\n\n"
             + "".join(f"   {kit}-kit\n" for kit in KITS)}
    for kit, (text, modules) in KITS.items():
        pages[f"{kit}-kit.rst"] = _kit_page(kit, text, [m for m in modules])
        for m in modules:
            pages[f"{m}.rst"] = _module_page(m, seen)
    for fname, content in pages.items():
        path = folder / fname
        if not path.exists() or path.read_text() != content:
            path.write_text(content)


_FITTED = re.compile(r"(?<![`\w\\])([A-Za-z]\w*?[A-Za-z0-9])_(?=[\s:,.;)]|$)")


def escape_fitted_attributes(app, what, name, obj, options, lines: list[str]) -> None:
    """Escape names with a trailing underscore (scikit-learn's fitted attributes such as ``n_fitted_``).

    In reStructuredText ``word_`` is a hyperlink reference; outside literals the underscore is
    escaped so that the name is shown as written.
    """
    for i, line in enumerate(lines):
        parts = line.split("``")
        for k in range(0, len(parts), 2):  # even parts are outside inline literals
            parts[k] = _FITTED.sub(r"\1\\_", parts[k])
        lines[i] = "``".join(parts)


def join_wrapped_argument_names(app, what, name, obj, options, lines: list[str]) -> None:
    """Join an argument entry whose comma-separated names wrap onto the next line.

    Google style allows ``a, b, c: description`` for arguments that share a description; when the
    list of names is wrapped (a line that ends with a comma and has no colon) Napoleon would read
    the first line as an argument without a description. Runs before Napoleon.
    """
    i = 0
    while i < len(lines) - 1:
        text = lines[i].strip()
        names = [t.strip() for t in text.rstrip(",").split(",")]
        if (text.endswith(",") and len(names) >= 2 and all(n.isidentifier() for n in names)
                and _ARG_START.match(lines[i + 1].strip())):
            lines[i] = lines[i].rstrip() + " " + lines[i + 1].strip()
            del lines[i + 1]
            continue
        i += 1


_ARG_START = re.compile(r"^[A-Za-z_][\w]*(\s*,\s*[A-Za-z_][\w]*)*\s*:")
