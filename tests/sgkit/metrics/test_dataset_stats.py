"""Data-set statistics on hand-computed examples, and their plots."""
from __future__ import annotations

import numpy as np
import pytest

from sgkit.data import from_triplets
from sgkit.metrics import (
    cooccurrence,
    instance_count_distribution,
    instance_count_kl,
    object_occurrence,
    plot_cooccurrence,
    plot_instance_count_kl,
    plot_object_occurrence,
    plot_relationship_occurrence,
    relationship_occurrence,
)

G1 = from_triplets([0, 0, 1], [(0, 2, 1), (1, 2, 2), (2, 0, 0)])
G2 = from_triplets([1, 2], [(0, 1, 1)])
G3 = from_triplets([], [])
DATA = [G1, G2, G3]


def test_occurrences() -> None:
    np.testing.assert_allclose(object_occurrence(DATA, 4), [2 / 5, 2 / 5, 1 / 5, 0])
    np.testing.assert_allclose(relationship_occurrence(DATA, 3), [1 / 4, 1 / 4, 2 / 4])
    np.testing.assert_array_equal(object_occurrence([G3], 2), [0, 0])


def test_cooccurrence() -> None:
    co = cooccurrence(DATA, 3)
    expected = np.array([[0, 1, 0], [1, 0, 1], [0, 1, 0]]) / 3.0  # pairs (0,1) in G1, (1,2) in G2
    np.testing.assert_allclose(co, expected)
    np.testing.assert_allclose(cooccurrence(DATA, 3, normalize="sum"), expected * 3 / 4)


def test_instance_counts_and_kl() -> None:
    dist = instance_count_distribution(DATA, 3, max_count=2)
    np.testing.assert_allclose(dist, [[0, 1], [1, 0], [1, 0]])
    gen = [from_triplets([0], []), from_triplets([0, 0], []), from_triplets([1], [])]
    kl = instance_count_kl(gen, DATA, 3, eps=1e-12)
    p = np.array([0.5, 0.5]) + 1e-12
    q = np.array([0.0, 1.0]) + 1e-12
    p, q = p / p.sum(), q / q.sum()
    assert kl[0] == pytest.approx(float(np.sum(p * np.log(p / q))))
    assert kl[1] == pytest.approx(0.0, abs=1e-9)
    assert np.isnan(kl[2])  # category 2 is absent from the generated set


def test_errors() -> None:
    with pytest.raises(ValueError, match="num_classes"):
        object_occurrence(DATA, 2)
    with pytest.raises(ValueError, match="normalize"):
        cooccurrence(DATA, 3, normalize="rows")


def test_plots_are_written(tmp_path) -> None:
    plot_object_occurrence(DATA, [G1], 3, names=["a", "b", "c"], path=tmp_path / "obj.png")
    plot_relationship_occurrence(DATA, [G1], 3, path=tmp_path / "rel.png")
    plot_cooccurrence(DATA, [G1], 3, path=tmp_path / "co.png")
    plot_instance_count_kl(DATA, [G1, G2], 3, path=tmp_path / "kl.png")
    for name in ("obj", "rel", "co", "kl"):
        assert (tmp_path / f"{name}.png").stat().st_size > 1000
