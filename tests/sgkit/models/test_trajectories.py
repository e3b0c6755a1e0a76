"""Seeded training trajectories that must stay the same when the training code moves.

The reference values in ``fixtures/trajectories.json`` were recorded with the code before the
engine refactor (``python tests/sgkit/models/test_trajectories.py --record``). The tests compare
losses and generated images to a relative tolerance of 1e-5 rather than bitwise: the same
arithmetic on another CPU (other vector instructions in the BLAS kernels) may round differently
in the last bits.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch

from sgkit.datasets import ShapesWorld

FIXTURE = Path(__file__).with_name("fixtures") / "trajectories.json"
RTOL = 1e-5


def _tiny_sg2im(decoder: str):
    from sgkit.models import SG2Im, SG2ImConfig

    base = dict(
        decoder=decoder, image_size=32, embedding_dim=16, gconv_dim=16, gconv_hidden_dim=32,
        gconv_layers=2, head_hidden_dim=16, mask_size=16, layout_noise_dim=2,
        decoder_dims=(16, 8, 8), spade_hidden_dim=8, d_img_dims=(8, 16), d_obj_dims=(8, 16),
        d_num_scales=2 if decoder == "spade" else 1, crop_size=8, mask_weight=1.0, lr=2e-3,
        gan_mode="hinge" if decoder == "spade" else "bce",
        feature_matching_weight=1.0 if decoder == "spade" else 0.0,
    )
    return SG2Im(SG2ImConfig(num_objects=36, num_predicates=6, **base), seed=7)


def _scenes() -> list:
    ds = ShapesWorld(12, seed=3, progress=False)
    return [ds[i] for i in range(len(ds))]


def _image_summary(images: torch.Tensor) -> list[float]:
    """Sum, sum of squares and four fixed pixels: sensitive to any change of the images."""
    flat = images.double().flatten()
    picks = [0, flat.numel() // 3, flat.numel() // 2, flat.numel() - 1]
    return [float(flat.sum()), float((flat * flat).sum())] + [float(flat[i]) for i in picks]


def run_sg2im_fit(decoder: str) -> dict:
    torch.manual_seed(0)
    scenes = _scenes()
    model = _tiny_sg2im(decoder)
    model.fit(scenes, steps=4, batch_size=4, seed=5, progress=False)
    losses = [{k: v for k, v in h.items() if k != "step"} for h in model.history]
    images = model.generate(scenes[:3], use_boxes=True, seed=1)
    return {"losses": losses, "images": _image_summary(images)}


def run_sg2im_fit_layout() -> dict:
    torch.manual_seed(0)
    scenes = _scenes()
    model = _tiny_sg2im("crn")
    model.fit_layout(scenes[:9], steps=6, batch_size=4, lr=2e-3, seed=2, progress=False,
                     val_graphs=scenes[9:], eval_every=2)
    losses = [{k: v for k, v in h.items() if k != "step"} for h in model.layout_history]
    boxes = model.predict_boxes(scenes[:3])
    return {"losses": losses, "val": [h["box_l1"] for h in model.layout_val_history],
            "images": _image_summary(boxes)}


def run_scenegraphgen_fit() -> dict:
    from sgkit.models import SceneGraphGen

    torch.manual_seed(0)
    graphs = ShapesWorld(40, seed=11, progress=False).graphs()
    model = SceneGraphGen(num_classes=36, num_predicates=6, max_nodes=8, hidden_dim=16,
                          num_layers=1, node_embedding_dim=8, edge_embedding_dim=4, seed=3)
    model.fit(graphs, epochs=2, batch_size=16, seed=4, progress=False)
    nll = model.nll(graphs[:5], seed=0)
    return {"losses": [{"loss": h["loss"]} for h in model.history_],
            "images": [float(v) for v in nll]}


RUNS = {
    "sg2im_fit_crn": lambda: run_sg2im_fit("crn"),
    "sg2im_fit_spade": lambda: run_sg2im_fit("spade"),
    "sg2im_fit_layout": run_sg2im_fit_layout,
    "scenegraphgen_fit": run_scenegraphgen_fit,
}


def _close(a, b) -> bool:
    return abs(a - b) <= RTOL * max(1.0, abs(b))


@pytest.mark.parametrize("name", sorted(RUNS))
def test_trajectory_unchanged(name: str) -> None:
    expected = json.loads(FIXTURE.read_text())[name]
    got = RUNS[name]()
    assert len(got["losses"]) == len(expected["losses"])
    for step, (g, e) in enumerate(zip(got["losses"], expected["losses"])):
        assert set(g) == set(e), f"step {step}: loss terms {sorted(g)} != {sorted(e)}"
        for k in e:
            assert _close(g[k], e[k]), f"step {step} {k}: {g[k]} != {e[k]}"
    for key in ("images", "val"):
        for i, (g, e) in enumerate(zip(got.get(key, []), expected.get(key, []))):
            assert _close(g, e), f"{key}[{i}]: {g} != {e}"


if __name__ == "__main__" and "--record" in sys.argv:
    torch.set_num_threads(1)
    FIXTURE.parent.mkdir(exist_ok=True)
    FIXTURE.write_text(json.dumps({k: f() for k, f in RUNS.items()}, indent=1))
    print(f"wrote {FIXTURE}")
