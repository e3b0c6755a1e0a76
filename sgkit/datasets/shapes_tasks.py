"""ShapesWorld tasks that differ in image style not written in the graph (few-shot generation).

In plain ShapesWorld a category fixes an object's appearance and the graph-to-image mapping is
the same for every scene type, so scene-type tasks differ in layout statistics only and few-shot
adaptation has nothing to learn. Here every task renders its scenes in a *style*, like the time
of day and weather of BDD100k in the MIGS experiments:

* a background colour from a palette of 8 (:data:`BACKGROUNDS`);
* a global illumination gain in ``{0.6, 1.0}`` (:data:`GAINS`), multiplying every pixel;
* optionally a per-task permutation of the 4 object colours (``permute_colours=True``), which
  makes the label-to-colour mapping task-dependent.

A task is ``(scene_type, style)``. The default split follows the reproduction plan of the MIGS
chapter: the backgrounds ``6`` and ``7`` are held out, so the 5 scene types x 6 backgrounds x 2
gains give 60 training tasks, and the held-out tasks are drawn from the 20 combinations with an
unseen background (with ``permute_colours``, held-out tasks also use unseen permutations).
Training tasks draw their graphs from one :class:`ShapesWorld`, held-out tasks from another
(other seed), so held-out graphs are unseen too. The style is applied exactly to the rendered
images (ShapesWorld renders without anti-aliasing, so every pixel is either the background or one
of the 4 object colours) by :func:`apply_style`.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np
import torch
from torch_geometric.data import HeteroData

from sgkit.datasets.shapes import ShapesWorld
from sgkit.datasets.shapes_render import render_scenes
from sgkit.datasets.shapes_vocab import COLOURS, SCENE_TYPES, category_id, object_colors

__all__ = ["BACKGROUNDS", "GAINS", "ShapesStyleTasks", "TaskStyle", "apply_style", "shapes_style_tasks"]

#: The background palette: ``(name, RGB)``; the last two are held out by default.
BACKGROUNDS: tuple[tuple[str, tuple[int, int, int]], ...] = (
    ("grey", (128, 128, 128)), ("black", (20, 20, 20)), ("white", (235, 235, 235)),
    ("navy", (30, 40, 90)), ("olive", (110, 110, 40)), ("teal", (40, 120, 120)),
    ("maroon", (100, 30, 40)), ("pink", (230, 170, 190)),
)
#: Global illumination gains.
GAINS: tuple[float, ...] = (0.6, 1.0)


@dataclass(frozen=True)
class TaskStyle:
    """The image style of a task.

    Attributes:
        background: index into :data:`BACKGROUNDS`.
        gain: illumination gain multiplying every pixel.
        permutation: object colour ``c`` is rendered in base colour ``permutation[c]``.
    """

    background: int
    gain: float
    permutation: tuple[int, ...] = (0, 1, 2, 3)

    def __post_init__(self) -> None:
        if not isinstance(self.background, int) or not 0 <= self.background < len(BACKGROUNDS):
            raise ValueError(f"background must be an int in [0, {len(BACKGROUNDS)}), got background={self.background!r}")
        if isinstance(self.gain, bool) or not isinstance(self.gain, (int, float)) or not 0 < self.gain <= 1:
            raise ValueError(f"gain must be a number in (0, 1], got gain={self.gain!r}")
        if sorted(self.permutation) != list(range(len(COLOURS))):
            raise ValueError(f"permutation must be a permutation of {list(range(len(COLOURS)))}, "
                             f"got permutation={self.permutation!r}")

    @property
    def name(self) -> str:
        """E.g. ``"navy-0.6"`` or ``"navy-0.6-2031"`` (with a non-identity permutation)."""
        base = f"{BACKGROUNDS[self.background][0]}-{self.gain:g}"
        if tuple(self.permutation) != tuple(range(len(COLOURS))):
            base += "-" + "".join(str(p) for p in self.permutation)
        return base


def _base_colours() -> tuple[np.ndarray, np.ndarray]:
    """The plain ShapesWorld background and object colours (uint8 ``[3]`` and ``[4, 3]``)."""
    background = render_scenes([np.zeros(0, np.int64)], [np.zeros((0, 4))], 1)[0, :, 0, 0]
    objects = np.array(object_colors([category_id(0, c, 0) for c in range(len(COLOURS))])) * 255.0
    return background.astype(np.int64), np.rint(objects).astype(np.int64)


def apply_style(images: np.ndarray, style: TaskStyle) -> np.ndarray:
    """Re-render plain ShapesWorld images ``[N, 3, H, W]`` (uint8) in ``style``.

    Background pixels take the style's background, pixels of object colour ``c`` the base colour
    ``permutation[c]``, then every pixel is multiplied by the gain (rounded to uint8).

    Raises:
        ValueError: for a non-uint8 array or a pixel that is neither background nor an object
            colour (not a plain ShapesWorld image).
    """
    if not isinstance(images, np.ndarray) or images.dtype != np.uint8 or images.ndim != 4 or images.shape[1] != 3:
        raise ValueError("images must be a uint8 array [N, 3, H, W] of plain ShapesWorld renderings")
    background, objects = _base_colours()
    px = images.astype(np.int64).transpose(0, 2, 3, 1)  # [N, H, W, 3]
    index = np.full(px.shape[:3], -2, dtype=np.int64)
    index[(px == background).all(-1)] = -1
    for c in range(len(COLOURS)):
        index[(px == objects[c]).all(-1)] = c
    if (index == -2).any():
        raise ValueError("images hold pixels that are neither the ShapesWorld background nor an object colour")
    lut = np.concatenate([np.array(BACKGROUNDS[style.background][1])[None], objects[list(style.permutation)]])
    out = lut[index + 1].astype(np.float64) * float(style.gain)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8).transpose(0, 3, 1, 2)


@dataclass
class ShapesStyleTasks:
    """Training and held-out style tasks.

    Attributes:
        train: ``{task name: scenes}``.
        test: ``{task name: (adaptation pool, query scenes)}``.
        styles: ``{task name: TaskStyle}`` of every task.
        scene_types: ``{task name: scene type name}``.
    """

    train: dict[str, list[HeteroData]] = field(default_factory=dict)
    test: dict[str, tuple[list[HeteroData], list[HeteroData]]] = field(default_factory=dict)
    styles: dict[str, TaskStyle] = field(default_factory=dict)
    scene_types: dict[str, str] = field(default_factory=dict)


def _styled(world: ShapesWorld, indices: list[int], style: TaskStyle, name: str) -> list[HeteroData]:
    raw = np.stack([world.images_uint8()[i] for i in indices]) if indices else np.zeros((0, 3, 1, 1), np.uint8)
    styled = torch.from_numpy(apply_style(raw, style)).float().div_(255.0) if indices else raw
    out = []
    for j, i in enumerate(indices):
        data = world[i]
        data.image = styled[j]
        data.attributes = {**data.attributes, "background": style.background,
                           "illumination": GAINS.index(style.gain) if style.gain in GAINS else -1}
        data.task = name
        out.append(data)
    return out


def shapes_style_tasks(
    *,
    scenes_per_task: int = 32,
    pool_size: int = 40,
    query_size: int = 50,
    num_test_tasks: int = 8,
    held_out_backgrounds: tuple[int, ...] = (6, 7),
    permute_colours: bool = False,
    image_size: int = 32,
    seed: int = 0,
    progress: bool = False,
) -> ShapesStyleTasks:
    """Build the style tasks (module docstring).

    Args:
        scenes_per_task: scenes of each training task.
        pool_size: adaptation-pool scenes of each held-out task (the shots are drawn from it).
        query_size: query scenes of each held-out task (generated and compared).
        num_test_tasks: held-out tasks drawn (seeded) from the combinations with a held-out style.
        held_out_backgrounds: background indices seen only by held-out tasks.
        permute_colours: give each style a colour permutation (held-out tasks: unseen ones).
        image_size: image side.
        seed: seed of the worlds, the draws and the permutations.
        progress: show tqdm bars while the worlds are drawn and rendered.

    Returns:
        :class:`ShapesStyleTasks`.
    """
    for name, value in (("scenes_per_task", scenes_per_task), ("pool_size", pool_size),
                        ("query_size", query_size), ("num_test_tasks", num_test_tasks)):
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise ValueError(f"{name} must be a positive int, got {name}={value!r}")
    held = tuple(held_out_backgrounds)
    if not held or any(b not in range(len(BACKGROUNDS)) for b in held) or len(set(held)) >= len(BACKGROUNDS):
        raise ValueError(f"held_out_backgrounds must name 1 to {len(BACKGROUNDS) - 1} indices in "
                         f"[0, {len(BACKGROUNDS)}), got held_out_backgrounds={held_out_backgrounds!r}")
    rng = np.random.default_rng(seed)
    perms = [(0, 1, 2, 3)] * 2
    if permute_colours:
        others = [p for p in itertools.permutations(range(len(COLOURS))) if p != (0, 1, 2, 3)]
        order = rng.permutation(len(others))
        half = len(others) // 2
        perms = [[others[i] for i in order[:half]], [others[i] for i in order[half:]]]  # type: ignore[list-item]
    train_styles, test_styles = [], []
    for b in range(len(BACKGROUNDS)):
        for g in GAINS:
            is_test = b in held
            pool = perms[1] if is_test else perms[0]
            perm = pool[(b * len(GAINS) + GAINS.index(g)) % len(pool)] if permute_colours else (0, 1, 2, 3)
            (test_styles if is_test else train_styles).append(TaskStyle(b, g, tuple(perm)))
    combos = [(t, s) for t in range(len(SCENE_TYPES)) for s in test_styles]
    if num_test_tasks > len(combos):
        raise ValueError(f"num_test_tasks={num_test_tasks} exceeds the {len(combos)} held-out combinations")
    chosen = sorted(rng.choice(len(combos), size=num_test_tasks, replace=False).tolist())
    out = ShapesStyleTasks()
    per_type = max(2 * scenes_per_task, 1)
    train_world = ShapesWorld(int(per_type * len(SCENE_TYPES) * 1.5) + 50, image_size=image_size, seed=seed,
                              progress=progress)
    test_world = ShapesWorld(int((pool_size + query_size) * len(SCENE_TYPES) * 1.5) + 50, image_size=image_size,
                             seed=seed + 1, progress=progress)
    for world, need in ((train_world, scenes_per_task), (test_world, pool_size + query_size)):
        by_type = world.task_indices("scene_type")
        short = [SCENE_TYPES[t] for t in range(len(SCENE_TYPES)) if len(by_type.get(t, [])) < need]
        if short:
            raise RuntimeError(f"too few scenes of types {short} were drawn (seed={seed}); this is a bug")
    train_types, test_types = train_world.task_indices("scene_type"), test_world.task_indices("scene_type")
    for t, type_name in enumerate(SCENE_TYPES):
        for style in train_styles:
            name = f"{type_name}/{style.name}"
            idx = sorted(rng.choice(train_types[t], size=scenes_per_task, replace=False).tolist())
            out.train[name] = _styled(train_world, idx, style, name)
            out.styles[name], out.scene_types[name] = style, type_name
    for c in chosen:
        t, style = combos[c]
        name = f"{SCENE_TYPES[t]}/{style.name}"
        idx = rng.choice(test_types[t], size=pool_size + query_size, replace=False).tolist()
        scenes = _styled(test_world, idx, style, name)
        out.test[name] = (scenes[:pool_size], scenes[pool_size:])
        out.styles[name], out.scene_types[name] = style, SCENE_TYPES[t]
    return out
