"""ObjectSetKernel against the formula written directly, hand values and the estimator API."""
from __future__ import annotations

import pickle
from collections import Counter

import numpy as np
import pytest
from sklearn.base import clone

from sgkit.data import NODE, from_triplets
from sgkit.kernels import ObjectSetKernel, object_set_pair


def _graphs(n: int, seed: int, n_cat: int = 6) -> list:
    rng = np.random.default_rng(seed)
    out = [from_triplets([], [])]
    while len(out) < n:
        out.append(from_triplets(rng.integers(0, n_cat, int(rng.integers(0, 9))).tolist(), []))
    return out


def direct(a, b, support: str) -> float:
    ca, cb = Counter(a[NODE].label.tolist()), Counter(b[NODE].label.tolist())
    keys = set(ca) & set(cb) if support == "both" else set(ca) | set(cb)
    return sum(1.0 / (1.0 + abs(ca[x] - cb[x])) for x in keys)


GRAPHS = _graphs(30, seed=0)


@pytest.mark.filterwarnings("ignore:ObjectSetKernel")
@pytest.mark.parametrize("support", ["both", "either"])
@pytest.mark.parametrize("normalize", [False, True])
def test_matches_direct_formula(support: str, normalize: bool) -> None:
    slow = np.array([[direct(a, b, support) for b in GRAPHS] for a in GRAPHS])
    if normalize:
        d = np.diag(slow)
        den = np.maximum(d[:, None], d[None, :])
        slow = np.where(den > 0, slow / np.where(den > 0, den, 1.0), 0.0)
    k = ObjectSetKernel(support=support, normalize=normalize).fit_transform(GRAPHS)
    np.testing.assert_allclose(k, slow, rtol=0, atol=1e-12)
    assert np.array_equal(k, k.T)
    pair = np.array([[object_set_pair(a, b, support=support) for b in GRAPHS[:5]] for a in GRAPHS[:5]])
    if not normalize:
        np.testing.assert_allclose(pair, slow[:5, :5], atol=1e-12)


@pytest.mark.filterwarnings("ignore:ObjectSetKernel")
def test_hand_computed_values() -> None:
    a = from_triplets([0, 0, 1], [])  # {0: 2, 1: 1}
    b = from_triplets([0, 2, 2, 2], [])  # {0: 1, 2: 3}
    both = ObjectSetKernel(normalize=False).fit([a]).transform([b])[0, 0]
    assert both == pytest.approx(0.5)  # only category 0: 1 / (1 + |2 - 1|)
    either = ObjectSetKernel(support="either", normalize=False).fit([a]).transform([b])[0, 0]
    assert either == pytest.approx(0.5 + 1 / 2 + 1 / 4)  # + category 1 (1 vs 0) + category 2 (0 vs 3)
    # normalised by max(k(a, a), k(b, b)) = max(2, 2)
    assert ObjectSetKernel().fit([a]).transform([b])[0, 0] == pytest.approx(0.25)


@pytest.mark.filterwarnings("ignore:ObjectSetKernel")
def test_unit_diagonal_empty_graph_and_transform() -> None:
    k = ObjectSetKernel().fit_transform(GRAPHS)
    sizes = np.array([g[NODE].label.numel() for g in GRAPHS])
    np.testing.assert_array_equal(np.diag(k), (sizes > 0).astype(float))
    assert not np.isnan(k).any() and k.max() <= 1.0
    other = _graphs(12, seed=4, n_cat=9)  # unseen categories
    joint = ObjectSetKernel(support="either").fit_transform(GRAPHS + other)
    t = ObjectSetKernel(support="either").fit(GRAPHS).transform(other)
    np.testing.assert_allclose(t, joint[len(GRAPHS) :, : len(GRAPHS)], atol=1e-12)


@pytest.mark.filterwarnings("ignore:ObjectSetKernel")
def test_estimator_protocol_and_errors() -> None:
    kern = ObjectSetKernel(support="either", normalize=False)
    assert clone(kern).get_params() == {"support": "either", "normalize": False}
    kern.fit(GRAPHS[:10])
    again = pickle.loads(pickle.dumps(kern))
    np.testing.assert_array_equal(again.transform(GRAPHS), kern.transform(GRAPHS))
    with pytest.raises(ValueError, match="support"):
        ObjectSetKernel(support="union").fit(GRAPHS)
    with pytest.raises(ValueError, match="support"):
        object_set_pair(GRAPHS[1], GRAPHS[2], support="x")


def test_either_support_warns_and_shows_why_it_is_not_a_kernel() -> None:
    """Two graphs with no category in common score 1 under "either", like identical graphs."""
    a, b = from_triplets([0], []), from_triplets([1], [])
    with pytest.warns(UserWarning, match="not a valid similarity"):
        k = ObjectSetKernel(support="either").fit_transform([a, b])
    assert k[0, 1] == pytest.approx(1.0) and k[0, 0] == pytest.approx(1.0)
    assert ObjectSetKernel().fit_transform([a, b])[0, 1] == 0.0
    with pytest.warns(UserWarning, match="support=\"both\""):
        object_set_pair(a, b, support="either")
