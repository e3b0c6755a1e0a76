r"""MIGS: meta-learning a scene-graph-to-image generator over tasks with Reptile.

Few-shot image generation from scene graphs (thesis ch. 11; "MIGS: Meta Image Generation from
Scene Graphs", BMVC 2021): the base model is :class:`SG2Im`
unchanged; its three networks (generator, image discriminator, object discriminator) are
meta-trained with Reptile (Nichol et al. 2018), each network separately. One outer step:

1. for each of ``L`` tasks (drawn by walking seeded permutations of the training tasks, so every
   task is drawn once per pass and none is left out), reset an *inner* SG2Im to the meta-weights
   :math:`\theta` and run ``inner_steps`` SG2Im training steps (one generator step and one step
   of each discriminator, :meth:`SceneGAN.train_step`) with Adam at ``inner_lr`` on mini-batches
   of that task, giving :math:`\theta_l`;
2. per network, :math:`\theta \leftarrow \theta + \beta_t \sum_l w_l (\theta_l - \theta)` with
   :math:`w_l = 1/L` (thesis eq. 11.4), computed by :func:`fedkit.aggregation.server_update`.

**Variants** (:meth:`MIGS.variant`):

* ``"published"`` (alias ``"reference"``): the configuration of the public code, :math:`\beta = 1`
  and ``L = 1`` with a persistent inner Adam. The outer step then *copies* the adapted weights,
  :math:`\theta \leftarrow \theta_l`: MIGS reduces to plain sequential training in blocks of
  ``inner_steps`` task-homogeneous batches, with no meta-gradient at all.
* ``"reptile"``: Reptile proper, :math:`\beta` decaying linearly from 1 to 0.1 over the outer
  steps, ``L = 4`` tasks per step and a fresh inner Adam per task.

**Buffers** (batch-norm running statistics, spectral-norm vectors), ``meta_buffers``:

* ``"average"`` (default): floating-point buffers are interpolated exactly like parameters
  (they are part of the flattened vector of :func:`fedkit.aggregation.flatten_params`); integer
  buffers (``num_batches_tracked``) are taken from the last inner model of the step.
* ``"last"``: only parameters are interpolated; every buffer is taken from the last inner model.

In both cases the meta-model's buffers follow training; they are never reset to their initial
values between outer steps (as the public code does).

**Inner optimiser state**, ``reset_inner_optimizer``: ``True`` creates a fresh Adam for every
task (Reptile's usual choice); ``False`` keeps one Adam per network whose moments persist
across tasks and outer steps (the public code before its ``eval_mode_after``).

Each outer step makes ``L * inner_steps`` generator updates (:attr:`MIGS.generator_updates`);
compare methods at equal numbers of generator updates, not of outer steps.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Any

import torch
from torch import Tensor
from torch_geometric.data import HeteroData

from sgkit.models.sg2im import SG2Im
from sgkit.models.sg2im_config import SG2ImConfig
from sgkit.models.trainer import Trainer, materialize

__all__ = ["MIGS", "MIGS_VARIANTS"]

#: The networks meta-updated separately.
NETWORKS = ("generator", "img_discriminator", "obj_discriminator")

#: Named meta-training configurations (see the module docstring).
MIGS_VARIANTS: dict[str, dict[str, Any]] = {
    "published": dict(inner_steps=10, meta_lr=1.0, meta_lr_final=1.0, tasks_per_step=1,
                      reset_inner_optimizer=False),
    "reptile": dict(inner_steps=10, meta_lr=1.0, meta_lr_final=0.1, tasks_per_step=4,
                    reset_inner_optimizer=True),
}
_ALIASES = {"reference": "published"}
_SETTINGS = ("inner_steps", "inner_lr", "meta_lr", "meta_lr_final", "tasks_per_step", "batch_size",
             "reset_inner_optimizer", "meta_buffers")


def _positive_int(name: str, value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ValueError(f"{name} must be a positive int, got {name}={value!r}")
    return value


def _rate(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < float("inf"):
        raise ValueError(f"{name} must be a positive finite number, got {name}={value!r}")
    return float(value)


def _clone_state(module: torch.nn.Module) -> dict[str, Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


class MIGS(SG2Im):
    """An SG2Im meta-trained with Reptile over tasks (the meta-model is this SG2Im).

    Args:
        config: the SG2Im configuration of the meta-model (and of the inner models).
        vocab: optional :class:`~sgkit.data.Vocabulary`.
        seed: seed of the weight initialisation.
        inner_steps: SG2Im training steps per task and outer step.
        inner_lr: Adam learning rate of the inner steps (default ``config.lr``).
        meta_lr: outer learning rate :math:`\\beta` at the first outer step.
        meta_lr_final: :math:`\\beta` at the last outer step, reached linearly (default:
            ``meta_lr``, constant).
        tasks_per_step: tasks ``L`` per outer step (at most the number of training tasks).
        batch_size: images per inner mini-batch (a task smaller than this gives whole-task batches).
        reset_inner_optimizer: fresh inner Adam per task (``True``) or persistent (``False``).
        meta_buffers: ``"average"`` or ``"last"`` (module docstring).

    :meth:`fit` (inherited) is plain SG2Im training; :meth:`meta_train` is the meta-training and
    :meth:`adapt` the few-shot fine-tuning of a copy.
    """

    def __init__(
        self,
        config: SG2ImConfig,
        vocab: Any = None,
        *,
        seed: int | None = None,
        inner_steps: int = 10,
        inner_lr: float | None = None,
        meta_lr: float = 1.0,
        meta_lr_final: float | None = None,
        tasks_per_step: int = 1,
        batch_size: int = 16,
        reset_inner_optimizer: bool = True,
        meta_buffers: str = "average",
    ) -> None:
        super().__init__(config, vocab, seed=seed)
        self._set_settings(inner_steps=inner_steps, inner_lr=config.lr if inner_lr is None else inner_lr,
                           meta_lr=meta_lr, meta_lr_final=meta_lr if meta_lr_final is None else meta_lr_final,
                           tasks_per_step=tasks_per_step, batch_size=batch_size,
                           reset_inner_optimizer=reset_inner_optimizer, meta_buffers=meta_buffers)
        self.meta_history: list[dict[str, Any]] = []
        self._last_inner_stats: dict[str, float] = {}

    @classmethod
    def variant(cls, name: str, config: SG2ImConfig, vocab: Any = None, *, seed: int | None = None,
                **overrides: Any) -> MIGS:
        """A MIGS in a named configuration of :data:`MIGS_VARIANTS` (``"published"`` /
        ``"reference"`` or ``"reptile"``), with optional overrides of its settings."""
        key = _ALIASES.get(name, name)
        if key not in MIGS_VARIANTS:
            raise ValueError(f"variant must be one of {sorted(MIGS_VARIANTS) + sorted(_ALIASES)}, got variant={name!r}")
        return cls(config, vocab, seed=seed, **{**MIGS_VARIANTS[key], **overrides})

    # ------------------------------------------------------------------ settings
    def _set_settings(self, **kw: Any) -> None:
        """Validate and set the meta-training settings."""
        for name in ("inner_steps", "tasks_per_step", "batch_size"):
            setattr(self, name, _positive_int(name, kw[name]))
        for name in ("inner_lr", "meta_lr", "meta_lr_final"):
            setattr(self, name, _rate(name, kw[name]))
        if not isinstance(kw["reset_inner_optimizer"], bool):
            raise ValueError("reset_inner_optimizer must be a bool, got "
                             f"reset_inner_optimizer={kw['reset_inner_optimizer']!r}")
        self.reset_inner_optimizer = kw["reset_inner_optimizer"]
        if kw["meta_buffers"] not in ("average", "last"):
            raise ValueError(f"meta_buffers must be 'average' or 'last', got meta_buffers={kw['meta_buffers']!r}")
        self.meta_buffers = kw["meta_buffers"]
        self._inner_models = []  # a list keeps the inner model out of the state dict

    def settings(self) -> dict[str, Any]:
        """The meta-training settings (stored in checkpoints)."""
        return {k: getattr(self, k) for k in _SETTINGS}

    @property
    def generator_updates(self) -> int:
        """Generator updates made so far by :meth:`meta_train` (inner steps of every task)."""
        return sum(int(h["generator_updates"]) for h in self.meta_history)

    def meta_lr_at(self, step: int, total: int) -> float:
        """Outer rate :math:`\\beta` of outer step ``step`` (0-based) of ``total``: linear from
        ``meta_lr`` to ``meta_lr_final``."""
        frac = step / (total - 1) if total > 1 else 0.0
        return self.meta_lr + (self.meta_lr_final - self.meta_lr) * frac

    @property
    def inner_model(self) -> SG2Im:
        """The inner SG2Im (same configuration, Adam at ``inner_lr``), created on first use."""
        if not self._inner_models:
            cfg = dataclasses.replace(self.config, lr=self.inner_lr)
            inner = SG2Im(cfg, seed=0).to(self._device())  # seed: leave the global RNG alone
            self._inner_models.append(inner)
        return self._inner_models[0].to(self._device())

    # ------------------------------------------------------------------ Reptile
    def inner_adapt(self, scenes: Sequence[HeteroData], seed: int) -> dict[str, dict[str, Tensor]]:
        """Reset the inner model to the meta-weights, train it ``inner_steps`` SG2Im steps on
        ``scenes`` (one task) and return its state per network (the meta-model is unchanged)."""
        inner = self.inner_model
        inner.load_state_dict(self.state_dict())
        if self.reset_inner_optimizer:
            inner._optimizers = None
        inner.history = []
        inner.fit(scenes, steps=self.inner_steps, batch_size=self.batch_size, seed=seed, progress=False)
        self._last_inner_stats = dict(inner.history[-1]) if inner.history else {}
        return {name: _clone_state(getattr(inner, name)) for name in NETWORKS}

    @torch.no_grad()
    def outer_update(self, inner_states: Sequence[Mapping[str, Mapping[str, Tensor]]], meta_lr: float) -> None:
        """Reptile step of every network: :math:`\\theta + \\beta \\frac{1}{L}\\sum_l
        (\\theta_l - \\theta)` through :func:`fedkit.aggregation.server_update`, buffers as set
        by ``meta_buffers`` (integer buffers always from the last state of ``inner_states``).

        Args:
            inner_states: per task, ``{network name: state dict}`` as returned by
                :meth:`inner_adapt`.
            meta_lr: the outer rate :math:`\\beta`.
        """
        from fedkit import aggregation as agg

        if not inner_states:
            raise ValueError("inner_states must hold the state of at least one task, got none")
        beta = _rate("meta_lr", meta_lr)
        weights = agg.mean_weights(len(inner_states))
        for name in NETWORKS:
            net = getattr(self, name)
            last = inner_states[-1][name]
            if self.meta_buffers == "average":
                template: Mapping[str, Tensor] = last
                theta = agg.flatten_params(net)
                rows = torch.stack([agg.flatten_params(s[name]) for s in inner_states])
            else:
                keys = [k for k, _ in net.named_parameters()]
                template = {k: last[k] for k in keys}
                theta = agg.flatten_params(net, buffers=False)
                rows = torch.stack([agg.flatten_params({k: s[name][k] for k in keys}) for s in inner_states])
            new = agg.unflatten_params(agg.server_update(theta, rows, weights, eta=beta), template)
            state = {k: v.clone() for k, v in last.items()}
            state.update(new)
            net.load_state_dict(state)

    def meta_step(self, tasks: Sequence[Sequence[HeteroData]], meta_lr: float, seed: int) -> dict[str, float]:
        """One outer step on the given tasks (inner runs seeded ``seed``, ``seed + 1``, ...)."""
        states, stats = [], []
        for j, scenes in enumerate(tasks):
            states.append(self.inner_adapt(scenes, seed + j))
            stats.append(self._last_inner_stats)
        self.outer_update(states, meta_lr)
        keys = sorted({k for s in stats for k in s if k != "step"})
        return {k: sum(s.get(k, 0.0) for s in stats) / len(stats) for k in keys}

    def meta_train(
        self,
        tasks: Mapping[Hashable, Sequence[HeteroData]] | Sequence[Sequence[HeteroData]],
        *,
        outer_steps: int = 100,
        seed: int = 0,
        progress: bool = True,
        time_budget: float | None = None,
        callback: Callable[[int, dict[str, float]], None] | None = None,
    ) -> MIGS:
        """Meta-train on training tasks for ``outer_steps`` outer steps.

        Args:
            tasks: the training tasks, ``{name: scenes}`` or a sequence of scene lists; scenes
                need images and boxes (and masks for the mask loss).
            outer_steps: number of outer steps (each makes ``tasks_per_step * inner_steps``
                generator updates); :math:`\\beta` follows :meth:`meta_lr_at` over them.
            seed: seed of task sampling and of the inner runs.
            progress: show a tqdm bar.
            time_budget: stop after this many seconds.
            callback: ``callback(outer_step, stats)`` after every outer step.

        Returns:
            ``self``; one entry per outer step is appended to :attr:`meta_history` (``step``,
            ``meta_lr``, ``tasks``, ``generator_updates`` and the mean last inner losses).
        """
        items = list(tasks.items()) if isinstance(tasks, Mapping) else list(enumerate(tasks))
        if not items:
            raise ValueError("tasks must hold at least one training task, got none")
        names = [name for name, _ in items]
        data = [materialize(scenes, f"tasks[{name!r}]") for name, scenes in items]
        for name, scenes in zip(names, data):
            self._check_ids(scenes, name=f"tasks[{name!r}]")
        if self.tasks_per_step > len(data):
            raise ValueError(f"tasks_per_step={self.tasks_per_step} exceeds the {len(data)} training tasks")
        _positive_int("outer_steps", outer_steps)
        offset = len(self.meta_history)

        def step_fn(idx: list[int], step: int) -> dict[str, float]:
            beta = self.meta_lr_at(step - 1, outer_steps)
            stats = self.meta_step([data[i] for i in idx], beta, seed=(seed * 1_000_003 + offset + step) * 1_009)
            entry: dict[str, Any] = {"step": offset + step, "meta_lr": beta, "tasks": [str(names[i]) for i in idx],
                                     "generator_updates": len(idx) * self.inner_steps, **stats}
            self.meta_history.append(entry)
            return {k: v for k, v in entry.items() if isinstance(v, float)}

        trainer = Trainer(steps=outer_steps, batch_size=self.tasks_per_step,
                          generator=torch.Generator().manual_seed(seed), time_budget=time_budget,
                          progress=progress, desc=f"MIGS-{self.config.decoder}", postfix=("total", "meta_lr"),
                          callback=callback)
        trainer.run(len(data), step_fn)
        return self

    # ------------------------------------------------------------------ few-shot adaptation
    def adapt(self, support: Sequence[HeteroData], *, steps: int = 80, **kwargs: Any) -> SG2Im:
        """A fine-tuned copy (an :class:`SG2Im`) of the meta-model; the meta-model is unchanged.

        See :func:`sgkit.models.few_shot.adapt` for the arguments.
        """
        from sgkit.models.few_shot import adapt

        return adapt(self, support, steps=steps, **kwargs)

    # ------------------------------------------------------------------ checkpoints
    def checkpoint_extra(self) -> dict[str, Any]:
        extra = super().checkpoint_extra()
        extra["migs"] = {"settings": self.settings(),
                         "meta_history": [{k: (list(v) if isinstance(v, list) else v) for k, v in h.items()}
                                          for h in self.meta_history]}
        return extra

    def load_extra(self, extra: Mapping[str, Any]) -> None:
        super().load_extra(extra)
        migs = extra.get("migs")
        if migs:
            self._set_settings(**migs["settings"])
            self.meta_history = [dict(h) for h in migs["meta_history"]]
