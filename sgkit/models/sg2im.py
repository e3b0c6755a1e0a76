"""SG2Im: image generation from scene graphs, with CRN or SPADE decoders.

Johnson, Gupta and Fei-Fei, "Image Generation from Scene Graphs", CVPR 2018
(https://arxiv.org/abs/1804.01622), in the configuration of the thesis appendices A-B (MIGS /
SIMSG): object and predicate embeddings -> graph encoder -> box head (4), mask head
(``M x M``) and node features -> scene layout -> image decoder (CRN or SPADE), trained against a
global image discriminator (multi-scale for SPADE) and an object-patch discriminator with an
auxiliary classifier (:class:`~sgkit.models.scene_gan.SceneGAN`).

Losses (weights from thesis Table B.1 as defaults of the ``"crn-64"`` and ``"spade-64"``
presets): box L1 (:math:`\\lambda_b`), global GAN (:math:`\\lambda_g`), object GAN
(:math:`\\lambda_o`), auxiliary classification (:math:`\\lambda_a`), image L1
(:math:`\\lambda_{im}`), perceptual VGG16 (:math:`\\lambda_p`, only with local weights) and SPADE
discriminator feature matching (:math:`\\lambda_f`).

Beyond SG2Im: :meth:`SG2Im.fit_layout` pre-trains the image-free layout part (embeddings, graph
encoder, box and mask heads) on many graphs before :meth:`SG2Im.fit`; in short CPU runs the box
head otherwise learns little more than the median box.
"""
from __future__ import annotations

from typing import Any, Iterable, Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.data import HeteroData

from sgkit.data.batch import SceneBatch, collate_scenes
from sgkit.models.losses import box_loss, mask_loss
from sgkit.models.scene_gan import SceneGAN
from sgkit.models.sg2im_config import SG2ImConfig
from sgkit.models.sg2im_generator import SG2ImGenerator
from sgkit.models.trainer import Trainer, backward_step, materialize

__all__ = ["SG2Im"]


class SG2Im(SceneGAN):
    """SG2Im with generator, global image discriminator and object discriminator.

    Args:
        config: an :class:`SG2ImConfig` (e.g. ``SG2ImConfig.preset("crn-64", C, P)``).
        vocab: optional :class:`~sgkit.data.Vocabulary` (stored in checkpoints).
        seed: seed of the weight initialisation (the global RNG is left untouched).

    Graphs given to :meth:`fit`, :meth:`fit_layout`, :meth:`generate` and
    :meth:`predict_boxes` are validated once (:func:`~sgkit.data.validate`): object ids must lie
    in ``[0, num_objects)`` and predicate ids in ``[0, num_predicates)``; otherwise a
    ``ValueError`` names the graph, e.g. ``"graphs[3]: object.label: category id 12 out of
    vocabulary (num_classes=12)"``.

    Example:
        >>> cfg = SG2ImConfig.preset("crn-small", num_objects=12, num_predicates=6)
        >>> model = SG2Im(cfg, seed=0)
        >>> # model.fit_layout(many_graphs, steps=2000)  # optional, image-free, cheap
        >>> # model.fit(scenes, steps=1000); images = model.generate(graphs)
    """

    def __init__(self, config: SG2ImConfig, vocab: Any = None, *, seed: int | None = None) -> None:
        super().__init__(config, vocab, seed=seed)
        self.layout_history: list[dict[str, float]] = []
        self.layout_val_history: list[dict[str, float]] = []

    def _build_generator(self) -> nn.Module:
        return SG2ImGenerator(self.config)

    # ------------------------------------------------------------------ layout pre-training
    def _layout_modules(self) -> nn.ModuleList:
        g = self.generator
        modules: list[nn.Module] = [g.obj_embedding, g.pred_embedding, g.gcn, g.box_head]
        if g.mask_head is not None:
            modules.append(g.mask_head)
        return nn.ModuleList(modules)

    def layout_parameters(self) -> list[nn.Parameter]:
        """Parameters of the image-free layout part: embeddings, graph encoder, box and mask heads."""
        return list(self._layout_modules().parameters())

    def layout_state_dict(self) -> dict[str, Tensor]:
        """State of the layout part, e.g. to reuse one :meth:`fit_layout` run in models with
        other decoders."""
        return {k: v.detach().clone() for k, v in self._layout_modules().state_dict().items()}

    def load_layout_state_dict(self, state: Mapping[str, Tensor]) -> None:
        """Load a :meth:`layout_state_dict` (the layout dimensions must match)."""
        self._layout_modules().load_state_dict(dict(state))

    def layout_losses(self, batch: SceneBatch, classifier: nn.Module | None = None,
                      identity_weight: float = 1.0) -> dict[str, Tensor]:
        """Layout losses of one batch: box L1 (``"box"``), mask BCE (``"mask"``, when the batch
        has masks and the model a mask head), category cross-entropy of ``classifier`` on the
        object vectors (``"identity"``, when given; unweighted) and the sum with the identity
        term weighted by ``identity_weight`` (``"total"``). Only the layout part runs."""
        g = self.generator
        assert batch.boxes is not None
        x = g.encode(batch)
        terms: dict[str, Tensor] = {"box": box_loss(g.decode_boxes(x), batch.boxes)}
        if g.mask_head is not None and batch.masks is not None:
            terms["mask"] = mask_loss(g.mask_head(x), batch.masks)
        if classifier is not None:
            terms["identity"] = F.cross_entropy(classifier(x), batch.labels)
        terms["total"] = torch.stack([v * (identity_weight if k == "identity" else 1.0)
                                      for k, v in terms.items()]).sum()
        return terms

    def fit_layout(
        self,
        graphs: Sequence[HeteroData] | Iterable[HeteroData],
        *,
        steps: int = 2000,
        batch_size: int = 64,
        lr: float = 2e-3,
        seed: int = 0,
        progress: bool = True,
        time_budget: float | None = None,
        val_graphs: Sequence[HeteroData] | None = None,
        eval_every: int = 100,
        mask_loss: bool = True,
        identity_weight: float = 0.1,
    ) -> "SG2Im":
        """Pre-train the layout part (embeddings, graph encoder, box and mask heads) without images.

        Not part of SG2Im. Trains on graphs with boxes (and masks, for the mask head) with box
        L1, mask BCE and an identity term, its own Adam optimiser (the image-training optimisers
        are untouched) and a cosine learning-rate decay to ``lr / 10``; no rasterisation,
        decoder or discriminator runs, so a step costs about a hundredth of an image step. Call
        it before :meth:`fit`; graphs need no images (e.g. ``ShapesWorld.graphs()``). The layout
        part over-fits small graph sets quickly: use many graphs and/or ``val_graphs``.

        Args:
            graphs: scene graphs with ``data['object'].box`` (and ``mask`` for the mask loss).
            steps: number of optimisation steps.
            batch_size: graphs per step (a seeded permutation walked across epochs).
            lr: initial Adam learning rate.
            seed: seed of batch sampling.
            progress: show a tqdm progress bar.
            time_budget: stop after this many seconds (wall clock) even if ``steps`` remain.
            val_graphs: optional held-out graphs with boxes: every ``eval_every`` steps their
                box L1 goes to :attr:`layout_val_history`, and the layout parameters of the best
                evaluation are restored at the end.
            eval_every: validation interval in steps.
            mask_loss: train the mask head too (when the graphs have masks).
            identity_weight: weight of a temporary linear classifier's cross-entropy that
                predicts each object's category from its vector (discarded afterwards; 0 = off),
                so the vectors keep the category identity the image training needs.

        Returns:
            ``self``; per-step losses are appended to :attr:`layout_history`.
        """
        if not isinstance(lr, (int, float)) or not lr > 0:
            raise ValueError(f"lr must be a positive number, got lr={lr!r}")
        if not isinstance(eval_every, int) or eval_every <= 0:
            raise ValueError(f"eval_every must be a positive int, got eval_every={eval_every!r}")
        if not isinstance(identity_weight, (int, float)) or not identity_weight >= 0:
            raise ValueError(f"identity_weight must be a non-negative number, got identity_weight={identity_weight!r}")
        data = materialize(graphs, "graphs")
        self._check_ids(data)
        val = list(val_graphs) if val_graphs is not None else []
        if val:
            self._check_ids(val, name="val_graphs")
        val_boxes = collate_scenes(val, need_boxes=True).boxes if val else None
        for i, g in enumerate(data):
            if "box" not in g["object"]:
                raise ValueError(f"graphs[{i}] has no data['object'].box (needed by fit_layout)")
        device = self._device()
        params = self.layout_parameters()
        classifier: nn.Module | None = None
        if identity_weight > 0:
            classifier = nn.Linear(self.config.gconv_dim, self.config.num_objects).to(device)
            params = params + list(classifier.parameters())
        opt = torch.optim.Adam(params, lr=float(lr))
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(steps, 1), eta_min=float(lr) / 10)
        layout_modules = self._layout_modules()
        best: list[tuple[float, dict[str, Tensor]]] = []
        done = 0

        def validate(step: int) -> None:
            assert val_boxes is not None
            l1 = float((self.predict_boxes(val) - val_boxes.to(device)).abs().mean())
            self.train()
            self.layout_val_history.append({"step": step, "box_l1": l1})
            if not best or l1 < best[0][0]:
                best[:] = [(l1, {k: v.detach().clone() for k, v in layout_modules.state_dict().items()})]

        def step_fn(idx: list[int], step: int) -> dict[str, float] | None:
            nonlocal done
            batch = collate_scenes([data[i] for i in idx], need_boxes=True).to(device)
            if batch.labels.numel() == 0:
                return None
            if not mask_loss:
                batch.masks = None
            terms = self.layout_losses(batch, classifier, float(identity_weight))
            backward_step(terms["total"], terms, [opt], module=self)
            sched.step()
            stats = {k: float(v.detach()) for k, v in terms.items()}
            stats["step"] = step
            self.layout_history.append(stats)
            done = step
            if val and done % eval_every == 0:
                validate(done)
            return stats

        self.train()
        trainer = Trainer(steps=steps, batch_size=batch_size, generator=torch.Generator().manual_seed(seed),
                          time_budget=time_budget, progress=progress, desc="SG2Im layout", postfix=("box",))
        trainer.run(len(data), step_fn)
        if val:
            if done % eval_every:
                validate(done)
            if best:
                layout_modules.load_state_dict(best[0][1])
        return self

    @torch.no_grad()
    def predict_boxes(self, graphs: Sequence[HeteroData], batch_size: int = 256) -> Tensor:
        """Predicted boxes ``[O, 4]`` (normalised ``x0, y0, x1, y1``) of all objects of ``graphs``
        (eval mode; only the layout part runs)."""
        graphs = materialize(graphs, "graphs")
        self._check_ids(graphs)
        self.eval()
        device = self._device()
        g = self.generator
        out = [g.decode_boxes(g.encode(collate_scenes(graphs[s:s + batch_size]).to(device)))
               for s in range(0, len(graphs), batch_size)]
        return torch.cat(out)

    # ------------------------------------------------------------------ generation
    @torch.no_grad()
    def generate(
        self,
        graphs: Sequence[HeteroData],
        *,
        use_boxes: bool = False,
        use_masks: bool = False,
        seed: int = 0,
        batch_size: int = 32,
        return_outputs: bool = False,
    ) -> Tensor | dict[str, Any]:
        """Generate images from scene graphs (eval mode).

        Args:
            graphs: scene graphs (boxes/masks needed only when used).
            use_boxes: lay out the objects at their given boxes (``data['object'].box``)
                instead of the predicted ones.
            use_masks: also use the given masks (``data['object'].mask``).
            seed: seed of the layout noise.
            batch_size: graphs per forward pass.
            return_outputs: return a dict with ``image``, ``boxes`` (the boxes used),
                ``boxes_pred``, ``masks_pred`` and ``layout`` instead of the images.

        Returns:
            ``[B, 3, S, S]`` images in ``[0, 1]`` (or the dict).
        """
        graphs = materialize(graphs, "graphs")
        self._check_ids(graphs)
        self.eval()
        device = self._device()
        gen = torch.Generator().manual_seed(seed)
        results: dict[str, list[Tensor]] = {"image": [], "boxes": [], "boxes_pred": [], "masks_pred": [],
                                            "layout": []}
        for start in range(0, len(graphs), batch_size):
            b = collate_scenes(graphs[start:start + batch_size], need_boxes=use_boxes).to(device)
            if use_masks and b.masks is None:
                raise ValueError("use_masks=True needs data['object'].mask on every graph")
            out = self.generator(b, boxes=b.boxes if use_boxes else None,
                                 masks=b.masks if use_masks else None, generator=gen)
            results["image"].append(out["image"])
            results["boxes"].append(out["layout_boxes"])
            results["boxes_pred"].append(out["boxes_pred"])
            if out["masks_pred"] is not None:
                results["masks_pred"].append(out["masks_pred"])
            if return_outputs:
                results["layout"].append(out["layout"])
        images = torch.cat(results["image"])
        if not return_outputs:
            return images
        return {k: (torch.cat(v) if v else None) for k, v in results.items()}

    def checkpoint_extra(self) -> dict[str, Any]:
        return {"layout_history": self.layout_history, "layout_val_history": self.layout_val_history}

    def load_extra(self, extra: Mapping[str, Any]) -> None:
        self.layout_history = [dict(h) for h in extra.get("layout_history", [])]
        self.layout_val_history = [dict(h) for h in extra.get("layout_val_history", [])]
