"""The one checkpoint format: atomic writes, no non-finite weights, legacy files readable."""
from __future__ import annotations

import os

import pytest
import torch

from sgkit.models import NonFiniteError, SceneGraphGen, load_checkpoint, save_checkpoint


def _state():
    return {"w": torch.arange(4.0), "steps": torch.tensor(3)}


def test_round_trip_and_keys(tmp_path) -> None:
    path = save_checkpoint(tmp_path / "a" / "m.pt", model="M", config={"k": 1}, state_dict=_state(),
                           history=[{"loss": 1.0}], extra={"x": "y"})
    ck = load_checkpoint(path, model="M")
    assert ck["format"] == "sgkit.checkpoint/1" and ck["config"] == {"k": 1}
    assert torch.equal(ck["state_dict"]["w"], torch.arange(4.0))
    assert ck["history"] == [{"loss": 1.0}] and ck["extra"] == {"x": "y"} and ck["optimizers"] == {}
    assert [f for f in os.listdir(tmp_path / "a")] == ["m.pt"]  # no temporary file left behind


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_non_finite_weights_never_overwrite_a_good_checkpoint(tmp_path, bad) -> None:
    path = tmp_path / "m.pt"
    save_checkpoint(path, model="M", config={}, state_dict=_state())
    before = path.read_bytes()
    broken = _state()
    broken["w"][2] = bad
    with pytest.raises(NonFiniteError, match="weight 'w' holds NaN or infinite values"):
        save_checkpoint(path, model="M", config={}, state_dict=broken)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["m.pt"]


def test_load_errors_name_the_path(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="checkpoint not found: path="):
        load_checkpoint(tmp_path / "missing.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a zip file at all")
    with pytest.raises(ValueError, match=r"junk\.pt' is not a readable checkpoint"):
        load_checkpoint(tmp_path / "junk.pt")
    torch.save({"format": "other"}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match=r"other\.pt' is not an sgkit checkpoint"):
        load_checkpoint(tmp_path / "other.pt")
    save_checkpoint(tmp_path / "m.pt", model="M", config={}, state_dict=_state())
    with pytest.raises(ValueError, match="holds a M checkpoint, not a N"):
        load_checkpoint(tmp_path / "m.pt", model="N")


def test_legacy_autoregressive_checkpoint_loads(tmp_path) -> None:
    model = SceneGraphGen(3, 2, max_nodes=4, hidden_dim=8, num_layers=1, node_embedding_dim=4,
                          edge_embedding_dim=2)
    legacy = {"format": "sgkit.models.autoregressive/1", "class": "SceneGraphGen",
              "hparams": dict(model.hparams), "vocab": None, "ordering": "bfs",
              "ordering_was_callable": False, "history": [{"epoch": 0.0, "loss": 2.0}],
              "state_dict": model.state_dict()}
    torch.save(legacy, tmp_path / "old.pt")
    loaded = SceneGraphGen.load(tmp_path / "old.pt")
    assert loaded.ordering_ == "bfs" and loaded.history_ == [{"epoch": 0.0, "loss": 2.0}]
    for k, v in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[k], v)
