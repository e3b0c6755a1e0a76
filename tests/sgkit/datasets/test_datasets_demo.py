"""Test of the embedded-data demo (``python -m sgkit.datasets``)."""
from __future__ import annotations

import json

from sgkit.datasets import ShapesWorld
from sgkit.datasets.demo import main


def test_demo_writes_figures_and_statistics(tmp_path, capsys) -> None:
    main(["--out", str(tmp_path), "--num-scenes", "40", "--seed", "3", "--quiet"])
    printed = capsys.readouterr().out
    for name in ("shapes_examples.png", "shapes_statistics.png", "shapes_edits.png", "vg_like_examples.png"):
        assert (tmp_path / name).stat().st_size > 10_000
    stats = json.loads((tmp_path / "statistics.json").read_text())
    expect = ShapesWorld(40, seed=3, progress=False).statistics()
    assert stats["shapes"]["predicates"] == expect["predicates"]
    assert stats["shapes"]["scene_types"] == expect["scene_types"]
    assert "ShapesWorld: 40 scenes" in printed and str(expect["predicates"]) in printed
