"""The PyG layers compile as one graph (no host synchronisation, no graph break)."""
from __future__ import annotations

import pytest
import torch

from sgkit.nn import DSGN, DisenRouting, TripleConv, TripleGCN


def _inputs():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(6, 8, generator=g)
    edge_index = torch.tensor([[0, 1, 2, 3, 4], [1, 2, 3, 4, 5]])
    edge_attr = torch.randn(5, 4, generator=g)
    return x, edge_index, edge_attr


LAYERS = {
    "TripleConv": lambda: TripleConv(8, 4, 8, hidden_channels=16),
    "TripleGCN": lambda: TripleGCN(8, 4, 8, num_layers=2, mlp_channels=16),
    "DisenRouting": lambda: DisenRouting(8, 2, edge_channels=4, num_iterations=2),
    "DSGN": lambda: DSGN(8, 8, edge_channels=4, num_factors=2, factor_channels=4, num_layers=2,
                         num_iterations=2),
}


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_fullgraph_compile_matches_eager(name: str) -> None:
    torch._dynamo.reset()
    torch.manual_seed(0)
    layer = LAYERS[name]().eval()
    x, edge_index, edge_attr = _inputs()
    with torch.no_grad():
        eager = layer(x, edge_index, edge_attr)
        compiled = torch.compile(layer, fullgraph=True, backend="aot_eager")(x, edge_index, edge_attr)
    eager = eager[0] if isinstance(eager, tuple) else eager
    compiled = compiled[0] if isinstance(compiled, tuple) else compiled
    torch.testing.assert_close(compiled, eager)
