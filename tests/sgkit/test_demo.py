"""The end-to-end ShapesWorld pipeline of ``python -m sgkit.demo`` at a reduced budget (issue 4).

Budget of the slow test: 1500 training and 1000 held-out ShapesWorld scenes (seed 0),
SceneGraphGen and GraphRNN (compact CPU sizes: hidden 64, 2-layer GRUs, random node order)
trained for 20 epochs each (batch 32, lr 1e-2 decayed by 0.92 per epoch), 1000 samples per
model; about 85 s of CPU time with one torch thread (measured: 81 s user + 2 s system).
The demo's own budget (``DemoConfig()``: 25 epochs) is slightly larger.

Measured at this budget (seed 0): MMD x 1e3 node / graph (3-node walks) / graph (2-node walks):
SceneGraphGen 0.137 / 0.227 / 0.487, GraphRNN 0.306 / 0.266 / 1.041, marginal baseline
10.169 / 0.294 / 1.474, held-out vs held-out 0.25 / 0.061 / 0.086 in absolute value. AUROC
clean vs 50 % corrupted: size-standardised NLL 0.922 (GraphRNN 0.833), whole-graph NLL 0.697,
NLL per node 0.882. The 3-node random-walk MMD is nearly flat on these sparse graphs (few
3-node walks exist), so it is asserted below GraphRNN and the baseline but not "far" below.

Margins are thin and seed-dependent (measured by hand, not asserted): with seed 1 at this budget
the size-standardised AUROC is 0.895 (MMD orderings hold); with 2000 scenes x 16 epochs (same
CPU) it is 0.919 / 0.916 for seeds 0 / 1 but GraphRNN's MMD_node falls below SceneGraphGen's for
seed 0 (both models are then within the held-out-vs-held-out noise of MMD_node, about +-1).
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
        out=str(tmp_path), num_train=1500, num_test=1000, epochs=20, lr_decay=0.92, num_samples=1000, image_steps=0,
        progress=False, seed=0,
    )
    res = run(cfg)
    for name in ("examples.png", "training_loss.png", "nll_histograms.png", "object_occurrence.png",
                 "cooccurrence.png", "instance_count_kl.png", "completions.png", "report.md", "results.json"):
        assert os.path.getsize(tmp_path / name) > 0, name
    saved = json.loads((tmp_path / "results.json").read_text())
    for key in ("SceneGraphGen", "GraphRNN", "marginal"):
        assert {"mmd_node", "mmd_graph", "mmd_graph_p2"} <= set(saved[key])
    assert set(saved["auroc"]) == set(saved["auroc_size"]) == {"0.2", "0.5", "1.0"}
    sgg, grnn, marg = res["SceneGraphGen"], res["GraphRNN"], res["marginal"]
    # issue 4: SceneGraphGen's MMDs below GraphRNN's ...
    assert sgg["mmd_node"] < grnn["mmd_node"]
    assert sgg["mmd_graph"] < grnn["mmd_graph"]
    assert sgg["mmd_graph_p2"] < grnn["mmd_graph_p2"]
    # ... and far below the trivial baseline (object sets: both models; triplets: SceneGraphGen);
    # the 3-node random-walk MMD is nearly flat on ShapesWorld, only "below" holds there
    assert max(sgg["mmd_node"], grnn["mmd_node"]) < 0.1 * marg["mmd_node"]
    assert sgg["mmd_graph_p2"] < 0.5 * marg["mmd_graph_p2"]
    assert max(sgg["mmd_graph"], grnn["mmd_graph"]) < marg["mmd_graph"]
    # issue 4: AUROC clean vs 50 % corrupted >= 0.9 (size-standardised NLL, the demo's headline score)
    size = res["auroc_size"]
    assert size["0.5"] >= 0.9
    assert 0.5 < size["0.2"] < size["0.5"] < size["1.0"]
    assert size["0.5"] > res["GraphRNN_auroc_size"]["0.5"]
    # the thesis' whole-graph NLL and the per-node NLL separate too, less well (graph sizes vary)
    assert 0.5 < res["auroc"]["0.5"] < size["0.5"]
    assert 0.5 < res["auroc_per_node"]["0.5"] < size["0.5"]
    # SceneGraphGen learns the data better than the GraphRNN baseline at the same budget
    assert sgg["final_loss"] < grnn["final_loss"]
