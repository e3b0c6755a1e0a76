"""Synthetic organ volumes and the Medical Segmentation Decathlon loader."""
from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import torch

from medkit.datasets.organs import (
    SOURCE_ORGANS,
    SYNTHETIC_ORGANS,
    TARGET_ORGANS,
    OrganVolumes,
    load_decathlon,
    normalize_volume,
    synthetic_organ,
    synthetic_organs,
)

KW = dict(num_volumes=2, num_slices=12, image_size=32)


def _dice(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(2 * (a & b).sum() / (a.sum() + b.sum()).clamp_min(1))


@pytest.fixture(scope="module")
def all_sets() -> list[OrganVolumes]:
    return synthetic_organs("all", seed=0, **KW)


def test_synthetic_organs_layout(all_sets: list[OrganVolumes]) -> None:
    names = [d.name for d in all_sets]
    assert len(synthetic_organs("source", seed=0, **KW)) == 11
    assert names[-4:] == ["cardiac", "spleen", "prostate_peripheral", "prostate_transitional"]
    assert "brain_flair_edema" in names and "hippocampus_posterior" in names
    assert {d.organ for d in all_sets} == set(SOURCE_ORGANS) | set(TARGET_ORGANS) == set(SYNTHETIC_ORGANS)
    for d in all_sets:
        assert d.num_volumes == 2 and len(d) == 24 and d.image_size == (32, 32)
        for img, msk in d.volumes:
            assert img.dtype == torch.float32 and msk.dtype == torch.long
            assert set(msk.unique().tolist()) <= {0, 1}
            assert (msk.flatten(1).sum(1) > 0).all(), d.name  # the organ is in every slice
            body = img != img[0, 0, 0]  # the corner is air
            fg = img[msk.bool()].mean()
            bg = img[body & ~msk.bool()].mean()
            assert abs(float(fg - bg)) > 0.3, d.name  # visible contrast


def test_synthetic_organs_seeded_and_independent_of_request(all_sets: list[OrganVolumes]) -> None:
    alone = synthetic_organ("spleen", seed=0, **KW)[0]
    spleen = next(d for d in all_sets if d.name == "spleen")
    for (a, am), (b, bm) in zip(alone.volumes, spleen.volumes):
        assert torch.equal(a, b) and torch.equal(am, bm)
    other = synthetic_organ("spleen", seed=1, **KW)[0]
    assert not torch.equal(other.volumes[0][1], alone.volumes[0][1])


def test_zones_share_images_with_disjoint_masks(all_sets: list[OrganVolumes]) -> None:
    pz = next(d for d in all_sets if d.name == "prostate_peripheral")
    tz = next(d for d in all_sets if d.name == "prostate_transitional")
    assert pz.organ == tz.organ == "prostate" and pz.zone == "peripheral"
    for (a, am), (b, bm) in zip(pz.volumes, tz.volumes):
        assert torch.equal(a, b)
        assert not (am.bool() & bm.bool()).any()
    flair = next(d for d in all_sets if d.name == "brain_flair_tumor")
    t1 = next(d for d in all_sets if d.name == "brain_t1_tumor")
    assert torch.equal(flair.volumes[0][1], t1.volumes[0][1])  # same anatomy
    assert not torch.allclose(flair.volumes[0][0], t1.volumes[0][0])  # other contrast


def test_shape_varies_smoothly_across_slices(all_sets: list[OrganVolumes]) -> None:
    for d in all_sets:
        msk = d.volumes[0][1].bool()
        near = np.mean([_dice(msk[i], msk[i + 1]) for i in range(len(msk) - 1)])
        far = np.mean([_dice(msk[i], msk[i + 6]) for i in range(len(msk) - 6)])
        assert near > 0.6 and near > far, (d.name, near, far)


def test_volumes_are_normalised(all_sets: list[OrganVolumes]) -> None:
    raw = np.zeros((3, 5, 5), dtype=np.float32)
    raw[:, 1:4, 1:4] = np.arange(27, dtype=np.float32).reshape(3, 3, 3) + 1
    out = normalize_volume(raw)
    nz = raw[raw != 0]
    np.testing.assert_allclose(out.numpy(), (raw - nz.mean()) / nz.std(), rtol=1e-5)
    assert torch.equal(normalize_volume(np.zeros((2, 2))), torch.zeros(2, 2))


def test_organ_volumes_api_and_validation() -> None:
    img = torch.arange(2 * 3 * 3, dtype=torch.float32).view(2, 3, 3)
    msk = torch.zeros(2, 3, 3, dtype=torch.long)
    d = OrganVolumes("x", "x", [(img, msk), (img + 100, msk), (img + 200, msk)])
    assert len(d) == 6 and d[3][0].shape == (1, 3, 3) and float(d[3][0][0, 0, 0]) == 109.0
    images, masks = d.take([(2, 0), (0, 1)])
    assert images.shape == (2, 1, 3, 3) and float(images[0, 0, 0, 0]) == 200.0 and float(images[1, 0, 0, 0]) == 9.0
    train, test = d.split(1, seed=0)
    assert train.num_volumes == 2 and test.num_volumes == 1
    firsts = {float(v[0, 0, 0]) for v, _ in train.volumes} | {float(test.volumes[0][0][0, 0, 0])}
    assert firsts == {0.0, 100.0, 200.0}
    assert "volumes=3" in repr(d)
    with pytest.raises(ValueError, match="binary"):
        OrganVolumes("bad", "x", [(img, msk + 2)])
    with pytest.raises(ValueError, match="slice size"):
        OrganVolumes("bad", "x", [(img, msk), (torch.zeros(2, 4, 4), torch.zeros(2, 4, 4))])
    with pytest.raises(ValueError, match="empty"):
        OrganVolumes("bad", "x", [])
    with pytest.raises(ValueError, match="test_volumes"):
        d.split(3)
    with pytest.raises(IndexError, match="out of range"):
        d.take([(0, 5)])
    with pytest.raises(ValueError, match="organ"):
        synthetic_organ("kidney")


def _write_decathlon(root: Path) -> dict[str, np.ndarray]:
    """Two cases, two modalities, labels 0/1/2 (1 only in case 0), 12 x 10 x 6 voxels."""
    (root / "imagesTr").mkdir(parents=True)
    (root / "labelsTr").mkdir()
    rng = np.random.default_rng(0)
    arrays = {}
    training = []
    for case in range(2):
        image = rng.uniform(1, 5, size=(12, 10, 6, 2)).astype(np.float32)
        image[0] = 0.0  # some air
        label = np.zeros((12, 10, 6), dtype=np.uint8)
        label[2:8, 2:6, 1:5] = 2
        if case == 0:
            label[8:12, 6:10, 3] = 1  # label 1 present in one slice only (4 x 4 voxels)
        nib.save(nib.Nifti1Image(image, np.eye(4)), str(root / "imagesTr" / f"case_{case}.nii.gz"))
        nib.save(nib.Nifti1Image(label, np.eye(4)), str(root / "labelsTr" / f"case_{case}.nii.gz"))
        arrays[f"image{case}"], arrays[f"label{case}"] = image, label
        training.append({"image": f"./imagesTr/case_{case}.nii.gz", "label": f"./labelsTr/case_{case}.nii.gz"})
    meta = {
        "name": "Prostate",
        "modality": {"0": "T2", "1": "ADC"},
        "labels": {"0": "background", "1": "PZ", "2": "TZ"},
        "training": training,
    }
    (root / "dataset.json").write_text(json.dumps(meta))
    return arrays


def test_load_decathlon_native_size(tmp_path: Path) -> None:
    arrays = _write_decathlon(tmp_path)
    sets = load_decathlon(tmp_path, image_size=(12, 10), min_pixels=1, progress=False)
    assert [d.name for d in sets] == ["prostate_t2_pz", "prostate_t2_tz", "prostate_adc_pz", "prostate_adc_tz"]
    assert {d.organ for d in sets} == {"prostate"}
    pz, tz = sets[0], sets[1]
    assert pz.num_volumes == 1 and pz.num_slices(0) == 1  # only case 0, only slice z = 3
    assert tz.num_volumes == 2 and tz.num_slices(0) == 4  # z = 1..4 hold label 2
    # images: normalised per volume and modality with non-zero statistics, sliced along z
    vol = arrays["image0"][..., 0]
    nz = vol[vol != 0]
    expected = np.moveaxis((vol - nz.mean()) / nz.std(), 2, 0)[1:5]
    np.testing.assert_allclose(tz.volumes[0][0].numpy(), expected, rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(tz.volumes[0][1].numpy(), (np.moveaxis(arrays["label0"], 2, 0)[1:5] == 2))
    adc = load_decathlon(tmp_path, image_size=(12, 10), modalities=["adc"], labels=["TZ"], progress=False)
    assert [d.name for d in adc] == ["prostate_adc_tz"]


def test_load_decathlon_resized_masks_nearest_and_threshold(tmp_path: Path) -> None:
    arrays = _write_decathlon(tmp_path)
    sets = load_decathlon(tmp_path, image_size=(6, 5), min_pixels=0, progress=False)
    tz = next(d for d in sets if d.name == "prostate_t2_tz")
    assert tz.image_size == (6, 5) and tz.num_slices(0) == 6  # min_pixels=0 keeps every slice
    lab = np.moveaxis(arrays["label1"], 2, 0)
    np.testing.assert_array_equal(tz.volumes[1][1].numpy(), lab[:, 1::2, 1::2] == 2)
    for d in sets:
        for _, m in d.volumes:
            assert set(m.unique().tolist()) <= {0, 1}
    # case 1 has labels {0, 2} only: interpolating the label map would create 1s at the edges
    pz = next(d for d in sets if d.name == "prostate_t2_pz")
    assert pz.num_volumes == 2 and int(pz.volumes[1][1].sum()) == 0
    # a presence threshold drops slices whose resized object is smaller than min_pixels
    strict = load_decathlon(tmp_path, image_size=(6, 5), min_pixels=5, progress=False)
    assert [d.name for d in strict] == ["prostate_t2_tz", "prostate_adc_tz"]  # PZ (4 px) dropped


def test_load_decathlon_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="dataset.json"):
        load_decathlon(tmp_path, progress=False)
    _write_decathlon(tmp_path)
    with pytest.raises(ValueError, match="modalities"):
        load_decathlon(tmp_path, modalities=["flair"], progress=False)
    (tmp_path / "labelsTr" / "case_1.nii.gz").unlink()
    with pytest.raises(FileNotFoundError, match="missing"):
        load_decathlon(tmp_path, progress=False)
