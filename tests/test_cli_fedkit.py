"""The ``fedkit`` console script: ``fedkit simulate CONFIG --out DIR``."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from fedkit.cli import main
from fedkit.datasets import federated_digits
from fedkit.models import MLP
from fedkit.simulate import simulate
from fedkit.strategies import IDA, FedAvg

REPO = Path(__file__).resolve().parents[1]
CONFIG = {
    "data": {"name": "digits", "scheme": "ncc", "ncc": 3, "num_clients": 6, "seed": 0},
    "model": {"arch": "mlp", "hidden": [16]},
    "strategies": [{"name": "FedAvg"}, {"name": "IDA"}, {"name": "FedAP"},
                   {"name": "Clustered", "inner": {"name": "FedAvg"}, "warmup_rounds": 1}],
    "rounds": 2,
    "participation": 0.5,
    "simulator": {"lr": 0.1, "local_epochs": 1, "batch_size": 16, "seed": 0},
}


def _write(tmp_path: Path, cfg: dict) -> Path:
    path = tmp_path / "fed.json"
    path.write_text(json.dumps(cfg))
    return path


def test_entry_point_help_and_console_script() -> None:
    res = subprocess.run([sys.executable, "-m", "fedkit.cli", "--help"], cwd=REPO, capture_output=True, text=True,
                         timeout=300)
    assert res.returncode == 0 and "simulate" in res.stdout
    res = subprocess.run([sys.executable, "-m", "fedkit.cli", "simulate", "--help"], cwd=REPO, capture_output=True,
                         text=True, timeout=300)
    assert res.returncode == 0 and "--threads" in res.stdout and "strategies" in res.stdout
    assert "fedkit = fedkit.cli:main" in (REPO / "setup.cfg").read_text()


def test_simulate_writes_results_equal_to_the_library(tmp_path, capsys) -> None:
    out = tmp_path / "out"
    assert main(["simulate", str(_write(tmp_path, CONFIG)), "--out", str(out), "--quiet"]) == 0
    doc = json.loads((out / "results.json").read_text())
    assert list(doc["results"]) == ["FedAvg", "IDA", "FedAP", "FedAvg + HC"]
    assert doc["config"] == CONFIG
    for res in doc["results"].values():
        assert [h["round"] for h in res["history"]] == [1, 2]
    for f in ("learning_curves.png", "local_accuracy.png"):
        assert (out / f).stat().st_size > 10000
    # the same federation through the library API gives the same numbers
    data = federated_digits("ncc", ncc=3, num_clients=6, seed=0)
    torch.manual_seed(0)
    model = MLP(64, 10, (16,))
    for name, strategy in (("FedAvg", FedAvg()), ("IDA", IDA())):
        ref = simulate(model, data, strategy, 2, participation=0.5, lr=0.1, local_epochs=1, batch_size=16, seed=0,
                       progress=False)
        assert doc["results"][name]["global_acc"] == pytest.approx(ref.global_acc)
        assert doc["results"][name]["local_mean"] == pytest.approx(ref.local_mean)


@pytest.mark.parametrize(
    "change, message",
    [
        ({"strategies": [{"name": "FedProx"}]}, "config: strategies[0].name: expected one of"),
        ({"rounds": 0}, "config: rounds: expected a positive integer, got 0"),
        ({"epochs": 3}, "unknown key(s) ['epochs']"),
        ({"data": {"name": "cifar"}}, "config: data.name: expected one of ['digits', 'mnist5k'], got 'cifar'"),
        ({"model": {"arch": "resnet"}}, "config: model.arch: expected 'mlp' or 'lenet', got 'resnet'"),
        ({"strategies": [{"name": "IDA", "gamma": 1}]}, "config: strategies[0]:"),
        ({"simulator": {"lr": -1}}, "lr must be a finite number > 0, got -1"),
        ({"strategies": [{"name": "FedAvg"}, {"name": "FedAvg"}]}, "give one a 'label'"),
    ],
)
def test_bad_configs_exit_2_with_a_message(tmp_path, capsys, change, message) -> None:
    cfg = {**CONFIG, **change}
    assert main(["simulate", str(_write(tmp_path, cfg)), "--out", str(tmp_path / "o"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("fedkit simulate: error: ") and message in err


def test_unreadable_config_files(tmp_path, capsys) -> None:
    assert main(["simulate", str(tmp_path / "none.json")]) == 2
    assert "config: no such file" in capsys.readouterr().err
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    assert main(["simulate", str(bad)]) == 2
    assert f"config: {bad}: not valid JSON" in capsys.readouterr().err


def test_toml_config(tmp_path) -> None:
    pytest.importorskip("tomllib")
    path = tmp_path / "fed.toml"
    path.write_text('rounds = 1\n[data]\nname = "digits"\nnum_clients = 4\n[simulator]\nlr = 0.1\n'
                    '[[strategies]]\nname = "FedAvg"\n[[strategies]]\nname = "IDA"\nfedavg = true\n')
    assert main(["simulate", str(path), "--out", str(tmp_path / "o"), "--quiet"]) == 0
    doc = json.loads((tmp_path / "o" / "results.json").read_text())
    assert list(doc["results"]) == ["FedAvg", "IDA + FedAvg"]
