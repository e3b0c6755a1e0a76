"""The ``sgkit mmd`` console command on two sg2im JSON files."""
from __future__ import annotations

import json

import pytest

from sgkit.cli import main
from sgkit.data import load_sg2im_json, save_sg2im_json
from sgkit.datasets import vg150_vocabulary, vg_like_graphs
from sgkit.kernels import ObjectSetKernel, RandomWalkKernel
from sgkit.metrics import mmd


def test_mmd_command_prints_both_mmds(tmp_path, capsys) -> None:
    vocab = vg150_vocabulary()
    gen, ref = tmp_path / "gen.json", tmp_path / "ref.json"
    save_sg2im_json(vg_like_graphs(15, seed=0), gen, vocab)
    save_sg2im_json(vg_like_graphs(12, seed=1), ref, vocab)
    assert main(["mmd", str(gen), str(ref), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    reference, v = load_sg2im_json(ref)
    generated, _ = load_sg2im_json(gen, v, on_unknown="add")
    assert out["mmd_graph_x1e3"] == pytest.approx(1e3 * mmd(generated, reference, RandomWalkKernel(mode="usggen")))
    assert out["mmd_node_x1e3"] == pytest.approx(1e3 * mmd(generated, reference, ObjectSetKernel()))
    assert out["num_generated"] == 15 and out["num_reference"] == 12
    assert main(["mmd", str(gen), str(ref)]) == 0
    text = capsys.readouterr().out
    assert "MMD graph" in text and "MMD node" in text


def test_mmd_command_errors(tmp_path, capsys) -> None:
    assert main(["mmd", str(tmp_path / "missing.json"), str(tmp_path / "missing.json")]) == 2
    assert "error" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["mmd", "a.json"])
