"""Shared test configuration: the real reference data shipped in tests/data and deterministic settings."""
from __future__ import annotations

import os
from pathlib import Path

import matplotlib
import pytest
import torch

matplotlib.use("Agg")
os.environ.setdefault("DGLBACKEND", "pytorch")

REPO = Path(__file__).resolve().parents[1]
# Small real reference files ship with the repository (tests/data/README.md); SGKIT_SHARED_DATA
# points the same tests at another copy.
SHARED_DATA = Path(os.environ.get("SGKIT_SHARED_DATA", REPO / "tests" / "data"))


# The suite runs in several processes (pytest-xdist, one per core): one intra-op thread each
# avoids oversubscribing the cores, which slows small CPU training loops many-fold.
torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _deterministic() -> None:
    torch.manual_seed(0)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The folder of real reference data (``tests/data`` unless ``SGKIT_SHARED_DATA`` is set)."""
    if not SHARED_DATA.is_dir():
        pytest.fail(f"real reference data not found at {SHARED_DATA}; unset SGKIT_SHARED_DATA to use tests/data")
    return SHARED_DATA
