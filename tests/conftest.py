"""Shared test configuration: paths to the real reference data and deterministic settings."""
from __future__ import annotations

import os
from pathlib import Path

import matplotlib
import pytest
import torch

matplotlib.use("Agg")
os.environ.setdefault("DGLBACKEND", "pytorch")

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("SGKIT_SHARED_DATA", REPO.parent / "shared" / "data"))


# The suite runs in several processes (pytest-xdist, one per core): one intra-op thread each
# avoids oversubscribing the cores, which slows small CPU training loops many-fold.
torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _deterministic() -> None:
    torch.manual_seed(0)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The folder of real reference data (``../shared/data`` beside the checkout)."""
    if not SHARED_DATA.is_dir():
        pytest.fail(f"real reference data not found at {SHARED_DATA}; set SGKIT_SHARED_DATA")
    return SHARED_DATA
