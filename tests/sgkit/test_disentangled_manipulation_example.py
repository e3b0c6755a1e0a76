"""examples/disentangled_manipulation.py end to end on a tiny budget."""
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples"))
import disentangled_manipulation as ex  # noqa: E402

from sgkit.data import EDGE, NODE  # noqa: E402
from sgkit.datasets import ShapesWorld  # noqa: E402


def test_corruption_relabels_drops_edges_and_jitters_boxes_without_touching_the_input():
    world = ShapesWorld(6, image_size=32, seed=0, progress=False)
    graphs = [world[i] for i in range(6)]
    before = [(g[NODE].label.clone(), g[NODE].box.clone(), g[EDGE].edge_index.clone()) for g in graphs]
    bad = ex.corrupt_scenes(graphs, world.num_classes, world.num_predicates, seed=0)
    for g, (lab, box, ei) in zip(graphs, before):
        assert torch.equal(g[NODE].label, lab) and torch.equal(g[NODE].box, box) and torch.equal(g[EDGE].edge_index, ei)
    n_edges = sum(g[EDGE].edge_index.size(1) for g in graphs)
    kept = sum(g[EDGE].edge_index.size(1) for g in bad)
    assert 0 < kept < n_edges and all(g[EDGE].label.numel() == g[EDGE].edge_index.size(1) for g in bad)
    moved = torch.cat([(b[NODE].box - g[NODE].box).abs().flatten() for g, b in zip(graphs, bad)])
    assert moved.max() <= 2 / 64 + 1e-6 and (moved > 0).any()
    for b in bad:
        assert ((b[NODE].box[:, 2:] - b[NODE].box[:, :2]) > 0).all()


def test_main_writes_results_criteria_and_figures(tmp_path):
    budget = dict(scenes=16, test_scenes=2, test_pairs=2, steps=2, seconds=5.0, batch_size=4)
    res = ex.main(["--out", str(tmp_path), "--no-progress", "--seeds", "1", "--threads", "0"], budget=budget)
    saved = json.loads((tmp_path / "results.json").read_text())
    assert set(saved["criteria"]) == set(ex.CRITERIA)
    for name, c in saved["criteria"].items():
        assert set(c) >= {"value", "threshold", "holds"} and c["threshold"] == ex.CRITERIA[name][1]
        assert c["holds"] == ex._holds(name, c["value"])
    assert set(saved["table"]) == set(ex.MODELS)
    for row in saved["table"].values():
        assert row["steps"] == 2 and row["diversity"] >= 0 and row["gt_roi_mae"] > 0 and row["relationship_roi_mae"] > 0
    assert saved["falsified"]["value"] == (not saved["criteria"]["corrupted_mae_dispo_minus_simsg"]["holds"]
                                           and not saved["criteria"]["diversity_ratio"]["holds"])
    assert res["budget"]["seeds"] == 1
    for name in ("samples.png", "pose_sweep.png"):
        assert (tmp_path / name).stat().st_size > 0
