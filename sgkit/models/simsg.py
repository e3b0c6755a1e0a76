"""SIMSG: semantic image manipulation from scene graphs.

Dhamo et al., "Semantic Image Manipulation Using Scene Graphs", CVPR 2020
(https://arxiv.org/abs/2004.03677); thesis ch. 12 and appendix B. A user edits the scene graph
of an image (:mod:`sgkit.data.edits`) and the model redraws the image, keeping what did not
change. Training needs no image pairs: every training image is its own target, with random
nodes' boxes (``p = 0.35``) and visual features (``p = 0.25``) hidden and the image regions of
nodes with either hidden replaced by noise (:func:`~sgkit.models.simsg_generator.sample_keep_flags`);
the layout uses the ground-truth boxes (teacher forcing) and the box head is trained by the box
L1 loss. Losses and discriminators are those of :class:`~sgkit.models.scene_gan.SceneGAN`
(image L1, box L1, mask BCE, global and object GAN, auxiliary classifier, feature matching and
perceptual loss with the configured weights).

:class:`~sgkit.models.SupervisedSIMSG` (:mod:`sgkit.models.supervised_simsg`) is the fully
supervised baseline of thesis Table 12.1.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.data import HeteroData

from sgkit.data.batch import collate_scenes
from sgkit.data.edit_pairs import edit_from_pair, plan_pair
from sgkit.data.edits import EditPlan, plan_edit
from sgkit.models.scene_gan import SceneGAN
from sgkit.models.simsg_config import SIMSGConfig
from sgkit.models.simsg_generator import SIMSGBatch, SIMSGGenerator, sample_keep_flags
from sgkit.models.trainer import materialize

__all__ = ["SIMSG", "Manipulation"]


@dataclass
class Manipulation:
    """Result of :meth:`SIMSG.manipulate` for ``B`` edits.

    Attributes:
        image: ``[B, 3, S, S]`` generated images in ``[0, 1]``.
        layout_boxes: ``[O, 4]`` boxes used in the layout (all edited nodes, concatenated).
        boxes_pred: ``[O, 4]`` predicted boxes.
        batch: ``[O]`` edit index of every node.
        masked_input: ``[B, 4, S, S]``: the source with masked pixels grey (display version, in
            ``[0, 1]``) and the mask channel.
        region: ``[B, S, S]`` bool: the masked (edited) region.
        plans: the :class:`~sgkit.data.EditPlan` of every edit.
    """

    image: Tensor
    layout_boxes: Tensor
    boxes_pred: Tensor
    batch: Tensor
    masked_input: Tensor
    region: Tensor
    plans: list[EditPlan]


def _as_list(x: HeteroData | Sequence[HeteroData], name: str) -> list[HeteroData]:
    if isinstance(x, HeteroData):
        return [x]
    return materialize(x, name)


class SIMSG(SceneGAN):
    """SIMSG with its generator (:class:`~sgkit.models.simsg_generator.SIMSGGenerator`), a global
    image discriminator and an object discriminator.

    Args:
        config: a :class:`~sgkit.models.SIMSGConfig` (e.g. ``SIMSGConfig.preset("crn-64", C, P)``).
        vocab: optional :class:`~sgkit.data.Vocabulary`.
        seed: seed of the weight initialisation (the global RNG is left untouched).

    :attr:`feature_encoder_kind` says which ``z_I`` encoder is in use (``"vgg16"`` with a local
    weights file, else ``"cnn"``).

    Example:
        >>> cfg = SIMSGConfig.preset("crn-small", num_objects=36, num_predicates=6)
        >>> model = SIMSG(cfg, seed=0)
        >>> # model.fit(scenes, steps=1000); out = model.manipulate(source, remove_node(source, 2))
    """

    config_class = SIMSGConfig
    config: SIMSGConfig

    def _build_generator(self) -> nn.Module:
        return SIMSGGenerator(self.config)

    @property
    def feature_encoder_kind(self) -> str:
        """``"vgg16"`` (frozen pretrained trunk) or ``"cnn"`` (small trainable encoder)."""
        return self.generator.feature_encoder.kind

    # ------------------------------------------------------------------ training
    def collate(self, graphs: Sequence[HeteroData]) -> SIMSGBatch:
        """Training batch: each image is its own source, with keep flags drawn by
        :func:`sample_keep_flags` (the generator's seeded RNG); feature-masked nodes are greyed."""
        c = self.config
        b = collate_scenes(graphs, need_boxes=True, need_images=True, image_size=c.image_size)
        kb, kf, ki = sample_keep_flags(b.num_objects, c.box_mask_prob, c.feature_mask_prob, self._rng)
        return SIMSGBatch(**vars(b), source_images=b.images, keep_box=kb, keep_feature=kf, keep_image=ki,
                          grey=~kf)

    def forward_train(self, batch: SIMSGBatch) -> Mapping[str, Any]:  # type: ignore[override]
        """Generator outputs with the ground-truth boxes of every node in the layout."""
        masks = batch.masks if self.config.use_gt_masks else None
        return self.generator(batch, boxes=batch.boxes, masks=masks, generator=self._rng)

    def generator_losses(self, batch: SIMSGBatch, out: Mapping[str, Any]) -> dict[str, Tensor]:  # type: ignore[override]
        """The engine's loss terms; with ``box_loss="mse"`` the box term is the mean squared error."""
        terms = super().generator_losses(batch, out)
        if self.config.box_loss == "mse" and "box" in terms:
            assert batch.boxes is not None
            terms["box"] = self.config.box_weight * F.mse_loss(out["boxes_pred"], batch.boxes)
            terms["total"] = torch.stack([v for k, v in terms.items() if k != "total"]).sum()
        return terms

    @torch.no_grad()
    def fit_feature_statistics(self, scenes: Sequence[HeteroData], *, batch_size: int = 64) -> Tensor:
        """Per-dimension mean and standard deviation of the visual features of every object of
        ``scenes`` (nothing masked, eval mode), stored for ``feature_fill="gaussian"``.

        Returns:
            ``[2, F]``: mean and standard deviation.
        """
        graphs = materialize(scenes, "scenes")
        self._check_ids(graphs, name="scenes")
        self.eval()
        g = self.generator
        feats = []
        for start in range(0, len(graphs), batch_size):
            b = collate_scenes(graphs[start:start + batch_size], need_boxes=True, need_images=True,
                               image_size=self.config.image_size)
            batch = SIMSGBatch(**vars(b), source_images=b.images).to(self._device())
            feats.append(g.object_features(batch)[: b.num_objects].cpu())
        z = torch.cat(feats)
        if z.size(0) < 2:
            raise ValueError(f"scenes: need at least 2 objects for feature statistics, got {z.size(0)}")
        g.feature_mean.copy_(z.mean(0))
        g.feature_std.copy_(z.std(0))
        g.feature_count.fill_(z.size(0))
        return torch.stack([g.feature_mean, g.feature_std]).cpu()

    def object_targets(self, batch: SIMSGBatch) -> tuple[Tensor, Tensor, Tensor]:  # type: ignore[override]
        """Selective object discriminator: only the nodes whose image region was masked (all
        nodes when none was)."""
        assert batch.boxes is not None
        if batch.keep_image is None or bool(batch.keep_image.all()):
            return batch.boxes, batch.batch, batch.labels
        sel = ~batch.keep_image.to(batch.labels.device)
        return batch.boxes[sel], batch.batch[sel], batch.labels[sel]

    # ------------------------------------------------------------------ inference
    def _run(self, batch: SIMSGBatch, seed: int, layout_boxes: Tensor | None = None) -> dict[str, Any]:
        self.eval()
        gen = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            return self.generator(batch.to(self._device()), boxes=layout_boxes, generator=gen)

    def _edit_batch(self, sources: list[HeteroData], edited: list[HeteroData], plans: list[EditPlan]) -> SIMSGBatch:
        S = self.config.image_size
        src = collate_scenes(sources, need_images=True, image_size=S)
        b = collate_scenes(edited, need_boxes=True)
        hidden = [p.hidden_boxes for p in plans]
        kb = torch.cat([p.keep_box for p in plans])
        kf = torch.cat([p.keep_feature for p in plans])
        return SIMSGBatch(**vars(b), source_images=src.images, keep_box=kb, keep_feature=kf,
                          keep_image=torch.cat([p.keep_image for p in plans]), grey=~(kb & kf),
                          combine_box=torch.cat([p.combine_box for p in plans]),
                          hidden_boxes=torch.cat(hidden).float(),
                          hidden_batch=torch.cat([torch.full((h.size(0),), i) for i, h in enumerate(hidden)]).long())

    def manipulate(
        self,
        source: HeteroData | Sequence[HeteroData],
        edited: HeteroData | Sequence[HeteroData],
        *,
        relation_mask: str = "both",
        replace_box: str = "source",
        addition_box: str = "predicted",
        layout_boxes: Sequence[Tensor] | None = None,
        composite: bool = False,
        seed: int = 0,
        batch_size: int = 64,
        plans: Sequence[EditPlan] | None = None,
    ) -> Manipulation:
        """Redraw source images after graph edits (eval mode, batched).

        Args:
            source: source graph(s) with ``image`` and boxes.
            edited: edited graph(s) (from :mod:`sgkit.data.edits`, with ``src_index``).
            relation_mask, replace_box, addition_box: the policy of :func:`~sgkit.data.plan_edit`.
            layout_boxes: optional ``[N_i, 4]`` boxes per edit forced into the layout (an oracle,
                e.g. the exact target boxes).
            composite: paste generated pixels into the masked region only, keep the source
                elsewhere.
            seed: seed of the noise (same seed, same output).
            batch_size: edits per forward pass.
            plans: optional precomputed :class:`~sgkit.data.EditPlan` per edit (replaces
                :func:`~sgkit.data.plan_edit` and its policy arguments).

        Returns:
            A :class:`Manipulation`.
        """
        sources, edits = _as_list(source, "source"), _as_list(edited, "edited")
        if len(sources) != len(edits):
            raise ValueError(f"source and edited must have the same length, got {len(sources)} and {len(edits)}")
        if layout_boxes is not None and len(layout_boxes) != len(edits):
            raise ValueError(f"layout_boxes must have one entry per edit ({len(edits)}), got {len(layout_boxes)}")
        self._check_ids(edits, name="edited")
        if plans is None:
            plans = [plan_edit(s, e, relation_mask=relation_mask, replace_box=replace_box, addition_box=addition_box)
                     for s, e in zip(sources, edits)]
        elif len(plans) != len(edits):
            raise ValueError(f"plans must have one entry per edit ({len(edits)}), got {len(plans)}")
        plans = list(plans)
        parts: dict[str, list[Tensor]] = {k: [] for k in ("image", "layout_boxes", "boxes_pred", "batch", "masked")}
        for start in range(0, len(edits), batch_size):
            sl = slice(start, start + batch_size)
            batch = self._edit_batch(sources[sl], edits[sl], plans[sl])
            forced = torch.cat([torch.as_tensor(b, dtype=torch.float32) for b in layout_boxes[sl]]) \
                if layout_boxes is not None else None
            out = self._run(batch, seed + start, forced)
            parts["image"].append(out["image"].cpu())
            parts["layout_boxes"].append(out["layout_boxes"].cpu())
            parts["boxes_pred"].append(out["boxes_pred"].cpu())
            parts["batch"].append(batch.batch + start)
            parts["masked"].append(out["masked_input"].cpu())
        masked = torch.cat(parts["masked"])
        region = masked[:, 3] > 0.5
        src_images = collate_scenes(sources, image_size=self.config.image_size).images
        assert src_images is not None
        display = torch.where(region.unsqueeze(1), torch.full_like(src_images, self.config.grey_value), src_images)
        image = torch.cat(parts["image"])
        if composite:
            image = torch.where(region.unsqueeze(1), image, src_images)
        return Manipulation(image=image, layout_boxes=torch.cat(parts["layout_boxes"]),
                            boxes_pred=torch.cat(parts["boxes_pred"]), batch=torch.cat(parts["batch"]),
                            masked_input=torch.cat([display, region.unsqueeze(1).float()], 1), region=region,
                            plans=plans)

    def manipulate_pairs(self, pairs: Sequence[Mapping[str, Any]], **kwargs: Any) -> Manipulation:
        """:meth:`manipulate` on ShapesWorld-style edit pairs (``{"source", "target", "mode",
        "info"}``) through :func:`~sgkit.data.edit_from_pair` and :func:`~sgkit.data.plan_pair`
        (a relationship change moves the two endpoints of the swapped edge)."""
        policy = {k: kwargs.pop(k) for k in ("relation_mask", "replace_box", "addition_box") if k in kwargs}
        plans = [plan_pair(p, **policy) for p in pairs]
        return self.manipulate([p["source"] for p in pairs], [edit_from_pair(p) for p in pairs], plans=plans,
                               **kwargs)

    @torch.no_grad()
    def encode_objects(self, image: Tensor, boxes: Tensor) -> Tensor:
        """Visual features ``z_I`` ``[K, F]`` of the regions ``boxes`` ``[K, 4]`` of one image
        ``[3, H, W]`` in ``[0, 1]`` (e.g. query features of an object from another image)."""
        if image.dim() != 3 or image.size(0) != 3:
            raise ValueError(f"image must have shape [3, H, W], got {tuple(image.shape)}")
        b = torch.as_tensor(boxes, dtype=torch.float32).view(-1, 4)
        S = self.config.image_size
        img = torch.nn.functional.interpolate(image[None].float(), size=(S, S), mode="area")
        self.eval()
        batch = SIMSGBatch(labels=torch.zeros(len(b), dtype=torch.long), edge_index=torch.zeros(2, 0, dtype=torch.long),
                           edge_labels=torch.zeros(0, dtype=torch.long), batch=torch.zeros(len(b), dtype=torch.long),
                           num_images=1, boxes=b, source_images=img).to(self._device())
        return self.generator.object_features(batch)[: len(b)].cpu()

    def evaluate_edits(self, pairs: Sequence[Mapping[str, Any]], *, ssim_window: int | None = 3,
                       lpips: nn.Module | None = None, **kwargs: Any) -> dict[str, dict[str, float]]:
        """Per-mode MAE, SSIM, RoI MAE and RoI SSIM (:func:`sgkit.metrics.evaluate_edits`) of
        :meth:`manipulate_pairs` (``kwargs``) against the pairs' exact targets; the RoI of a pair
        is :func:`sgkit.metrics.edit_roi_boxes`."""
        from sgkit.metrics.edits import edit_roi_boxes, evaluate_edits

        out = self.manipulate_pairs(pairs, **kwargs)
        target = collate_scenes([p["target"] for p in pairs], need_images=True, image_size=self.config.image_size)
        assert target.images is not None
        return evaluate_edits(out.image, target.images, [p["mode"] for p in pairs],
                              [edit_roi_boxes(p) for p in pairs], ssim_window=ssim_window, lpips=lpips)

    def reconstruct(
        self,
        scenes: Sequence[HeteroData],
        *,
        with_features: bool = True,
        generative: bool = False,
        ignore_small: float = 0.05,
        seed: int = 0,
        batch_size: int = 64,
    ) -> dict[str, Tensor]:
        """The reconstruction protocol: every object (wider and taller than ``ignore_small``) is
        masked in turn in a replica of its scene, with all boxes kept and its own ``z_I`` kept
        (``with_features``) or dropped; ``generative`` instead masks the whole image once per scene.

        Returns:
            dict with ``image`` ``[R, 3, S, S]``, ``target`` (the scene images), ``roi_boxes``
            ``[R, 4]`` (the masked object's box; the full image when generative), ``scene`` and
            ``object`` ``[R]`` (``-1`` for generative replicas).
        """
        graphs = materialize(scenes, "scenes")
        self._check_ids(graphs, name="scenes")
        reps: list[tuple[int, int]] = []
        for i, g in enumerate(graphs):
            if generative:
                reps.append((i, -1))
                continue
            box = g["object"].box
            ok = ((box[:, 2] - box[:, 0]) > ignore_small) & ((box[:, 3] - box[:, 1]) > ignore_small)
            reps += [(i, int(j)) for j in ok.nonzero().view(-1)]
        S = self.config.image_size
        out: dict[str, list[Tensor]] = {"image": [], "target": [], "roi_boxes": []}
        for start in range(0, len(reps), batch_size):
            chunk = reps[start:start + batch_size]
            gs = [graphs[i] for i, _ in chunk]
            b = collate_scenes(gs, need_boxes=True, need_images=True, image_size=S)
            n = torch.tensor([g["object"].label.numel() for g in gs])
            offs = torch.cumsum(n, 0) - n
            target = torch.zeros(b.num_objects, dtype=torch.bool)
            for r, (_, j) in enumerate(chunk):
                if j >= 0:
                    target[offs[r] + j] = True
            kf = ~target if not with_features else torch.ones_like(target)
            full = torch.tensor([[0.0, 0.0, 1.0, 1.0]]).expand(len(chunk), 4)
            gen_rows = torch.tensor([j < 0 for _, j in chunk])
            batch = SIMSGBatch(**vars(b), source_images=b.images, keep_box=torch.ones_like(target), keep_feature=kf,
                               keep_image=~target, grey=~kf, hidden_boxes=full[gen_rows].clone(),
                               hidden_batch=gen_rows.nonzero().view(-1))
            if generative:  # features from the unmasked image
                batch.grey = torch.zeros_like(target)
            res = self._run(batch, seed + start)
            out["image"].append(res["image"].cpu())
            out["target"].append(b.images)
            out["roi_boxes"].append(torch.stack([full[0] if j < 0 else graphs[i]["object"].box[j].float()
                                                 for i, j in chunk]))
        if not reps:
            raise ValueError("scenes: no object passes ignore_small; nothing to reconstruct")
        res_t = {k: torch.cat(v) for k, v in out.items()}
        res_t["scene"] = torch.tensor([i for i, _ in reps])
        res_t["object"] = torch.tensor([j for _, j in reps])
        return res_t

    @torch.no_grad()
    def generate(self, graphs: Sequence[HeteroData], *, use_boxes: bool = True, seed: int = 0,
                 batch_size: int = 64, **kwargs: Any) -> Tensor:
        """Generative mode: the whole source image masked, every box and ``z_I`` (cropped from the
        unmasked image) kept; graphs need images and boxes."""
        return self.reconstruct(graphs, generative=True, seed=seed, batch_size=batch_size)["image"]

