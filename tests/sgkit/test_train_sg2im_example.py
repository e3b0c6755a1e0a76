"""examples/train_sg2im.py runs end to end on a tiny budget and writes what it promises."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "train_sg2im.py"


def test_train_sg2im_tiny(tmp_path) -> None:
    spec = importlib.util.spec_from_file_location("train_sg2im", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    results = module.main(["--out", str(tmp_path), "--steps", "2", "--scenes", "16", "--batch-size", "4",
                           "--no-progress"])
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["steps"] == 2 == results["steps"] and saved["processes"] == 1
    assert 0 <= saved["test"]["mae"] <= 1 and 0 <= saved["test"]["object_check_real"] <= 1
    for name in ("losses.png", "samples_final.png", "sg2im.pt"):
        assert (tmp_path / name).stat().st_size > 0
