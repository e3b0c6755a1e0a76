"""Few-shot tasks for scene-graph-to-image models: task construction, splits, shots, adaptation.

A *task* is a set of (graph, image) scenes sharing a property not written in the graph (thesis
ch. 11). Tasks come from a scene attribute (:func:`tasks_by_attribute`) or from a clustering of
fixed features (:func:`tasks_by_clustering`, k-means of scikit-learn on :func:`graph_features`
or :func:`image_features`; the thesis clusters Visual Genome with SCAN, whose weights are not
available here, so k-means on a fixed embedding is the named substitute). :func:`split_tasks`
holds tasks out, :func:`sample_shots` draws the support set of a task, and :func:`adapt`
fine-tunes a *copy* of a model on it (fresh Adam by default), the same way for MIGS and for the
transfer-learning baseline.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch_geometric.data import HeteroData

from sgkit.models.sg2im import SG2Im
from sgkit.models.trainer import materialize

__all__ = [
    "adapt",
    "graph_features",
    "image_features",
    "sample_shots",
    "split_tasks",
    "tasks_by_attribute",
    "tasks_by_clustering",
]


def _seed(name: str, value: Any) -> int:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool):
        raise ValueError(f"{name} must be an int, got {name}={value!r}")
    return int(value)


def tasks_by_attribute(scenes: Any, key: str) -> dict[Any, list[int]]:
    """Scene indices grouped by one attribute (tasks), sorted by attribute value.

    Args:
        scenes: a data set with ``task_indices`` (e.g. :class:`~sgkit.datasets.ShapesWorld`), or
            scene graphs whose ``data.attributes`` dict (or attribute ``data.<key>``) holds ``key``.
        key: the attribute, e.g. ``"scene_type"``.

    Raises:
        ValueError: naming the scene that lacks ``key``.
    """
    if hasattr(scenes, "task_indices"):
        return scenes.task_indices(key)
    graphs = materialize(scenes, "scenes")
    groups: dict[Any, list[int]] = {}
    for i, g in enumerate(graphs):
        attrs = g.attributes if "attributes" in g and isinstance(g.attributes, Mapping) else {}
        if key in attrs:
            value = attrs[key]
        elif key in g:
            value = g[key]
        else:
            raise ValueError(f"scenes[{i}] has no attribute {key!r} (neither data.attributes[{key!r}] nor data.{key})")
        if torch.is_tensor(value):
            value = value.item() if value.numel() == 1 else tuple(value.tolist())
        groups.setdefault(value, []).append(i)
    return dict(sorted(groups.items(), key=lambda kv: str(kv[0])))


def graph_features(graphs: Sequence[HeteroData], num_objects: int, num_predicates: int) -> np.ndarray:
    """A fixed embedding of scene graphs: normalised histograms of object and predicate
    categories and the number of objects divided by 10, ``[N, C + P + 1]``."""
    graphs = materialize(graphs, "graphs")
    out = np.zeros((len(graphs), num_objects + num_predicates + 1))
    for i, g in enumerate(graphs):
        labels = g["object"].label.numpy()
        if labels.size:
            out[i, :num_objects] = np.bincount(labels, minlength=num_objects)[:num_objects] / labels.size
        rel = g["object", "relation", "object"]
        if "label" in rel and rel.label.numel():
            p = rel.label.numpy()
            out[i, num_objects:-1] = np.bincount(p, minlength=num_predicates)[:num_predicates] / p.size
        out[i, -1] = labels.size / 10.0
    return out


def image_features(images: Tensor, grid: int = 4) -> np.ndarray:
    """A fixed embedding of images ``[N, 3, H, W]``: per-channel mean and standard deviation and
    the mean colour of each cell of a ``grid x grid`` partition (channel-major),
    ``[N, 6 + 3 grid^2]``."""
    if not torch.is_tensor(images) or images.dim() != 4 or images.size(1) != 3:
        shape = tuple(images.shape) if torch.is_tensor(images) else type(images).__name__
        raise ValueError(f"images must be a [N, 3, H, W] tensor, got {shape}")
    x = images.float()
    pooled = torch.nn.functional.adaptive_avg_pool2d(x, grid).flatten(1)
    return torch.cat([x.mean((2, 3)), x.std((2, 3)), pooled], dim=1).numpy().astype(np.float64)


def tasks_by_clustering(features: np.ndarray | Tensor, n_clusters: int, *, seed: int = 0,
                        n_init: int = 10) -> dict[int, list[int]]:
    """Tasks as k-means clusters (scikit-learn ``KMeans``) of fixed features ``[N, D]``.

    Returns:
        ``{cluster: [indices]}`` for the non-empty clusters, sorted by cluster id.
    """
    from sklearn.cluster import KMeans

    x = np.asarray(features.detach().cpu() if torch.is_tensor(features) else features, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] == 0:
        raise ValueError(f"features must be a non-empty [N, D] array, got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError("features must be finite")
    if not isinstance(n_clusters, int) or isinstance(n_clusters, bool) or not 1 <= n_clusters <= x.shape[0]:
        raise ValueError(f"n_clusters must be an int in [1, {x.shape[0]}], got n_clusters={n_clusters!r}")
    labels = KMeans(n_clusters=n_clusters, n_init=n_init, random_state=_seed("seed", seed)).fit_predict(x)
    groups: dict[int, list[int]] = {}
    for i, c in enumerate(labels.tolist()):
        groups.setdefault(int(c), []).append(i)
    return dict(sorted(groups.items()))


def split_tasks(tasks: Mapping[Hashable, Any], num_test: int | None = None, *,
                test: Sequence[Hashable] | None = None, seed: int = 0) -> tuple[dict, dict]:
    """Split tasks into training and held-out tasks.

    Args:
        tasks: ``{name: task}``.
        num_test: number of held-out tasks drawn uniformly (seeded) when ``test`` is not given.
        test: the names of the held-out tasks.
        seed: seed of the draw.

    Returns:
        ``(train, test)`` dicts, each in the order of ``tasks``.
    """
    names = list(tasks)
    if test is None:
        if not isinstance(num_test, int) or isinstance(num_test, bool) or not 0 < num_test < len(names):
            raise ValueError(f"num_test must be an int in [1, {len(names) - 1}], got num_test={num_test!r}")
        rng = np.random.default_rng(_seed("seed", seed))
        held = {names[i] for i in rng.choice(len(names), size=num_test, replace=False).tolist()}
    else:
        held = set(test)
        unknown = [t for t in test if t not in tasks]
        if unknown:
            raise ValueError(f"test names unknown tasks: {unknown}")
        if len(held) >= len(names) or not held:
            raise ValueError(f"test must hold between 1 and {len(names) - 1} task names, got {list(test)}")
    return ({k: v for k, v in tasks.items() if k not in held}, {k: v for k, v in tasks.items() if k in held})


def sample_shots(task: Sequence[Any], k: int, seed: int = 0) -> list[Any]:
    """``k`` distinct elements of a task (its adaptation pool), drawn uniformly (seeded).

    Raises:
        ValueError: when ``k`` is not a positive int or exceeds the task size.
    """
    items = list(task)
    if not isinstance(k, int) or isinstance(k, bool) or not 0 < k <= len(items):
        raise ValueError(f"k must be an int in [1, {len(items)}] (the task size), got k={k!r}")
    idx = np.random.default_rng(_seed("seed", seed)).choice(len(items), size=k, replace=False)
    return [items[i] for i in sorted(idx.tolist())]


def adapt(
    model: SG2Im,
    support: Sequence[HeteroData],
    *,
    steps: int = 80,
    batch_size: int = 8,
    lr: float | None = None,
    seed: int = 0,
    optimizer_state: Mapping[str, Any] | None = None,
    callback: Callable[[int, SG2Im], None] | None = None,
) -> SG2Im:
    """Fine-tune a copy of ``model`` on a support set; ``model`` itself is not modified.

    The copy is an :class:`SG2Im` with the same configuration and weights (buffers included),
    trained with :meth:`SG2Im.fit` for ``steps`` steps on batches of ``min(batch_size,
    len(support))`` scenes walking seeded permutations of the support set.

    Args:
        model: the model to start from (e.g. a meta-trained :class:`~sgkit.models.MIGS` or a
            pooled SG2Im).
        support: the few shots (scenes with images and boxes).
        steps: fine-tuning steps (one generator and one discriminator update each).
        batch_size: largest batch.
        lr: Adam learning rate (default: the model's ``config.lr``).
        seed: seed of batch order and layout noise.
        optimizer_state: ``{network: Adam state dict}`` to continue from (what the public code
            does); default ``None``: fresh Adam optimisers.
        callback: ``callback(step, adapted)`` after every step (e.g. to evaluate).

    Returns:
        The fine-tuned :class:`SG2Im`.
    """
    support = materialize(support, "support")
    if not isinstance(steps, int) or isinstance(steps, bool) or steps < 0:
        raise ValueError(f"steps must be a non-negative int, got steps={steps!r}")
    if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size <= 0:
        raise ValueError(f"batch_size must be a positive int, got batch_size={batch_size!r}")
    cfg = model.config if lr is None else dataclasses.replace(model.config, lr=float(lr))
    copy = SG2Im(cfg, vocab=model.vocab, seed=0).to(model._device())  # seed: global RNG untouched
    copy.load_state_dict(model.state_dict())
    if optimizer_state is not None:
        opts = copy.configure_optimizers()
        for name, state in optimizer_state.items():
            opts[name].load_state_dict(state)
    if steps:
        cb = None if callback is None else (lambda step, stats: callback(step, copy))
        copy.fit(support, steps=steps, batch_size=min(batch_size, len(support)), seed=seed, progress=False,
                 callback=cb)
    return copy
