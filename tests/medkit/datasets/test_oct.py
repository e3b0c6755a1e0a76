import numpy as np
import pytest
import torch
from scipy.io import savemat

from medkit.datasets import OCT_CLASSES, DukeOCT, SyntheticOCT, UMNOCT, load_duke_subject, resize_pair, synthetic_oct
from medkit.datasets.oct import duke_subject_to_labels


def test_synthetic_seeded_shapes_and_classes():
    a = synthetic_oct(6, height=32, width=48, seed=3)
    b = synthetic_oct(6, height=32, width=48, seed=3)
    c = synthetic_oct(6, height=32, width=48, seed=4)
    for u, v in zip(a, b):
        assert torch.equal(u, v)
    assert not torch.equal(a[0], c[0])
    img, lab, lay = a
    assert img.shape == (6, 1, 32, 48) and lab.shape == (6, 32, 48)
    assert img.min() >= 0 and img.max() <= 1
    assert lab.min() >= 0 and lab.max() <= 8
    # every column has the 7 layers in order from top to bottom
    col = lay[0, :, 10]
    seq = torch.unique_consecutive(col[col > 0])
    assert seq.tolist() == list(range(1, 8))
    # fluid only replaces layer pixels (INL..ONL-ISM) and is absent from layer_labels
    fl = lab == 8
    assert ((lay[fl] >= 3) & (lay[fl] <= 5)).all()
    assert torch.equal(lab[~fl], lay[~fl])


def test_synthetic_fluid_probability_and_dataset():
    _, lab, _ = synthetic_oct(5, height=32, width=48, seed=0, fluid_probability=0.0)
    assert not (lab == 8).any()
    ds = SyntheticOCT(20, height=32, width=64, seed=1, fluid_probability=1.0)
    assert len(ds) == 20 and ds.class_names == OCT_CLASSES
    x, y = ds[0]
    assert x.shape == (1, 32, 64) and y.dtype == torch.long
    assert ds.fluid_masks.flatten(1).any(1).float().mean() > 0.5


def test_synthetic_layers_differ_in_frequency_content():
    # layer-specific speckle: ONL-ISM (sigma 0.6) has more high-frequency energy than OPL (2.2)
    img, _, lay = synthetic_oct(20, height=64, width=128, seed=0, noise=0.0, fluid_probability=0.0)
    dx = (img[:, 0, :, 1:] - img[:, 0, :, :-1]).abs()
    same = lay[:, :, 1:] == lay[:, :, :-1]

    def rough(k):
        sel = same & (lay[:, :, 1:] == k)
        m = img[:, 0, :, 1:][sel].mean()
        return (dx[sel] / m).mean()

    assert rough(5) > rough(4)


def test_synthetic_bad_args():
    with pytest.raises(ValueError, match="height and width"):
        synthetic_oct(1, height=8)
    with pytest.raises(ValueError, match="fluid_probability"):
        synthetic_oct(1, fluid_probability=2.0)


def test_resize_pair_nearest_for_labels():
    img = torch.rand(2, 1, 10, 12)
    lab = torch.randint(0, 9, (2, 10, 12))
    ri, rl = resize_pair(img, lab, (23, 31))
    assert ri.shape == (2, 1, 23, 31) and rl.shape == (2, 23, 31) and rl.dtype == torch.long
    # nearest: only original label values, and per-image label sets unchanged or reduced
    assert set(rl.unique().tolist()) <= set(lab.unique().tolist())
    # a two-class map never gets intermediate values
    two = torch.zeros(1, 10, 12, dtype=torch.long)
    two[:, :, 6:] = 8
    _, r2 = resize_pair(img[:1], two, (7, 17))
    assert set(r2.unique().tolist()) == {0, 8}


def _duke_mat(path, seed, height=20, width=12, scans=3):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (height, width, scans)).astype(np.uint8)
    layers = np.full((8, width, scans), np.nan)
    # scan 1 annotated in columns 2..9 (1-based MATLAB rows 4, 6, ..., 18)
    for c in range(2, 10):
        layers[:, c, 1] = np.arange(4, 20, 2)
    layers[3, 5, 1] = 7  # out-of-order boundary (below 8 at index 2 -> fixed to 8)
    fluid = np.full((height, width, scans), np.nan)
    fluid[9:11, 4:6, 1] = 1
    savemat(path, {"images": images, "manualLayers1": layers, "manualFluid1": fluid})
    return images, layers, fluid


def test_duke_labels_hand():
    layers = np.full((8, 1, 1), np.nan)
    layers[:, 0, 0] = [2, 3, 5, 5, 6, 7, 8, 9]  # 1-based rows
    fluid = np.zeros((10, 1, 1))
    fluid[5, 0, 0] = 3
    lab = duke_subject_to_labels(layers, fluid, 10)[0, :, 0]
    # rows (0-based): 0 above ILM; boundary k at row b_k - 1; layer 3 is empty (5, 5)
    assert lab.tolist() == [0, 1, 2, 2, 4, 8, 6, 7, 0, 0]


def test_duke_loader_fixture(tmp_path):
    images, _, _ = _duke_mat(tmp_path / "Subject_01.mat", 0)
    img, lab = load_duke_subject(tmp_path / "Subject_01.mat")
    assert img.shape == (1, 20, 8) and lab.shape == (1, 20, 8)  # scan 1, columns 2..9
    np.testing.assert_allclose(img[0], images[:, 2:10, 1] / 255.0, rtol=1e-6)
    col = lab[0, :, 0]
    assert col.tolist() == [0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 0, 0, 0]
    assert (lab[0, 9:11, 2:4] == 8).all() and (lab == 8).sum() == 4
    for s in range(2, 11):
        _duke_mat(tmp_path / f"Subject_{s:02d}.mat", s)
    tr = DukeOCT(tmp_path, "train", size=(16, 16))
    va = DukeOCT(tmp_path, "val", size=None)
    te = DukeOCT(tmp_path, "test", size=(16, 16))
    assert len(tr) == 6 and len(va) == 2 and len(te) == 2
    x, y = tr[0]
    assert x.shape == (1, 16, 16) and y.shape == (16, 16)
    assert set(tr.labels.unique().tolist()) <= set(range(9)) and 8 in tr.labels.unique().tolist()
    assert torch.equal(va.labels[0], torch.from_numpy(lab[0]))


def test_duke_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="Subject_01.mat"):
        DukeOCT(tmp_path, "train")
    with pytest.raises(ValueError, match="split"):
        DukeOCT(tmp_path, "dev")


def test_umn_loader_fixture(tmp_path):
    rng = np.random.default_rng(0)
    subjects = np.empty((1, 30), dtype=object)
    masks = np.empty((1, 30), dtype=object)
    for s in range(30):
        subjects[0, s] = rng.integers(0, 256, (12, 10, 2)).astype(np.uint8)
        m = np.zeros((12, 10, 2))
        m[3:5, 2:6, 0] = s + 1  # fluid in the first B-scan
        masks[0, s] = m
    path = tmp_path / "UMNDataset.mat"
    savemat(path, {"AllSubjects": subjects, "ManualFluid1": masks})
    tr = UMNOCT(path, "train", size=None)
    va = UMNOCT(path, "val", size=(24, 20))
    te = UMNOCT(path, "test", size=None)
    assert len(tr) == 19 * 2 and len(va) == 5 * 2 and len(te) == 5 * 2
    torch.testing.assert_close(tr.images[0, 0], torch.from_numpy(subjects[0, 0][:, :, 0] / 255.0).float())
    assert tr.labels[0].sum() == 8 and tr.labels[1].sum() == 0
    assert set(va.labels.unique().tolist()) == {0, 1}
    assert va.labels[0].sum() == 4 * 8  # 2x4 fluid block upsampled x2 nearest
    assert torch.equal(te.images[0, 0], torch.from_numpy(subjects[0, 24][:, :, 0] / 255.0).float())


def test_synthetic_oct_texture_fluid_model():
    img, lab, _ = synthetic_oct(12, height=64, width=128, seed=0, fluid_probability=1.0)
    x = img[:, 0]
    fluid, onl, inl = lab == 8, lab == 5, lab == 3
    assert fluid.any()
    # mean reflectivity of fluid lies near the INL/ONL range it displaces ...
    assert abs(float(x[fluid].mean()) - float(x[onl].mean())) < 0.1
    # ... but it is far smoother (no speckle): much lower pixel spread relative to the mean
    cv = lambda m: float(x[m].std() / x[m].mean())  # noqa: E731
    assert cv(fluid) < 0.5 * min(cv(onl), cv(inl))
    # the earlier "dark" model: much darker than every layer; fluid-free scans are identical
    img_d, lab_d, _ = synthetic_oct(12, height=64, width=128, seed=0, fluid_probability=1.0, fluid_model="dark")
    assert torch.equal(lab, lab_d)
    assert float(img_d[:, 0][lab_d == 8].mean()) < 0.5 * float(x[onl].mean())
    a = synthetic_oct(3, height=32, width=48, seed=5, fluid_probability=0.0)
    b = synthetic_oct(3, height=32, width=48, seed=5, fluid_probability=0.0, fluid_model="dark")
    assert torch.equal(a[0], b[0])
    with pytest.raises(ValueError, match="fluid_model"):
        synthetic_oct(1, fluid_model="bright")


def test_synthetic_oct_turbid_fluid_model():
    img, lab, _ = synthetic_oct(12, height=64, width=128, seed=0, fluid_probability=1.0, fluid_model="turbid")
    x = img[:, 0]
    fluid, onl = lab == 8, lab == 5
    assert fluid.any()
    # slightly darker than the ONL on average, but speckled like tissue: per pixel the
    # difference of the means is well below one standard deviation
    diff = float(x[onl].mean() - x[fluid].mean())
    assert 0.0 < diff < 0.5 * float(x[fluid].std())
    cv = lambda m: float(x[m].std() / x[m].mean())  # noqa: E731
    assert cv(fluid) > 0.7 * cv(onl)
    # same geometry as the other models; fluid-free scans identical
    _, lab_t, _ = synthetic_oct(12, height=64, width=128, seed=0, fluid_probability=1.0)
    assert torch.equal(lab, lab_t)
    a = synthetic_oct(3, height=32, width=48, seed=5, fluid_probability=0.0)
    b = synthetic_oct(3, height=32, width=48, seed=5, fluid_probability=0.0, fluid_model="turbid")
    assert torch.equal(a[0], b[0])


@pytest.mark.parametrize("fluid_model", ["texture", "turbid"])
def test_synthetic_oct_vessel_shadows(fluid_model):
    kw = dict(height=64, width=128, seed=5, fluid_model=fluid_model)
    x0, y0, l0 = synthetic_oct(8, **kw)
    x1, y1, l1 = synthetic_oct(8, shadows=3.0, **kw)
    # labels are unchanged: shadowed tissue keeps its layer, fluid under a shadow stays fluid
    assert torch.equal(y0, y1) and torch.equal(l0, l1)
    assert (y1 == 8).any()
    # same geometry and speckle: only the shadowed columns change
    changed = (x0 != x1).any(dim=2)[:, 0]  # [N, W]
    assert changed.any() and changed.float().mean() < 0.5
    # the vessel lies inside the NFL-IPL: the vitreous and the ILM above it are not shadowed
    vitreous = torch.cumsum(l0 > 0, dim=1) == 0
    above = vitreous | (l0 == 1)
    assert torch.equal(x0[:, 0][above], x1[:, 0][above])
    # below the vessel depth (INL .. OS-RPE) the shadowed columns are darker on average
    deep = (l0 >= 3) & changed[:, None, :]
    assert x1[:, 0][deep].mean() < 0.8 * x0[:, 0][deep].mean()
    # ... and keep a speckle texture (relative spread comparable to unshadowed tissue)
    rel0 = x0[:, 0][deep].std() / x0[:, 0][deep].mean()
    rel1 = x1[:, 0][deep].std() / x1[:, 0][deep].mean()
    assert 0.7 * rel0 < rel1 < 1.5 * rel0


def test_synthetic_oct_shadows_default_unchanged_and_seeded():
    kw = dict(height=32, width=64, seed=2)
    a = synthetic_oct(4, **kw)
    for b in (synthetic_oct(4, shadows=0.0, **kw), synthetic_oct(4, shadows=0, **kw)):
        for u, v in zip(a, b):
            assert torch.equal(u, v)
    s1 = synthetic_oct(4, shadows=2.0, **kw)
    s2 = synthetic_oct(4, shadows=2.0, **kw)
    assert torch.equal(s1[0], s2[0])
    ds = SyntheticOCT(4, shadows=2.0, **kw)
    assert torch.equal(ds.images, s1[0]) and torch.equal(ds.labels, s1[1])


@pytest.mark.parametrize("bad", [-1.0, float("nan"), float("inf"), True, "2"])
def test_synthetic_oct_bad_shadows(bad):
    with pytest.raises(ValueError, match=r"shadows must be .*got"):
        synthetic_oct(1, height=32, width=48, shadows=bad)
