import numpy as np
import pytest
import torch

from sgkit.datasets import ShapesWorld
from sgkit.models import SG2Im, SG2ImConfig
from sgkit.models.few_shot import (
    adapt,
    graph_features,
    image_features,
    sample_shots,
    split_tasks,
    tasks_by_attribute,
    tasks_by_clustering,
)
from sgkit.models.few_shot_benchmark import few_shot_benchmark


def tiny_config() -> SG2ImConfig:
    """A tiny CRN SG2Im without layout noise (generation does not depend on the seed)."""
    sizes = dict(embedding_dim=8, gconv_dim=8, gconv_hidden_dim=16, gconv_layers=1, head_hidden_dim=8)
    return SG2ImConfig.preset("crn-small", 36, 6, image_size=16, mask_size=8, layout_noise_dim=0,
                              decoder_dims=(8, 8), d_img_dims=(8, 8), d_obj_dims=(8, 8), crop_size=8, **sizes)


@pytest.fixture(scope="module")
def world() -> ShapesWorld:
    return ShapesWorld(24, image_size=16, mask_size=8, seed=2, progress=False)


def test_tasks_by_attribute_from_dataset_and_from_graphs(world):
    by_ds = tasks_by_attribute(world, "scene_type")
    by_graphs = tasks_by_attribute([world[i] for i in range(len(world))], "scene_type")
    assert by_ds == by_graphs
    assert sorted(i for v in by_ds.values() for i in v) == list(range(len(world)))
    for value, idx in by_ds.items():
        assert all(int(world[i].scene_type) == value for i in idx)
    with pytest.raises(ValueError, match=r"scenes\[0\] has no attribute 'weather'"):
        tasks_by_attribute([world[0]], "weather")


def test_tasks_by_clustering_recovers_separated_groups():
    rng = np.random.default_rng(0)
    centres = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    truth = np.repeat(np.arange(3), 20)
    x = centres[truth] + rng.normal(scale=0.3, size=(60, 2))
    tasks = tasks_by_clustering(x, 3, seed=0)
    assert sorted(len(v) for v in tasks.values()) == [20, 20, 20]
    for idx in tasks.values():
        assert len(set(truth[idx].tolist())) == 1
    with pytest.raises(ValueError, match="n_clusters must be an int in \\[1, 60\\], got n_clusters=61"):
        tasks_by_clustering(x, 61)


def test_graph_and_image_features(world):
    graphs = world.graphs()
    f = graph_features(graphs, 36, 6)
    assert f.shape == (len(graphs), 43)
    labels = graphs[0]["object"].label
    assert f[0, :36].sum() == pytest.approx(1.0)
    assert f[0, int(labels[0])] == pytest.approx(float((labels == labels[0]).float().mean()))
    assert f[0, -1] == pytest.approx(labels.numel() / 10)
    images = world.images()[:4]
    g = image_features(images, grid=2)
    assert g.shape == (4, 6 + 12)
    assert g[1, :3] == pytest.approx(images[1].mean((1, 2)).numpy(), abs=1e-6)
    cells = images[1, :, :8, :8].mean((1, 2)).numpy()  # top-left cell of each channel (channel-major)
    assert g[1, [6, 10, 14]] == pytest.approx(cells, abs=1e-6)


def test_split_tasks_and_sample_shots():
    tasks = {f"t{i}": list(range(10 * i, 10 * i + 10)) for i in range(6)}
    train, test = split_tasks(tasks, 2, seed=1)
    assert len(train) == 4 and len(test) == 2 and not set(train) & set(test)
    assert split_tasks(tasks, 2, seed=1) == (train, test)
    train2, test2 = split_tasks(tasks, test=["t5"])
    assert list(test2) == ["t5"] and "t5" not in train2
    with pytest.raises(ValueError, match="test names unknown tasks: \\['t9'\\]"):
        split_tasks(tasks, test=["t9"])
    shots = sample_shots(tasks["t3"], 4, seed=7)
    assert len(set(shots)) == 4 and set(shots) <= set(tasks["t3"])
    assert shots == sample_shots(tasks["t3"], 4, seed=7) and shots != sample_shots(tasks["t3"], 4, seed=8)
    assert sorted(sample_shots(tasks["t3"], 10, seed=0)) == tasks["t3"]
    with pytest.raises(ValueError, match="k must be an int in \\[1, 10\\] \\(the task size\\), got k=11"):
        sample_shots(tasks["t3"], 11)


def test_adapt_fine_tunes_a_copy(world):
    model = SG2Im(tiny_config(), seed=0)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    seen = []
    copy = adapt(model, [world[i] for i in range(3)], steps=3, batch_size=2, seed=0,
                 callback=lambda step, m: seen.append((step, m is not model)))
    assert seen == [(1, True), (2, True), (3, True)]
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())
    assert any(not torch.equal(v, before[k]) for k, v in copy.state_dict().items())
    same = adapt(model, [world[i] for i in range(3)], steps=0)
    assert all(torch.equal(v, before[k]) for k, v in same.state_dict().items())
    with pytest.raises(ValueError, match="steps must be a non-negative int, got steps=-1"):
        adapt(model, [world[0]], steps=-1)


def test_benchmark_mae_matches_an_independent_computation(world):
    scenes = [world[i] for i in range(len(world))]
    tasks = {"x": (scenes[:4], scenes[4:10]), "y": (scenes[10:14], scenes[14:20])}
    model = SG2Im(tiny_config(), seed=0)
    extractor = lambda x: torch.nn.functional.adaptive_avg_pool2d(x, 2).flatten(1)  # noqa: E731
    res = few_shot_benchmark({"plain": model}, tasks, shots=(2,), steps=0, feature_extractor=extractor,
                             kid_subset_size=6, progress=False)
    fake = torch.cat([model.generate(q, use_boxes=True) for _, q in tasks.values()])
    real = torch.stack([g.image for _, q in tasks.values() for g in q])
    expected = float((fake - real).abs().mean()) * 255
    m = res.metrics["plain"]["2"]
    assert m["mae"] == pytest.approx(expected, rel=1e-5)
    assert m["mae_curve"] == {"0": pytest.approx(expected, rel=1e-5)}
    assert m["kid"] == pytest.approx(m["kid_per_repeat"][0]) and np.isfinite(m["fid"])
    assert set(res.images["plain"]["2"]) == {"x", "y"} and res.real["x"].shape == (6, 3, 16, 16)
    # fine-tuning moves the MAE; curve points are recorded at the asked steps
    res2 = few_shot_benchmark({"plain": model}, tasks, shots=(2, 4), repeats=2, steps=3, eval_steps=(0, 1),
                              progress=False)
    curve = res2.metrics["plain"]["2"]["mae_curve"]
    assert list(curve) == ["0", "1", "3"] and curve["0"] == pytest.approx(expected, rel=1e-5)
    assert len(res2.metrics["plain"]["4"]["mae_per_repeat"]) == 2
    assert res2.metrics["plain"]["4"]["mae"] != pytest.approx(expected, rel=1e-6)
    with pytest.raises(ValueError, match="shots must be ints in \\[1, 4\\]"):
        few_shot_benchmark({"plain": model}, tasks, shots=(5,), progress=False)


def test_benchmark_uses_sgkit_metrics_prd_when_present(world, monkeypatch):
    import collections

    import sgkit.metrics

    calls = []
    result_type = collections.namedtuple("PRD", "f_8 f_1_8")

    def fake_prd(real, fake, *, seed=0):
        calls.append((tuple(real.shape), tuple(fake.shape), seed))
        return result_type(0.25, 0.75)

    monkeypatch.setattr(sgkit.metrics, "prd", fake_prd, raising=False)
    scenes = [world[i] for i in range(len(world))]
    extractor = lambda x: torch.nn.functional.adaptive_avg_pool2d(x, 2).flatten(1)  # noqa: E731
    model = SG2Im(tiny_config(), seed=0)
    res = few_shot_benchmark({"plain": model}, {"x": (scenes[:2], scenes[2:])}, shots=(1,), steps=0,
                             feature_extractor=extractor, kid_subset_size=10, seed=3, progress=False)
    assert calls == [((22, 12), (22, 12), 3)]
    assert res.metrics["plain"]["1"]["prd_f8"] == 0.25 and res.metrics["plain"]["1"]["prd_f1_8"] == 0.75
    assert res.prd_available
    small = few_shot_benchmark({"plain": model}, {"x": (scenes[:2], scenes[2:12])}, shots=(1,), steps=0,
                               feature_extractor=extractor, kid_subset_size=10, progress=False)
    assert "prd_f8" not in small.metrics["plain"]["1"] and not small.prd_available  # fewer than 20 images
