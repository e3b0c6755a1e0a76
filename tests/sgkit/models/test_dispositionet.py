"""DisPositioNet: affine warp of each object's own patch, ELBO terms, reparameterisation, DSGN
routing, sampling API, determinism and checkpoints."""
import math

import pytest
import torch
from torch.distributions import Normal, kl_divergence

from sgkit.data import collate_scenes, from_triplets
from sgkit.datasets import ShapesWorld
from sgkit.models import (
    DisPositioNet,
    DisPositioNetConfig,
    DisPositioNetGenerator,
    SIMSGBatch,
    gaussian_kl,
    pairwise_region_l1,
    pose_to_affine,
    warp_patches,
)
from sgkit.models.dispositionet_generator import reparameterize
from sgkit.nn.layout import masks_to_layout


def _cfg(**kw):
    small = dict(decoder_dims=(16, 16, 8, 8), spade_hidden_dim=8, gconv_dim=32, gconv_hidden_dim=32,
                 embedding_dim=16, feature_dim=16, feature_channels=8, image_branch_channels=8, head_hidden_dim=32,
                 dsgn_factors=4, dsgn_factor_channels=4, dsgn_hidden_dim=16, encoder_hidden_dim=16)
    small.update(kw)
    return DisPositioNetConfig.preset("spade-32-shapes", 36, 6, **small)


@pytest.fixture(scope="module")
def world():
    return ShapesWorld(0, image_size=32, progress=False)


@pytest.fixture(scope="module")
def model():
    return DisPositioNet(_cfg(), seed=0)


def test_warp_moves_exactly_the_objects_own_patch():
    masks = torch.zeros(2, 4, 4)
    masks[0, :, 0] = 1.0  # object 0: its left column
    masks[1, 1:3, 1:3] = 1.0  # object 1: a centre square
    shift = torch.tensor([[[1.0, 0.0, -0.5], [0.0, 1.0, 0.0]], [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]])
    warped = warp_patches(masks, shift)
    expect0 = torch.zeros(4, 4)
    expect0[:, 1] = 1.0  # one mask pixel (0.5 in [-1, 1] units) to the right
    assert torch.allclose(warped[0], expect0, atol=1e-6)
    assert torch.allclose(warped[1], masks[1], atol=1e-6)  # identity leaves the other patch alone
    feats = torch.eye(2)
    boxes = torch.tensor([[0.0, 0.0, 0.5, 1.0], [0.5, 0.0, 1.0, 1.0]])
    batch = torch.zeros(2, dtype=torch.long)
    before = masks_to_layout(feats, boxes, masks, batch, 1, 8)
    after = masks_to_layout(feats, boxes, warped, batch, 1, 8)
    by_hand = masks_to_layout(feats, boxes, torch.stack([expect0, masks[1]]), batch, 1, 8)
    assert torch.allclose(after, by_hand, atol=1e-6)
    assert torch.equal(after[0, 1], before[0, 1])  # object 1's channel untouched
    assert after[0, 0, :, 4:].abs().max() == 0  # nothing leaves object 0's box
    assert after[0, 0, :, 0].abs().max() == 0 and after[0, 0, 3, 1] == 1.0


@pytest.mark.parametrize("mask_size", [16, 0])
def test_pose_change_alters_the_layout_only_inside_that_objects_box(mask_size):
    gen = DisPositioNetGenerator(_cfg(mask_size=mask_size)).eval()
    img = torch.rand(3, 32, 32, generator=torch.Generator().manual_seed(0))
    boxes = torch.tensor([[0.0, 0.0, 0.5, 0.5], [0.5, 0.5, 1.0, 1.0], [0.5, 0.0, 1.0, 0.5]])
    g = from_triplets([0, 14, 26], [(0, 0, 1), (2, 1, 0)], boxes=boxes, image=img)
    b = collate_scenes([g], need_boxes=True, need_images=True)
    batch = SIMSGBatch(**vars(b), source_images=b.images)
    ident = torch.tensor([[1.0, 0, 0], [0, 1.0, 0]]).repeat(3, 1, 1)
    rot = ident.clone()
    a = math.pi / 3
    rot[0, :, :2] = torch.tensor([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
    with torch.no_grad():
        o1 = gen(batch, deterministic=True, poses=ident, generator=torch.Generator().manual_seed(1))
        o2 = gen(batch, deterministic=True, poses=rot, generator=torch.Generator().manual_seed(1))
    D = gen.config.gconv_dim + gen.config.feature_dim
    diff = (o1["layout"][0, :D] - o2["layout"][0, :D]).abs().amax(0)
    assert diff[:16, :16].max() > 1e-3  # object 0's box (top-left quarter) changed
    outside = torch.ones(32, 32, dtype=torch.bool)
    outside[:16, :16] = False
    assert diff[outside].max() == 0  # and nothing else
    assert torch.equal(o2["poses"], rot)


def test_pose_parameterisations():
    zero = torch.zeros(2, 6)
    ident = torch.tensor([[1.0, 0, 0], [0, 1.0, 0]]).expand(2, 2, 3)
    for param in ("expm", "decomposed"):
        assert torch.allclose(pose_to_affine(zero, param), ident, atol=1e-6)
    g = torch.tensor([[0.3, 0.0, 0.0, 0.0, 0.2, -0.1]])
    a = pose_to_affine(g, "decomposed")[0]
    assert torch.allclose(a, torch.tensor([[math.cos(0.3), -math.sin(0.3), 0.2], [math.sin(0.3), math.cos(0.3), -0.1]]),
                          atol=1e-6)
    t = torch.tensor([[0.0, 0.0, 0.4, 0.0, 0.0, -0.2]])  # a pure-translation generator
    assert torch.allclose(pose_to_affine(t, "expm")[0], torch.tensor([[1.0, 0, 0.4], [0, 1.0, -0.2]]), atol=1e-6)
    r = torch.randn(5, 6, generator=torch.Generator().manual_seed(0))
    fwd, inv = pose_to_affine(r), pose_to_affine(-r)
    bottom = torch.tensor([0.0, 0, 1]).expand(5, 1, 3)
    prod = torch.cat([fwd, bottom], 1) @ torch.cat([inv, bottom], 1)
    assert torch.allclose(prod, torch.eye(3).expand(5, 3, 3), atol=1e-5)
    with pytest.raises(ValueError, match="param"):
        pose_to_affine(zero, "cpab")
    with pytest.raises(ValueError, match="theta"):
        warp_patches(torch.zeros(2, 4, 4), torch.zeros(3, 2, 3))


def test_kl_term_matches_the_closed_form_and_is_counted_once(world):
    gen = torch.Generator().manual_seed(0)
    mean, var = torch.randn(7, 5, generator=gen), torch.rand(7, 5, generator=gen) + 0.1
    ref = kl_divergence(Normal(mean, var.sqrt()), Normal(0.0, 1.0)).mean()
    assert torch.allclose(gaussian_kl(mean, var), ref, atol=1e-6)
    m1, m2 = DisPositioNet(_cfg(kl_weight=1.0), seed=0), DisPositioNet(_cfg(kl_weight=3.0), seed=0)
    graphs = [p["source"] for p in world.edit_pairs("removal", 4, seed=1)]
    terms = []
    for m in (m1, m2):
        m._rng = torch.Generator().manual_seed(0)
        batch = m.collate(graphs)
        m.train()
        out = m.forward_train(batch)
        terms.append((m.generator_losses(batch, out), out))
    (t1, out), (t2, _) = terms
    expect = gaussian_kl(out["mean_a"], out["var_a"]) + gaussian_kl(out["mean_p"], out["var_p"])
    assert torch.allclose(t1["kl"], expect, atol=1e-6) and torch.allclose(t2["kl"], 3 * expect, atol=1e-5)
    assert torch.allclose(t2["total"] - t1["total"], 2 * expect, atol=1e-5)  # the KL enters the total once
    assert "likelihood" not in t1
    m3 = DisPositioNet(_cfg(likelihood_weight=2.0), seed=0)
    m3._rng = torch.Generator().manual_seed(0)
    b3 = m3.collate(graphs)
    o3 = m3.forward_train(b3)
    t3 = m3.generator_losses(b3, o3)
    assert torch.allclose(t3["likelihood"], ((o3["image"] - b3.images) ** 2).mean(), atol=1e-6)


def test_reparameterised_samples_have_the_encoder_mean_and_variance():
    mean = torch.tensor([0.5, -2.0, 3.0], requires_grad=True)
    var = torch.tensor([0.25, 1.0, 4.0], requires_grad=True)
    n = 200_000
    z = reparameterize(mean.expand(n, 3), var.expand(n, 3), torch.Generator().manual_seed(0))
    assert torch.allclose(z.mean(0), mean, atol=0.02)
    assert torch.allclose(z.var(0), var, rtol=0.02)
    z.sum().backward()
    assert torch.allclose(mean.grad, torch.full((3,), float(n)))
    assert var.grad is not None and var.grad.abs().sum() > 0
    again = reparameterize(mean.expand(n, 3), var.expand(n, 3), torch.Generator().manual_seed(0))
    assert torch.equal(z, again)


def test_dsgn_routes_every_real_edge():
    cfg = _cfg(image_node=False)
    gen = DisPositioNetGenerator(cfg).eval()
    img = torch.rand(3, 32, 32, generator=torch.Generator().manual_seed(0))
    boxes = torch.tensor([[0.0, 0.0, 0.25, 0.25], [0.3, 0.0, 0.5, 0.25], [0.6, 0.6, 0.9, 0.9],
                          [0.0, 0.6, 0.3, 0.9], [0.4, 0.4, 0.5, 0.5]])
    triplets = [(0, 0, 1), (1, 2, 2), (2, 1, 3), (3, 3, 4), (4, 4, 0)]

    def encode(trips):
        g = from_triplets([0, 5, 10, 15, 20], trips, boxes=boxes, image=img)
        b = collate_scenes([g], need_boxes=True, need_images=True)
        batch = SIMSGBatch(**vars(b), source_images=b.images)
        with torch.no_grad():
            batch.visual_features = gen.object_features(batch)
            return gen.encode(batch)

    full = encode(triplets)
    for k, (s, _, o) in enumerate(triplets):
        cut = encode(triplets[:k] + triplets[k + 1:])
        changed = (full - cut).abs().amax(1) > 1e-5
        assert bool(changed[s]) and bool(changed[o]), f"edge {k} ({s}->{o}) was not routed"
    relabelled = encode([(0, 5, 1)] + triplets[1:])
    assert not torch.allclose(full, relabelled, atol=1e-5)  # predicates enter the routing
    ablation = DisPositioNetGenerator(_cfg(graph_encoder="triple_gcn"))
    assert type(ablation.gcn).__name__ == "TripleGCN" and type(gen.gcn).__name__ == "_TwoStageDSGN"


def test_sampling_determinism_and_hand_set_poses(model, world):
    pairs = world.edit_pairs("replacement", 3, seed=2) + world.edit_pairs("addition", 2, seed=2)
    out = model.manipulate_pairs(pairs, num_samples=3, seed=5)
    S = model.config.image_size
    n_nodes = sum(p["target"]["object"].label.numel() for p in pairs)
    assert out.samples.shape == (3, 5, 3, S, S) and torch.equal(out.image, out.samples[0])
    assert out.poses.shape == (3, n_nodes, 2, 3) and out.gamma.shape == (3, n_nodes, 6)
    again = model.manipulate_pairs(pairs, num_samples=3, seed=5)
    assert torch.equal(out.samples, again.samples) and torch.equal(out.poses, again.poses)
    assert not torch.equal(out.samples[0], out.samples[1])
    assert pairwise_region_l1(out.samples, out.region) > 0
    det = model.manipulate_pairs(pairs, deterministic=True, num_samples=2, seed=5)
    assert torch.equal(det.poses[0], det.poses[1])  # means: the same poses in every sample
    counts = [p["target"]["object"].label.numel() for p in pairs]
    hand = list(out.poses[1].split(counts))
    forced = model.manipulate_pairs(pairs, poses=hand, seed=5)
    assert torch.equal(forced.poses[0], out.poses[1])
    flipped = [h.clone() for h in hand]
    flipped[0][0, 0, 0] = -1.0  # mirror node 0 of the first edit
    mirrored = model.manipulate_pairs(pairs, poses=flipped, seed=5)
    assert torch.equal(mirrored.image[1:], forced.image[1:]) and not torch.equal(mirrored.image[0], forced.image[0])
    with pytest.raises(ValueError, match="num_samples"):
        model.manipulate_pairs(pairs, num_samples=0)
    with pytest.raises(ValueError, match="poses"):
        model.manipulate_pairs(pairs, poses=hand[:2])
    m2 = DisPositioNet(_cfg(), seed=0)
    assert torch.equal(m2.manipulate_pairs(pairs, seed=5).image, out.image)
    r = model.reconstruct([p["source"] for p in pairs[:2]], deterministic=True)
    assert torch.equal(r["image"], model.reconstruct([p["source"] for p in pairs[:2]], deterministic=True)["image"])
    assert set(model.evaluate_edits(pairs, deterministic=True)) == {"replacement", "addition", "all"}


def test_checkpoint_round_trip_and_config_checks(tmp_path, world):
    pairs = world.edit_pairs("replacement", 4, seed=5)
    m = DisPositioNet(_cfg(pose_param="decomposed"), seed=0)
    hist = m.fit([p["target"] for p in pairs], steps=2, batch_size=2, progress=False)
    assert hist is not None
    m2 = DisPositioNet.load(m.save(tmp_path / "dispo.pt"))
    assert isinstance(m2.config, DisPositioNetConfig) and m2.config == m.config
    a, b = m.manipulate_pairs(pairs, num_samples=2), m2.manipulate_pairs(pairs, num_samples=2)
    assert torch.equal(a.samples, b.samples) and torch.equal(a.poses, b.poses)
    with pytest.raises(ValueError, match="pose_param='x'"):
        _cfg(pose_param="x")
    with pytest.raises(ValueError, match="kl_weight"):
        _cfg(kl_weight=-1.0)
    with pytest.raises(ValueError, match="dsgn_layers"):
        _cfg(dsgn_layers=0)
    with pytest.raises(ValueError, match="preset"):
        DisPositioNetConfig.preset("nope", 36, 6)
    ref = DisPositioNetConfig.preset("spade-64", 36, 6, weights="reference")
    assert ref.kl_weight == 4.0 and ref.graph_encoder == "dsgn" and ref.dsgn_layers == 10
    with pytest.raises(TypeError, match="DisPositioNetConfig"):
        DisPositioNet(ref.__class__.__mro__[1](num_objects=36, num_predicates=6), seed=0)
