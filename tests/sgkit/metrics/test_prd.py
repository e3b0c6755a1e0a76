"""PRD (Sajjadi et al. 2018): hand-computed curves, identical / disjoint sets, an independent slow
implementation, and the published procedure end to end on features."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from sgkit.metrics import PRDResult, prd, prd_curve, prd_f_beta


def slow_prd(q: list[float], p: list[float], num_angles: int = 1001, eps: float = 1e-10) -> tuple[list, list]:
    """The PRD definition written out point by point (no numpy broadcasting)."""
    prec, rec = [], []
    for i in range(num_angles):
        angle = eps + i * (math.pi / 2 - 2 * eps) / (num_angles - 1)
        lam = math.tan(angle)
        a = sum(min(lam * pi, qi) for pi, qi in zip(p, q))
        prec.append(min(a, 1.0))
        rec.append(min(a / lam, 1.0))
    return prec, rec


def slow_f(prec: list, rec: list, beta: float) -> float:
    best = 0.0
    for a, r in zip(prec, rec):
        if a > 0 or r > 0:
            best = max(best, (1 + beta**2) * a * r / (beta**2 * a + r))
    return best


def test_two_cluster_case_by_hand() -> None:
    """Reference mass split over 2 clusters, generated all in the first: recall is capped at 1/2.

    alpha(l) = min(l / 2, 1), beta(l) = alpha(l) / l; the best points are at l = 2: (1, 1/2), so
    F_8 = 65 * 0.5 / (64 + 0.5) = 0.50388 and F_1/8 = (65/64) * 0.5 / (1/64 + 0.5) = 0.98485.
    """
    q, p = np.array([1.0, 0.0]), np.array([0.5, 0.5])
    precision, recall = prd_curve(q, p, num_angles=1001)
    lam = np.tan(np.linspace(1e-10, np.pi / 2 - 1e-10, 1001))
    np.testing.assert_allclose(precision, np.minimum(lam / 2, 1.0), rtol=1e-12)
    f8, f18 = prd_f_beta(precision, recall, 8)
    assert f8 == pytest.approx(65 * 0.5 / 64.5, abs=2e-3)
    assert f18 == pytest.approx((65 / 64) * 0.5 / (1 / 64 + 0.5), abs=2e-3)
    assert f8 <= 65 * 0.5 / 64.5 + 1e-12 and f18 <= (65 / 64) * 0.5 / (1 / 64 + 0.5) + 1e-12


def test_identical_and_disjoint_histograms() -> None:
    h = np.array([0.2, 0.3, 0.5, 0.0])
    assert prd_f_beta(*prd_curve(h, h), 8) == (pytest.approx(1.0, abs=1e-9), pytest.approx(1.0, abs=1e-9))
    a, b = np.array([0.5, 0.5, 0.0, 0.0]), np.array([0.0, 0.0, 0.25, 0.75])
    precision, recall = prd_curve(a, b)
    assert precision.max() == 0.0 and recall.max() == 0.0
    assert prd_f_beta(precision, recall, 8) == (0.0, 0.0)


def test_matches_independent_slow_implementation() -> None:
    rng = np.random.default_rng(0)
    for _ in range(5):
        q, p = rng.dirichlet(np.ones(6) * 0.7), rng.dirichlet(np.ones(6) * 0.7)
        precision, recall = prd_curve(q, p, num_angles=201)
        sp, sr = slow_prd(q.tolist(), p.tolist(), num_angles=201)
        np.testing.assert_allclose(precision, sp, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(recall, sr, rtol=1e-9, atol=1e-12)
        f8, f18 = prd_f_beta(precision, recall, 8)
        assert f8 == pytest.approx(slow_f(sp, sr, 8)) and f18 == pytest.approx(slow_f(sp, sr, 1 / 8))


def _blobs(centres: list[tuple[float, float]], n_each: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.cat([torch.tensor(c) + 0.05 * torch.randn(n_each, 2, generator=g) for c in centres])


def test_procedure_on_features_two_clusters_identical_disjoint() -> None:
    real = _blobs([(0.0, 0.0), (10.0, 10.0)], 50, seed=0)
    fake = _blobs([(0.0, 0.0)], 100, seed=1)  # only the first mode of the real data
    res = prd(real, fake, num_clusters=2, num_runs=3)
    assert isinstance(res, PRDResult) and res.precision.shape == (1001,)
    assert res.f_8 == pytest.approx(65 * 0.5 / 64.5, abs=2e-3)  # recall: half of the modes missed
    assert res.f_1_8 == pytest.approx((65 / 64) * 0.5 / (1 / 64 + 0.5), abs=2e-3)
    same = prd(real, _blobs([(0.0, 0.0), (10.0, 10.0)], 50, seed=2), num_clusters=2, num_runs=2)
    assert same.f_8 == pytest.approx(1.0, abs=1e-6) and same.f_1_8 == pytest.approx(1.0, abs=1e-6)
    apart = prd(real, _blobs([(50.0, -50.0), (60.0, -40.0)], 50, seed=3), num_clusters=4, num_runs=2)
    assert apart.f_8 == 0.0 and apart.f_1_8 == 0.0
    again = prd(real, fake, num_clusters=2, num_runs=3)
    assert (again.f_8, again.f_1_8) == (res.f_8, res.f_1_8)  # seeded


def test_bad_inputs_are_refused() -> None:
    real, fake = _blobs([(0.0, 0.0)], 30, seed=0), _blobs([(0.0, 0.0)], 20, seed=1)
    with pytest.raises(ValueError, match="same number of samples.*30 and 20"):
        prd(real, fake)
    with pytest.raises(ValueError, match="num_clusters=100 exceeds the 60 samples"):
        prd(real, real, num_clusters=100)
    with pytest.raises(ValueError, match="eval_dist: expected a non-empty histogram"):
        prd_curve(np.array([0.5, 0.6]), np.array([0.5, 0.5]))
    with pytest.raises(ValueError, match="same bins"):
        prd_curve(np.array([1.0]), np.array([0.5, 0.5]))
    bad = real.clone()
    bad[0, 0] = float("nan")
    with pytest.raises(ValueError, match="finite"):
        prd(bad, real)
