r"""Reptile meta-training with importance-aware task weighting (MetaMedSeg, thesis lines 1196-1330).

Every meta-epoch draws ``L`` tasks, trains a copy of the meta-model :math:`\theta` on each task's
support set for a few steps (giving :math:`\theta_l`), then applies

.. math::
    \theta \leftarrow \theta + \beta \sum_{l=1}^{L} w_l (\theta_l - \theta)

with average weights (AW, :math:`w_l = 1/L`, the original Reptile rule) or inverse-distance
weights (IDW, :math:`w_l \propto 1 / \sum_i (\theta_{l,i} - \theta_i)^2`, normalised to sum one),
so that task models far from the meta-model count less.

The weighting and the update are the shared implementations of :mod:`fedkit.aggregation`
(:func:`~fedkit.aggregation.mean_weights`,
:func:`~fedkit.aggregation.inverse_distance_weights` with ``metric="sqeuclidean"`` and the
meta-model as reference, :func:`~fedkit.aggregation.server_update`): the weighted sum is formed
once over all tasks (the reference code multiplied the running sum by every later task's weight,
and used ``(1 - w) / sum(1 - w)`` instead of the inverse distance; neither is reproduced here).
"""
from __future__ import annotations

import copy
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from fedkit.aggregation import (
    flatten_params,
    inverse_distance_weights,
    mean_weights,
    server_update,
    unflatten_params,
)
from medkit._checks import check_number
from medkit.meta.finetune import LossFn, default_loss, make_optimizer, train_steps
from medkit.meta.tasks import Task, TaskSampler
from medkit.metrics import iou

__all__ = ["REPTILE_RULES", "reptile_weights", "reptile_update", "Reptile"]

REPTILE_RULES = ("aw", "idw")


def reptile_weights(theta: Tensor, task_params: Tensor, rule: str = "aw", *, eps: float = 1e-8) -> Tensor:
    r"""Task weights of the MetaMedSeg update.

    Args:
        theta: meta-parameters ``[P]``.
        task_params: task-adapted parameters ``[L, P]``.
        rule: ``"aw"`` (:math:`1/L`) or ``"idw"``
            (:math:`w_l \propto 1 / (\lVert \theta_l - \theta \rVert_2^2 + \epsilon)`).
        eps: positive constant of the inverse distance.

    Returns:
        Tensor ``[L]`` summing to one.

    Example:
        >>> theta = torch.zeros(2)
        >>> reptile_weights(theta, torch.tensor([[1.0, 0.0], [0.0, 2.0]]), "idw", eps=1e-12)
        tensor([0.8000, 0.2000])
    """
    if rule not in REPTILE_RULES:
        raise ValueError(f"rule must be one of {REPTILE_RULES}, got {rule!r}")
    if not torch.is_tensor(task_params) or task_params.dim() != 2:
        got = getattr(task_params, "shape", type(task_params))
        raise ValueError(f"task_params must be a [L, P] tensor, got {got}")
    if rule == "aw":
        return mean_weights(int(task_params.shape[0])).to(task_params.dtype)
    return inverse_distance_weights(task_params, theta, metric="sqeuclidean", eps=eps)


def reptile_update(
    theta: Tensor,
    task_params: Tensor,
    *,
    rule: str = "aw",
    beta: float = 1.0,
    weights: Tensor | None = None,
    eps: float = 1e-8,
) -> Tensor:
    r"""One meta-update :math:`\theta + \beta \sum_l w_l (\theta_l - \theta)`.

    Args:
        theta: meta-parameters ``[P]``.
        task_params: task-adapted parameters ``[L, P]``.
        rule: weighting rule when ``weights`` is not given (see :func:`reptile_weights`).
        beta: meta learning rate :math:`\beta`.
        weights: explicit weights ``[L]`` (used as given).
        eps: constant of the inverse distance.

    Returns:
        New meta-parameters ``[P]`` (inputs untouched).
    """
    if weights is None:
        weights = reptile_weights(theta, task_params, rule, eps=eps)
    return server_update(theta, task_params, weights, eta=beta)


class Reptile:
    r"""MetaMedSeg meta-trainer (Algorithm 1 of the thesis, lines 1215-1232).

    Args:
        model: the meta-model (e.g. ``UNet(norm="instance")``); updated in place.
        rule: ``"aw"`` or ``"idw"`` task weighting.
        beta: meta learning rate at the first meta-epoch.
        beta_final: meta learning rate at the last meta-epoch of :meth:`fit` (linear decay);
            ``None`` keeps ``beta`` constant.
        inner_steps: optimiser steps of the base learner per task.
        inner_lr: base-learner learning rate.
        inner_batch_size: mini-batch size for the inner steps (``None``: the whole support set).
        weight_decay: base-learner weight decay.
        inner_gamma: step decay of the base-learner learning rate, multiplied by ``inner_gamma``
            every ``inner_step_size`` inner epochs (passes over the support set: one step with
            ``inner_batch_size=None``); ``1.0`` (default) keeps it constant. The thesis applies
            its fine-tuning decay (0.7 every 2 epochs) to the local models (line 1569).
        inner_step_size: inner epochs between two decays.
        optimizer: ``"adam"`` or ``"sgd"`` for the base learner (fresh state per task).
        loss: ``loss(logits, masks) -> scalar``; default :func:`medkit.meta.finetune.default_loss`
            for the model's ``out_channels`` (1 if the model has no such attribute).
        tasks_per_epoch: tasks ``L`` per meta-epoch.
        eps: constant of the inverse distance.
        seed: seed of the mini-batch sampling.

    Example:
        >>> from medkit.nn import UNet
        >>> from medkit.datasets.organs import synthetic_organs
        >>> sets = synthetic_organs(["liver", "lung"], num_volumes=2, num_slices=4, image_size=16)
        >>> sampler = TaskSampler(sets, shots=2)
        >>> net = UNet(1, 2, base_channels=4, depth=1, norm="instance")
        >>> meta = Reptile(net, inner_steps=1, tasks_per_epoch=2)
        >>> len(meta.fit(sampler, meta_epochs=1, progress=False))
        1
    """

    def __init__(
        self,
        model: nn.Module,
        *,
        rule: str = "aw",
        beta: float = 1.0,
        beta_final: float | None = None,
        inner_steps: int = 5,
        inner_lr: float = 1e-3,
        inner_batch_size: int | None = None,
        weight_decay: float = 0.0,
        inner_gamma: float = 1.0,
        inner_step_size: int = 2,
        optimizer: str = "adam",
        loss: LossFn | None = None,
        tasks_per_epoch: int = 5,
        eps: float = 1e-8,
        seed: int = 0,
    ) -> None:
        if rule not in REPTILE_RULES:
            raise ValueError(f"rule must be one of {REPTILE_RULES}, got {rule!r}")
        for name, value in (
            ("inner_steps", inner_steps),
            ("tasks_per_epoch", tasks_per_epoch),
            ("inner_step_size", inner_step_size),
        ):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if inner_batch_size is not None and (not isinstance(inner_batch_size, int) or inner_batch_size < 1):
            raise ValueError(f"inner_batch_size must be a positive int or None, got {inner_batch_size!r}")
        check_number("inner_gamma", inner_gamma, low=0.0, low_open=True, high=1.0)
        check_number("inner_lr", inner_lr, low=0.0, low_open=True)
        check_number("beta", beta, low=0.0, low_open=True)
        if beta_final is not None:
            check_number("beta_final", beta_final, low=0.0)
        check_number("eps", eps, low=0.0, low_open=True)
        make_optimizer(optimizer, [nn.Parameter(torch.zeros(1))], 1.0, weight_decay)  # validates name and decay
        self.model = model
        self.rule = rule
        self.beta = float(beta)
        self.beta_final = beta_final
        self.inner_steps = inner_steps
        self.inner_lr = float(inner_lr)
        self.inner_batch_size = inner_batch_size
        self.weight_decay = float(weight_decay)
        self.inner_gamma = float(inner_gamma)
        self.inner_step_size = inner_step_size
        self.optimizer = optimizer
        if loss is None:
            loss = default_loss(int(getattr(model, "out_channels", 1)))
        self.loss: LossFn = loss
        self.tasks_per_epoch = tasks_per_epoch
        self.eps = eps
        self.generator = torch.Generator().manual_seed(seed)
        self._learner: nn.Module | None = None
        self._task_buf: Tensor | None = None
        self.history: list[dict[str, float]] = []

    def adapt(self, task: Task, out: Tensor | None = None) -> tuple[Tensor, dict[str, float]]:
        """Train a copy of the meta-model on ``task``'s support set.

        Args:
            task: the task.
            out: optional ``[P]`` tensor that receives the adapted parameters in place.

        Returns:
            ``(theta_l [P], stats)`` with ``stats`` holding the last support loss and the query
            loss and foreground IoU of the adapted model.
        """
        if self._learner is None:
            self._learner = copy.deepcopy(self.model)
        learner = self._learner
        learner.load_state_dict(self.model.state_dict())
        opt = make_optimizer(self.optimizer, learner.parameters(), self.inner_lr, self.weight_decay)
        sched = None
        if self.inner_gamma != 1.0:
            sched = torch.optim.lr_scheduler.StepLR(opt, step_size=self.inner_step_size, gamma=self.inner_gamma)
        losses = train_steps(
            learner,
            opt,
            task.support_images,
            task.support_masks,
            self.loss,
            steps=self.inner_steps,
            batch_size=self.inner_batch_size,
            generator=self.generator,
            scheduler=sched,
        )
        learner.eval()
        with torch.no_grad():
            device = next(learner.parameters()).device
            logits = learner(task.query_images.to(device))
            masks = task.query_masks.to(device)
            q_loss = float(self.loss(logits, masks))
            q_iou = float(iou(logits, masks, 2, include_background=False, reduction="none")[0])
        learner.train()
        return flatten_params(learner, out=out), {"support_loss": losses[-1], "query_loss": q_loss, "query_iou": q_iou}

    def meta_step(self, tasks: Sequence[Task], beta: float | None = None) -> dict[str, float]:
        """Adapt to every task, then apply the weighted meta-update to :attr:`model`.

        Returns:
            Statistics: mean support/query loss, mean query IoU (``nan`` entries skipped), the
            largest weight ``w_max`` and the ``beta`` used.
        """
        if len(tasks) == 0:
            raise ValueError("tasks must not be empty")
        beta = self.beta if beta is None else float(beta)
        theta = flatten_params(self.model)
        # the task models are flattened straight into the rows of one [L, P] matrix that is
        # reused across meta-epochs (no torch.stack copy, no fresh pages every epoch)
        shape = (len(tasks), theta.numel())
        buf = self._task_buf
        if buf is None or buf.shape != shape or buf.dtype != theta.dtype or buf.device != theta.device:
            buf = self._task_buf = torch.empty(shape, dtype=theta.dtype, device=theta.device)
        task_params = buf
        stats = []
        for row, task in zip(task_params, tasks):
            stats.append(self.adapt(task, out=row)[1])
        weights = reptile_weights(theta, task_params, self.rule, eps=self.eps)
        new = reptile_update(theta, task_params, weights=weights, beta=beta)
        self.model.load_state_dict(unflatten_params(new, self.model))
        q_iou = torch.tensor([s["query_iou"] for s in stats])
        return {
            "support_loss": sum(s["support_loss"] for s in stats) / len(stats),
            "query_loss": sum(s["query_loss"] for s in stats) / len(stats),
            "query_iou": float(torch.nanmean(q_iou)),
            "w_max": float(weights.max()),
            "beta": beta,
        }

    def fit(self, sampler: TaskSampler, meta_epochs: int, *, progress: bool = True) -> list[dict[str, float]]:
        """Meta-train for ``meta_epochs`` meta-epochs of :attr:`tasks_per_epoch` tasks each.

        Data sets are drawn with the sampler's weights, without replacement when there are enough
        data sets. Returns (and appends to :attr:`history`) one statistics dict per meta-epoch.
        """
        from tqdm.auto import tqdm

        if not isinstance(meta_epochs, int) or meta_epochs < 1:
            raise ValueError(f"meta_epochs must be a positive int, got {meta_epochs!r}")
        replacement = self.tasks_per_epoch > len(sampler)
        out = []
        bar = tqdm(range(meta_epochs), desc=f"reptile-{self.rule}-{sampler.mode}", disable=not progress)
        for epoch in bar:
            if self.beta_final is None or meta_epochs == 1:
                beta = self.beta
            else:
                beta = self.beta + (self.beta_final - self.beta) * epoch / (meta_epochs - 1)
            tasks = sampler.sample(self.tasks_per_epoch, replacement=replacement)
            stats = self.meta_step(tasks, beta=beta)
            stats["epoch"] = float(len(self.history))
            self.history.append(stats)
            out.append(stats)
            bar.set_postfix(q_loss=f"{stats['query_loss']:.3f}", q_iou=f"{stats['query_iou']:.3f}")
        return out

    def __repr__(self) -> str:
        return (
            f"Reptile(rule={self.rule!r}, beta={self.beta}, beta_final={self.beta_final}, "
            f"inner_steps={self.inner_steps}, inner_lr={self.inner_lr}, tasks_per_epoch={self.tasks_per_epoch})"
        )

