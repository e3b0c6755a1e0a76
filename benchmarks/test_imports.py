"""Import cost of the kits against ``import torch``, each in a fresh interpreter.

Group ``imports``: ``import torch`` (the baseline), ``import medkit`` with every subpackage
loaded, ``import fedkit`` with the aggregation rules and strategies, and ``import sgkit``.
``extra_info`` records the seconds over the baseline.

Run: ``.venv/bin/python -m pytest benchmarks/test_imports.py --benchmark -q``
"""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CASES = {
    "torch": "import torch",
    "medkit": "import torch, medkit\nfor s in medkit.__all__: getattr(medkit, s)",
    "fedkit": "import torch, fedkit\nfedkit.server_update, fedkit.FedAvg, fedkit.IDA",
    "sgkit": "import torch, sgkit",
}


def _seconds(code: str, repeats: int = 3) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True, capture_output=True)
        best = min(best, time.perf_counter() - t0)
    return best


@pytest.mark.benchmark(group="imports")
@pytest.mark.parametrize("name", list(CASES))
def test_import_cost(benchmark, name: str) -> None:
    baseline = _seconds(CASES["torch"])
    seconds = benchmark.pedantic(_seconds, args=(CASES[name],), rounds=1, iterations=1)
    benchmark.extra_info.update(seconds=seconds, torch_seconds=baseline, over_torch=seconds - baseline)
