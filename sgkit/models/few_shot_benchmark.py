"""The few-shot benchmark of scene-graph-to-image models (thesis ch. 11 protocol).

For every method (a pre-trained model: MIGS meta-weights or a pooled SG2Im), shot count ``k`` and
repeat, each test task's model is fine-tuned on ``k`` shots of the task's adaptation pool
(:func:`~sgkit.models.few_shot.adapt`, fresh Adam), then generates the task's query graphs **at
their ground-truth boxes** (layout-to-image, as the thesis evaluation does) in eval mode. Metrics
are computed on the union of the test tasks' generated images against the union of their real
images:

* ``mae``: mean absolute error to the true image on the 0-255 scale (paired; possible where the
  data has the image of each query graph);
* ``kid`` / ``fid``: from the features of a given ``feature_extractor`` (KID x10^3 as in the
  thesis tables);
* ``prd_f8`` / ``prd_f1_8``: PRD recall / precision summaries of :func:`sgkit.metrics.prd` when
  the installed sgkit provides it and each set has at least 20 images (omitted otherwise).

All methods see the same support sets and seeds (paired comparison). ``eval_steps`` adds the MAE
after that many fine-tuning steps (0 = before fine-tuning) to ``mae_curve``.
"""
from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor
from torch_geometric.data import HeteroData

from sgkit.data.batch import collate_scenes
from sgkit.models.few_shot import adapt, sample_shots
from sgkit.models.sg2im import SG2Im
from sgkit.models.trainer import materialize

__all__ = ["FewShotResult", "few_shot_benchmark"]

#: PRD clusters the union into 20 clusters: fewer images per set than this skip it.
_PRD_MIN_IMAGES = 20


@dataclass
class FewShotResult:
    """What :func:`few_shot_benchmark` measured.

    Attributes:
        metrics: ``metrics[method][str(k)]`` = dict of floats (``mae``, ``kid``, ``kid_std``,
            ``fid``, ``prd_f8``, ``prd_f1_8`` averaged over repeats; ``mae_per_repeat``,
            ``kid_per_repeat``; ``mae_curve`` = ``{str(step): mae}``).
        images: ``images[method][str(k)][task]`` generated images of the first repeat
            (at most ``keep_images`` per task).
        real: ``real[task]`` the matching real images.
        prd_available: whether PRD was computed.
    """

    metrics: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    images: dict[str, dict[str, dict[str, Tensor]]] = field(default_factory=dict)
    real: dict[str, Tensor] = field(default_factory=dict)
    prd_available: bool = False


def _prd_function() -> Callable[..., Any] | None:
    from sgkit import metrics

    fn = getattr(metrics, "prd", None)
    return fn if callable(fn) else None


def _distribution_metrics(real: Tensor, fake: Tensor, extractor: Callable[[Tensor], Tensor],
                          kid_subset_size: int, seed: int) -> dict[str, float]:
    from sgkit.metrics.image import extract_features, fid_from_features, kid_from_features

    rf = extract_features(real, extractor)
    ff = extract_features(fake, extractor)
    kid, kid_std = kid_from_features(rf, ff, subset_size=kid_subset_size, seed=seed)
    out = {"kid": 1e3 * kid, "kid_std": 1e3 * kid_std, "fid": fid_from_features(rf, ff)}
    prd = _prd_function()
    if prd is not None and min(len(rf), len(ff)) >= _PRD_MIN_IMAGES:
        res = prd(rf, ff, seed=seed)
        out["prd_f8"], out["prd_f1_8"] = float(res.f_8), float(res.f_1_8)
    return out


def few_shot_benchmark(
    models: Mapping[str, SG2Im],
    test_tasks: Mapping[Hashable, tuple[Sequence[HeteroData], Sequence[HeteroData]]],
    *,
    shots: Sequence[int] = (5, 10, 40),
    repeats: int = 1,
    steps: int = 80,
    eval_steps: Sequence[int] = (),
    batch_size: int = 8,
    lr: float | None = None,
    feature_extractor: Callable[[Tensor], Tensor] | None = None,
    kid_subset_size: int = 100,
    keep_images: int = 8,
    seed: int = 0,
    progress: bool = True,
) -> FewShotResult:
    """Fine-tune every model on ``k`` shots of every test task and evaluate.

    Args:
        models: ``{method name: pre-trained model}`` (not modified).
        test_tasks: ``{task: (adaptation pool, query scenes)}``; query scenes need images and
            boxes.
        shots: shot counts ``k`` (each at most the smallest pool).
        repeats: shot draws per ``k`` (repeat ``r`` draws the same support for every method).
        steps: fine-tuning steps.
        eval_steps: steps after which the query MAE is also recorded (``mae_curve``).
        batch_size: largest fine-tuning batch (``min(k, batch_size)`` is used).
        lr: fine-tuning Adam learning rate (default: each model's ``config.lr``).
        feature_extractor: callable ``[B, 3, H, W] -> [B, D]`` for KID, FID and PRD; without it
            only MAE is computed.
        kid_subset_size: KID subset size.
        keep_images: generated images kept per task (first repeat) for figures.
        seed: base seed of shot draws and fine-tuning.
        progress: show a tqdm bar.

    Returns:
        A :class:`FewShotResult`.
    """
    from tqdm.auto import tqdm

    from sgkit.metrics.image import mae

    if not models:
        raise ValueError("models must hold at least one model, got none")
    if not test_tasks:
        raise ValueError("test_tasks must hold at least one task, got none")
    if not isinstance(repeats, int) or isinstance(repeats, bool) or repeats <= 0:
        raise ValueError(f"repeats must be a positive int, got repeats={repeats!r}")
    tasks = {str(name): (materialize(pool, f"test_tasks[{name!r}] pool"), materialize(query, f"test_tasks[{name!r}] query"))
             for name, (pool, query) in test_tasks.items()}
    smallest = min(len(p) for p, _ in tasks.values())
    for k in shots:
        if not isinstance(k, int) or isinstance(k, bool) or not 0 < k <= smallest:
            raise ValueError(f"shots must be ints in [1, {smallest}] (the smallest pool), got shots={list(shots)}")
    curve_steps = sorted({int(s) for s in eval_steps if 0 < int(s) < steps})
    size = next(iter(models.values())).config.image_size
    real = {t: collate_scenes(q, image_size=size).images for t, (_, q) in tasks.items()}
    real_all = torch.cat([r for r in real.values()])  # type: ignore[misc]
    result = FewShotResult(real={t: r[:keep_images] for t, r in real.items()})  # type: ignore[index]
    bar = tqdm(total=len(models) * len(shots) * repeats * len(tasks), desc="few-shot", disable=not progress)

    def query_mae(model: SG2Im, task: str, gen_seed: int) -> Tensor:
        fake = model.generate(tasks[task][1], use_boxes=True, seed=gen_seed).cpu()
        return mae(fake, real[task], reduction="none") * 255.0  # type: ignore[arg-type]

    for method, model in models.items():
        per_method: dict[str, dict[str, Any]] = {}
        result.images[method] = {}
        for k in shots:
            reps: list[dict[str, Any]] = []
            for r in range(repeats):
                fakes, errors = [], []
                curve: dict[int, list[Tensor]] = {s: [] for s in curve_steps}
                for ti, task in enumerate(tasks):
                    run_seed = ((seed * 1_000_003 + r) * 1_009 + ti) * 1_013 + k
                    support = sample_shots(tasks[task][0], k, seed=run_seed)
                    if r == 0 and 0 in eval_steps:
                        curve.setdefault(0, []).append(query_mae(model, task, run_seed))

                    def evaluate(step: int, adapted: SG2Im, task: str = task, s: int = run_seed,
                                 curve: dict = curve) -> None:
                        if step in curve:
                            curve[step].append(query_mae(adapted, task, s))

                    adapted = adapt(model, support, steps=steps, batch_size=batch_size, lr=lr, seed=run_seed,
                                    callback=evaluate if curve_steps and r == 0 else None)
                    fake = adapted.generate(tasks[task][1], use_boxes=True, seed=run_seed).cpu()
                    errors.append(mae(fake, real[task], reduction="none") * 255.0)  # type: ignore[arg-type]
                    fakes.append(fake)
                    if r == 0:
                        result.images[method].setdefault(str(k), {})[task] = fake[:keep_images]
                    bar.update(1)
                rep: dict[str, Any] = {"mae": float(torch.cat(errors).mean())}
                if r == 0:
                    rep["mae_curve"] = {str(s): float(torch.cat(v).mean()) for s, v in sorted(curve.items()) if v}
                    rep["mae_curve"][str(steps)] = rep["mae"]
                if feature_extractor is not None:
                    rep.update(_distribution_metrics(real_all, torch.cat(fakes), feature_extractor,
                                                     kid_subset_size, seed=seed + r))
                reps.append(rep)
            summary: dict[str, Any] = {}
            for key in ("mae", "kid", "kid_std", "fid", "prd_f8", "prd_f1_8"):
                if key in reps[0]:
                    summary[key] = sum(float(x[key]) for x in reps) / len(reps)
            summary["mae_per_repeat"] = [x["mae"] for x in reps]
            if "kid" in reps[0]:
                summary["kid_per_repeat"] = [x["kid"] for x in reps]
            summary["mae_curve"] = reps[0]["mae_curve"]
            per_method[str(k)] = summary
        result.metrics[method] = per_method
    bar.close()
    result.prd_available = any("prd_f8" in m for per in result.metrics.values() for m in per.values())
    return result
