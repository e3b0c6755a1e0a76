"""examples/image_manipulation.py end to end on a tiny budget."""
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples"))
import image_manipulation as ex  # noqa: E402


def test_main_writes_results_criteria_and_figures(tmp_path):
    budget = dict(train_pairs=4, test_pairs=3, scenes=30, steps=2, seconds=5.0, batch_size=4)
    res = ex.main(["--out", str(tmp_path), "--no-progress", "--seeds", "1"], budget=budget)
    saved = json.loads((tmp_path / "results.json").read_text())
    assert set(saved["criteria"]) == set(ex.CRITERIA)
    for name, c in saved["criteria"].items():
        assert set(c) >= {"value", "threshold", "holds"} and c["threshold"] == ex.CRITERIA[name][1]
        assert c["holds"] == ex._holds(name, c["value"])  # one seed: holds is that seed's verdict
    for method in ("simsg", "supervised", "copy_source", "sg2im_target"):
        assert set(saved[method]) == set(ex.MODES)
        for m in ex.MODES:
            assert set(saved[method][m]) == {"mae", "ssim", "roi_mae", "roi_ssim"}
    # copying the source costs nothing outside the edited region: its MAE is small but not zero
    assert 0 < saved["copy_source"]["removal"]["mae"] < saved["copy_source"]["removal"]["roi_mae"]
    assert set(saved["reconstruction"]) == {"with_feature", "without_feature"}
    assert saved["feature_encoder"] == "cnn" and res["budget"]["seeds"] == 1
    for mode in ex.MODES:
        assert (tmp_path / f"edits_{mode}.png").stat().st_size > 0
