"""The editor with a DisPositioNet checkpoint: "Sample again" draws another appearance/pose."""
from __future__ import annotations

import pytest
import torch

pytest.importorskip("starlette")

from sgkit.datasets import ShapesWorld  # noqa: E402
from sgkit.editor.session import EditorSession, supports_sampling  # noqa: E402
from sgkit.models.dispositionet import DisPositioNet  # noqa: E402
from sgkit.models.dispositionet_config import DisPositioNetConfig  # noqa: E402


def test_sample_again_redraws_the_edited_region_only() -> None:
    ds = ShapesWorld(3, seed=0, progress=False)
    model = DisPositioNet(DisPositioNetConfig.preset("spade-32-shapes", vocab=ds.vocab), vocab=ds.vocab, seed=0)
    assert supports_sampling(model)
    session = EditorSession(model, [ds[i] for i in range(3)], ds.vocab)
    session.remove(0)
    first = session.generate()
    again = session.generate(new_seed=True)  # the button: the last edit with the next seed
    assert again.seed != first.seed
    a, b = first.source.image, again.source.image
    outside = ~first.region
    assert torch.equal(a[:, outside], b[:, outside])  # pixels outside the edited region are kept
    assert not torch.equal(a, b)  # another sample inside it
