"""Scene-graph edits and the edit plan (sgkit.data.edits), mode by mode."""
import pytest
import torch

from sgkit.data import (
    EditPlan,
    Vocabulary,
    add_node,
    change_predicate,
    from_triplets,
    plan_edit,
    remove_node,
    replace_node,
)

VOCAB = Vocabulary(["a", "b", "c", "d"], ["left of", "right of", "above"])


def _graph():
    boxes = torch.tensor([[0.0, 0.0, 0.25, 0.25], [0.5, 0.0, 0.75, 0.25], [0.0, 0.5, 0.25, 0.75],
                          [0.5, 0.5, 0.75, 0.75]])
    g = from_triplets([0, 1, 2, 3], [(0, 0, 1), (1, 2, 2), (3, 1, 2)], boxes=boxes, image=torch.zeros(3, 8, 8))
    g["object"].feature = torch.arange(4.0).view(4, 1).repeat(1, 3)
    return g


def test_remove_node_reindexes_edges_and_records_sources():
    g = _graph()
    e = remove_node(g, 1)
    assert e["object"].label.tolist() == [0, 2, 3]
    assert e["object"].src_index.tolist() == [0, 2, 3]
    # only (3 right of 2) survives, now (2, 1, 1)
    assert e["object", "relation", "object"].edge_index.tolist() == [[2], [1]]
    assert e["object", "relation", "object"].label.tolist() == [1]
    assert torch.equal(e["object"].box, g["object"].box[[0, 2, 3]])
    assert torch.equal(e["object"].feature[:, 0], torch.tensor([0.0, 2.0, 3.0]))
    assert "image" not in e and "image" in g  # input untouched
    assert g["object"].label.numel() == 4


def test_chained_edits_point_at_the_original_source():
    e = remove_node(remove_node(_graph(), 0), 0)
    assert e["object"].src_index.tolist() == [2, 3]


def test_replace_change_add():
    g = _graph()
    r = replace_node(g, 2, "d", vocab=VOCAB)
    assert r["object"].label.tolist() == [0, 1, 3, 3] and g["object"].label.tolist() == [0, 1, 2, 3]
    c = change_predicate(g, 0, "right of", vocab=VOCAB)
    assert c["object", "relation", "object"].label.tolist() == [1, 2, 1]
    a = add_node(g, 1, anchor=3, predicate=2, as_subject=False)
    assert a["object"].src_index.tolist() == [0, 1, 2, 3, -1]
    assert a["object", "relation", "object"].edge_index[:, -1].tolist() == [3, 4]
    assert a["object"].box[-1].tolist() == [0, 0, 0, 0]
    assert a["object"].feature[-1].tolist() == [0, 0, 0]


@pytest.mark.parametrize("call, message", [
    (lambda g: remove_node(g, 4), "node: node index 4 out of range"),
    (lambda g: replace_node(g, 0, "zebra", vocab=VOCAB), "label: unknown object name 'zebra'"),
    (lambda g: replace_node(g, 0, 9, vocab=VOCAB), "label: object id 9 out of range"),
    (lambda g: replace_node(g, 0, "a"), "label: the name 'a' needs a vocabulary"),
    (lambda g: change_predicate(g, 3, 0), "edge: edge index 3 out of range"),
    (lambda g: change_predicate(g, 0, -1), "predicate: predicate id -1 out of range"),
    (lambda g: add_node(g, 0, anchor=7, predicate=0), "anchor: node index 7 out of range"),
    (lambda g: add_node(g, 0, anchor=0, predicate="below", vocab=VOCAB), "predicate: unknown predicate name"),
    (lambda g: add_node(g, 0, anchor=0, predicate=0, box=[0.5, 0.5, 0.1, 0.9]), "box: expected"),
    (lambda g: plan_edit(g, g, relation_mask="all"), "relation_mask: expected one of"),
])
def test_bad_edits_name_argument_and_value(call, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        call(_graph())


def test_plan_unchanged_keeps_everything():
    g = _graph()
    p = plan_edit(g, g)
    assert p.keep_box.all() and p.keep_feature.all() and p.keep_image.all()
    assert p.modes == () and p.mode == "none" and p.hidden_boxes.shape == (0, 4)


def test_plan_removal_hides_the_removed_box():
    g = _graph()
    p = plan_edit(g, remove_node(g, 1))
    assert p.modes == ("removal",)
    assert p.keep_box.all() and p.keep_feature.all() and p.keep_image.all()
    assert p.hidden_boxes.tolist() == [[0.5, 0.0, 0.75, 0.25]]


def test_plan_replacement():
    g = _graph()
    p = plan_edit(g, replace_node(g, 2, 0))
    assert p.mode == "replacement"
    assert p.keep_box.tolist() == [True] * 4
    assert p.keep_feature.tolist() == [True, True, False, True]
    assert p.keep_image.tolist() == [True, True, False, True]
    q = plan_edit(g, replace_node(g, 2, 0), replace_box="combine")
    assert q.keep_box.tolist() == [True, True, False, True] and q.combine_box.tolist() == [False, False, True, False]


@pytest.mark.parametrize("relation_mask, moved", [("subject", [1]), ("object", [2]), ("both", [1, 2])])
def test_plan_relationship_moves_the_chosen_endpoints(relation_mask, moved):
    g = _graph()
    p = plan_edit(g, change_predicate(g, 1, 3 - 3), relation_mask=relation_mask)  # (1 above 2) -> (1 left of 2)
    assert p.mode == "relationship"
    expect = [i not in moved for i in range(4)]
    assert p.keep_box.tolist() == expect and p.keep_image.tolist() == expect
    assert p.keep_feature.all()  # identity kept


def test_plan_addition():
    g = _graph()
    e = add_node(g, 1, anchor=0, predicate=1, box=[0.3, 0.3, 0.4, 0.4])
    p = plan_edit(g, e)
    assert p.mode == "addition"
    assert p.keep_box.tolist() == [True] * 4 + [False]
    assert p.keep_feature.tolist() == [True] * 4 + [False] and p.keep_image.tolist() == [True] * 4 + [False]
    assert plan_edit(g, e, addition_box="given").keep_box.tolist() == [True] * 5


def test_plan_mixed_and_overrides():
    g = _graph()
    e = replace_node(remove_node(g, 0), 0, 3)  # node 0 of the edit is source node 1
    p = plan_edit(g, e, overrides={"keep_box": [False, True, True]})
    assert p.modes == ("removal", "replacement") and p.mode == "mixed"
    assert p.keep_feature.tolist() == [False, True, True] and p.keep_box.tolist() == [False, True, True]
    assert isinstance(p, EditPlan)
