"""The ``sgkit mmd`` command: the same default kernels as the Python API, clear exits on bad input."""
from __future__ import annotations

import json

import pytest

from sgkit.cli import build_parser, main
from sgkit.data import from_triplets, load_sg2im_json, save_sg2im_json
from sgkit.datasets import vg150_vocabulary, vg_like_graphs
from sgkit.kernels import ObjectSetKernel, RandomWalkKernel
from sgkit.metrics import mmd


def test_cli_default_equals_python_default(tmp_path, capsys) -> None:
    vocab = vg150_vocabulary()
    gen, ref = tmp_path / "gen.json", tmp_path / "ref.json"
    save_sg2im_json(vg_like_graphs(14, seed=2), gen, vocab)
    save_sg2im_json(vg_like_graphs(11, seed=3), ref, vocab)
    assert main(["mmd", str(gen), str(ref), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    reference, v = load_sg2im_json(ref)
    generated, _ = load_sg2im_json(gen, v, on_unknown="add")
    assert out["mmd_graph_x1e3"] == pytest.approx(1e3 * mmd(generated, reference, RandomWalkKernel()), rel=1e-12)
    assert out["mmd_node_x1e3"] == pytest.approx(1e3 * mmd(generated, reference, ObjectSetKernel()), rel=1e-12)


def test_either_support_is_not_a_cli_choice() -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["mmd", "a.json", "b.json", "--support", "either"])


def test_cli_exits_2_with_the_memory_estimate(tmp_path, capsys) -> None:
    vocab = vg150_vocabulary()
    cyc = [from_triplets([0, 1, 2], [(0, 0, 1), (1, 0, 2), (2, 0, 0), (0, 1, 2), (2, 1, 1)]) for _ in range(3)]
    path = tmp_path / "cyc.json"
    save_sg2im_json(cyc, path, vocab)
    code = main(["mmd", str(path), str(path), "--walk-length", "200", "--max-memory-gib", "0.01"])
    err = capsys.readouterr().err
    assert code == 2
    assert "sgkit mmd: error: walk_length=200" in err and "GiB" in err and "max_memory=0.01 GiB" in err


def test_cli_names_the_malformed_file(tmp_path, capsys) -> None:
    good, bad = tmp_path / "good.json", tmp_path / "bad.json"
    save_sg2im_json(vg_like_graphs(3, seed=0), good, vg150_vocabulary())
    bad.write_bytes(b"\x00\x01 not json")
    assert main(["mmd", str(bad), str(good)]) == 2
    assert str(bad) in capsys.readouterr().err
    assert main(["mmd", str(good), str(bad)]) == 2
    assert str(bad) in capsys.readouterr().err
