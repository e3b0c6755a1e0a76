"""Inception Score from class probabilities: hand-computed cases, an independent slow version, and
the image entry point with a given classifier (the Inception network only from local weights)."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from sgkit.metrics import InceptionClassifier, inception_score, inception_score_from_probs


def slow_is(probs: list[list[float]]) -> float:
    n, k = len(probs), len(probs[0])
    marginal = [sum(row[j] for row in probs) / n for j in range(k)]
    kl = 0.0
    for row in probs:
        kl += sum(pj * math.log(pj / mj) for pj, mj in zip(row, marginal) if pj > 0)
    return math.exp(kl / n)


def test_hand_computed_values() -> None:
    one_hot = torch.eye(4).repeat(3, 1)  # 12 confident images, classes used uniformly
    assert inception_score_from_probs(one_hot, splits=1) == (pytest.approx(4.0), 0.0)
    same = torch.full((8, 5), 0.2)  # every image the same distribution
    assert inception_score_from_probs(same, splits=2) == (pytest.approx(1.0), pytest.approx(0.0))
    # p(y|x) = (3/4, 1/4) and (1/4, 3/4): marginal (1/2, 1/2), KL = 3/4 log 3/2 + 1/4 log 1/2
    two = torch.tensor([[0.75, 0.25], [0.25, 0.75]])
    expected = math.exp(0.75 * math.log(1.5) + 0.25 * math.log(0.5))
    assert inception_score_from_probs(two, splits=1)[0] == pytest.approx(expected, rel=1e-12)


def test_matches_slow_implementation_per_split() -> None:
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(7) * 0.3, size=40)
    mean, std = inception_score_from_probs(probs, splits=4)
    parts = [slow_is(probs[i * 10 : (i + 1) * 10].tolist()) for i in range(4)]
    assert mean == pytest.approx(np.mean(parts), rel=1e-10)
    assert std == pytest.approx(np.std(parts), rel=1e-8)


def test_images_with_a_given_classifier_and_errors() -> None:
    images = torch.rand(12, 3, 8, 8, generator=torch.Generator().manual_seed(0))

    def classifier(x: torch.Tensor) -> torch.Tensor:  # logits from the mean colour
        return 5.0 * x.mean((2, 3))

    probs = torch.softmax(5.0 * images.mean((2, 3)).double(), dim=1)
    assert inception_score(images, classifier=classifier, splits=3, batch_size=5) == pytest.approx(
        inception_score_from_probs(probs, splits=3)
    )
    with pytest.raises(ValueError, match="needs a classifier.*nothing is downloaded"):
        inception_score(images)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        InceptionClassifier("/nonexistent/inception_v3.pth")
    with pytest.raises(ValueError, match="not logits"):
        inception_score_from_probs(torch.randn(4, 3))
    with pytest.raises(ValueError, match=r"splits: expected an integer in \[1, 4\]"):
        inception_score_from_probs(torch.full((4, 2), 0.5), splits=5)
