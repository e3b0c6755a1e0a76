"""The Table 10.1 ordering sweep of ``examples/scene_graph_generation.py`` on a tiny budget."""
import json
import sys
from pathlib import Path

import pytest

from sgkit.demo import DemoConfig, run, stage_data, stage_sample, stage_train

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples"))
from scene_graph_generation import MODELS, _stage_mmd, ordering_table, plot_ordering_table  # noqa: E402


def test_ordering_table_reuses_main_run_and_retrains_the_others(tmp_path):
    cfg = DemoConfig(out=str(tmp_path), num_train=40, num_test=30, epochs=1, num_samples=20, image_steps=0,
                     progress=False, seed=0, model_kwargs=dict(max_nodes=10, hidden_dim=8, num_layers=1,
                                                               node_embedding_dim=4, edge_embedding_dim=2,
                                                               mlp_hidden_dim=8))
    stages = [("data", stage_data), ("train", stage_train), ("sample", stage_sample), ("mmd", _stage_mmd)]
    main = run(cfg, stages=stages)
    table = ordering_table(cfg, main, ["bfs", "random"])
    assert set(table) == set(MODELS)
    for m in MODELS:
        assert set(table[m]) == {"bfs", "random"}
        # the main ordering's entry is the main run's numbers, not a retraining
        assert table[m]["random"]["mmd_node"] == main[m]["mmd_node"]
        assert table[m]["random"]["final_loss"] == main[m]["final_loss"]
        # BFS was trained separately (its own checkpoint) and gives different numbers
        assert table[m]["bfs"]["final_loss"] != main[m]["final_loss"]
        assert (tmp_path / "ordering_bfs" / f"{m.lower()}.pt").is_file()
    plot_ordering_table(table, str(tmp_path / "orderings.png"))
    assert (tmp_path / "orderings.png").stat().st_size > 0
    json.dumps(table)  # plain floats, serialisable


def test_unknown_ordering_is_rejected(monkeypatch, capsys):
    import scene_graph_generation as ex

    monkeypatch.setattr(sys, "argv", ["x", "--orderings", "random,dfs", "--out", "unused"])
    with pytest.raises(SystemExit):
        ex.main()
    assert "--orderings: unknown ordering(s) ['dfs']" in capsys.readouterr().err
