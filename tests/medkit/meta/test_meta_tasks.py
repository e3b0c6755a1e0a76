"""Task-sampling invariants of MetaMedSeg (thesis lines 1240-1270)."""
from __future__ import annotations

import math

import pytest
import torch

from medkit.datasets.organs import OrganVolumes
from medkit.meta.tasks import TaskSampler, organ_weights, volumetric_indices, volumetric_step


def _coded(name: str, organ: str, sizes: list[int], code: int) -> OrganVolumes:
    """Volumes whose pixel values encode (data set, volume, slice) so content can be checked."""
    vols = []
    for v, s in enumerate(sizes):
        img = torch.stack([torch.full((4, 4), code * 10000.0 + v * 100.0 + i) for i in range(s)])
        msk = torch.zeros(s, 4, 4, dtype=torch.long)
        msk[:, 1:3, 1:3] = 1
        vols.append((img, msk))
    return OrganVolumes(name, organ, vols)


def _decode(images: torch.Tensor) -> list[tuple[int, int, int]]:
    vals = images[:, 0, 0, 0].long().tolist()
    return [(x // 10000, (x % 10000) // 100, x % 100) for x in vals]


def test_volumetric_indices_hand_values() -> None:
    assert volumetric_step(10, 4) == 3
    assert volumetric_indices(10, 4) == [0, 3, 6, 9]
    assert volumetric_indices(9, 4) == [0, 3, 6]  # ceil(9/4) = 3 -> 3 slices fit
    assert volumetric_indices(16, 5, offset=2) == [2, 6, 10, 14]
    assert volumetric_indices(3, 5) == [0, 1, 2]  # |V| <= K: every slice
    assert volumetric_indices(30, 15, offset=1) == list(range(1, 30, 2))
    with pytest.raises(ValueError, match="offset"):
        volumetric_indices(10, 4, offset=1)  # 1 + 3 * 3 = 10 would leave the volume
    with pytest.raises(ValueError, match="shots"):
        volumetric_step(10, 0)


@pytest.mark.parametrize("sizes", [[17, 9, 30], [5, 40], [15, 15, 16, 31]])
def test_volumetric_tasks_step_order_and_disjoint_volumes(sizes: list[int]) -> None:
    data = _coded("a", "a", sizes, code=1)
    k = 5
    sampler = TaskSampler([data], shots=k, query_shots=4, mode="volumetric", seed=3)
    seen_offsets = set()
    for _ in range(60):
        task = sampler.sample(1)[0]
        for index, images, shots in ((task.support_index, task.support_images, k), (task.query_index, task.query_images, 4)):
            vols = {v for v, _ in index}
            assert len(vols) == 1  # one volume per set
            v = vols.pop()
            n = sizes[v]
            step = math.ceil(n / shots)
            slices = [s for _, s in index]
            assert len(slices) == len(range(0, n, step)) <= shots
            assert all(b - a == step for a, b in zip(slices, slices[1:]))  # step, slice order
            assert 0 <= slices[0] and slices[-1] < n
            # the tensors are those slices, in that order
            assert _decode(images) == [(1, v, s) for s in slices]
            if index is task.support_index:
                seen_offsets.add(slices[0])
        assert task.support_index[0][0] != task.query_index[0][0]  # different volumes
        assert torch.equal(task.support_masks, data.take(task.support_index)[1])
    assert len(seen_offsets) > 1  # the comb is placed at random offsets


def test_standard_tasks_random_slices_from_other_volumes() -> None:
    data = _coded("a", "a", [6, 7, 8], code=2)
    sampler = TaskSampler([data], shots=5, mode="standard", seed=0)
    support_volumes = set()
    for _ in range(50):
        task = sampler.sample(1)[0]
        (qv,) = {v for v, _ in task.query_index}
        assert all(v != qv for v, _ in task.support_index)
        assert len(set(task.support_index)) == len(task.support_index) == 5  # no repeats
        assert len(task.query_index) == 5
        assert _decode(task.support_images) == [(2, v, s) for v, s in task.support_index]
        support_volumes |= {v for v, _ in task.support_index}
        # K random slices: not constrained to a comb of one volume
    assert support_volumes == {0, 1, 2}


def test_organ_weights_one_over_z_normalised() -> None:
    organs = ["brain"] * 4 + ["hippocampus"] * 2 + ["liver"]
    w = organ_weights(organs)
    expected = torch.tensor([1 / 4] * 4 + [1 / 2] * 2 + [1.0]) / 3.0  # 1/z, then / sum (= 3)
    torch.testing.assert_close(w, expected)
    assert w.sum().item() == pytest.approx(1.0)
    with pytest.raises(ValueError, match="organs"):
        organ_weights([])


def test_sampler_weights_give_each_organ_an_equal_share() -> None:
    sets = [_coded(f"brain{i}", "brain", [3, 3], 3) for i in range(4)]
    sets += [_coded("hip0", "hippocampus", [3, 3], 4), _coded("hip1", "hippocampus", [3, 3], 4)]
    sets += [_coded("liver", "liver", [3, 3], 5)]
    sampler = TaskSampler(sets, shots=2, seed=1)
    torch.testing.assert_close(sampler.weights, organ_weights([d.organ for d in sets]))
    draws = sampler.sample_datasets(6000, replacement=True)
    organ_of = [d.organ for d in sets]
    for organ in ("brain", "hippocampus", "liver"):
        share = sum(organ_of[i] == organ for i in draws) / len(draws)
        assert share == pytest.approx(1 / 3, abs=0.03)
    uniform = TaskSampler(sets, shots=2, seed=1, weighted=False)
    torch.testing.assert_close(uniform.weights, torch.full((7,), 1 / 7))
    # without replacement a data set appears at most once per call
    for _ in range(20):
        picks = sampler.sample_datasets(5)
        assert len(set(picks)) == 5


def test_sampler_is_seeded() -> None:
    sets = [_coded("a", "a", [9, 11, 13], 1), _coded("b", "b", [8, 8], 2)]
    a = [t.support_index for t in TaskSampler(sets, shots=3, seed=7).sample(2)]
    b = [t.support_index for t in TaskSampler(sets, shots=3, seed=7).sample(2)]
    assert a == b


def test_sampler_validation() -> None:
    one = _coded("one", "x", [5], 1)
    with pytest.raises(ValueError, match="at least 2"):
        TaskSampler([one])
    two = _coded("two", "x", [5, 5], 1)
    with pytest.raises(ValueError, match="mode"):
        TaskSampler([two], mode="random")
    with pytest.raises(ValueError, match="shots"):
        TaskSampler([two], shots=0)
    with pytest.raises(ValueError, match="num_tasks"):
        TaskSampler([two]).sample_datasets(2)
