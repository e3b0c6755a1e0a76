"""GraphRNN baseline: what distinguishes it from SceneGraphGen (the shared interface is tested,
for both models, in test_scenegraphgen.py)."""
import torch

from sgkit.data import from_triplets
from sgkit.data.sequence import collate_sequences, encode_graph
from sgkit.models import GraphRNN, SceneGraphGen

SMALL = dict(hidden_dim=16, num_layers=2, node_embedding_dim=8, edge_embedding_dim=4, mlp_hidden_dim=16)



def test_from_edges_ignore_the_to_edge_and_the_nodes():
    model = GraphRNN(3, 2, max_nodes=4, **SMALL)
    state = model._edge_init(torch.randn(2, 16), torch.randn(2, 16))
    sos = torch.tensor([3, 3])
    outs = []
    for cur, nj in ((torch.tensor([0, 0]), torch.tensor([1, 1])), (torch.tensor([2, 2]), torch.tensor([0, 0]))):
        to_logits, s1 = model._edge_step_to(state, cur, nj, sos, sos)
        a, _ = model._edge_step_from(s1, cur, nj, sos, sos, torch.tensor([0, 0]))
        b, _ = model._edge_step_from(s1, cur, nj, sos, sos, torch.tensor([2, 2]))
        assert torch.equal(a, b)  # from-edge not conditioned on the to-edge
        outs.append((to_logits, a))
    # not node-aware: changing the current node and node j changes nothing
    assert torch.equal(outs[0][0], outs[1][0]) and torch.equal(outs[0][1], outs[1][1])


def test_edge_likelihood_does_not_depend_on_node_labels_given_history():
    # Two graphs that differ only in the label of the LAST node: GraphRNN's edge terms for that
    # node are identical (edges see only the history and previous edges), SceneGraphGen's differ.
    g1 = from_triplets([0, 1, 2], [(0, 0, 2), (2, 1, 1)])
    g2 = from_triplets([0, 1, 1], [(0, 0, 2), (2, 1, 1)])
    for cls, same in ((GraphRNN, True), (SceneGraphGen, False)):
        model = cls(3, 2, max_nodes=4, **SMALL)
        b = collate_sequences([encode_graph(g1), encode_graph(g2)], num_classes=3, num_predicates=2)
        # remove the node terms: node log-probs of the last node and EOS differ by construction
        total = model.sequence_nll(b)
        x = model._history_input(b.nodes, b.to_edges, b.from_edges)
        node_state, _, _, _ = model._history(x, None)
        logp = model._node_log_probs(model.node_mlp(node_state), torch.arange(3))
        node_terms = -(logp[:, 0].gather(1, b.nodes[:, 1:2]).squeeze(1) + logp[:, 1].gather(1, b.nodes[:, 2:3]).squeeze(1) + logp[:, 2, 3])
        edge_terms = total - node_terms
        assert torch.isclose(edge_terms[0], edge_terms[1]).item() is same


def test_graphrnn_has_one_history_gru_and_one_edge_gru():
    m = GraphRNN(5, 3, max_nodes=6, **SMALL)
    grus = [mod for mod in m.modules() if isinstance(mod, torch.nn.GRU)]
    assert len(grus) == 2
    s = SceneGraphGen(5, 3, max_nodes=6, **SMALL)
    assert len([mod for mod in s.modules() if isinstance(mod, torch.nn.GRU)]) == 5
    assert sum(p.numel() for p in m.parameters()) < sum(p.numel() for p in s.parameters())
