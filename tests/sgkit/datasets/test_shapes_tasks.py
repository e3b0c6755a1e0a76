import numpy as np
import pytest
import torch

from sgkit.datasets import (
    BACKGROUNDS,
    GAINS,
    SCENE_TYPES,
    ShapesWorld,
    TaskStyle,
    apply_style,
    object_colors,
    shapes_style_tasks,
)


@pytest.fixture(scope="module")
def small_tasks():
    return shapes_style_tasks(scenes_per_task=3, pool_size=4, query_size=3, num_test_tasks=5, image_size=16, seed=0)


def test_apply_style_recolours_every_pixel_exactly():
    ds = ShapesWorld(4, image_size=16, seed=1, progress=False)
    raw = ds.images_uint8()
    style = TaskStyle(background=3, gain=0.6, permutation=(2, 0, 3, 1))
    out = apply_style(raw, style)
    assert out.shape == raw.shape and out.dtype == np.uint8
    grey = np.array([128, 128, 128])
    base = np.rint(np.array(object_colors(list(range(4)))) * 255).astype(int)  # large red/green/blue/yellow squares
    pix_in = raw.transpose(0, 2, 3, 1).reshape(-1, 3).astype(int)
    pix_out = out.transpose(0, 2, 3, 1).reshape(-1, 3).astype(int)
    bg = (pix_in == grey).all(1)
    assert bg.any() and (~bg).any()
    assert (pix_out[bg] == np.rint(np.array(BACKGROUNDS[3][1]) * 0.6)).all()
    for c in range(4):
        sel = (pix_in == base[c]).all(1)
        if sel.any():
            assert (pix_out[sel] == np.rint(base[style.permutation[c]] * 0.6)).all()
    identity = apply_style(raw, TaskStyle(0, 1.0))
    assert np.array_equal(identity, raw)  # background 0 is ShapesWorld's grey
    with pytest.raises(ValueError, match="neither the ShapesWorld background nor an object colour"):
        apply_style(np.full((1, 3, 2, 2), 7, np.uint8), style)


def test_style_validation_names_the_field():
    with pytest.raises(ValueError, match="background must be an int in \\[0, 8\\), got background=8"):
        TaskStyle(8, 1.0)
    with pytest.raises(ValueError, match="gain must be a number in \\(0, 1\\], got gain=1.5"):
        TaskStyle(0, 1.5)
    with pytest.raises(ValueError, match="permutation must be a permutation"):
        TaskStyle(0, 1.0, (0, 0, 1, 2))


def test_default_split_has_60_training_tasks_and_unseen_test_styles(small_tasks):
    t = small_tasks
    assert len(t.train) == len(SCENE_TYPES) * (len(BACKGROUNDS) - 2) * len(GAINS) == 60
    assert len(t.test) == 5
    train_bg = {t.styles[n].background for n in t.train}
    test_bg = {t.styles[n].background for n in t.test}
    assert train_bg == set(range(6)) and test_bg <= {6, 7}
    for name, scenes in t.train.items():
        assert len(scenes) == 3
        for g in scenes:
            assert g.task == name and SCENE_TYPES[int(g.scene_type)] == t.scene_types[name]
            assert g.attributes["background"] == t.styles[name].background
            assert g.image.shape == (3, 16, 16)
    for name, (pool, query) in t.test.items():
        assert len(pool) == 4 and len(query) == 3
        corner = query[0].image[:, 0, 0]  # corner pixels are background in ShapesWorld layouts or an object
        bg = torch.tensor(BACKGROUNDS[t.styles[name].background][1]) * t.styles[name].gain / 255
        colours = [bg] + [torch.tensor(c) * 255 * t.styles[name].gain / 255 for c in object_colors(list(range(4)))]
        assert any(torch.allclose(corner, c.float(), atol=1 / 255) for c in colours)


def test_every_training_task_is_drawable_and_deterministic(small_tasks):
    again = shapes_style_tasks(scenes_per_task=3, pool_size=4, query_size=3, num_test_tasks=5, image_size=16, seed=0)
    assert list(again.train) == list(small_tasks.train) and list(again.test) == list(small_tasks.test)
    name = next(iter(again.train))
    for a, b in zip(again.train[name], small_tasks.train[name]):
        assert torch.equal(a.image, b.image) and torch.equal(a["object"].box, b["object"].box)
    other = shapes_style_tasks(scenes_per_task=3, pool_size=4, query_size=3, num_test_tasks=5, image_size=16, seed=1)
    assert list(other.test) != list(small_tasks.test) or any(
        not torch.equal(a.image, b.image) for a, b in zip(other.train[name], small_tasks.train[name]))


def test_permuted_colours_use_unseen_permutations_in_test_tasks():
    t = shapes_style_tasks(scenes_per_task=2, pool_size=2, query_size=2, num_test_tasks=4, image_size=16,
                           permute_colours=True, seed=3)
    train_perms = {t.styles[n].permutation for n in t.train}
    test_perms = {t.styles[n].permutation for n in t.test}
    assert not train_perms & test_perms and (0, 1, 2, 3) not in train_perms | test_perms


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="num_test_tasks=21 exceeds the 20 held-out combinations"):
        shapes_style_tasks(scenes_per_task=1, pool_size=1, query_size=1, num_test_tasks=21, image_size=16)
    with pytest.raises(ValueError, match="held_out_backgrounds must name"):
        shapes_style_tasks(held_out_backgrounds=(9,))
    with pytest.raises(ValueError, match="scenes_per_task must be a positive int, got scenes_per_task=0"):
        shapes_style_tasks(scenes_per_task=0)
