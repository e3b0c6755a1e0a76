"""The staged scene-graph-to-image generator of SG2Im (and the base of SIMSG-style models).

Johnson, Gupta and Fei-Fei, "Image Generation from Scene Graphs", CVPR 2018
(https://arxiv.org/abs/1804.01622). The generator runs in four stages, each a method a subclass
or sibling model can override or extend without copying the others:

1. :meth:`SG2ImGenerator.encode`: object and predicate embeddings (plus SG2Im's ``__image__``
   node) through the graph encoder (:class:`~sgkit.nn.TripleGCN` or :class:`~sgkit.nn.DSGN`,
   chosen by ``config.graph_encoder``) -> object vectors ``[O, D]``;
2. :meth:`SG2ImGenerator.predict_layout`: box head and mask head -> boxes ``[O, 4]`` and masks
   ``[O, M, M]``;
3. :meth:`SG2ImGenerator.compose_layout`: object vectors placed at the boxes through the masks,
   plus noise channels -> layout ``[B, C, S, S]``;
4. :meth:`SG2ImGenerator.decode`: CRN or SPADE decoder -> image ``[B, 3, S, S]`` in ``[0, 1]``.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor, nn

from sgkit.data.batch import SceneBatch
from sgkit.models.sg2im_config import SG2ImConfig
from sgkit.nn.crn import CRNDecoder
from sgkit.nn.disen_routing import DSGN
from sgkit.nn.layout import boxes_to_layout, masks_to_layout, masks_to_layout_factors
from sgkit.nn.spade import SPADEDecoder
from sgkit.nn.triple_conv import TripleGCN

__all__ = ["SG2ImGenerator"]


def _mlp(dims: Sequence[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i in range(len(dims) - 1):
        layers.append(nn.Linear(dims[i], dims[i + 1]))
        if i < len(dims) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class _MaskHead(nn.Module):
    """Object vector ``[O, D]`` -> box-relative mask probabilities ``[O, M, M]`` (SG2Im)."""

    def __init__(self, dim: int, mask_size: int) -> None:
        super().__init__()
        if mask_size & (mask_size - 1):
            raise ValueError(f"mask_size must be a power of two, got mask_size={mask_size}")
        layers: list[nn.Module] = []
        size = 1
        while size < mask_size:
            layers += [
                nn.Upsample(scale_factor=2, mode="nearest"),
                nn.BatchNorm2d(dim),
                nn.Conv2d(dim, dim, 3, padding=1),
                nn.ReLU(),
            ]
            size *= 2
        layers.append(nn.Conv2d(dim, 1, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return torch.sigmoid(self.net(x.view(x.size(0), -1, 1, 1))).squeeze(1)


class SG2ImGenerator(nn.Module):
    r"""Scene graph -> layout -> image (the generator of SG2Im), in overridable stages.

    The box MLP predicts :math:`(c_x, c_y, w, h)` through a sigmoid, returned as
    :math:`(x_0, y_0, x_1, y_1) = (c_x - w/2, c_y - h/2, c_x + w/2, c_y + h/2)`.

    Args:
        config: :class:`~sgkit.models.SG2ImConfig`.

    Shapes:
        - input: a :class:`~sgkit.data.SceneBatch` with ``O`` objects in ``B`` graphs.
        - output dict: ``image [B, 3, S, S]``, ``layout [B, D + noise, S, S]``,
          ``boxes_pred [O, 4]``, ``masks_pred [O, M, M]`` (or ``None``),
          ``features [O, D]``, ``layout_boxes [O, 4]``.
    """

    def __init__(self, config: SG2ImConfig) -> None:
        super().__init__()
        self.config = config
        c = config
        extra = 1 if c.image_node else 0
        self.obj_embedding = nn.Embedding(c.num_objects + extra, c.embedding_dim)
        self.pred_embedding = nn.Embedding(c.num_predicates + extra, c.embedding_dim)
        if c.graph_encoder == "triple_gcn":
            self.gcn: nn.Module = TripleGCN(
                self.node_input_channels, c.embedding_dim, c.gconv_dim, num_layers=c.gconv_layers,
                mlp_channels=c.gconv_hidden_dim,
            )
        else:
            self.gcn = DSGN(self.node_input_channels, c.gconv_dim, edge_channels=c.embedding_dim)
        self.box_head = _mlp([c.gconv_dim, c.head_hidden_dim, 4])
        self.mask_head = _MaskHead(c.gconv_dim, c.mask_size) if c.mask_size > 0 else None
        self.decoder = self._make_decoder(self.layout_channels)

    @property
    def node_input_channels(self) -> int:
        """Width of the node vectors entering the graph encoder (:meth:`embed_objects`)."""
        return self.config.embedding_dim

    def embed_objects(self, labels: Tensor, batch: SceneBatch) -> Tensor:
        """Node vectors ``[O (+ B), node_input_channels]`` entering the graph encoder: the
        category embeddings (``labels`` ends with the ``__image__`` nodes when the config adds
        them). Subclasses append per-node inputs (boxes, visual features) here."""
        return self.obj_embedding(labels)

    @property
    def layout_channels(self) -> int:
        """Channels of the layout entering the decoder (object vectors plus noise)."""
        return self.config.gconv_dim + self.config.layout_noise_dim

    def _make_decoder(self, channels: int) -> nn.Module:
        c = self.config
        if c.decoder == "crn":
            return CRNDecoder(channels, c.decoder_dims, normalization=c.decoder_normalization)
        return SPADEDecoder(channels, c.decoder_dims, hidden_channels=c.spade_hidden_dim,
                            param_free_norm=c.decoder_normalization)

    def forward(
        self,
        batch: SceneBatch,
        *,
        boxes: Tensor | None = None,
        masks: Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> dict[str, Tensor | None]:
        """Generate images; ``boxes``/``masks`` (e.g. the ground truth) replace the predicted
        ones in the layout when given."""
        x = self.encode(batch)
        boxes_pred, masks_pred = self.predict_layout(x)
        layout_boxes = boxes_pred if boxes is None else boxes
        layout_masks = masks_pred if masks is None else masks
        cls = type(self)
        if (getattr(self.decoder, "fused", False) and cls.compose_layout is SG2ImGenerator.compose_layout
                and cls.decode is SG2ImGenerator.decode):
            layout, factors = self._compose_layout_factors(batch, x, layout_boxes, layout_masks, generator)
            image = self.decoder(layout, factors=factors)
        else:
            layout = self.compose_layout(batch, x, layout_boxes, layout_masks, generator=generator)
            image = self.decode(layout)
        return {"image": image, "layout": layout, "boxes_pred": boxes_pred,
                "masks_pred": masks_pred, "features": x, "layout_boxes": layout_boxes}

    def encode(self, batch: SceneBatch) -> Tensor:
        """Object vectors ``[O, D]``: embeddings (plus the ``__image__`` node) through the graph
        encoder. Ids are not checked here (the model validates graphs once at its boundary)."""
        c = self.config
        labels, edge_index, edge_labels = batch.labels, batch.edge_index, batch.edge_labels
        n = labels.numel()
        if c.image_node:  # SG2Im's __image__ node and __in_image__ edges
            dev = labels.device
            labels = torch.cat([labels, torch.full((batch.num_images,), c.num_objects, device=dev,
                                                   dtype=torch.long)])
            in_image = torch.stack([torch.arange(n, device=dev), n + batch.batch.long()])
            edge_index = torch.cat([edge_index, in_image], dim=1)
            edge_labels = torch.cat([edge_labels, torch.full((n,), c.num_predicates, device=dev,
                                                             dtype=torch.long)])
        x = self.embed_objects(labels, batch)
        r = self.pred_embedding(edge_labels)
        out = self.gcn(x, edge_index, r)
        x = out[0] if isinstance(out, tuple) else out
        return x[:n]

    def decode_boxes(self, x: Tensor) -> Tensor:
        """Box head: object vectors ``[O, D]`` -> boxes ``[O, 4]`` as ``(x0, y0, x1, y1)``."""
        cx, cy, w, h = torch.sigmoid(self.box_head(x)).unbind(-1)
        return torch.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], dim=-1)

    def predict_layout(self, x: Tensor) -> tuple[Tensor, Tensor | None]:
        """Predicted boxes ``[O, 4]`` and mask probabilities ``[O, M, M]`` (``None`` without a
        mask head)."""
        boxes = self.decode_boxes(x)
        if self.mask_head is None:
            return boxes, None
        if x.size(0) == 0:
            return boxes, x.new_zeros(0, self.config.mask_size, self.config.mask_size)
        return boxes, self.mask_head(x)

    def compose_layout(
        self,
        batch: SceneBatch,
        x: Tensor,
        boxes: Tensor,
        masks: Tensor | None,
        *,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """Scene layout ``[B, D + noise, S, S]``: object vectors at their boxes (through the
        masks when given), then Gaussian noise channels drawn from ``generator``."""
        c = self.config
        S = c.image_size
        if masks is None:
            layout = boxes_to_layout(x, boxes, batch.batch, batch.num_images, S)
        else:
            layout = masks_to_layout(x, boxes, masks, batch.batch, batch.num_images, S)
        if c.layout_noise_dim > 0:
            noise = torch.randn(batch.num_images, c.layout_noise_dim, S, S, generator=generator,
                                dtype=layout.dtype).to(layout.device)
            layout = torch.cat([layout, noise], dim=1)
        return layout

    def _compose_layout_factors(
        self, batch: SceneBatch, x: Tensor, boxes: Tensor, masks: Tensor | None,
        generator: torch.Generator | None,
    ) -> tuple[Tensor, tuple[Tensor, Tensor, Tensor | None]]:
        """:meth:`compose_layout` (the same values and noise draw) and the layout's factors
        ``(features [B, K, D], masks [B, K, S, S], noise)`` for a fused SPADE decoder."""
        c = self.config
        S = c.image_size
        feats, sampled = masks_to_layout_factors(x, boxes, masks, batch.batch, batch.num_images, S)
        b, k, d = feats.shape
        layout = torch.bmm(feats.transpose(1, 2), sampled.reshape(b, k, S * S)).view(b, d, S, S)
        noise = None
        if c.layout_noise_dim > 0:
            noise = torch.randn(batch.num_images, c.layout_noise_dim, S, S, generator=generator,
                                dtype=layout.dtype).to(layout.device)
            layout = torch.cat([layout, noise], dim=1)
        return layout, (feats, sampled, noise)

    def decode(self, layout: Tensor) -> Tensor:
        """Decoder: layout ``[B, C, S, S]`` -> images ``[B, 3, S, S]`` in ``[0, 1]``."""
        return self.decoder(layout)
