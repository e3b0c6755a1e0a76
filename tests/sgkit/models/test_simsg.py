"""SIMSG: masking sampler, masked regions, visual features, manipulate, checkpoints, metrics."""
import math

import pytest
import torch

from sgkit.data import collate_scenes, from_triplets, remove_node, replace_node
from sgkit.datasets import ShapesWorld
from sgkit.metrics import edit_roi_boxes, evaluate_edits
from sgkit.models import (
    SIMSG,
    SIMSGBatch,
    SIMSGConfig,
    SupervisedSIMSG,
    sample_keep_flags,
)
from sgkit.nn import (
    imagenet_normalize,
)


def _cfg(**kw):
    return SIMSGConfig.preset("crn-32-shapes", 36, 6, **kw)


@pytest.fixture(scope="module")
def world():
    return ShapesWorld(0, image_size=32, progress=False)


@pytest.fixture(scope="module")
def model():
    return SIMSG(_cfg(), seed=0)


def test_keep_flag_rates_and_independence():
    g = torch.Generator().manual_seed(0)
    kb, kf, ki = sample_keep_flags(200_000, 0.35, 0.25, g)
    assert abs(kb.float().mean() - 0.65) < 0.005
    assert abs(kf.float().mean() - 0.75) < 0.005
    assert abs(ki.float().mean() - 0.65 * 0.75) < 0.005
    assert torch.equal(ki, kb & kf)
    again = sample_keep_flags(200_000, 0.35, 0.25, torch.Generator().manual_seed(0))
    assert all(torch.equal(a, b) for a, b in zip((kb, kf, ki), again))


def test_training_batch_greys_feature_masked_nodes(world):
    m = SIMSG(_cfg(), seed=0)
    graphs = [p["source"] for p in world.edit_pairs("removal", 8)]
    b = m.collate(graphs)
    assert torch.equal(b.grey, ~b.keep_feature) and torch.equal(b.keep_image, b.keep_box & b.keep_feature)
    assert torch.equal(b.source_images, b.images)






def _toy_batch(image, keep_box, keep_feature, keep_image, grey, hidden=None):
    boxes = torch.tensor([[0.0, 0.0, 0.5, 0.5], [0.5, 0.5, 1.0, 1.0], [0.5, 0.0, 1.0, 0.5]])
    g = from_triplets([0, 1, 2], [(0, 0, 1), (2, 1, 0)], boxes=boxes, image=image)
    b = collate_scenes([g], need_boxes=True, need_images=True)
    hb = torch.zeros(0, 4) if hidden is None else hidden
    return SIMSGBatch(**vars(b), source_images=b.images, keep_box=torch.tensor(keep_box),
                      keep_feature=torch.tensor(keep_feature), keep_image=torch.tensor(keep_image),
                      grey=torch.tensor(grey), hidden_boxes=hb, hidden_batch=torch.zeros(len(hb), dtype=torch.long))


def test_masked_input_noises_exactly_the_hidden_regions():
    gen = SIMSG(_cfg(), seed=0).generator
    img = torch.rand(3, 32, 32, generator=torch.Generator().manual_seed(0))
    hidden = torch.tensor([[0.0, 0.5, 0.25, 1.0]])
    b = _toy_batch(img, [True, True, True], [True, True, True], [True, False, True], [False] * 3, hidden)
    layout_boxes = b.boxes.clone()
    layout_boxes[1] = torch.tensor([0.25, 0.25, 0.5, 0.5])  # e.g. a predicted new place
    mi = gen.masked_input(b, layout_boxes, torch.Generator().manual_seed(0))
    expect = torch.zeros(32, 32, dtype=torch.bool)
    expect[16:, 16:] = True   # node 1 at its source box
    expect[8:16, 8:16] = True  # and at its layout box
    expect[16:, :8] = True    # the hidden (removed) box
    assert torch.equal(mi[0, 3] > 0.5, expect)
    src = imagenet_normalize(img[None])[0]
    assert torch.equal(mi[0, :3][:, ~expect], src[:, ~expect])
    assert not torch.allclose(mi[0, :3][:, expect], src[:, expect])


def test_hidden_content_does_not_leak_into_other_features():
    gen = SIMSG(_cfg(), seed=0).generator.eval()
    img = torch.rand(3, 32, 32, generator=torch.Generator().manual_seed(0))
    other = img.clone()
    other[:, :16, :16] = 1 - other[:, :16, :16]  # change what node 0 shows
    flags = ([True, True, True], [False, True, True], [False, True, True], [True, False, False])
    za = gen.object_features(_toy_batch(img, *flags))
    zb = gen.object_features(_toy_batch(other, *flags))
    assert torch.allclose(za[1:], zb[1:], atol=1e-6)  # neighbours and the image node see grey
    # a moved node (box hidden, feature kept) is cropped from the un-greyed image
    moved = ([False, True, True], [True, True, True], [False, True, True], [True, False, False])
    za = gen.object_features(_toy_batch(img, *moved))
    zb = gen.object_features(_toy_batch(other, *moved))
    assert not torch.allclose(za[0], zb[0], atol=1e-4)
    assert torch.allclose(za[1:3], zb[1:3], atol=1e-6)


def test_manipulate_shapes_determinism_and_batching(model, world):
    pairs = world.edit_pairs("removal", 3, seed=2) + world.edit_pairs("addition", 3, seed=2)
    out = model.manipulate_pairs(pairs, seed=7)
    S = model.config.image_size
    assert out.image.shape == (6, 3, S, S) and out.masked_input.shape == (6, 4, S, S)
    assert out.region.shape == (6, S, S) and out.region.flatten(1).any(1).all()
    n_nodes = sum(p["target"]["object"].label.numel() for p in pairs)
    assert out.layout_boxes.shape == (n_nodes, 4) and out.batch.shape == (n_nodes,)
    assert [p.mode for p in out.plans] == ["removal"] * 3 + ["addition"] * 3
    again = model.manipulate_pairs(pairs, seed=7)
    assert torch.equal(out.image, again.image)
    single = torch.cat([model.manipulate_pairs([p], seed=7 + i).image for i, p in enumerate(pairs)])
    one_by_one = model.manipulate_pairs(pairs, seed=7, batch_size=1).image
    assert torch.allclose(single, one_by_one)
    assert not torch.equal(model.manipulate_pairs(pairs, seed=8).image, out.image)
    comp = model.manipulate_pairs(pairs, seed=7, composite=True).image
    src = torch.stack([p["source"].image for p in pairs])
    keep = ~out.region.unsqueeze(1).expand_as(src)
    assert torch.equal(comp[keep], src[keep])


def test_manipulate_keeps_given_boxes_and_predicts_the_others(model, world):
    pair = world.edit_pairs("addition", 1, seed=3)[0]
    out = model.manipulate_pairs([pair])
    n = pair["source"]["object"].label.numel()
    assert torch.equal(out.layout_boxes[:n], pair["source"]["object"].box)
    assert torch.equal(out.layout_boxes[n], out.boxes_pred[n])
    given = model.manipulate_pairs([pair], addition_box="given")
    assert torch.equal(given.layout_boxes[n], pair["target"]["object"].box[n])


def test_bad_manipulate_arguments(model, world):
    pair = world.edit_pairs("removal", 1)[0]
    with pytest.raises(ValueError, match="same length"):
        model.manipulate([pair["source"]] * 2, [remove_node(pair["source"], 0)])
    with pytest.raises(ValueError, match="relation_mask"):
        model.manipulate(pair["source"], remove_node(pair["source"], 0), relation_mask="x")
    with pytest.raises(ValueError, match="edited"):
        model.manipulate(pair["source"], replace_node(pair["source"], 0, 40))


def test_reconstruct_replicas(model, world):
    scenes = [p["source"] for p in world.edit_pairs("replacement", 3, seed=4)]
    r = model.reconstruct(scenes)
    assert r["image"].shape[0] == sum(g["object"].label.numel() for g in scenes)
    for k in range(len(r["scene"])):
        i, j = int(r["scene"][k]), int(r["object"][k])
        assert torch.equal(r["roi_boxes"][k], scenes[i]["object"].box[j])
    gen = model.reconstruct(scenes, generative=True)
    assert gen["image"].shape[0] == 3 and (gen["object"] == -1).all()


def test_checkpoint_round_trip(tmp_path, world):
    pairs = world.edit_pairs("replacement", 4, seed=5)
    m = SIMSG(_cfg(), seed=0)
    m.fit([p["target"] for p in pairs], steps=2, batch_size=2, progress=False)
    path = m.save(tmp_path / "simsg.pt")
    m2 = SIMSG.load(path)
    assert isinstance(m2.config, SIMSGConfig) and m2.config == m.config
    assert torch.equal(m.manipulate_pairs(pairs).image, m2.manipulate_pairs(pairs).image)
    s = SupervisedSIMSG(_cfg(), seed=0).fit_pairs(pairs, steps=1, batch_size=2, progress=False)
    s2 = SupervisedSIMSG.load(s.save(tmp_path / "sup.pt"))
    assert s2.config.supervised and torch.equal(s.predict_pairs(pairs), s2.predict_pairs(pairs))


def test_supervised_batch_has_no_masking(world):
    pairs = world.edit_pairs("addition", 2)
    s = SupervisedSIMSG(_cfg(), seed=0)
    b = s.collate(s.pair_graphs(pairs))
    assert b.keep_image.all() and b.keep_box.all() and not b.keep_feature.any()
    assert torch.equal(b.source_images, torch.stack([p["source"].image for p in pairs]))
    assert torch.equal(b.images, torch.stack([p["target"].image for p in pairs]))




def test_config_presets_and_validation(tmp_path):
    t = SIMSGConfig.preset("spade-64", 5, 3, weights="thesis")
    r = SIMSGConfig.preset("spade-64", 5, 3, weights="reference")
    assert (t.feature_matching_weight, t.perceptual_weight, t.box_weight) == (10.0, 10.0, 50.0)
    assert (r.feature_matching_weight, r.perceptual_weight) == (5.0, 5.0)
    c = SIMSGConfig.preset("crn-64", 5, 3)
    assert (c.lr, c.betas, c.box_weight, c.gan_global_weight) == (2e-4, (0.9, 0.999), 10.0, 0.01)
    with pytest.raises(ValueError, match="box_mask_prob must be a number in \\[0, 1\\], got box_mask_prob=1.5"):
        _cfg(box_mask_prob=1.5)
    with pytest.raises(ValueError, match="weights must be one of"):
        SIMSGConfig.preset("crn-64", 5, 3, weights="paper")
    with pytest.raises(ValueError, match="kind='vgg16' needs a local weights file"):
        SIMSG(_cfg(feature_encoder="vgg16"))
    with pytest.raises(FileNotFoundError, match="feature_weights"):
        SIMSG(_cfg(feature_encoder="auto", feature_weights=str(tmp_path / "none.pth")))


def test_vgg16_trunk_from_local_file_is_frozen(tmp_path, world):
    from sgkit.models.losses import _vgg16_features

    path = tmp_path / "vgg16.pth"
    torch.save({f"features.{k}": v for k, v in _vgg16_features().state_dict().items()}, path)
    m = SIMSG(_cfg(feature_weights=str(path)), seed=0)
    assert m.feature_encoder_kind == "vgg16"
    before = {k: v.clone() for k, v in m.generator.feature_encoder.trunk.state_dict().items()}
    m.fit([p["target"] for p in world.edit_pairs("removal", 2)], steps=1, batch_size=2, progress=False)
    after = m.generator.feature_encoder.trunk.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert SIMSG(_cfg(), seed=0).feature_encoder_kind == "cnn"










@pytest.mark.slow
def test_short_training_edits_better_than_copying_the_source():
    torch.manual_seed(0)
    ds = ShapesWorld(800, image_size=32, progress=False)
    m = SIMSG(_cfg(), vocab=ds.vocab, seed=0).fit(ds, steps=100, batch_size=16, progress=False, seed=0)
    w = ShapesWorld(0, image_size=32, progress=False)
    for mode in ("removal", "replacement"):
        pairs = w.edit_pairs(mode, 40, seed=11)
        tgt = torch.stack([p["target"].image for p in pairs])
        src = torch.stack([p["source"].image for p in pairs])
        rois = [edit_roi_boxes(p) for p in pairs]
        ours = evaluate_edits(m.manipulate_pairs(pairs).image, tgt, [mode] * 40, rois)[mode]["roi_mae"]
        copy = evaluate_edits(src, tgt, [mode] * 40, rois)[mode]["roi_mae"]
        assert ours < copy, (mode, ours, copy)


def test_object_discriminator_scores_only_masked_nodes(world):
    m = SIMSG(SIMSGConfig.preset("crn-small", 36, 6, image_size=32), seed=0)
    b = m.collate([p["source"] for p in world.edit_pairs("removal", 6)])
    boxes, index, labels = m.object_targets(b)
    sel = ~b.keep_image
    assert 0 < int(sel.sum()) < b.num_objects
    assert torch.equal(boxes, b.boxes[sel]) and torch.equal(labels, b.labels[sel]) and torch.equal(index, b.batch[sel])
    b.keep_image = torch.ones_like(b.keep_image)
    assert m.object_targets(b)[0].shape[0] == b.num_objects
    stats = m.train_step(m.collate([p["source"] for p in world.edit_pairs("removal", 6)]))
    assert "gan_object" in stats and "d_obj" in stats and all(math.isfinite(v) for v in stats.values())


def test_feature_fill_and_box_loss_options(world):
    pairs = world.edit_pairs("replacement", 4, seed=6)
    m = SIMSG(_cfg(feature_fill="gaussian"), seed=0)
    with pytest.raises(ValueError, match="fit_feature_statistics"):
        m.manipulate_pairs(pairs)
    stats = m.fit_feature_statistics([p["source"] for p in pairs])
    b = collate_scenes([p["source"] for p in pairs], need_boxes=True, need_images=True)
    z = m.generator.object_features(SIMSGBatch(**vars(b), source_images=b.images))[: b.num_objects]
    assert torch.allclose(stats[0], z.mean(0), atol=1e-5) and torch.allclose(stats[1], z.std(0), atol=1e-5)
    a, c = m.manipulate_pairs(pairs, seed=1).image, m.manipulate_pairs(pairs, seed=1).image
    assert torch.equal(a, c)
    zero = SIMSG(_cfg(), seed=0)
    zero.load_state_dict(m.state_dict())
    assert not torch.allclose(a, zero.manipulate_pairs(pairs, seed=1).image)  # the replaced node's fill differs
    mse = SIMSG(_cfg(box_loss="mse"), seed=0)
    batch = mse.collate([p["target"] for p in pairs])
    out = mse.forward_train(batch)
    terms = mse.generator_losses(batch, out)
    expect = mse.config.box_weight * ((out["boxes_pred"] - batch.boxes) ** 2).mean()
    assert torch.allclose(terms["box"], expect)
    with pytest.raises(ValueError, match="box_loss must be one of"):
        _cfg(box_loss="huber")


def test_encode_objects_and_evaluate_edits(model, world):
    pair = world.edit_pairs("removal", 1, seed=8)[0]
    src = pair["source"]
    z = model.encode_objects(src.image, src["object"].box)
    b = collate_scenes([src], need_boxes=True, need_images=True)
    ref = model.generator.object_features(SIMSGBatch(**vars(b), source_images=b.images))[: b.num_objects]
    assert z.shape == (b.num_objects, model.config.feature_dim) and torch.allclose(z, ref, atol=1e-5)
    pairs = world.edit_pairs("removal", 3, seed=8) + world.edit_pairs("replacement", 2, seed=8)
    res = model.evaluate_edits(pairs, seed=1)
    out = model.manipulate_pairs(pairs, seed=1)
    tgt = torch.stack([p["target"].image for p in pairs])
    ref = evaluate_edits(out.image, tgt, [p["mode"] for p in pairs], [edit_roi_boxes(p) for p in pairs])
    assert res == ref and set(res) == {"removal", "replacement", "all"}
