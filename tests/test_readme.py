"""The README's "API in ten lines" blocks run as doctests (one per kit)."""
from __future__ import annotations

import doctest
import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def _blocks() -> list[tuple[int, str]]:
    """``(line number, source)`` of every ``pycon`` block of the README's "API in ten lines" section."""
    text = README.read_text(encoding="utf-8")
    section = re.search(r"^## API in ten lines\n(.*?)(?=^## )", text, re.DOTALL | re.MULTILINE)
    assert section is not None, "README.md has no '## API in ten lines' section"
    start = text[: section.start(1)].count("\n")
    out = []
    for m in re.finditer(r"^```pycon\n(.*?)^```", section.group(1), re.DOTALL | re.MULTILINE):
        out.append((start + section.group(1)[: m.start(1)].count("\n") + 1, m.group(1)))
    return out


def test_one_block_per_kit_of_at_most_about_ten_lines():
    blocks = _blocks()
    kits = [re.search(r"from (sgkit|fedkit|medkit)", src).group(1) for _, src in blocks]
    assert kits == ["sgkit", "fedkit", "medkit"]
    for _, src in blocks:
        assert sum(line.startswith(">>> ") for line in src.splitlines()) <= 12


@pytest.mark.parametrize("lineno, source", _blocks(), ids=["sgkit", "fedkit", "medkit"])
def test_readme_block_runs(lineno, source):
    test = doctest.DocTestParser().get_doctest(source, {}, f"README.md:{lineno}", str(README), lineno)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    report: list[str] = []
    runner.run(test, out=report.append)
    assert runner.failures == 0 and test.examples, "".join(report)
