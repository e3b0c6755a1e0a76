"""The scene edits of ShapesWorld edit pairs (:meth:`ShapesWorld.edit_pairs`).

An edit turns a grammar scene and its triplets into a target scene and target triplets:
``"removal"`` drops one object and its edges, ``"replacement"`` changes one object's shape
and/or colour, ``"addition"`` places a new object in free space with one edge to its nearest
object, and ``"relationship"`` swaps the positions of two objects joined by a directional edge so
that its predicate flips.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from sgkit.data.geometry import (
    ABOVE,
    BELOW,
    INSIDE,
    LEFT_OF,
    RIGHT_OF,
    SURROUNDING,
    box_predicates,
)

from .shapes_edges import scene_edges
from .shapes_grammar import _Builder, _sample_scene, _Scene
from .shapes_vocab import EDIT_MODES, GRID, MAX_OBJECTS, MIN_OBJECTS

__all__: list[str] = []

_OPPOSITE = {LEFT_OF: RIGHT_OF, RIGHT_OF: LEFT_OF, ABOVE: BELOW, BELOW: ABOVE, INSIDE: SURROUNDING, SURROUNDING: INSIDE}


def _without(scene: _Scene, k: int) -> _Scene:
    keep = np.arange(scene.num_objects) != k
    return _Scene(scene.scene_type, scene.shape[keep], scene.colour[keep], scene.size[keep], scene.box[keep])


_Triplets = list[tuple[int, int, int]]


def _edit(
    scene: _Scene, triplets: _Triplets, mode: str, rng: np.random.Generator
) -> tuple[_Scene, _Triplets, dict[str, Any]] | None:
    """One edit of ``scene``: ``(target_scene, target_triplets, info)`` or ``None`` if impossible."""
    n = scene.num_objects
    if mode == "removal":
        if n <= MIN_OBJECTS:
            return None
        k = int(rng.integers(n))
        trip = [(s - (s > k), p, o - (o > k)) for s, p, o in triplets if k not in (s, o)]
        return _without(scene, k), trip, {"node": k, "label": int(scene.labels[k])}
    if mode == "replacement":
        k = int(rng.integers(n))
        tgt = scene.copy()
        old = (int(scene.shape[k]), int(scene.colour[k]))
        choices = [(sh, co) for sh in range(3) for co in range(4) if (sh, co) != old]
        tgt.shape[k], tgt.colour[k] = choices[int(rng.integers(len(choices)))]
        return tgt, list(triplets), {"node": k, "old_label": int(scene.labels[k]), "new_label": int(tgt.labels[k])}
    if mode == "addition":
        if n >= MAX_OBJECTS:
            return None
        b = _Builder(rng)
        for sh, co, si, bx in zip(scene.shape, scene.colour, scene.size, scene.box):
            b.add(sh, co, si, tuple(bx))  # type: ignore[arg-type]
        size = int(rng.choice(3, p=[0.2, 0.4, 0.4]))
        if b.place(int(rng.integers(3)), int(rng.integers(4)), size, gap=1) is None:
            return None
        sh, co, si, bx = b.items[-1]
        tgt = _Scene(
            scene.scene_type,
            np.append(scene.shape, sh),
            np.append(scene.colour, co),
            np.append(scene.size, si),
            np.vstack([scene.box, np.array(bx, dtype=np.int64)[None]]),
        )
        cb = tgt.box[:, :2] + tgt.box[:, 2:]
        d2 = ((cb[:n] - cb[n]) ** 2).sum(1)
        j = int(np.argmin(d2))
        pred = int(box_predicates(tgt.box[[n, j]])[0, 1])
        return tgt, list(triplets) + [(n, pred, j)], {"node": n, "label": int(tgt.labels[n])}
    if mode == "relationship":
        pred_src = box_predicates(scene.box)
        contained = (pred_src == INSIDE).any(0) | (pred_src == INSIDE).any(1)
        labels = scene.labels
        cand = [
            e
            for e, (s, p, o) in enumerate(triplets)
            if p < INSIDE and not contained[s] and not contained[o] and labels[s] != labels[o]
        ]
        rng.shuffle(cand)
        for e in cand:
            s, p, o = triplets[e]
            tgt = scene.copy()
            for a, c in ((s, o), (o, s)):  # move a onto the centre of c
                w = scene.box[a, 2] - scene.box[a, 0]
                c2 = scene.box[c, :2] + scene.box[c, 2:]
                xy = np.clip((c2 - w) // 2, 0, GRID - w)
                tgt.box[a] = [xy[0], xy[1], xy[0] + w, xy[1] + w]
            ok = True
            for a in (s, o):
                for c in range(n):
                    if c != a and _overlap(tgt.box[a], tgt.box[c]):
                        ok = False
            if not ok:
                continue
            pred_tgt = box_predicates(tgt.box)
            if pred_tgt[s, o] != _OPPOSITE[p] or (pred_tgt >= INSIDE).sum() != (pred_src >= INSIDE).sum():
                continue
            trip = [(a, int(pred_tgt[a, c]), c) for a, _, c in triplets]
            changed = [i for i, (x, y) in enumerate(zip(triplets, trip)) if x != y]
            info = {"edge": e, "old_predicate": p, "new_predicate": int(pred_tgt[s, o]), "changed_edges": changed}
            return tgt, trip, info
        return None
    raise ValueError(f"mode: expected one of {EDIT_MODES}, got {mode!r}")


def _overlap(a: np.ndarray, b: np.ndarray) -> bool:
    return bool(a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3])


def _sample_edits(
    mode: str, n: int, seed: int
) -> list[tuple[_Scene, _Triplets, _Scene, _Triplets, dict[str, Any]]]:
    """``n`` edits ``(source, source_triplets, target, target_triplets, info)`` of fresh grammar
    scenes drawn with ``seed`` (scenes where ``mode`` is impossible are skipped)."""
    rng = np.random.default_rng([int(seed), EDIT_MODES.index(mode)])
    found: list[tuple[_Scene, _Triplets, _Scene, _Triplets, dict[str, Any]]] = []
    attempts = 0
    while len(found) < n:
        attempts += 1
        if attempts > 100 * (n + 10):
            raise RuntimeError(f"edit_pairs: could not find {n} {mode!r} edits")  # pragma: no cover
        src = _sample_scene(rng)
        src_trip = scene_edges(src.box)
        res = _edit(src, src_trip, mode, rng)
        if res is not None:
            found.append((src, src_trip, res[0], res[1], res[2]))
    return found
