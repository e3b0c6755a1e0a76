"""The staged generator: stages compose to forward, the graph-encoder switch, overridable stages."""
from __future__ import annotations

import pytest
import torch

from sgkit.data import collate_scenes, from_triplets
from sgkit.datasets import ShapesWorld
from sgkit.models import SG2Im, SG2ImConfig, SG2ImGenerator


def _config(**kw) -> SG2ImConfig:
    base = dict(image_size=32, embedding_dim=16, gconv_dim=16, gconv_hidden_dim=32, gconv_layers=2,
                head_hidden_dim=16, mask_size=16, layout_noise_dim=2, decoder_dims=(16, 8, 8),
                d_img_dims=(8, 16), d_obj_dims=(8, 16), crop_size=8)
    base.update(kw)
    return SG2ImConfig(num_objects=36, num_predicates=6, **base)


@pytest.fixture(scope="module")
def batch():
    ds = ShapesWorld(4, seed=5, progress=False)
    return collate_scenes([ds[i] for i in range(4)], need_boxes=True)


@pytest.mark.parametrize("encoder", ["triple_gcn", "dsgn"])
def test_stages_compose_to_forward(batch, encoder) -> None:
    torch.manual_seed(0)
    gen = SG2ImGenerator(_config(graph_encoder=encoder)).eval()
    with torch.no_grad():
        out = gen(batch, boxes=batch.boxes, generator=torch.Generator().manual_seed(3))
        x = gen.encode(batch)
        boxes, masks = gen.predict_layout(x)
        layout = gen.compose_layout(batch, x, batch.boxes, masks, generator=torch.Generator().manual_seed(3))
        image = gen.decode(layout)
    assert torch.equal(out["image"], image) and torch.equal(out["boxes_pred"], boxes)
    assert out["image"].shape == (4, 3, 32, 32) and x.shape == (batch.num_objects, 16)


def test_dsgn_encoder_routes_every_edge_and_trains() -> None:
    torch.manual_seed(0)
    gen = SG2ImGenerator(_config(graph_encoder="dsgn")).eval()
    triplets = [(0, 1, 1), (1, 2, 2), (2, 3, 3)]
    full = collate_scenes([from_triplets([0, 5, 9, 13], triplets)])
    with torch.no_grad():
        ref = gen.encode(full)
        for drop in range(len(triplets)):
            kept = [t for i, t in enumerate(triplets) if i != drop]
            assert not torch.allclose(gen.encode(collate_scenes([from_triplets([0, 5, 9, 13], kept)])), ref)
    ds = ShapesWorld(4, seed=1, progress=False)
    model = SG2Im(_config(graph_encoder="dsgn"), seed=0)
    model.fit([ds[i] for i in range(4)], steps=1, batch_size=2, progress=False)
    assert len(model.history) == 1 and model.history[0]["total"] > 0


def test_a_subclass_overrides_one_stage(batch) -> None:
    class Blank(SG2ImGenerator):
        def compose_layout(self, batch, x, boxes, masks, *, generator=None):
            return torch.zeros(batch.num_images, self.layout_channels, 32, 32)

    torch.manual_seed(0)
    gen = Blank(_config()).eval()
    with torch.no_grad():
        a = gen(batch)["image"]
    assert torch.allclose(a[0], a[1])  # every image decodes the same blank layout
    with pytest.raises(ValueError, match="graph_encoder must be 'triple_gcn' or 'dsgn'"):
        _config(graph_encoder="gat")
