"""The Flower App in examples/flower_app: ``flwr run`` on a local SuperLink gives the simulator's model.

Slow (about a minute per run on 2 cores): each run starts Flower's SuperLink (and, for the
deployment, two SuperNodes) on 127.0.0.1 through ``examples/flower_app/run.sh``.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

pytest.importorskip("flwr")
tomllib = pytest.importorskip("tomllib")  # Python 3.11+

REPO = Path(__file__).resolve().parents[1]
APP = REPO / "examples" / "flower_app"
sys.path.insert(0, str(APP))

from fedkit_flower_app.task import (  # noqa: E402
    federation,
    make_model,
    make_strategy,
    simulator_kwargs,
)

from fedkit.aggregation import flatten_params  # noqa: E402
from fedkit.simulate import simulate  # noqa: E402


def _free_base_port() -> int:
    """A port p such that p, p + 1 and p + 2 are free on 127.0.0.1."""
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            base = s.getsockname()[1]
        if base > 65000:
            continue
        try:
            for p in (base, base + 1, base + 2):
                with socket.socket() as t:
                    t.bind(("127.0.0.1", p))
            return base
        except OSError:
            continue
    raise RuntimeError("no three consecutive free ports")


def _config() -> dict:
    return tomllib.loads((APP / "pyproject.toml").read_text())["tool"]["flwr"]["app"]["config"]


def _run(mode: str, out: Path, *overrides: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, FEDKIT_FLOWER_PORT=str(_free_base_port()), OMP_NUM_THREADS="1",
               PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
               PYTHONPATH=f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    return subprocess.run(["bash", str(APP / "run.sh"), mode, str(out), *overrides], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=600, check=False)


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("setsid") is None, reason="run.sh needs setsid")
@pytest.mark.parametrize("mode, strategy", [("deployment", "FedAvg"), ("simulation", "IDA")])
def test_two_rounds_equal_the_builtin_simulator(tmp_path, mode, strategy) -> None:
    res = _run(mode, tmp_path, f"strategy='{strategy}'", "num-server-rounds=2")
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    state = torch.load(tmp_path / "final_model.pt", weights_only=True)
    cfg = {**_config(), "strategy": strategy, "num-server-rounds": 2}
    ref = simulate(make_model(cfg), federation(cfg), make_strategy(cfg), 2, progress=False, **simulator_kwargs(cfg))
    theta = flatten_params(state)
    assert theta.shape == ref.theta.shape
    assert torch.allclose(theta, ref.theta, atol=1e-5), float((theta - ref.theta).abs().max())
    assert not torch.allclose(theta, flatten_params(make_model(cfg)))  # two rounds did train
    assert "run.sh: wrote" in res.stdout


def test_run_script_rejects_an_unknown_mode(tmp_path) -> None:
    res = _run("cloud", tmp_path)
    assert res.returncode == 2 and "mode: expected 'simulation' or 'deployment', got 'cloud'" in res.stderr
