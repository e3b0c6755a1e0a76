"""Bad files and values given to the medkit loaders: a clear error naming the file, never NaN data."""
import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.io import savemat

from medkit.datasets import UMNOCT, load_decathlon, load_duke_subject, normalize_volume


def _duke(path: Path, *, width=12, layer_width=None, nan_pixel=False, fluid_shape=None) -> None:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (20, width, 2)).astype(np.float64)
    if nan_pixel:
        images[3, 4, 1] = np.nan
    lw = width if layer_width is None else layer_width
    layers = np.full((8, lw, 2), np.nan)
    for c in range(lw):
        layers[:, c, 1] = np.arange(4, 20, 2)
    fluid = np.zeros(fluid_shape or (20, width, 2))
    savemat(path, {"images": images, "manualLayers1": layers, "manualFluid1": fluid})


def test_duke_layer_width_differs_from_image_width(tmp_path):
    path = tmp_path / "Subject_01.mat"
    _duke(path, width=12, layer_width=10)
    with pytest.raises(ValueError, match=r"Subject_01\.mat.*manualLayers1.*width 10.*width 12"):
        load_duke_subject(path)


def test_duke_fluid_shape_mismatch(tmp_path):
    path = tmp_path / "Subject_02.mat"
    _duke(path, fluid_shape=(19, 12, 2))
    with pytest.raises(ValueError, match=r"Subject_02\.mat.*manualFluid1"):
        load_duke_subject(path)


def test_duke_nan_image_rejected(tmp_path):
    path = tmp_path / "Subject_03.mat"
    _duke(path, nan_pixel=True)
    with pytest.raises(ValueError, match=r"Subject_03\.mat.*1 non-finite pixel"):
        load_duke_subject(path)


def test_duke_valid_file_still_loads(tmp_path):
    path = tmp_path / "Subject_04.mat"
    _duke(path)
    img, lab = load_duke_subject(path)
    assert img.shape == (1, 20, 12) and np.isfinite(img).all() and lab.max() <= 7


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.sampled_from(["empty", "truncate", "garbage", "header"]), st.integers(0, 2**16))
def test_corrupt_mat_files_name_the_path(tmp_path, kind, seed):
    # byte flips inside the variable data are left out: scipy.io.loadmat can crash the interpreter
    # (segmentation fault in its C reader) on some of them, which no Python code can catch
    good = tmp_path / "good.mat"
    _duke(good)
    raw = good.read_bytes()
    rng = np.random.default_rng(seed)
    if kind == "empty":
        data = b""
    elif kind == "truncate":
        data = raw[: int(rng.integers(1, len(raw) - 1))]
    elif kind == "garbage":
        data = rng.integers(0, 256, 300, dtype=np.uint8).tobytes()
    else:  # the 128-byte MAT-file header (text, version, endianness)
        data = bytearray(raw)
        for i in rng.integers(0, 128, 8):
            data[i] ^= 0xFF
        data = bytes(data)
    path = tmp_path / f"Subject_{kind}.mat"
    path.write_bytes(data)
    try:
        img, lab = load_duke_subject(path)
    except (ValueError, KeyError) as err:  # a clear error naming the file
        assert str(path) in str(err)
    else:  # a flipped header byte can leave a readable file: then the data are valid
        assert np.isfinite(img).all() and lab.min() >= 0 and lab.max() <= 8


def test_corrupt_umn_file(tmp_path):
    path = tmp_path / "UMNDataset.mat"
    path.write_bytes(b"MATLAB 5.0 MAT-file, not really")
    with pytest.raises(ValueError, match=r"cannot read UMN file .*UMNDataset\.mat"):
        UMNOCT(path, "train")


def test_umn_nan_image_rejected(tmp_path):
    subjects = np.empty((1, 29), dtype=object)
    masks = np.empty((1, 29), dtype=object)
    for s in range(29):
        subjects[0, s] = np.full((8, 6, 1), 100.0)
        masks[0, s] = np.zeros((8, 6, 1))
    subjects[0, 2][1, 1, 0] = np.nan
    path = tmp_path / "UMNDataset.mat"
    savemat(path, {"AllSubjects": subjects, "ManualFluid1": masks})
    with pytest.raises(ValueError, match=r"UMNDataset\.mat.*subject 2.*non-finite"):
        UMNOCT(path, "train", size=None)


def test_normalize_volume_rejects_a_nan_voxel():
    v = np.ones((3, 4, 4), dtype=np.float32)
    v[1, 2, 3] = np.nan
    with pytest.raises(ValueError, match=r"1 non-finite voxel.*index \(1, 2, 3\)"):
        normalize_volume(v)
    v[1, 2, 3] = np.inf
    with pytest.raises(ValueError, match="non-finite"):
        normalize_volume(v)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(-1e6, 1e6, allow_nan=False, width=32), min_size=1, max_size=30))
def test_normalize_volume_finite_in_finite_out(values):
    out = normalize_volume(np.asarray(values, dtype=np.float32))
    assert torch.isfinite(out).all()
    v = torch.as_tensor(values, dtype=torch.float64)
    nz = out[v != 0].double()
    std = float(v[v != 0].std(unbiased=False)) if nz.numel() > 1 else 0.0
    if std > 1e-3:  # standardised non-zero voxels: mean 0 up to float32 rounding of x - mean
        assert abs(float(nz.mean())) < 1e-5 * (1 + float(v.abs().max()) / std)


def _decathlon(root: Path, *, nan=False, label_value=1.0) -> None:
    (root / "imagesTr").mkdir(parents=True)
    (root / "labelsTr").mkdir()
    image = np.random.default_rng(0).uniform(1, 5, size=(6, 5, 3)).astype(np.float32)
    if nan:
        image[2, 2, 1] = np.nan
    label = np.zeros((6, 5, 3), dtype=np.float32)
    label[1:4, 1:4, 1] = label_value
    nib.save(nib.Nifti1Image(image, np.eye(4)), str(root / "imagesTr" / "c0.nii.gz"))
    nib.save(nib.Nifti1Image(label, np.eye(4)), str(root / "labelsTr" / "c0.nii.gz"))
    meta = {
        "name": "Spleen",
        "modality": {"0": "CT"},
        "labels": {"0": "background", "1": "spleen"},
        "training": [{"image": "./imagesTr/c0.nii.gz", "label": "./labelsTr/c0.nii.gz"}],
    }
    (root / "dataset.json").write_text(json.dumps(meta))


def test_decathlon_nan_voxel_names_the_file(tmp_path):
    _decathlon(tmp_path, nan=True)
    with pytest.raises(ValueError, match=r"imagesTr/c0\.nii\.gz.*1 non-finite voxel"):
        load_decathlon(tmp_path, image_size=(6, 5), progress=False)


def test_decathlon_fractional_label_names_the_file(tmp_path):
    _decathlon(tmp_path, label_value=0.6)
    with pytest.raises(ValueError, match=r"labelsTr/c0\.nii\.gz.*whole numbers"):
        load_decathlon(tmp_path, image_size=(6, 5), progress=False)


@pytest.mark.parametrize("kind", ["empty", "truncate", "garbage"])
def test_corrupt_nifti_names_the_path(tmp_path, kind):
    _decathlon(tmp_path)
    path = tmp_path / "imagesTr" / "c0.nii.gz"
    raw = path.read_bytes()
    path.write_bytes({"empty": b"", "truncate": raw[: len(raw) // 2], "garbage": b"\x1f\x8b" + bytes(200)}[kind])
    with pytest.raises(ValueError, match=r"cannot read NIfTI image .*imagesTr/c0\.nii\.gz"):
        load_decathlon(tmp_path, image_size=(6, 5), progress=False)


@pytest.mark.parametrize("text", ["", "{not json", "[1, 2]", "\x00\x01"])
def test_corrupt_dataset_json_names_the_path(tmp_path, text):
    (tmp_path / "dataset.json").write_text(text)
    with pytest.raises(ValueError, match=r"dataset\.json"):
        load_decathlon(tmp_path, progress=False)
