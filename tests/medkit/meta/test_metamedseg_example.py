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
    # reptile_aw_volumetric 0.483/0.466. It holds under the thesis protocol with the BCE + IoU
    # meta-loss (the example's full-budget default; 5 of 6 seeds, about 5 min per seed), too slow
    # for this test: see the example's docstring.
    assert results["reptile_aw_volumetric"]["cardiac"] > results["scratch"]["cardiac"] + 0.02
    # the example's outputs
    ex.plot(tmp_path, res)
    assert (tmp_path / "metamedseg_iou.png").stat().st_size > 0
    (tmp_path / "results.json").write_text(json.dumps(results))
    assert json.loads((tmp_path / "results.json").read_text()) == results


def test_protocols_losses_and_direction() -> None:
    """The protocol configurations, loss names and the direction entry (no training)."""
    from medkit.losses import SoftIoULoss, WeightedBCELoss

    ex = _load_example()
    budget = ex.make_config(protocol="budget")
    assert budget == dict(ex.FULL, protocol="budget")
    thesis = ex.make_config(protocol="thesis")
    # data sizes and fine-tuning schedule are shared by the protocols
    for key in ("image_size", "num_volumes", "num_slices", "shots", "ft_epochs", "ft_lr", "ft_batch", "test_volumes"):
        assert thesis[key] == budget[key], key
    assert (thesis["meta_epochs"], thesis["inner_lr"], thesis["inner_wd"]) == (100, 0.01, 0.003)
    assert (thesis["transfer_epochs"], thesis["transfer_lr"], thesis["transfer_wd"]) == (20, 1e-3, 3e-5)
    assert ex.make_config(quick=True, protocol="thesis")["num_volumes"] == ex.QUICK["num_volumes"]
    with pytest.raises(ValueError, match="protocol"):
        ex.make_config(protocol="paper")
    # defaults: the thesis protocol with the BCE + IoU meta-loss at the full budget, budget for --quick
    assert ex.make_config() == thesis and thesis["meta_loss"] == "default"
    assert ex.make_config(quick=True) == ex.make_config(quick=True, protocol="budget")
    assert ex.make_loss("default") is None
    assert isinstance(ex.make_loss("iou"), SoftIoULoss)
    wbce = ex.make_loss("wbce")
    assert isinstance(wbce, WeightedBCELoss) and wbce.p_pos is None
    with pytest.raises(ValueError, match="loss"):
        ex.make_loss("dice")
    res = {"transfer": {"a": 0.5, "b": 0.3}, "reptile_aw_volumetric": {"a": 0.6, "b": 0.3}, "scratch": {"a": 0.1, "b": 0.1}}
    d = ex.direction(res)
    assert d["meta_beats_transfer"] is True
    assert d["difference"] == pytest.approx(0.05)
    assert ex.direction({"transfer": {"a": 0.5}}) is None
    assert ex.direction(res, meta="reptile_aw_standard") is None


def _write_task(root: Path, folder: str, name: str, cases: int, seed: int) -> None:
    """A tiny Decathlon task: ``cases`` volumes 16 x 16 x 8, one modality, one label (a box)."""
    import nibabel as nib
    import numpy as np

    task = root / folder
    (task / "imagesTr").mkdir(parents=True)
    (task / "labelsTr").mkdir()
    rng = np.random.default_rng(seed)
    training = []
    for c in range(cases):
        label = np.zeros((16, 16, 8), dtype=np.uint8)
        x, y = rng.integers(2, 8, size=2)
        label[x : x + 6, y : y + 6, :] = 1
        image = (rng.normal(0, 0.3, size=label.shape) + 2.0 * label + 1.0).astype(np.float32)
        for kind, arr in (("imagesTr", image), ("labelsTr", label)):
            nib.save(nib.Nifti1Image(arr, np.eye(4)), str(task / kind / f"case_{c}.nii.gz"))
        training.append({"image": f"./imagesTr/case_{c}.nii.gz", "label": f"./labelsTr/case_{c}.nii.gz"})
    meta = {"name": name, "modality": {"0": "MRI"}, "labels": {"0": "background", "1": name.lower()}, "training": training}
    (task / "dataset.json").write_text(json.dumps(meta))


def test_example_runs_on_decathlon_folders(tmp_path: Path) -> None:
    pytest.importorskip("nibabel")
    ex = _load_example()
    root = tmp_path / "msd"
    _write_task(root, "Task02_Heart", "Heart", cases=3, seed=0)
    _write_task(root, "Task04_Hippocampus", "Hippocampus", cases=2, seed=1)
    sources, targets = ex.decathlon_data(root, image_size=16, test_volumes=1, seed=0, progress=False)
    assert [d.name for d in sources] == ["hippocampus"]
    assert [(tr.name, tr.num_volumes, te.num_volumes) for tr, te in targets] == [("heart", 2, 1)]
    # 16 x 16 slices: threshold max(1, round(400 / 256)) = 2 pixels, every slice has 36
    train = targets[0][0]
    assert sum(train.num_slices(v) for v in range(train.num_volumes)) == 16
    out = tmp_path / "out"
    res = ex.main([
        "--decathlon", str(root), "--quick", "--image-size", "16", "--shots", "2", "--meta-epochs", "1",
        "--repeats", "1", "--methods", "scratch,transfer,reptile_aw_volumetric", "--threads", "1",
        "--no-progress", "--out", str(out),
    ])
    assert set(res["results"]) == {"scratch", "transfer", "reptile_aw_volumetric"}
    assert all(set(v) == {"heart"} for v in res["results"].values())
    details = json.loads((out / "details.json").read_text())
    assert details["config"]["decathlon"] == str(root) and details["config"]["image_size"] == 16
    last = details["history"]["reptile_aw_volumetric"][-1]["query_iou"]
    assert details["collapsed"] == {"reptile_aw_volumetric": last < 0.01}
    with pytest.raises(FileNotFoundError, match="no task folder with a dataset.json"):
        ex.decathlon_data(tmp_path / "empty", image_size=16, test_volumes=1, seed=0)
    (root / "Task02_Heart" / "dataset.json").unlink()
    with pytest.raises(ValueError, match="1 source and 0 target data sets"):
        ex.decathlon_data(root, image_size=16, test_volumes=1, seed=0, progress=False)
