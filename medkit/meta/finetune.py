"""Training loops shared by MetaMedSeg: inner steps, fine-tuning, transfer pre-training, evaluation.

* :func:`fine_tune`: train on ``K'`` target shots (thesis line 1592: 20 epochs, learning rate
  0.005, weight decay 3e-5, step decay 0.7 every second epoch);
* :func:`evaluate_iou`: foreground IoU pooled over the slices of a test set;
* :func:`few_shot_iou`: fine-tune from one initialisation on several random selections of
  ``K'`` shots and average the test IoU (thesis line 1540: five selections, same test set);
* :func:`pretrain`: the transfer-learning baseline, plain supervised training on the pooled
  slices of the source data sets, for a number of gradient steps (e.g. the meta-training budget)
  or of epochs (passes over the pooled slices; thesis line 1572: 20 epochs).
"""
from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from medkit._checks import check_number
from medkit.datasets.organs import OrganVolumes
from medkit.losses import BCEIoULoss, DiceCELoss
from medkit.metrics import IoUMetric

__all__ = [
    "LossFn",
    "default_loss",
    "make_optimizer",
    "train_steps",
    "fine_tune",
    "evaluate_iou",
    "few_shot_iou",
    "pretrain",
]

LossFn = Callable[[Tensor, Tensor], Tensor]
"""``loss(logits [B, C, H, W], masks [B, H, W]) -> scalar``."""

_OPTIMIZERS = ("adam", "sgd")


def default_loss(out_channels: int = 1) -> LossFn:
    """The MetaMedSeg segmentation loss for a binary problem.

    One logit channel: ``BCE - log(2 IoU / (IoU + 1))`` (thesis Eq. 7.6,
    :class:`medkit.losses.BCEIoULoss`, overlap pooled over the batch). Two or more channels:
    Dice + cross-entropy with softmax (:class:`medkit.losses.DiceCELoss`).

    Args:
        out_channels: logit channels of the model.
    """
    if not isinstance(out_channels, int) or out_channels < 1:
        raise ValueError(f"out_channels must be a positive int, got {out_channels!r}")
    if out_channels == 1:
        return BCEIoULoss(batch=True)
    return DiceCELoss(to_onehot_y=True, softmax=True, batch=True)


def make_optimizer(
    name: str, params: Iterable[nn.Parameter], lr: float, weight_decay: float
) -> torch.optim.Optimizer:
    """``"adam"`` (:class:`torch.optim.Adam`) or ``"sgd"`` (momentum 0.9).

    Raises:
        ValueError: for an unknown name, a non-finite or non-positive ``lr`` or a non-finite or
            negative ``weight_decay``.
    """
    lr = check_number("lr", lr, low=0.0, low_open=True)
    weight_decay = check_number("weight_decay", weight_decay, low=0.0)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=weight_decay)
    raise ValueError(f"optimizer must be one of {_OPTIMIZERS}, got {name!r}")


def _device(model: nn.Module) -> torch.device:
    p = next(model.parameters(), None)
    return p.device if p is not None else torch.device("cpu")


def train_steps(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    images: Tensor,
    masks: Tensor,
    loss: LossFn,
    *,
    steps: int,
    batch_size: int | None = None,
    generator: torch.Generator | None = None,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
    steps_per_epoch: int | None = None,
) -> list[float]:
    """Run ``steps`` optimiser steps on ``(images, masks)``.

    With ``batch_size=None`` (or ``>= len(images)``) every step uses the whole set; otherwise
    the set is shuffled each epoch (with ``generator``) and cut into mini-batches. ``scheduler``
    steps once per epoch (``steps_per_epoch`` steps, default ``ceil(n / batch_size)``).

    Returns:
        The loss of every step.
    """
    if images.shape[0] == 0 or images.shape[0] != masks.shape[0]:
        raise ValueError(
            f"images and masks must hold the same positive count, got {images.shape[0]} and "
            f"{masks.shape[0]}"
        )
    device = _device(model)
    images, masks = images.to(device), masks.to(device)
    n = images.shape[0]
    bs = n if batch_size is None else min(batch_size, n)
    per_epoch = steps_per_epoch or math.ceil(n / bs)
    model.train()
    out: list[float] = []
    order = torch.arange(n)
    pos = n  # force a shuffle on the first step
    for step in range(steps):
        if bs == n:
            idx = order
        else:
            if pos + bs > n:
                order = torch.randperm(n, generator=generator)
                pos = 0
            idx = order[pos : pos + bs]
            pos += bs
        optimizer.zero_grad(set_to_none=True)
        value = loss(model(images[idx.to(device)]), masks[idx.to(device)])
        if not torch.isfinite(value):
            raise FloatingPointError(f"loss became {float(value)} at step {step}")
        value.backward()
        optimizer.step()
        out.append(float(value.detach()))
        if scheduler is not None and (step + 1) % per_epoch == 0:
            scheduler.step()
    return out


def fine_tune(
    model: nn.Module,
    images: Tensor,
    masks: Tensor,
    *,
    epochs: int = 20,
    lr: float = 0.005,
    weight_decay: float = 3e-5,
    gamma: float = 0.7,
    step_size: int = 2,
    batch_size: int | None = 5,
    optimizer: str = "adam",
    loss: LossFn | None = None,
    seed: int = 0,
) -> list[float]:
    """Fine-tune ``model`` in place on a few target shots.

    Args:
        model: initialised model (meta-learned, pre-trained or random).
        images: ``[K', 1, H, W]`` shots.
        masks: ``[K', H, W]``.
        epochs: passes over the shots.
        lr: learning rate (decayed by ``gamma`` every ``step_size`` epochs).
        weight_decay: weight decay.
        gamma: learning-rate decay factor.
        step_size: epochs between decays.
        batch_size: mini-batch size (``None``: all shots at once).
        optimizer: ``"adam"`` or ``"sgd"``.
        loss: loss function (default :func:`default_loss` for the model's output channels).
        seed: seed of the shuffling.

    Returns:
        The loss of every step.
    """
    if not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be a positive int, got {epochs!r}")
    if loss is None:
        loss = default_loss(int(getattr(model, "out_channels", 1)))
    opt = make_optimizer(optimizer, model.parameters(), lr, weight_decay)
    check_number("gamma", gamma, low=0.0, low_open=True, high=1.0)
    if not isinstance(step_size, int) or step_size < 1:
        raise ValueError(f"step_size must be a positive int, got {step_size!r}")
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=step_size, gamma=gamma)
    n = images.shape[0]
    bs = n if batch_size is None else min(batch_size, n)
    per_epoch = math.ceil(n / bs)
    return train_steps(
        model,
        opt,
        images,
        masks,
        loss,
        steps=epochs * per_epoch,
        batch_size=bs,
        generator=torch.Generator().manual_seed(seed),
        scheduler=sched,
        steps_per_epoch=per_epoch,
    )


@torch.no_grad()
def evaluate_iou(model: nn.Module, images: Tensor, masks: Tensor, *, batch_size: int = 64) -> float:
    """Foreground IoU of ``model`` on ``(images, masks)``, pixel counts pooled over all slices.

    Logits with one channel are thresholded at 0, with more channels arg-maxed
    (:class:`medkit.metrics.IoUMetric`).
    """
    was_training = model.training
    model.eval()
    device = _device(model)
    metric = IoUMetric(2)
    for i in range(0, images.shape[0], batch_size):
        logits = model(images[i : i + batch_size].to(device))
        metric.update(logits, masks[i : i + batch_size].to(device))
    model.train(was_training)
    return float(metric.per_class()[1])


def few_shot_iou(
    model: nn.Module,
    train: OrganVolumes,
    test: OrganVolumes,
    *,
    shots: int = 15,
    repeats: int = 5,
    seed: int = 0,
    return_models: bool = False,
    **fine_tune_kwargs: object,
) -> dict[str, Any]:
    """Few-shot evaluation: for each of ``repeats`` random selections of ``shots`` slices of
    ``train``, fine-tune a copy of ``model`` and measure the IoU on all slices of ``test``.

    ``model`` itself is not modified. Selection ``r`` uses seed ``seed + r``, so different
    initialisations evaluated with the same seed see the same shots.

    Args:
        model: the initialisation.
        train: target data set the shots are drawn from.
        test: held-out target data set (other volumes).
        shots: ``K'``.
        repeats: number of random shot selections.
        seed: seed of the first selection.
        return_models: also return the fine-tuned models (key ``"models"``).
        **fine_tune_kwargs: passed to :func:`fine_tune`.

    Returns:
        ``{"mean": float, "std": float, "runs": [iou per selection]}`` (plus ``"models"``).
    """
    if not isinstance(shots, int) or shots < 1 or shots > len(train):
        raise ValueError(f"shots must be an int in [1, {len(train)}], got {shots!r}")
    if not isinstance(repeats, int) or repeats < 1:
        raise ValueError(f"repeats must be a positive int, got {repeats!r}")
    test_images, test_masks = test.slices()
    runs, models = [], []
    for r in range(repeats):
        g = torch.Generator().manual_seed(seed + r)
        pick = torch.randperm(len(train), generator=g)[:shots]
        images, masks = train.take(train.index[int(i)] for i in pick)
        learner = copy.deepcopy(model)
        fine_tune(learner, images, masks, seed=seed + r, **fine_tune_kwargs)  # type: ignore[arg-type]
        runs.append(evaluate_iou(learner, test_images, test_masks))
        if return_models:
            models.append(learner)
    t = torch.tensor(runs)
    out: dict[str, Any] = {"mean": float(t.mean()), "std": float(t.std()) if len(runs) > 1 else 0.0, "runs": runs}
    if return_models:
        out["models"] = models
    return out


def pretrain(
    model: nn.Module,
    datasets: Sequence[OrganVolumes],
    *,
    steps: int | None = None,
    epochs: int | None = None,
    batch_size: int = 15,
    lr: float = 1e-3,
    weight_decay: float = 0.0,
    optimizer: str = "adam",
    loss: LossFn | None = None,
    seed: int = 0,
    progress: bool = True,
) -> list[float]:
    """Transfer-learning baseline: supervised training on the pooled slices of ``datasets``.

    Args:
        model: model trained in place.
        datasets: source data sets (all slices pooled).
        steps: optimiser steps (e.g. the meta-training budget: meta-epochs x tasks x inner steps).
        epochs: alternatively, passes over the pooled slices: ``epochs * ceil(N / batch_size)``
            steps, reshuffled at every pass (exactly one of ``steps`` and ``epochs`` is given).
        batch_size: slices per step.
        lr: learning rate.
        weight_decay: weight decay.
        optimizer: ``"adam"`` or ``"sgd"``.
        loss: loss function (default :func:`default_loss`).
        seed: seed of the shuffling.
        progress: show a tqdm bar.

    Returns:
        The loss of every step.
    """
    from tqdm.auto import tqdm

    if (steps is None) == (epochs is None):
        raise ValueError(f"give exactly one of steps and epochs, got steps={steps!r}, epochs={epochs!r}")
    if steps is not None and (not isinstance(steps, int) or steps < 1):
        raise ValueError(f"steps must be a positive int, got {steps!r}")
    if epochs is not None and (not isinstance(epochs, int) or epochs < 1):
        raise ValueError(f"epochs must be a positive int, got {epochs!r}")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    if not datasets:
        raise ValueError("datasets must not be empty")
    if loss is None:
        loss = default_loss(int(getattr(model, "out_channels", 1)))
    parts = [d.slices() for d in datasets]
    images = torch.cat([p[0] for p in parts])
    masks = torch.cat([p[1] for p in parts])
    opt = make_optimizer(optimizer, model.parameters(), lr, weight_decay)
    g = torch.Generator().manual_seed(seed)
    out: list[float] = []
    chunk = 50
    if epochs is not None:
        # one chunk per pass: train_steps reshuffles at the start of every call
        chunk = math.ceil(images.shape[0] / min(batch_size, images.shape[0]))
        steps = epochs * chunk
    bar = tqdm(total=steps, desc="transfer pre-training", disable=not progress)
    while len(out) < steps:
        k = min(chunk, steps - len(out))
        out.extend(train_steps(model, opt, images, masks, loss, steps=k, batch_size=batch_size, generator=g))
        bar.update(k)
    bar.close()
    return out
