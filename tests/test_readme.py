"""The "API in ten lines" blocks of the README and of the docs' getting-started page run as
doctests (one per kit), and the two pages show the same blocks."""
from __future__ import annotations

import doctest
import re
import textwrap
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
GETTING_STARTED = README.parent / "docs" / "getting_started.rst"


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


def test_getting_started_page_shows_the_same_blocks():
    text = GETTING_STARTED.read_text(encoding="utf-8")
    section = re.search(r"^API in ten lines\n-+\n(.*?)(?=^\S[^\n]*\n-{3,}\n)", text, re.DOTALL | re.MULTILINE)
    assert section is not None, "docs/getting_started.rst has no 'API in ten lines' section"
    blocks = [textwrap.dedent(m.group(1)) for m in re.finditer(
        r"^\.\. code-block:: pycon\n\n((?:   .*\n|\n)+)", section.group(1), re.MULTILINE)]
    assert [b.strip() for b in blocks] == [src.strip() for _, src in _blocks()]
