"""A reduced, seeded run of ``examples/metamedseg.py`` (budget: about 15 s on one idle core)."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "metamedseg.py"

CFG = dict(
    image_size=24, num_volumes=3, num_slices=12, base_channels=4, depth=2,
    meta_epochs=15, tasks_per_epoch=3, inner_steps=3, inner_lr=5e-3, beta=1.0, beta_final=0.1,
    shots=6, repeats=2, ft_epochs=6, ft_lr=0.005, ft_batch=3, test_volumes=1,
    source_organs=["liver", "lung", "colon", "brain"], target_organs=["cardiac"],
)


def _load_example():
    spec = importlib.util.spec_from_file_location("metamedseg_example", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_reduced_example_meta_learning_beats_scratch(tmp_path: Path) -> None:
    ex = _load_example()
    methods = ("scratch", "transfer", "reptile_aw_volumetric", "reptile_idw_standard")
    res = ex.run(CFG, seed=0, progress=False, methods=methods)
    results = res["results"]
    assert set(results) == set(methods)
    assert all(set(v) == {"cardiac"} for v in results.values())
    assert all(0.0 <= v["cardiac"] <= 1.0 for v in results.values())
    # meta-training learns: query IoU after adaptation rises over the meta-epochs
    for m in ("reptile_aw_volumetric", "reptile_idw_standard"):
        hist = res["details"]["history"][m]
        assert len(hist) == CFG["meta_epochs"]
        first = sum(h["query_iou"] for h in hist[:5]) / 5
        last = sum(h["query_iou"] for h in hist[-5:]) / 5
        assert last > first + 0.05, (m, first, last)
    # the thesis direction that holds robustly here: a meta-learned start beats a random one.
    # "Reptile (volumetric) > transfer" (Table 7.1) does NOT hold at this budget, so it is not
    # asserted: cardiac IoU, seeds 0/1/2, transfer 0.551/0.480/0.339 vs reptile_aw_volumetric
    # 0.454/0.159/0.176 (reptile_idw_standard 0.432/0.160/0.306, scratch 0.283/0.063/0.067).
    # Nor at the example's FULL budget (mean over 4 targets, seeds 0/1): transfer 0.515/0.506 vs
    # reptile_aw_volumetric 0.483/0.466 (see the example's docstring).
    assert results["reptile_aw_volumetric"]["cardiac"] > results["scratch"]["cardiac"] + 0.02
    # the example's outputs
    ex.plot(tmp_path, res)
    assert (tmp_path / "metamedseg_iou.png").stat().st_size > 0
    (tmp_path / "results.json").write_text(json.dumps(results))
    assert json.loads((tmp_path / "results.json").read_text()) == results
