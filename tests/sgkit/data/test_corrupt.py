"""Label corruption (thesis Table 10.2): counts, determinism, inputs untouched, structure kept."""
from __future__ import annotations

import pytest
import torch

from sgkit.data import EDGE, NODE, from_triplets
from sgkit.data.corrupt import corrupt

GRAPHS = [
    from_triplets([0, 1, 2, 3, 4], [(0, 0, 1), (1, 1, 2), (2, 2, 3), (3, 3, 4)]),
    from_triplets([5, 5, 5], [(0, 4, 1)]),
    from_triplets([], []),
]
BIG = {"num_classes": 10**9, "num_predicates": 10**9}  # a random label equals the old one w.p. ~1e-9


@pytest.mark.parametrize("fraction, nodes, edges", [(0.0, [0, 0, 0], [0, 0, 0]), (0.2, [1, 1, 0], [1, 0, 0]),
                                                    (0.5, [3, 2, 0], [2, 1, 0]), (1.0, [5, 3, 0], [4, 1, 0])])
def test_number_of_replaced_labels(fraction: float, nodes: list, edges: list) -> None:
    out = corrupt(GRAPHS, fraction, seed=3, **BIG)  # round half up: 0.5 * 5 -> 3, 0.5 * 1 -> 1
    for g, o, n_exp, e_exp in zip(GRAPHS, out, nodes, edges):
        assert int((o[NODE].label != g[NODE].label).sum()) == n_exp
        assert int((o[EDGE].label != g[EDGE].label).sum()) == e_exp
        assert torch.equal(o[EDGE].edge_index, g[EDGE].edge_index)


def test_seeded_inputs_untouched_and_in_vocabulary() -> None:
    before = [g[NODE].label.clone() for g in GRAPHS]
    a = corrupt(GRAPHS, 0.5, num_classes=7, num_predicates=5, seed=1)
    b = corrupt(GRAPHS, 0.5, num_classes=7, num_predicates=5, seed=1)
    c = corrupt(GRAPHS, 1.0, num_classes=7, num_predicates=5, seed=2)
    assert all(torch.equal(x[NODE].label, y[NODE].label) for x, y in zip(a, b))
    assert any(not torch.equal(x[NODE].label, y[NODE].label) for x, y in zip(a, c))
    assert all(torch.equal(g[NODE].label, lab) for g, lab in zip(GRAPHS, before))
    assert int(c[0][NODE].label.max()) < 7 and int(c[0][EDGE].label.max()) < 5


def test_errors() -> None:
    with pytest.raises(ValueError, match="fraction"):
        corrupt(GRAPHS, 1.5, num_classes=3, num_predicates=3)
    with pytest.raises(ValueError, match="num_classes"):
        corrupt(GRAPHS, 0.5, num_classes=0, num_predicates=3)
    with pytest.raises(ValueError, match="num_predicates"):
        corrupt(GRAPHS, 0.5, num_classes=3, num_predicates=0)


@pytest.mark.parametrize(
    "graphs, kwargs, match",
    [
        (GRAPHS[0], {}, r"graphs: expected a list of scene graphs, got a single SceneGraph; wrap it in a list"),
        ([GRAPHS[0], "g"], {}, r"graphs\[1\]: expected a torch_geometric HeteroData scene graph, got str"),
        (GRAPHS, {"fraction": "0.5"}, r"fraction: expected a number in \[0, 1\], got '0.5'"),
        (GRAPHS, {"fraction": float("nan")}, r"fraction: expected a value in \[0, 1\], got nan"),
        (GRAPHS, {"num_classes": 2.5}, r"num_classes: expected an int >= 1, got 2.5"),
        (GRAPHS, {"num_predicates": True}, r"num_predicates: expected an int >= 1, got True"),
        (GRAPHS, {"num_classes": 5}, r"graphs\[1\]: object.label: category id 5 out of vocabulary \(num_classes=5\)"),
    ],
)
def test_bad_inputs_name_argument_and_value(graphs, kwargs, match) -> None:
    args = {"fraction": 0.5, "num_classes": 7, "num_predicates": 5, **kwargs}
    fraction = args.pop("fraction")
    with pytest.raises(ValueError, match=match):
        corrupt(graphs, fraction, **args)
