"""The ``sgkit`` console script: every subcommand through ``main(argv)``, the entry point by subprocess."""
from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import networkx as nx
import pytest

import sgkit
from sgkit.cli import main
from sgkit.data import (
    Vocabulary,
    from_triplets,
    load_sg2im_json,
    save_sg2im_json,
    to_triplets,
)

REPO = Path(__file__).resolve().parents[1]
COMMANDS = ("mmd", "demo", "validate", "convert", "stats", "draw", "train", "sample", "complete")


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sgkit.cli", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=300)


def test_entry_point_lists_every_command_and_prints_the_version() -> None:
    res = _cli("--help")
    assert res.returncode == 0
    for name in COMMANDS:
        assert f"    {name}" in res.stdout
    res = _cli("--version")
    assert res.returncode == 0 and res.stdout.strip() == f"sgkit {sgkit.__version__}"
    res = _cli("validate", "missing.json")
    assert res.returncode == 2 and "sgkit validate: error: input: no such file 'missing.json'" in res.stderr
    assert "sgkit = sgkit.cli:main" in (REPO / "setup.cfg").read_text()


def test_validate_counts_and_exit_statuses(shared_data, tmp_path, capsys) -> None:
    path = shared_data / "sg2im_examples" / "figure_5_vg.json"
    raw = json.loads(path.read_text())
    assert main(["validate", str(path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out == {"valid": True, "num_graphs": len(raw), "num_objects": sum(len(g["objects"]) for g in raw),
                   "num_relations": sum(len(g["relationships"]) for g in raw), "problems": []}
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"objects": ["a"], "relationships": [[0, "x", 3]]}]))
    assert main(["validate", str(bad)]) == 1
    assert f"sgkit validate: invalid: {bad}[0].relationships: node index 3" in capsys.readouterr().err
    loop = tmp_path / "loop.json"
    loop.write_text(json.dumps([{"objects": ["a"], "relationships": [[0, "x", 0]]}]))
    assert main(["validate", str(loop)]) == 0
    assert main(["validate", str(loop), "--no-self-loops"]) == 1
    assert f"{loop}[0]:" in capsys.readouterr().err
    assert main(["validate", str(tmp_path / "data.csv")]) == 2
    assert "cannot tell the format from the extension '.csv'" in capsys.readouterr().err


def test_convert_round_trips_through_networkx_json(shared_data, tmp_path, capsys) -> None:
    src = shared_data / "sg2im_examples" / "figure_6_street.json"
    nxf, back = tmp_path / "g.nx.json", tmp_path / "back.json"
    assert main(["convert", str(src), str(nxf), "--to", "networkx"]) == 0
    doc = json.loads(nxf.read_text())
    raw = json.loads(src.read_text())
    assert len(doc["graphs"]) == len(raw)
    for g, r in zip(doc["graphs"], raw):  # networkx reads it, with names on nodes and edges
        h = nx.node_link_graph(g, edges="links")
        assert isinstance(h, nx.MultiDiGraph) and h.number_of_nodes() == len(r["objects"])
        assert [h.nodes[i]["name"] for i in range(len(r["objects"]))] == r["objects"]
        assert sorted((s, d["predicate"], o) for s, o, d in h.edges(data=True)) == sorted(map(tuple, r["relationships"]))
    assert main(["convert", str(nxf), str(back)]) == 0  # format detected from the content
    assert json.loads(back.read_text()) == raw
    assert "wrote 7 graphs" in capsys.readouterr().out


def test_convert_reads_vg_sgg_h5(shared_data, tmp_path, capsys) -> None:
    h5py = pytest.importorskip("h5py")
    import numpy as np

    h5 = tmp_path / "VG-SGG.h5"
    with h5py.File(h5, "w") as f:  # 2 training images: man -(31: 'on' 1-based)-> airplane, and an empty one
        f["split"] = np.array([0, 0])
        f["img_to_first_box"] = np.array([0, -1])
        f["img_to_last_box"] = np.array([1, -1])
        f["img_to_first_rel"] = np.array([0, -1])
        f["img_to_last_rel"] = np.array([0, -1])
        f["labels"] = np.array([[78], [1]])
        f["boxes_1024"] = np.array([[512, 512, 200, 100], [100, 100, 50, 50]])
        f["relationships"] = np.array([[0, 1]])
        f["predicates"] = np.array([[31]])
    dicts = shared_data / "vg150" / "VG-SGG-dicts-with-attri.json"
    out = tmp_path / "vg.json"
    assert main(["convert", str(h5), str(out)]) == 2
    assert "--dicts: a VG-SGG h5 file" in capsys.readouterr().err
    assert main(["convert", str(h5), str(out), "--dicts", str(dicts)]) == 0
    vg = json.loads(dicts.read_text())
    first = json.loads(out.read_text())[0]
    assert first["objects"] == [vg["idx_to_label"]["78"], vg["idx_to_label"]["1"]]
    assert first["relationships"] == [[0, vg["idx_to_predicate"]["31"], 1]]
    assert first["boxes"][0] == pytest.approx([412 / 1024, 462 / 1024, 612 / 1024, 562 / 1024])


def test_stats_match_a_hand_count(shared_data, tmp_path, capsys) -> None:
    path = shared_data / "sg2im_examples" / "figure_5_vg.json"
    raw = json.loads(path.read_text())
    assert main(["stats", str(path), "--json", "--top", "3", "--out", str(tmp_path / "st")]) == 0
    st = json.loads(capsys.readouterr().out)
    names = Counter(o for g in raw for o in g["objects"])
    preds = Counter(r[1] for g in raw for r in g["relationships"])
    assert st["num_graphs"] == len(raw) and st["num_objects"] == sum(names.values())
    assert st["objects_per_graph"]["max"] == max(len(g["objects"]) for g in raw)
    assert st["top_categories"][0] == {"name": names.most_common(1)[0][0],
                                       "share": pytest.approx(names.most_common(1)[0][1] / sum(names.values()))}
    assert st["top_predicates"][0]["share"] == pytest.approx(preds.most_common(1)[0][1] / sum(preds.values()))
    assert len(st["top_categories"]) == 3
    assert json.loads((tmp_path / "st" / "stats.json").read_text()) == st
    for f in ("statistics.png", "cooccurrence.png"):
        assert (tmp_path / "st" / f).stat().st_size > 10000


def test_draw_writes_a_figure_and_checks_indices(shared_data, tmp_path, capsys) -> None:
    path = shared_data / "sg2im_examples" / "figure_6_sheep.json"
    assert main(["draw", str(path), str(tmp_path / "d.png"), "--index", "0", "2"]) == 0
    assert (tmp_path / "d.png").stat().st_size > 5000
    assert main(["draw", str(path), str(tmp_path / "e.png"), "--index", "99"]) == 2
    assert f"--index: 99 is out of range for {path}" in capsys.readouterr().err


def test_demo_forwards_its_arguments(monkeypatch) -> None:
    import sgkit.demo

    seen = {}
    monkeypatch.setattr(sgkit.demo, "main", lambda argv: seen.setdefault("argv", argv))
    assert main(["demo", "--out", "x", "--quick", "--threads", "2", "--quiet"]) == 0
    assert seen["argv"] == ["--out", "x", "--seed", "0", "--threads", "2", "--quick", "--no-progress"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[Path, Path]:
    """A tiny SceneGraphGen trained through ``sgkit train`` on a small sg2im file."""
    d = tmp_path_factory.mktemp("gen")
    vocab = Vocabulary(["man", "horse", "hat", "tree"], ["riding", "wearing", "near"])
    graphs = [from_triplets([0, 1, 2], [(0, 0, 1), (0, 1, 2)]), from_triplets([0, 2], [(0, 1, 1)]),
              from_triplets([3, 0], [(0, 2, 1)])] * 4
    data = d / "train.json"
    save_sg2im_json(graphs, data, vocab)
    model = d / "model.pt"
    assert main(["train", str(data), str(model), "--epochs", "2", "--hidden-dim", "8", "--num-layers", "1",
                 "--batch-size", "4", "--quiet"]) == 0
    return data, model


def test_train_writes_a_checkpoint_the_public_api_loads(trained) -> None:
    _, model = trained
    m = sgkit.SceneGraphGen.load(model)
    assert m.vocab.objects == ["man", "horse", "hat", "tree"] and m.max_nodes == 3 and len(m.history_) == 2


def test_sample_is_seeded_and_matches_the_api(trained, tmp_path, capsys) -> None:
    import torch

    _, model = trained
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    assert main(["sample", str(model), str(a), "-n", "5", "--seed", "3", "--figure", str(tmp_path / "s.png")]) == 0
    assert main(["sample", str(model), str(b), "-n", "5", "--seed", "3"]) == 0
    assert a.read_text() == b.read_text()
    m = sgkit.SceneGraphGen.load(model)
    direct = m.sample(5, generator=torch.Generator().manual_seed(3))
    graphs, _ = load_sg2im_json(a, m.vocab)
    assert [to_triplets(g) for g in graphs] == [to_triplets(g) for g in direct]
    assert (tmp_path / "s.png").stat().st_size > 3000
    assert main(["sample", str(model), str(a), "-n", "0"]) == 2
    assert "-n/--num: must be at least 1, got 0" in capsys.readouterr().err


def test_complete_keeps_the_partial_graph(trained, tmp_path, capsys) -> None:
    _, model = trained
    partial = tmp_path / "p.json"
    partial.write_text(json.dumps([{"objects": ["man", "horse"], "relationships": [[0, "riding", 1]]}]))
    out = tmp_path / "c.json"
    assert main(["complete", str(model), str(partial), str(out), "-n", "4"]) == 0
    done = json.loads(out.read_text())
    assert len(done) == 4
    for g in done:
        assert g["objects"][:2] == ["man", "horse"] and [0, "riding", 1] in g["relationships"]
    partial.write_text(json.dumps([{"objects": ["zebra"], "relationships": []}]))
    assert main(["complete", str(model), str(partial), str(out)]) == 2
    err = capsys.readouterr().err
    assert "uses a name the model does not know" in err and "zebra" in err


def test_bad_checkpoints_are_reported(tmp_path, capsys) -> None:
    not_a_model = tmp_path / "x.pt"
    not_a_model.write_text("hello")
    assert main(["sample", str(not_a_model), str(tmp_path / "o.json")]) == 2
    assert f"model: '{not_a_model}' is not a torch checkpoint" in capsys.readouterr().err
    assert main(["sample", str(tmp_path / "none.pt"), str(tmp_path / "o.json")]) == 2
    assert "model: no such file" in capsys.readouterr().err
