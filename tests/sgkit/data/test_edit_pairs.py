"""ShapesWorld edit pairs as graph edits and plans (sgkit.data.edit_pairs)."""
import pytest
import torch

from sgkit.data import edit_from_pair, plan_edit, plan_pair
from sgkit.datasets import ShapesWorld


@pytest.mark.parametrize("mode", ShapesWorld.EDIT_MODES)
def test_edit_from_shapes_pairs_gives_the_target_graph(mode):
    pairs = ShapesWorld(0, image_size=32, progress=False).edit_pairs(mode, 4, seed=1)
    for pair in pairs:
        e = edit_from_pair(pair)
        t = pair["target"]
        assert e["object"].label.tolist() == t["object"].label.tolist()
        assert sorted(map(tuple, e["object", "relation", "object"].edge_index.t().tolist())) == \
            sorted(map(tuple, t["object", "relation", "object"].edge_index.t().tolist()))
        assert plan_edit(pair["source"], e).mode == mode


def test_plan_pair_moves_exactly_the_swapped_endpoints():
    pairs = ShapesWorld(0, image_size=32, progress=False).edit_pairs("relationship", 30, seed=3)
    extra = 0
    for pair in pairs:
        s, o = pair["source"]["object", "relation", "object"].edge_index[:, pair["info"]["edge"]].tolist()
        p = plan_pair(pair)
        assert (~p.keep_box).nonzero().view(-1).tolist() == sorted({s, o})
        assert torch.equal(p.keep_image, p.keep_box) and p.keep_feature.all()
        extra += int((~plan_edit(pair["source"], edit_from_pair(pair)).keep_box).sum()) > 2
    assert extra > 0  # the graph-only plan also moves stationary nodes whose edges changed
    other = ShapesWorld(0, image_size=32, progress=False).edit_pairs("removal", 2)
    assert plan_pair(other[0]).mode == "removal"
