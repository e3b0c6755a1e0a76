"""Tests for sgkit.metrics.image (MAE, SSIM, LPIPS, FID, KID, improved precision/recall, ImageMetrics)."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
import torch
import torchvision
from skimage.metrics import structural_similarity
from sklearn.neighbors import NearestNeighbors

from sgkit.metrics.image import (
    LPIPS,
    ImageMetrics,
    InceptionFeatures,
    extract_features,
    fid,
    fid_from_features,
    frechet_distance,
    kid,
    improved_precision_recall,
    kid_from_features,
    mae,
    prd,
    precision_recall,
    ssim,
)


def _images(b: int, c: int, h: int, w: int, seed: int) -> torch.Tensor:
    return torch.rand(b, c, h, w, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def _random_model(factory, **kwargs) -> torch.nn.Module:
    """Build a torchvision model without its (slow) initialisation and fill it with random values."""
    with torch.device("meta"):
        model = factory(**kwargs)
    model.to_empty(device="cpu")
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, t in model.state_dict().items():
            if name.endswith("running_var"):
                t.fill_(1.0)
            elif name.endswith("running_mean") or name.endswith("num_batches_tracked"):
                t.zero_()
            else:
                t.copy_(torch.randn(t.shape, generator=g) * 0.05)
    return model.eval()


def test_mae_hand_values_and_mask() -> None:
    pred = torch.zeros(2, 1, 2, 2)
    target = torch.tensor([[[[1.0, 0.0], [0.0, 0.0]]], [[[0.5, 0.5], [0.5, 0.5]]]])
    torch.testing.assert_close(mae(pred, target, reduction="none"), torch.tensor([0.25, 0.5]))
    assert float(mae(pred, target)) == pytest.approx(0.375)
    assert float(mae(pred, target, reduction="sum")) == pytest.approx(0.75)
    mask = torch.tensor([[[1, 0], [0, 0]], [[0, 0], [1, 1]]])
    torch.testing.assert_close(mae(pred, target, mask=mask, reduction="none"), torch.tensor([1.0, 0.5]))
    with pytest.raises(ValueError, match="same shape"):
        mae(pred, target[:1])
    with pytest.raises(ValueError, match="reduction"):
        mae(pred, target, reduction="avg")
    with pytest.raises(ValueError, match="mask"):
        mae(pred, target, mask=torch.ones(2, 3, 3))


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"gaussian_weights": True, "use_sample_covariance": False},
        {"win_size": 5, "data_range": 2.0, "k1": 0.02},
    ],
)
def test_ssim_matches_skimage(kwargs: dict) -> None:
    x = _images(3, 3, 23, 19, seed=0)
    y = (x + 0.2 * _images(3, 3, 23, 19, seed=1)).clamp(0, 1)
    ours = ssim(x, y, reduction="none", **{"data_range": 1.0, **kwargs})
    sk_kwargs = {("K1" if k == "k1" else k): v for k, v in kwargs.items()}
    sk_kwargs.setdefault("data_range", 1.0)
    ref = [
        structural_similarity(x[i].numpy(), y[i].numpy(), channel_axis=0, **sk_kwargs)
        for i in range(3)
    ]
    np.testing.assert_allclose(ours.numpy(), ref, rtol=1e-10, atol=1e-12)
    assert float(ssim(x, x)) == pytest.approx(1.0)


def test_ssim_mask_averages_the_ssim_map() -> None:
    x = _images(1, 2, 16, 16, seed=2)
    y = _images(1, 2, 16, 16, seed=3)
    mask = torch.zeros(1, 16, 16)
    mask[0, 4:12, 2:9] = 1
    _, s_full = structural_similarity(x[0].numpy(), y[0].numpy(), channel_axis=0, data_range=1.0, full=True)
    crop = s_full[:, 3:-3, 3:-3]
    m = mask[0, 3:-3, 3:-3].numpy().astype(bool)
    expected = crop[:, m].mean()
    assert float(ssim(x, y, mask=mask)) == pytest.approx(expected, rel=1e-10)
    assert float(ssim(x, y, mask=torch.ones(1, 16, 16))) == pytest.approx(float(ssim(x, y)), rel=1e-12)
    with pytest.raises(ValueError, match="win_size"):
        ssim(x[:, :, :5, :5], y[:, :, :5, :5])
    with pytest.raises(ValueError, match="gaussian_weights"):
        ssim(x, y, gaussian_weights=True, win_size=7)


def _scipy_fid(mu1, s1, mu2, s2) -> float:
    covmean = scipy.linalg.sqrtm(s1 @ s2)
    covmean = np.real(covmean)
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


def test_frechet_distance_matches_scipy_sqrtm() -> None:
    rng = np.random.default_rng(0)
    a = rng.normal(size=(200, 12))
    b = rng.normal(size=(150, 12)) @ rng.normal(size=(12, 12)) * 0.5 + 0.3
    mu1, mu2 = a.mean(0), b.mean(0)
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    ref = _scipy_fid(mu1, s1, mu2, s2)
    ours = frechet_distance(torch.from_numpy(mu1), torch.from_numpy(s1), torch.from_numpy(mu2), torch.from_numpy(s2))
    assert ours == pytest.approx(ref, rel=1e-8)
    assert fid_from_features(torch.from_numpy(a), torch.from_numpy(b)) == pytest.approx(ref, rel=1e-8)
    # 1-D hand value: (m1 - m2)^2 + (s1 - s2)^2 for standard deviations s1, s2
    d = frechet_distance(torch.tensor([1.0]), torch.tensor([[4.0]]), torch.tensor([3.0]), torch.tensor([[1.0]]))
    assert d == pytest.approx(4.0 + 1.0)
    assert fid_from_features(torch.from_numpy(a), torch.from_numpy(a)) == pytest.approx(0.0, abs=1e-8)
    with pytest.raises(ValueError, match="features"):
        fid_from_features(torch.zeros(5, 3), torch.zeros(5, 4))


def _loop_kid(x: np.ndarray, y: np.ndarray) -> float:
    d = x.shape[1]
    k = lambda a, b: (a @ b / d + 1.0) ** 3  # noqa: E731
    m, n = len(x), len(y)
    sxx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    syy = sum(k(y[i], y[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    sxy = sum(k(x[i], y[j]) for i in range(m) for j in range(n)) / (m * n)
    return sxx + syy - 2 * sxy


def test_kid_matches_loop_and_separates() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(12, 5))
    y = rng.normal(size=(12, 5)) + 0.5
    mean, std = kid_from_features(torch.from_numpy(x), torch.from_numpy(y), subset_size=50, num_subsets=3)
    assert mean == pytest.approx(_loop_kid(x, y), rel=1e-9)
    assert std == pytest.approx(0.0, abs=1e-12)  # every subset is the full (permuted) set
    a = torch.randn(300, 8, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    b = torch.randn(300, 8, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    same, _ = kid_from_features(a, b, subset_size=100, num_subsets=20, seed=3)
    shifted, _ = kid_from_features(a, b + 1.0, subset_size=100, num_subsets=20, seed=3)
    assert abs(same) < 0.02 < shifted
    assert kid_from_features(a, b, subset_size=100, num_subsets=5, seed=7) == kid_from_features(
        a, b, subset_size=100, num_subsets=5, seed=7
    )


def test_precision_recall_hand_example_and_sklearn() -> None:
    real = torch.tensor([[0.0], [1.0], [2.0], [3.0]])
    fake = torch.tensor([[0.5], [2.9], [10.0], [11.0]])
    # k=1: real radii = 1 (all); fake radii: 0.5->2.4, 2.9->2.4, 10->1, 11->1
    p, r = improved_precision_recall(real, fake, k=1)
    assert p == pytest.approx(0.5)  # 0.5 and 2.9 are inside real balls
    assert r == pytest.approx(1.0)  # every real point is within 2.4 of 0.5 or 2.9
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=(60, 4)), rng.normal(size=(50, 4)) * 1.5 + 0.3
    nn_a = NearestNeighbors(n_neighbors=4).fit(a)
    nn_b = NearestNeighbors(n_neighbors=4).fit(b)
    rad_a, rad_b = nn_a.kneighbors(a)[0][:, 3], nn_b.kneighbors(b)[0][:, 3]
    dist = np.linalg.norm(b[:, None] - a[None], axis=-1)
    ref_p = (dist <= rad_a[None]).any(1).mean()
    ref_r = (dist.T <= rad_b[None]).any(1).mean()
    p, r = improved_precision_recall(torch.from_numpy(a), torch.from_numpy(b), k=3, batch_size=7)
    assert (p, r) == (pytest.approx(ref_p), pytest.approx(ref_r))
    with pytest.warns(FutureWarning, match="improved_precision_recall.*sgkit.metrics.prd"):
        assert precision_recall(torch.from_numpy(a), torch.from_numpy(b), k=3) == (p, r)


def test_lpips_needs_local_weights_and_computes(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="never downloads"):
        LPIPS("alex")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        LPIPS("alex", backbone_weights=tmp_path / "missing.pth", linear_weights=tmp_path / "x.pth")
    alex = _random_model(torchvision.models.alexnet)
    torch.save({f"features.{k}": v for k, v in alex.features.state_dict().items()}, tmp_path / "a.pth")
    widths = (64, 192, 384, 256, 256)
    lin = {f"lin{i}.model.1.weight": torch.rand(1, c, 1, 1) for i, c in enumerate(widths)}
    torch.save(lin, tmp_path / "lin.pth")
    metric = LPIPS("alex", backbone_weights=tmp_path / "a.pth", linear_weights=tmp_path / "lin.pth")
    x = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    y = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(2))
    d = metric(x, y)
    assert d.shape == (2,) and (d > 0).all()
    torch.testing.assert_close(metric(y, x), d)
    torch.testing.assert_close(metric(x, x), torch.zeros(2))
    # independent computation with the stock torchvision module and explicit stage boundaries
    feats = alex.features.eval()
    shift = torch.tensor([-0.030, -0.088, -0.188]).view(1, 3, 1, 1)
    scale = torch.tensor([0.458, 0.448, 0.450]).view(1, 3, 1, 1)
    with torch.no_grad():
        ref = torch.zeros(2)
        hx, hy = ((x * 2 - 1) - shift) / scale, ((y * 2 - 1) - shift) / scale
        bounds = [(0, 2), (2, 5), (5, 8), (8, 10), (10, 12)]
        for i, (s, e) in enumerate(bounds):
            hx, hy = feats[s:e](hx), feats[s:e](hy)
            nx = hx / (hx.norm(dim=1, keepdim=True) + 1e-10)
            ny = hy / (hy.norm(dim=1, keepdim=True) + 1e-10)
            ref += ((nx - ny) ** 2 * lin[f"lin{i}.model.1.weight"]).sum(1).mean((1, 2))
    torch.testing.assert_close(d, ref, rtol=1e-5, atol=1e-6)


def test_inception_features_require_local_file(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="never downloads"):
        InceptionFeatures(None)  # type: ignore[arg-type]
    with pytest.raises(FileNotFoundError, match="does not exist"):
        InceptionFeatures(tmp_path / "inception.pth")


@pytest.mark.slow
def test_inception_features_from_local_state_dict(tmp_path) -> None:
    model = _random_model(torchvision.models.inception_v3, aux_logits=True, init_weights=False)
    torch.save(model.state_dict(), tmp_path / "inception.pth")
    ext = InceptionFeatures(tmp_path / "inception.pth").train()
    assert not ext.training and not ext.model.training
    images = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(0))  # one: slow net
    # the features are the 2048-d average pool of the loaded network (checked through a hook)
    pooled = []
    hook = ext.model.avgpool.register_forward_hook(lambda m, i, o: pooled.append(o.flatten(1)))
    feats = extract_features(images, ext, batch_size=1)
    hook.remove()
    assert feats.shape == (1, 2048) and feats.dtype == torch.float64
    assert len(pooled) == 1
    torch.testing.assert_close(feats.float(), torch.cat(pooled))


def test_image_metrics_accumulates_batches() -> None:
    pred = _images(10, 3, 12, 12, seed=4)
    target = _images(10, 3, 12, 12, seed=5)

    def extractor(images: torch.Tensor) -> torch.Tensor:
        return torch.cat([images.mean((2, 3)), images.std((2, 3))], dim=1)

    acc = ImageMetrics(extractor, kid_subset_size=6, kid_subsets=4, k=2, prd_clusters=3, prd_runs=2)
    with pytest.raises(RuntimeError, match="before any update"):
        acc.compute()
    acc.update(pred[:4], target[:4])
    acc.update(pred[4:], target[4:])
    out = acc.compute()
    assert out["mae"] == pytest.approx(float(mae(pred, target)))
    assert out["ssim"] == pytest.approx(float(ssim(pred, target)))
    fr, ff = extractor(target), extractor(pred)
    assert out["fid"] == pytest.approx(fid_from_features(fr, ff))
    kid = kid_from_features(fr, ff, subset_size=6, num_subsets=4, seed=0)
    assert (out["kid_mean"], out["kid_std"]) == (pytest.approx(kid[0]), pytest.approx(kid[1]))
    assert (out["improved_precision"], out["improved_recall"]) == tuple(
        pytest.approx(v) for v in improved_precision_recall(fr, ff, k=2)
    )
    ref_prd = prd(fr, ff, num_clusters=3, num_runs=2, seed=0)
    assert (out["prd_f_1_8"], out["prd_f_8"]) == (pytest.approx(ref_prd.f_1_8), pytest.approx(ref_prd.f_8))
    assert "precision" not in out and "recall" not in out
    assert "lpips" not in out
    assert repr(acc) == "ImageMetrics(feature_extractor=True, lpips=False, images=10)"
    acc.reset()
    acc.update(pred[:1], target[:1])
    assert set(acc.compute()) == {"mae", "ssim"}  # one image: no distribution metrics


def test_fid_kid_on_images_need_an_extractor() -> None:
    real = _images(6, 3, 8, 8, seed=6)
    fake = _images(6, 3, 8, 8, seed=7) * 0.5

    def extractor(images: torch.Tensor) -> torch.Tensor:
        return images.mean((2, 3))

    with pytest.raises(ValueError, match="feature extractor"):
        fid(real, fake)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        ImageMetrics(inception_weights="/nonexistent/inception.pth")
    feats_r, feats_f = extractor(real), extractor(fake)
    assert fid(real, fake, feature_extractor=extractor, batch_size=4) == pytest.approx(
        fid_from_features(feats_r, feats_f)
    )
    assert fid(list(real.split(5)), list(fake.split(5)), feature_extractor=extractor) == pytest.approx(
        fid_from_features(feats_r, feats_f)
    )
    got = kid(real, fake, feature_extractor=extractor, subset_size=4, num_subsets=3, seed=1)
    assert got == kid_from_features(feats_r, feats_f, subset_size=4, num_subsets=3, seed=1)


@pytest.mark.parametrize("win_size", [0, -3, 4, 2.0, True])
def test_ssim_rejects_bad_win_size(win_size) -> None:
    x = _images(1, 3, 16, 16, seed=4)
    with pytest.raises(ValueError, match=rf"win_size must be a positive odd int, got win_size={win_size!r}"):
        ssim(x, x, win_size=win_size)


def test_ssim_win_size_one_needs_population_covariance() -> None:
    x = _images(2, 3, 16, 16, seed=5)
    y = _images(2, 3, 16, 16, seed=6)
    # scikit-image divides by zero here (N - 1 = 0); we raise a clear error instead.
    with pytest.raises(ZeroDivisionError):
        structural_similarity(x[0].numpy(), y[0].numpy(), channel_axis=0, data_range=1.0, win_size=1)
    with pytest.raises(ValueError, match=r"win_size must be >= 3 with use_sample_covariance=True.*win_size=1"):
        ssim(x, y, win_size=1)
    ours = ssim(x, y, win_size=1, use_sample_covariance=False, reduction="none")
    assert torch.isfinite(ours).all()
    ref = [
        structural_similarity(x[i].numpy(), y[i].numpy(), channel_axis=0, data_range=1.0,
                              win_size=1, use_sample_covariance=False)
        for i in range(2)
    ]
    np.testing.assert_allclose(ours.numpy(), ref, rtol=1e-10, atol=1e-12)
