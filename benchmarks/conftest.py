"""Benchmarks run only with ``pytest benchmarks/ --benchmark`` (``make bench``).

pytest-benchmark has no ``--benchmark`` flag of its own; this option turns the benchmark suite on.
Without it every test collected under ``benchmarks/`` is skipped with that reason.
"""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

# the published-code baselines (published_sgg.py, published_sg2im.py) live beside the benchmarks
sys.path.insert(0, str(Path(__file__).resolve().parent))


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--benchmark",
        action="store_true",
        default=False,
        help="run the side-by-side performance benchmarks under benchmarks/",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--benchmark"):
        return
    skip = pytest.mark.skip(reason="benchmarks run only with --benchmark (make bench)")
    for item in items:
        if "benchmarks" in item.path.parts:
            item.add_marker(skip)
