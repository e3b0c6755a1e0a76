"""The SIMSG generator: SG2Im's stages plus visual features, keep flags and a source-image branch.

Dhamo et al., "Semantic Image Manipulation Using Scene Graphs", CVPR 2020
(https://arxiv.org/abs/2004.03677); thesis ch. 12 and appendix B. Extends
:class:`~sgkit.models.SG2ImGenerator` stage by stage:

* visual features (:meth:`SIMSGGenerator.object_features`): every node's box region is cropped
  from the ImageNet-normalised source image, after every *hidden* region (``grey`` nodes and
  ``hidden_boxes``) has been painted grey, and encoded to ``z_I`` (the ``__image__`` node gets the
  whole greyed image). A node that keeps its feature but not its box (a moved node) is cropped from
  the un-greyed image, so its identity survives;
* masked features (:meth:`SIMSGGenerator.fill_features`): the ``z_I`` of a node with
  ``keep_feature = 0`` becomes zero (``feature_fill="zero"``) or a draw from a diagonal Gaussian
  with the statistics of training features (``"gaussian"``, after
  :meth:`~sgkit.models.SIMSG.fit_feature_statistics`); written ``kf * z_I`` below;
* node inputs (:meth:`SIMSGGenerator.embed_objects`): ``LayerNorm([emb(c); kb * box; kf * z_I])``;
* layout boxes (:meth:`SIMSGGenerator.choose_boxes`): the given box where ``keep_box``, else the
  predicted one (or, with ``combine_box``, the given centre with the predicted size);
* masked source (:meth:`SIMSGGenerator.masked_input`): pixels of nodes with ``keep_image = 0``
  (at their given box and at their layout box) and of ``hidden_boxes`` become ``N(0, 1)`` noise in
  the normalised space, plus a mask channel; a 1x1 convolution, BatchNorm and ReLU make the
  image-branch features;
* layout (:meth:`SIMSGGenerator.compose_layout`): ``LayerNorm([psi; kf * z_I])`` through the masks
  at the boxes, the noise channels, then the image-branch features (CRN: concatenated to the
  layout at every scale; SPADE: concatenated inside every block, not used to normalise).
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sgkit.data.batch import SceneBatch
from sgkit.models.sg2im_generator import SG2ImGenerator
from sgkit.models.simsg_config import SIMSGConfig
from sgkit.nn.crn import CRNDecoder
from sgkit.nn.source_spade import SourceSPADEDecoder
from sgkit.nn.visual_features import (
    VisualFeatureEncoder,
    box_region_masks,
    crop_box_regions,
    imagenet_normalize,
)

__all__ = ["SIMSGBatch", "SIMSGGenerator", "sample_keep_flags"]


@dataclass
class SIMSGBatch(SceneBatch):
    """A :class:`~sgkit.data.SceneBatch` with what SIMSG needs.

    Attributes:
        source_images: ``[B, 3, S, S]`` source images in ``[0, 1]``.
        keep_box, keep_feature, keep_image: ``[O]`` bool keep flags.
        grey: ``[O]`` bool: the node's box region is greyed before crops are taken.
        combine_box: ``[O]`` bool: lay out at the given centre with the predicted size.
        hidden_boxes: ``[K, 4]`` extra regions masked and greyed (removed nodes).
        hidden_batch: ``[K]`` image index of every hidden box.
        visual_features: ``[O + B, F]`` ``z_I`` (set by the generator).
        masked_input: ``[B, 4, S, S]`` masked normalised source and mask channel (set by the
            generator).
    """

    source_images: Tensor | None = None
    keep_box: Tensor | None = None
    keep_feature: Tensor | None = None
    keep_image: Tensor | None = None
    grey: Tensor | None = None
    combine_box: Tensor | None = None
    hidden_boxes: Tensor | None = None
    hidden_batch: Tensor | None = None
    visual_features: Tensor | None = None
    masked_input: Tensor | None = None


def sample_keep_flags(num_objects: int, box_mask_prob: float, feature_mask_prob: float,
                      generator: torch.Generator | None = None) -> tuple[Tensor, Tensor, Tensor]:
    """The training proxy's keep flags: ``keep_box ~ Bernoulli(1 - box_mask_prob)`` and
    ``keep_feature ~ Bernoulli(1 - feature_mask_prob)`` independently per node, and
    ``keep_image = keep_box & keep_feature`` (the region of a node with either hidden is masked).

    Returns:
        ``(keep_box, keep_feature, keep_image)``, bool ``[num_objects]`` each.
    """
    u = torch.rand(2, num_objects, generator=generator)
    keep_box = u[0] >= box_mask_prob
    keep_feature = u[1] >= feature_mask_prob
    return keep_box, keep_feature, keep_box & keep_feature


class SIMSGGenerator(SG2ImGenerator):
    """SIMSG generator (see the module docstring).

    Args:
        config: a :class:`~sgkit.models.SIMSGConfig`.

    Shapes:
        - input: a :class:`SIMSGBatch`.
        - output dict: as :class:`~sgkit.models.SG2ImGenerator` plus ``masked_input [B, 4, S, S]``
          and ``visual_features [O + B, F]``.
    """

    config: SIMSGConfig

    def __init__(self, config: SIMSGConfig) -> None:
        super().__init__(config)
        c = config
        self.feature_encoder = VisualFeatureEncoder(c.feature_dim, c.feature_crop_size, c.feature_encoder,
                                                    c.feature_weights, c.feature_channels)
        self.input_norm = nn.LayerNorm(self.node_input_channels)
        self.layout_norm = nn.LayerNorm(c.gconv_dim + c.feature_dim)
        self.image_branch = nn.Sequential(nn.Conv2d(4, c.image_branch_channels, 1),
                                          nn.BatchNorm2d(c.image_branch_channels), nn.ReLU())
        self.register_buffer("feature_mean", torch.zeros(c.feature_dim))
        self.register_buffer("feature_std", torch.zeros(c.feature_dim))
        self.register_buffer("feature_count", torch.zeros((), dtype=torch.long))

    @property
    def node_input_channels(self) -> int:
        """Embedding + box (4) + ``z_I``."""
        return self.config.embedding_dim + 4 + self.config.feature_dim

    @property
    def layout_channels(self) -> int:
        """Object vectors with ``z_I``, noise and the image branch."""
        c = self.config
        return c.gconv_dim + c.feature_dim + c.layout_noise_dim + c.image_branch_channels

    def _make_decoder(self, channels: int) -> nn.Module:
        c = self.config
        if c.decoder == "crn":
            return CRNDecoder(channels, c.decoder_dims, normalization=c.decoder_normalization)
        return SourceSPADEDecoder(channels - c.image_branch_channels, c.image_branch_channels, c.decoder_dims,
                                  hidden_channels=c.spade_hidden_dim, param_free_norm=c.decoder_normalization)

    # ------------------------------------------------------------------ stages
    def _normalized_grey(self, images: Tensor) -> Tensor:
        grey = torch.full_like(images[:1, :, :1, :1], float(self.config.grey_value))
        return imagenet_normalize(grey)

    def object_features(self, batch: SIMSGBatch) -> Tensor:
        """Visual features ``z_I`` ``[O + B, F]`` (objects, then one ``__image__`` row per image)."""
        assert batch.source_images is not None and batch.boxes is not None
        c = self.config
        src = imagenet_normalize(batch.source_images)
        B, _, H, W = src.shape
        grey_nodes = batch.grey if batch.grey is not None else torch.zeros_like(batch.labels, dtype=torch.bool)
        hide = box_region_masks(batch.boxes[grey_nodes], batch.batch[grey_nodes], B, H, W)
        if batch.hidden_boxes is not None and batch.hidden_boxes.numel():
            assert batch.hidden_batch is not None
            hide = hide | box_region_masks(batch.hidden_boxes, batch.hidden_batch, B, H, W)
        greyed = torch.where(hide.unsqueeze(1), self._normalized_grey(src).expand_as(src), src)
        crops = crop_box_regions(greyed, batch.boxes, batch.batch, c.feature_crop_size)
        if batch.keep_feature is not None and batch.keep_box is not None:
            raw = batch.keep_feature & ~batch.keep_box
            if bool(raw.any()):
                raw_crops = crop_box_regions(src, batch.boxes[raw], batch.batch[raw], c.feature_crop_size)
                crops = crops.clone()
                crops[raw] = raw_crops
        parts = [crops]
        if c.image_node:
            parts.append(F.interpolate(greyed, size=(c.feature_crop_size,) * 2, mode="bilinear", align_corners=True))
        return self.feature_encoder(torch.cat(parts))

    def fill_features(self, batch: SIMSGBatch, z: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """``z`` with the object rows of ``keep_feature = 0`` replaced by the configured fill
        (the image rows are always kept).

        Raises:
            ValueError: for ``feature_fill="gaussian"`` before feature statistics were computed.
        """
        if batch.keep_feature is None:
            return z
        n = batch.num_objects
        drop = ~batch.keep_feature.to(z.device)
        if self.config.feature_fill == "zero" or not bool(drop.any()):
            fill = z.new_zeros(n, z.size(1))
        else:
            if int(self.feature_count) == 0:
                raise ValueError("feature_fill='gaussian' needs feature statistics: call "
                                 "SIMSG.fit_feature_statistics(scenes) first")
            noise = torch.randn(n, z.size(1), generator=generator, dtype=z.dtype).to(z.device)
            fill = self.feature_mean + self.feature_std * noise
        objects = torch.where(drop.unsqueeze(1), fill, z[:n])
        return torch.cat([objects, z[n:]])

    def embed_objects(self, labels: Tensor, batch: SceneBatch) -> Tensor:
        """``LayerNorm([emb(c); kb * box; kf * z_I])`` for the objects and the image nodes (whose
        box ``[0, 0, 1, 1]`` and feature are always kept)."""
        assert isinstance(batch, SIMSGBatch) and batch.boxes is not None and batch.visual_features is not None
        n, extra = batch.num_objects, labels.numel() - batch.num_objects
        kb = batch.keep_box.float() if batch.keep_box is not None else batch.boxes.new_ones(n)
        boxes = torch.cat([batch.boxes * kb.unsqueeze(1), kb.new_tensor([0.0, 0.0, 1.0, 1.0]).expand(extra, 4)])
        z = batch.visual_features[: n + extra]  # masked rows already filled (fill_features)
        return self.input_norm(torch.cat([self.obj_embedding(labels), boxes, z], dim=1))

    def choose_boxes(self, batch: SIMSGBatch, boxes_pred: Tensor) -> Tensor:
        """Layout boxes: given where ``keep_box``, predicted elsewhere; ``combine_box`` nodes use
        the given centre with the predicted width and height (clipped to ``[0, 1]``)."""
        assert batch.boxes is not None
        if batch.keep_box is None:
            return batch.boxes
        out = torch.where(batch.keep_box.unsqueeze(1), batch.boxes, boxes_pred)
        if batch.combine_box is not None and bool(batch.combine_box.any()):
            centre = (batch.boxes[:, :2] + batch.boxes[:, 2:]) / 2
            half = (boxes_pred[:, 2:] - boxes_pred[:, :2]) / 2
            combined = torch.cat([centre - half, centre + half], dim=1).clamp(0, 1)
            out = torch.where(batch.combine_box.unsqueeze(1), combined, out)
        return out

    def masked_input(self, batch: SIMSGBatch, layout_boxes: Tensor,
                     generator: torch.Generator | None = None) -> Tensor:
        """``[B, 4, S, S]``: the normalised source with masked pixels replaced by ``N(0, 1)`` noise,
        and the mask channel (1 = masked)."""
        assert batch.source_images is not None and batch.boxes is not None
        src = imagenet_normalize(batch.source_images)
        B, _, H, W = src.shape
        masked = torch.zeros(B, H, W, dtype=torch.bool, device=src.device)
        if batch.keep_image is not None:
            drop = ~batch.keep_image
            idx = batch.batch[drop]
            masked = box_region_masks(batch.boxes[drop], idx, B, H, W) | box_region_masks(layout_boxes[drop], idx,
                                                                                          B, H, W)
        if batch.hidden_boxes is not None and batch.hidden_boxes.numel():
            assert batch.hidden_batch is not None
            masked = masked | box_region_masks(batch.hidden_boxes, batch.hidden_batch, B, H, W)
        noise = torch.randn(src.shape, generator=generator, dtype=src.dtype).to(src.device)
        m = masked.unsqueeze(1)
        return torch.cat([torch.where(m, noise, src), m.to(src.dtype)], dim=1)

    def compose_layout(self, batch: SceneBatch, x: Tensor, boxes: Tensor, masks: Tensor | None, *,
                       generator: torch.Generator | None = None) -> Tensor:
        """``[LayerNorm([psi; kf * z_I])`` at the boxes; noise; image-branch features``]``."""
        assert isinstance(batch, SIMSGBatch) and batch.visual_features is not None
        assert batch.masked_input is not None
        xt = self.layout_norm(torch.cat([x, batch.visual_features[:batch.num_objects]], dim=1))
        layout = super().compose_layout(batch, xt, boxes, masks, generator=generator)
        return torch.cat([layout, self.image_branch(batch.masked_input)], dim=1)

    def forward(self, batch: SceneBatch, *, boxes: Tensor | None = None, masks: Tensor | None = None,
                generator: torch.Generator | None = None) -> dict[str, Tensor | None]:
        """Generate images; ``boxes`` (e.g. the ground truth, teacher forcing) replace the
        chosen layout boxes when given, ``masks`` the predicted masks."""
        if not isinstance(batch, SIMSGBatch) or batch.source_images is None or batch.boxes is None:
            raise ValueError("batch must be a SIMSGBatch with source_images and boxes")
        z = self.fill_features(batch, self.object_features(batch), generator)
        batch = replace(batch, visual_features=z)
        x = self.encode(batch)
        boxes_pred, masks_pred = self.predict_layout(x)
        layout_boxes = self.choose_boxes(batch, boxes_pred) if boxes is None else boxes
        batch = replace(batch, masked_input=self.masked_input(batch, layout_boxes, generator))
        layout = self.compose_layout(batch, x, layout_boxes, masks_pred if masks is None else masks,
                                     generator=generator)
        return {"image": self.decode(layout), "layout": layout, "boxes_pred": boxes_pred, "masks_pred": masks_pred,
                "features": x, "layout_boxes": layout_boxes, "masked_input": batch.masked_input,
                "visual_features": batch.visual_features}
