"""Scene batches: offsets, stacking, validation through the one validator, subclass fields."""
from __future__ import annotations

from dataclasses import dataclass

import pytest
import torch

from sgkit.data import SceneBatch, check_scenes, collate_scenes, from_triplets
from sgkit.datasets import ShapesWorld


@pytest.fixture(scope="module")
def scenes() -> list:
    ds = ShapesWorld(6, seed=3, progress=False)
    return [ds[i] for i in range(len(ds))]


def test_collate_offsets_edges_and_stacks_images(scenes) -> None:
    b = collate_scenes(scenes[:3], need_boxes=True, need_images=True)
    n0 = scenes[0]["object"].num_nodes
    e0 = scenes[0]["object", "relation", "object"].edge_index.shape[1]
    assert b.num_images == 3 and b.images.shape == (3, 3, 64, 64) and b.num_objects == b.labels.numel()
    assert torch.equal(b.edge_index[:, e0:e0 + 1], scenes[1]["object", "relation", "object"].edge_index[:, :1] + n0)
    assert b.batch.tolist()[:n0] == [0] * n0
    assert torch.equal(b.images[1], scenes[1].image)
    assert collate_scenes(scenes[:2], image_size=32).images.shape == (2, 3, 32, 32)
    with pytest.raises(ValueError, match=r"graphs\[0\] has no data\['object'\].box"):
        collate_scenes([from_triplets([0, 1], [(0, 0, 1)])], need_boxes=True)
    with pytest.raises(ValueError, match="at least one scene graph"):
        collate_scenes([])


def test_validation_names_the_graph(scenes) -> None:
    bad = scenes[1].clone()
    bad["object"].label = bad["object"].label.clone()
    bad["object"].label[0] = 36
    with pytest.raises(ValueError, match=r"scenes\[1\]: object\.label: category id 36 out of vocabulary"):
        check_scenes([scenes[0], bad], 36, 6, name="scenes")
    with pytest.raises(ValueError, match=r"graphs\[1\]: object\.label"):
        collate_scenes([scenes[0], bad], num_objects=36)
    check_scenes(scenes, 36, 6)  # valid graphs pass


@dataclass
class _EditBatch(SceneBatch):
    keep: torch.Tensor | None = None


def test_subclass_fields_move_with_to(scenes) -> None:
    b = collate_scenes(scenes[:2])
    e = _EditBatch(**{k: getattr(b, k) for k in b.__dataclass_fields__}, keep=torch.ones(b.num_objects))
    moved = e.to("cpu")
    assert isinstance(moved, _EditBatch) and torch.equal(moved.keep, e.keep)
