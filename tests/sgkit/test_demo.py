"""The end-to-end ShapesWorld pipeline of ``python -m sgkit.demo`` at a reduced budget.

Budget of the slow test: 1000 training and 400 held-out ShapesWorld scenes, SceneGraphGen and
GraphRNN (compact CPU sizes: hidden 64, 2-layer GRUs) trained for 12 epochs each (batch 32,
lr 1e-2), 600 samples per model; 1.5-2.5 minutes on 2 shared cores with one torch thread.
"""
import json
import os

import pytest

from sgkit.data import from_triplets, to_triplets
from sgkit.demo import DemoConfig, main, run, sample_marginal_graphs


def test_marginal_baseline_keeps_sizes_and_vocabulary():
    ref = [from_triplets([0, 0, 1], [(0, 1, 1), (2, 1, 0)]), from_triplets([0, 0], [(1, 1, 0)])]
    out = sample_marginal_graphs(ref, 50, num_classes=3, num_predicates=2, seed=0)
    assert len(out) == 50
    for g in out:
        labels, trips = to_triplets(g)
        assert (len(labels), len(trips)) in {(3, 2), (2, 1)}
        assert set(labels) <= {0, 1}  # category 2 never occurs in the reference
        assert all(p == 1 and s != o for s, p, o in trips)
        assert len({(s, o) for s, _, o in trips}) == len(trips)
    again = sample_marginal_graphs(ref, 50, num_classes=3, num_predicates=2, seed=0)
    assert [to_triplets(g) for g in out] == [to_triplets(g) for g in again]
    with pytest.raises(ValueError, match="graphs: empty reference set"):
        sample_marginal_graphs([], 5, num_classes=3, num_predicates=2)


def test_custom_stages_and_cli_parsing(tmp_path, monkeypatch):
    calls = []
    res = run(DemoConfig(out=str(tmp_path)), stages=[("one", lambda cfg, ctx: calls.append(cfg.out))])
    assert calls == [str(tmp_path)] and res == {}
    seen = {}
    monkeypatch.setattr("sgkit.demo.run", lambda cfg: seen.setdefault("cfg", cfg) and {})
    main(["--out", str(tmp_path), "--quick", "--epochs", "3", "--no-progress"])
    cfg = seen["cfg"]
    assert (cfg.num_train, cfg.epochs, cfg.progress, cfg.out) == (600, 3, False, str(tmp_path))


@pytest.mark.slow
def test_demo_pipeline_on_shapesworld(tmp_path):
    cfg = DemoConfig(
        out=str(tmp_path), num_train=1000, num_test=400, epochs=12, num_samples=600, progress=False, seed=0
    )
    res = run(cfg)
    for name in ("examples.png", "training_loss.png", "nll_histograms.png", "object_occurrence.png",
                 "cooccurrence.png", "instance_count_kl.png", "completions.png", "report.md", "results.json"):
        assert os.path.getsize(tmp_path / name) > 0, name
    saved = json.loads((tmp_path / "results.json").read_text())
    for key in ("SceneGraphGen", "GraphRNN", "marginal"):
        assert {"mmd_node", "mmd_graph"} <= set(saved[key])
    assert set(saved["auroc"]) == {"0.2", "0.5", "1.0"}
    sgg, marg = res["SceneGraphGen"], res["marginal"]
    # far below the trivial baseline on the object-set MMD, below it on triplet statistics
    assert sgg["mmd_node"] < 0.5 * marg["mmd_node"]
    assert sgg["mmd_graph_p2"] < marg["mmd_graph_p2"]
    # NLL separates clean from corrupted graphs, more so the more labels are corrupted
    per_node = res["auroc_per_node"]
    assert 0.5 < per_node["0.2"] < per_node["0.5"] < per_node["1.0"]
    assert per_node["0.5"] > 0.65
    assert res["auroc"]["1.0"] > 0.55
    # SceneGraphGen learns the data better than the GraphRNN baseline at the same budget
    assert res["SceneGraphGen"]["final_loss"] < res["GraphRNN"]["final_loss"]
