"""The three kits import on their own: no kit loads another kit (beyond a public module it uses),
no kit imports another kit's private module, and the kits' import graph has no cycle."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
KITS = ("sgkit", "fedkit", "medkit")


def _loaded_after(code: str) -> set[str]:
    probe = code + "\nimport sys\nprint('\\n'.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, check=True)
    return set(out.stdout.split())


def test_medkit_loads_no_other_kit_and_no_pyg() -> None:
    mods = _loaded_after("import medkit\nfor s in medkit.__all__: getattr(medkit, s)")
    assert not {m for m in mods if m.split(".")[0] in ("sgkit", "torch_geometric")}
    assert {m for m in mods if m.startswith("fedkit")} <= {"fedkit", "fedkit.aggregation", "fedkit.flat_params", "fedkit.validation"}


def test_fedkit_loads_no_other_kit() -> None:
    mods = _loaded_after("import fedkit\nfor n in fedkit.__all__: getattr(fedkit, n)")
    assert not {m for m in mods if m.split(".")[0] in ("sgkit", "medkit")}
    assert "fedkit.flower" not in mods  # the Flower adapter loads only on demand


def test_bare_kit_imports_are_cheap() -> None:
    for kit in ("fedkit", "medkit"):
        mods = _loaded_after(f"import {kit}")
        assert "torch" not in mods, f"import {kit} loaded torch before any feature was used"


def test_sgkit_loads_no_other_kit() -> None:
    mods = _loaded_after("import sgkit")
    assert not {m for m in mods if m.split(".")[0] in ("fedkit", "medkit")}


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


@pytest.fixture(scope="module")
def kit_imports() -> dict[str, list[tuple[Path, str]]]:
    return {kit: [(p, name) for p in (REPO / kit).rglob("*.py") for name in _imports(p)] for kit in KITS}


def test_no_kit_imports_another_kits_private_module(kit_imports) -> None:
    bad = [(str(p.relative_to(REPO)), name) for kit, found in kit_imports.items() for p, name in found
           if name.split(".")[0] in KITS and name.split(".")[0] != kit
           and any(part.startswith("_") for part in name.split(".")[1:])]
    assert bad == []


def test_no_import_cycle_between_kits(kit_imports) -> None:
    edges = {kit: {name.split(".")[0] for _, name in found if name.split(".")[0] in KITS} - {kit}
             for kit, found in kit_imports.items()}

    def reaches(start: str, goal: str, seen: frozenset = frozenset()) -> bool:
        return any(n == goal or (n not in seen and reaches(n, goal, seen | {n})) for n in edges[start])

    assert [k for k in KITS if reaches(k, k)] == [], edges
