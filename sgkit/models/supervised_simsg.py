"""The fully supervised baseline of SIMSG (thesis Table 12.1), trained on edit pairs.

It has SIMSG's architecture (:class:`~sgkit.models.simsg_generator.SIMSGGenerator`) and is
trained on (source image, target graph with target boxes) -> target image, with the configured
losses (image L1 first) and no masking: the whole source image is visible, every box is kept and
no ``z_I`` enters the graph encoder. At test it gets the same input.
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import torch
from torch import Tensor
from torch_geometric.data import HeteroData

from sgkit.data.batch import collate_scenes
from sgkit.models.simsg import SIMSG
from sgkit.models.simsg_config import SIMSGConfig
from sgkit.models.simsg_generator import SIMSGBatch

__all__ = ["SupervisedSIMSG"]


class SupervisedSIMSG(SIMSG):
    """The fully supervised baseline (thesis Table 12.1): source image + target graph with target
    boxes -> target image, trained on edit pairs with the configured losses and no masking; the
    graph encoder gets the boxes, no ``z_I`` (``config.supervised`` is set)."""

    def __init__(self, config: SIMSGConfig, vocab: Any = None, *, seed: int | None = None) -> None:
        if isinstance(config, SIMSGConfig) and not config.supervised:
            config = SIMSGConfig.from_dict({**config.to_dict(), "supervised": True})
        super().__init__(config, vocab, seed=seed)

    @staticmethod
    def pair_graphs(pairs: Sequence[Mapping[str, Any]]) -> list[HeteroData]:
        """Training items: each pair's target graph carrying ``source_image``."""
        out = []
        for i, p in enumerate(pairs):
            if "image" not in p["source"]:
                raise ValueError(f"pairs[{i}]['source'] has no image")
            g = p["target"].clone()
            g.source_image = p["source"].image
            out.append(g)
        return out

    def collate(self, graphs: Sequence[HeteroData]) -> SIMSGBatch:
        """(source image, target graph) batch: everything visible, boxes kept, no ``z_I``."""
        S = self.config.image_size
        b = collate_scenes(graphs, need_boxes=True, image_size=S)
        for i, g in enumerate(graphs):
            if "source_image" not in g:
                raise ValueError(f"graphs[{i}] has no source_image (build items with pair_graphs)")
        src = torch.nn.functional.interpolate(torch.stack([g.source_image.float() for g in graphs]), size=(S, S),
                                              mode="area")
        ones = torch.ones(b.num_objects, dtype=torch.bool)
        return SIMSGBatch(**vars(b), source_images=src, keep_box=ones, keep_feature=~ones, keep_image=ones,
                          grey=torch.zeros_like(ones))

    def fit_pairs(self, pairs: Sequence[Mapping[str, Any]], **kwargs: Any) -> "SupervisedSIMSG":
        """:meth:`fit` on edit pairs (``{"source", "target", ...}`` dicts)."""
        self.fit(self.pair_graphs(pairs), **kwargs)
        return self

    def predict_pairs(self, pairs: Sequence[Mapping[str, Any]], *, seed: int = 0, batch_size: int = 64) -> Tensor:
        """Target images predicted from each pair's source image and target graph."""
        graphs = self.pair_graphs(pairs)
        self._check_ids(graphs, name="pairs")
        images = []
        for start in range(0, len(graphs), batch_size):
            batch = self.collate(graphs[start:start + batch_size])
            images.append(self._run(batch, seed + start, batch.boxes)["image"].cpu())
        return torch.cat(images)
