"""``examples/few_shot_generation.py``: the criteria on hand-made numbers and main on a tiny budget (about 7 s)."""
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples"))
from few_shot_generation import METHODS, criteria, interpretation, main  # noqa: E402


def seed_metrics(published: float, reptile: float, transfer: float, at40: tuple = (1.0, 1.0, 1.0)) -> dict:
    """MAE = KID = the given value at 5 and 10 shots; ``at40`` the values at 40 shots."""
    out = {}
    for m, v, v40 in zip(METHODS, (transfer, published, reptile), (at40[2], at40[0], at40[1])):
        out[m] = {"5": {"mae": v, "kid": v}, "10": {"mae": v, "kid": v}, "40": {"mae": v40, "kid": v40}}
    return out


def test_criteria_and_interpretation_on_hand_made_numbers():
    per_seed = [
        seed_metrics(published=1.0, reptile=3.0, transfer=2.0, at40=(1.9, 2.5, 2.0)),  # published wins, gap 1 -> 0.1
        seed_metrics(published=1.5, reptile=2.5, transfer=2.0, at40=(1.0, 1.0, 2.0)),  # published wins, gap 0.5 -> 1
        seed_metrics(published=2.5, reptile=2.5, transfer=2.0),                      # transfer best
    ]
    c = criteria(per_seed, (5, 10, 40))
    assert c["published_beats_transfer_5_10"] == {"value": 2, "threshold": 2, "holds": True, "seeds": 3}
    assert c["reptile_beats_transfer_5_10"]["value"] == 0 and not c["reptile_beats_transfer_5_10"]["holds"]
    assert c["migs_beats_transfer_5_10"]["value"] == 2
    assert c["gap_smaller_at_40_than_5"]["value"] == 1  # gaps at 5 -> 40: 1 -> 0.1, 0.5 -> 1, -0.5 -> 0
    assert c["falsified_transfer_not_worse"]["value"] == 1 and not c["falsified_transfer_not_worse"]["holds"]
    assert "task-homogeneous batches, not from meta-learning" in interpretation(c)


def test_main_runs_on_a_tiny_budget(tmp_path):
    results = main(["--out", str(tmp_path), "--budget", "tiny", "--no-progress"])
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["criteria"] == results["criteria"]
    for crit in saved["criteria"].values():
        assert set(crit) == {"value", "threshold", "holds", "seeds"}
        assert crit["holds"] == (crit["value"] >= crit["threshold"])
    assert set(saved["generator_updates"].values()) == {8}
    m = saved["per_seed"][0]
    falsified = all(m["transfer"][k][key] <= m[v][k][key] for v in METHODS[1:] for k in ("2", "3")
                    for key in ("mae", "kid"))
    assert saved["criteria"]["falsified_transfer_not_worse"]["value"] == int(falsified)
    assert list(m["transfer"]["2"]["mae_curve"]) == ["0", "1", "2"]
    for fig in saved["figures"]:
        assert (tmp_path / fig).stat().st_size > 0
    assert len(saved["figures"]) == 1 + 2  # the curves and one grid per held-out task
