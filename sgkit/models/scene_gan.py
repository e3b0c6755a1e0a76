"""The GAN machinery shared by the scene-graph-to-image models (SG2Im, SIMSG, ...).

:class:`SceneGAN` holds a generator, a global image discriminator (multi-scale for SPADE) and an
object-patch discriminator with an auxiliary classifier, their Adam optimisers, the weighted
generator losses, the discriminator losses, one training step, :meth:`SceneGAN.fit` (through the
shared :class:`~sgkit.models.trainer.Trainer`) and checkpoints in the one format of
:mod:`sgkit.models.checkpoint`. A model subclasses it and defines :meth:`SceneGAN._build_generator`;
it may override :meth:`SceneGAN.collate` (to build a richer batch) and
:meth:`SceneGAN.forward_train` (to feed extra inputs to its generator).
"""
from __future__ import annotations

import abc
import contextlib
import dataclasses
import os
from typing import Any, Callable, ClassVar, Iterable, Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.data import HeteroData

from sgkit.data.batch import SceneBatch, check_scenes, collate_scenes
from sgkit.models.losses import (
    VGGPerceptualLoss,
    box_loss,
    feature_matching_loss,
    gan_loss,
    mask_loss,
    multiscale_gan_loss,
)
from sgkit.models.scene_gan_checkpoints import SceneGANCheckpoints
from sgkit.models.sg2im_config import SG2ImConfig
from sgkit.models.trainer import Trainer, backward_step, materialize
from sgkit.nn.discriminators import MultiscaleDiscriminator, ObjectDiscriminator

__all__ = ["SceneGAN"]


class SceneGAN(SceneGANCheckpoints, nn.Module, metaclass=abc.ABCMeta):
    """Base class of the scene-graph-to-image GANs.

    Args:
        config: the model's configuration (an :class:`~sgkit.models.SG2ImConfig` or a subclass).
        vocab: optional :class:`~sgkit.data.Vocabulary` (stored in checkpoints).
        seed: seed of the weight initialisation, drawn under :func:`torch.random.fork_rng` so the
            global RNG is left untouched; ``None`` draws from the global RNG.
    """

    config_class: ClassVar[type] = SG2ImConfig

    def __init__(self, config: SG2ImConfig, vocab: Any = None, *, seed: int | None = None) -> None:
        super().__init__()
        if not isinstance(config, self.config_class):
            raise ValueError(f"config must be a {self.config_class.__name__}, got {type(config).__name__}")
        if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
            raise ValueError(f"seed must be an int or None, got seed={seed!r}")
        if vocab is not None and hasattr(vocab, "num_objects") and (
                vocab.num_objects != config.num_objects or vocab.num_predicates != config.num_predicates):
            raise ValueError(
                f"vocab has {vocab.num_objects} objects and {vocab.num_predicates} predicates, but the config "
                f"num_objects={config.num_objects}, num_predicates={config.num_predicates}")
        self.config = config
        self.vocab = vocab
        c = config
        with torch.random.fork_rng(devices=[], enabled=seed is not None):
            if seed is not None:
                torch.manual_seed(seed)
            self.generator = self._build_generator()
            self.img_discriminator = MultiscaleDiscriminator(c.d_num_scales, 3, c.d_img_dims, c.d_normalization)
            self.obj_discriminator = ObjectDiscriminator(c.num_objects, 3, c.crop_size, c.d_obj_dims,
                                                         c.d_normalization)
        # The VGG is kept out of the state dict (and out of checkpoints): it is a fixed loss.
        self._perceptual: tuple[VGGPerceptualLoss, ...] = ()
        if c.perceptual_weight > 0:
            self._perceptual = (VGGPerceptualLoss(c.vgg_weights),)
        self._optimizers: dict[str, torch.optim.Optimizer] | None = None
        self._step_options = {"fused_adam": False, "channels_last": False, "reuse_real_features": False,
                              "bf16_autocast": False, "fused_decoder": False, "grid_sample_crops": False}
        self._real_img_out: list | None = None
        self._rng = torch.Generator().manual_seed(0)
        self.history: list[dict[str, float]] = []

    @abc.abstractmethod
    def _build_generator(self) -> nn.Module:
        """Create the generator (called once from ``__init__`` under the initialisation seed)."""

    # ------------------------------------------------------------------ helpers
    @property
    def perceptual(self) -> VGGPerceptualLoss | None:
        """The perceptual loss module (``None`` when its weight is zero)."""
        return self._perceptual[0] if self._perceptual else None

    @property
    def perceptual_enabled(self) -> bool:
        """Whether the perceptual loss contributes (needs local VGG16 weights)."""
        p = self.perceptual
        return p is not None and p.enabled

    def _device(self) -> torch.device:
        return next(self.parameters()).device

    def _check_ids(self, graphs: Sequence[HeteroData], name: str = "graphs") -> None:
        """Validate ``graphs`` against the model's vocabulary sizes (once, at the boundary)."""
        check_scenes(graphs, self.config.num_objects, self.config.num_predicates, name=name)

    def set_step_options(
        self, *, fused_adam: bool = False, channels_last: bool = False, reuse_real_features: bool = False,
        bf16_autocast: bool = False, compile_modules: bool = False, fused_decoder: bool = False,
        grid_sample_crops: bool = False,
    ) -> SceneGAN:
        """Speed options of :meth:`train_step` (all off: the reference step).

        Args:
            fused_adam: fused Adam kernels (``Adam(fused=True)``; same update up to rounding).
            channels_last: weights and images in ``torch.channels_last`` memory format (same
                maths, other convolution kernels: equal up to rounding).
            reuse_real_features: with feature matching, run the image discriminator on the real
                images once per step (the generator's feature targets and the discriminator's
                real scores come from the same pass; with batch normalisation its running
                statistics then see the real batch once instead of twice).
            bf16_autocast: forward passes under ``torch.autocast`` with bfloat16 (convolutions
                and matrix products in bfloat16, fast on CPUs with AMX and on recent GPUs;
                changes the arithmetic: losses agree to about 1e-2 relative, not bitwise).
            compile_modules: :meth:`torch.nn.Module.compile` the image decoder (``generator.decoder``
                when there is one) and both discriminators (fused kernels, equal up to rounding;
                the first steps compile, so it pays only in long runs).
            fused_decoder: the SPADE or CRN decoder resizes the layout once per resolution and,
                given the layout's factors by the SG2Im generator, convolves the object masks
                with per-object kernels instead of the dense layout (``set_fused`` of
                :class:`~sgkit.nn.SPADEDecoder` / :class:`~sgkit.nn.CRNDecoder`; equal up to
                rounding).
            grid_sample_crops: the object discriminator crops with ``crop_boxes(method="auto")``
                (one ``grid_sample`` call on CPU; equal to ``roi_align`` up to rounding).

        Returns:
            ``self``. Call before the first step (the optimisers are created then).
        """
        if self._optimizers is not None and fused_adam != self._step_options["fused_adam"]:
            raise ValueError("fused_adam: set it before the first training step (the optimisers exist)")
        self._step_options = {"fused_adam": bool(fused_adam), "channels_last": bool(channels_last),
                              "reuse_real_features": bool(reuse_real_features), "bf16_autocast": bool(bf16_autocast),
                              "fused_decoder": bool(fused_decoder), "grid_sample_crops": bool(grid_sample_crops)}
        decoder = getattr(self.generator, "decoder", None)
        if hasattr(decoder, "set_fused"):
            decoder.set_fused(fused_decoder)
        self.obj_discriminator.crop_method = "auto" if grid_sample_crops else "roi_align"
        if channels_last:
            self.to(memory_format=torch.channels_last)
        if compile_modules:
            for module in (getattr(self.generator, "decoder", None), self.img_discriminator, self.obj_discriminator):
                if isinstance(module, nn.Module):
                    module.compile()
        return self

    @contextlib.contextmanager
    def _discriminators_frozen(self):
        """No discriminator weight gradients during the generator update (they would be discarded)."""
        params = [p for d in (self.img_discriminator, self.obj_discriminator) for p in d.parameters()
                  if p.requires_grad]
        for p in params:
            p.requires_grad_(False)
        try:
            yield
        finally:
            for p in params:
                p.requires_grad_(True)

    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """Create (or return) the Adam optimisers of the generator and both discriminators."""
        if self._optimizers is None:
            c = self.config
            fused = {"fused": True} if self._step_options["fused_adam"] else {}
            self._optimizers = {
                name: torch.optim.Adam(getattr(self, name).parameters(), lr=c.lr, betas=c.betas, **fused)
                for name in ("generator", "img_discriminator", "obj_discriminator")
            }
        return self._optimizers

    # ------------------------------------------------------------------ one step
    def collate(self, graphs: Sequence[HeteroData]) -> SceneBatch:
        """The training batch of ``graphs`` (images resized to the model's size, boxes needed)."""
        return collate_scenes(graphs, need_boxes=True, need_images=True, image_size=self.config.image_size)

    def forward_train(self, batch: SceneBatch) -> Mapping[str, Any]:
        """Generator outputs during training: ground-truth boxes, predicted masks (as SG2Im)."""
        return self.generator(batch, boxes=batch.boxes, generator=self._rng)

    def generator_losses(self, batch: SceneBatch, out: Mapping[str, Any]) -> dict[str, Tensor]:
        """Weighted generator loss terms for one batch (``"total"`` is their sum)."""
        c = self.config
        real, fake = batch.images, out["image"]
        assert real is not None and batch.boxes is not None
        has_objects = batch.labels.numel() > 0
        terms: dict[str, Tensor] = {}
        if c.image_l1_weight > 0:
            terms["image_l1"] = c.image_l1_weight * F.l1_loss(fake, real)
        if c.box_weight > 0 and has_objects:
            terms["box"] = c.box_weight * box_loss(out["boxes_pred"], batch.boxes)
        if c.mask_weight > 0 and batch.masks is not None and out["masks_pred"] is not None and has_objects:
            terms["mask"] = c.mask_weight * mask_loss(out["masks_pred"], batch.masks)
        if c.gan_global_weight > 0 or c.feature_matching_weight > 0:
            need_feats = c.feature_matching_weight > 0
            fake_out = self.img_discriminator(fake, return_features=need_feats)
            if c.gan_global_weight > 0:
                terms["gan_global"] = c.gan_global_weight * multiscale_gan_loss(
                    fake_out, True, c.gan_mode, for_discriminator=False)
            if need_feats:
                if self._real_img_out is not None:
                    real_out = [(logits, [f.detach() for f in feats]) for logits, feats in self._real_img_out]
                else:
                    with torch.no_grad():
                        real_out = self.img_discriminator(real, return_features=True)
                terms["feature_matching"] = c.feature_matching_weight * feature_matching_loss(fake_out, real_out)
        if (c.gan_object_weight > 0 or c.aux_weight > 0) and has_objects:
            boxes, index, labels = self.object_targets(batch)
            score, logits = self.obj_discriminator(fake, boxes, index)
            if c.gan_object_weight > 0:
                terms["gan_object"] = c.gan_object_weight * gan_loss(score, True, c.gan_mode,
                                                                     for_discriminator=False)
            if c.aux_weight > 0:
                terms["aux"] = c.aux_weight * F.cross_entropy(logits, labels)
        if c.perceptual_weight > 0 and self.perceptual_enabled:
            p = self.perceptual
            assert p is not None
            p.to(fake.device)
            terms["perceptual"] = c.perceptual_weight * p(fake, real)
        terms["total"] = torch.stack(list(terms.values())).sum() if terms else fake.sum() * 0
        return terms

    def object_targets(self, batch: SceneBatch) -> tuple[Tensor, Tensor, Tensor]:
        """The objects the object discriminator scores: ``(boxes [K, 4], image index [K],
        labels [K])``; all objects of the batch (a subclass may select some)."""
        assert batch.boxes is not None
        return batch.boxes, batch.batch, batch.labels

    def discriminator_losses(self, batch: SceneBatch, fake: Tensor) -> dict[str, Tensor]:
        """Discriminator loss terms (unweighted, as in SG2Im) on real vs detached fake images."""
        c = self.config
        real = batch.images
        assert real is not None and batch.boxes is not None
        fake = fake.detach()
        terms: dict[str, Tensor] = {}
        if c.gan_global_weight > 0 or c.feature_matching_weight > 0:
            real_out = self._real_img_out if self._real_img_out is not None else self.img_discriminator(real)
            terms["d_img"] = (multiscale_gan_loss(real_out, True, c.gan_mode)
                              + multiscale_gan_loss(self.img_discriminator(fake), False, c.gan_mode))
        if (c.gan_object_weight > 0 or c.aux_weight > 0) and batch.labels.numel() > 0:
            boxes, index, labels = self.object_targets(batch)
            s_real, l_real = self.obj_discriminator(real, boxes, index)
            s_fake, l_fake = self.obj_discriminator(fake, boxes, index)
            terms["d_obj"] = gan_loss(s_real, True, c.gan_mode) + gan_loss(s_fake, False, c.gan_mode)
            terms["d_aux"] = F.cross_entropy(l_real, labels) + F.cross_entropy(l_fake, labels)
        return terms

    def train_step(self, batch: SceneBatch) -> dict[str, float]:
        """One generator update, then one update of each discriminator.

        The discriminators' weights do not take gradients during the generator update (those
        gradients were discarded); :meth:`set_step_options` lists the optional speed-ups.

        Raises:
            NonFiniteError: naming the loss term or parameter, before the update it concerns.
        """
        if batch.images is None or batch.boxes is None:
            raise ValueError("training batches need images and boxes (data.image, data['object'].box)")
        self.train()
        opts = self.configure_optimizers()
        batch = batch.to(self._device())
        if self._step_options["channels_last"]:
            batch = dataclasses.replace(batch, images=batch.images.contiguous(memory_format=torch.channels_last))
        def amp() -> Any:
            return torch.autocast(batch.images.device.type, dtype=torch.bfloat16,
                                  enabled=self._step_options["bf16_autocast"])

        try:
            if self._step_options["reuse_real_features"] and self.config.feature_matching_weight > 0:
                with amp():
                    self._real_img_out = self.img_discriminator(batch.images, return_features=True)
            with amp():
                out = self.forward_train(batch)
            with self._discriminators_frozen():
                with amp():
                    g_terms = self.generator_losses(batch, out)
                backward_step(g_terms["total"], g_terms, [opts["generator"]], module=self)
            with amp():
                d_terms = self.discriminator_losses(batch, out["image"])
        finally:
            self._real_img_out = None
        if d_terms:
            stepped = [opts[k] for k, t in (("img_discriminator", "d_img"), ("obj_discriminator", "d_obj"))
                       if t in d_terms]
            backward_step(torch.stack(list(d_terms.values())).sum(), d_terms, stepped,
                          zero=[opts["img_discriminator"], opts["obj_discriminator"]], module=self)
        stats = {k: float(v.detach()) for k, v in g_terms.items()}
        stats.update({k: float(v.detach()) for k, v in d_terms.items()})
        return stats

    # ------------------------------------------------------------------ training loop
    def fit(
        self,
        scenes: Sequence[HeteroData] | Iterable[HeteroData],
        *,
        steps: int | None = 1000,
        epochs: int | None = None,
        batch_size: int = 16,
        seed: int = 0,
        replacement: bool = False,
        progress: bool = True,
        checkpoint_path: str | os.PathLike | None = None,
        checkpoint_every: int | None = None,
        sample_dir: str | os.PathLike | None = None,
        sample_every: int | None = None,
        sample_graphs: Sequence[HeteroData] | None = None,
        time_budget: float | None = None,
        callback: Callable[[int, dict[str, float]], None] | None = None,
        skip_nonfinite: bool = False,
    ) -> "SceneGAN":
        """Train on scenes with images and boxes (and masks for the mask loss).

        Args:
            scenes: scene graphs with ``data.image`` and ``data['object'].box``; a
                :class:`torch.utils.data.Dataset` (e.g. ``ShapesWorld``) is read once.
            steps: number of training steps; batches walk a seeded permutation across epochs.
            epochs: train for this many passes instead (give ``steps=None``).
            batch_size: images per (global) batch.
            seed: seed of batch sampling and layout noise.
            replacement: draw each batch with replacement.
            progress: show a tqdm progress bar with the running losses.
            checkpoint_path: where to write checkpoints (:meth:`save`), every
                ``checkpoint_every`` steps and at the end.
            checkpoint_every: checkpoint interval in steps.
            sample_dir: folder for PNG sample grids (``samples_{step}.png`` and
                ``samples_final.png``) of ``sample_graphs`` (default: the first 8 scenes).
            sample_every: sample interval in steps (default: only at the end).
            sample_graphs: graphs used for the sample grids.
            time_budget: stop after this many seconds (wall clock) even if steps remain.
            callback: called as ``callback(step, stats)`` after every step.
            skip_nonfinite: skip (and count in ``self.skipped_steps``) a step whose loss or
                gradient is NaN or infinite instead of raising
                :class:`~sgkit.models.checkpoint.NonFiniteError`.

        Returns:
            ``self``; per-step statistics are appended to :attr:`history`.
        """
        data = materialize(scenes, "scenes")
        self._check_ids(data, name="scenes")
        self._rng = torch.Generator().manual_seed(seed)
        samples = list(sample_graphs) if sample_graphs is not None else data[:8]
        from sgkit.models import distributed as ddp

        def step_fn(idx: list[int], step: int) -> dict[str, float]:
            stats = self.train_step(self.collate([data[i] for i in idx]))
            stats["step"] = step
            self.history.append(stats)
            return stats

        def sample(step: int | str) -> None:
            assert sample_dir is not None
            self.save_samples(samples, os.path.join(os.fspath(sample_dir), f"samples_{step}.png"))

        trainer = Trainer(
            steps=steps, epochs=epochs, batch_size=batch_size, generator=self._rng,
            replacement=replacement, time_budget=time_budget, progress=progress,
            desc=f"{type(self).__name__}-{self.config.decoder}", postfix=("total", "image_l1"),
            callback=callback, checkpoint_every=checkpoint_every if checkpoint_path is not None else None,
            on_checkpoint=lambda step: self.save(checkpoint_path),  # type: ignore[arg-type]
            sample_every=sample_every if sample_dir is not None else None, on_sample=sample,
            skip_nonfinite=skip_nonfinite, module=self,
        )
        result = trainer.run(len(data), step_fn)
        self.skipped_steps = result.skipped
        if ddp.is_main_process():
            if checkpoint_path is not None:
                self.save(checkpoint_path)
            if sample_dir is not None:
                sample("final")
        return self

    # ------------------------------------------------------------------ output
    def save_samples(self, graphs: Sequence[HeteroData], path: str | os.PathLike, use_boxes: bool = True) -> str:
        """Save a PNG grid: real images (if present) above generated ones."""
        from sgkit.viz import save_image_grid

        has_boxes = all("box" in g["object"] for g in graphs)
        fake = self.generate(graphs, use_boxes=use_boxes and has_boxes)
        rows = [fake]
        if all("image" in g for g in graphs):
            real = collate_scenes(graphs, image_size=self.config.image_size).images
            assert real is not None
            rows = [real, fake]
        return save_image_grid(torch.cat(rows), path, nrow=len(graphs))

    @abc.abstractmethod
    def generate(self, graphs: Sequence[HeteroData], **kwargs: Any) -> Tensor:
        """Images ``[B, 3, S, S]`` in ``[0, 1]`` generated from ``graphs`` (eval mode)."""
