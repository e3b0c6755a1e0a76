"""Scene layouts: place each object's feature vector at its box (and mask) on an image grid."""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.utils import to_dense_batch

__all__ = ["boxes_to_grid", "boxes_to_layout", "masks_to_layout", "masks_to_layout_factors"]


def _check_size(H: int, W: Optional[int]) -> int:
    for name, value in (("H", H), ("W", W if W is not None else H)):
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise ValueError(f"{name} must be a positive int, got {name}={value!r}")
    return H if W is None else W


def boxes_to_grid(boxes: Tensor, H: int, W: Optional[int] = None, eps: float = 1e-6) -> Tensor:
    r"""Sampling grid that maps each output pixel into its object's box coordinates.

    Pixel :math:`(h, w)` of an :math:`H \times W` image has its centre at
    :math:`x = (w + 1/2) / W`, :math:`y = (h + 1/2) / H` in normalised image coordinates. For a box
    :math:`(x_0, y_0, x_1, y_1)` its box-relative position is
    :math:`u = (x - x_0) / (x_1 - x_0)`, :math:`v = (y - y_0) / (y_1 - y_0)`, mapped to
    :func:`torch.nn.functional.grid_sample` coordinates :math:`2u - 1, 2v - 1`
    (``align_corners=False``: the mask's pixel centres sit at :math:`(m + 1/2) / M` of the box).
    Box widths/heights are clamped to at least ``eps``.

    Args:
        boxes: ``[O, 4]`` normalised ``x0, y0, x1, y1``.
        H: output height.
        W: output width (default ``H``).
        eps: smallest box side.

    Returns:
        ``[O, H, W, 2]`` grid for :func:`~torch.nn.functional.grid_sample`.
    """
    W = _check_size(H, W)
    if boxes.dim() != 2 or boxes.size(1) != 4:
        raise ValueError(f"boxes must have shape [O, 4], got boxes.shape={tuple(boxes.shape)}")
    dtype, device = boxes.dtype, boxes.device
    x0, y0, x1, y1 = boxes.unbind(dim=1)
    xs = (torch.arange(W, dtype=dtype, device=device) + 0.5) / W
    ys = (torch.arange(H, dtype=dtype, device=device) + 0.5) / H
    u = (xs.view(1, W) - x0.view(-1, 1)) / (x1 - x0).clamp(min=eps).view(-1, 1)  # [O, W]
    v = (ys.view(1, H) - y0.view(-1, 1)) / (y1 - y0).clamp(min=eps).view(-1, 1)  # [O, H]
    O = boxes.size(0)
    grid = torch.stack(
        [u.view(O, 1, W).expand(O, H, W), v.view(O, H, 1).expand(O, H, W)], dim=-1
    )
    return grid * 2.0 - 1.0


def _check_objects(features: Tensor, boxes: Tensor, batch: Tensor, num_images: int) -> None:
    if features.dim() != 2:
        raise ValueError(
            f"features must have shape [O, D], got features.shape={tuple(features.shape)}"
        )
    O = features.size(0)
    if boxes.dim() != 2 or boxes.shape != (O, 4):
        raise ValueError(f"boxes must have shape [O={O}, 4], got boxes.shape={tuple(boxes.shape)}")
    if batch.dim() != 1 or batch.numel() != O:
        raise ValueError(f"batch must have shape [O={O}], got batch.shape={tuple(batch.shape)}")
    if batch.dtype not in (torch.long, torch.int, torch.int32, torch.int16, torch.uint8):
        raise ValueError(f"batch must be an integer tensor, got batch.dtype={batch.dtype}")
    if not isinstance(num_images, int) or isinstance(num_images, bool) or num_images < 0:
        raise ValueError(f"num_images must be a non-negative int, got num_images={num_images!r}")
    if O > 0 and (int(batch.min()) < 0 or int(batch.max()) >= num_images):
        raise ValueError(
            f"batch values must lie in [0, num_images={num_images}), got range "
            f"[{int(batch.min())}, {int(batch.max())}]"
        )


def _warp_masks(features: Tensor, boxes: Tensor, masks: Tensor, H: int, W: int) -> Tensor:
    """``[O, H, W]``: each box-relative mask warped bilinearly into its box (zero outside)."""
    grid = boxes_to_grid(boxes.to(features.dtype), H, W)
    return F.grid_sample(
        masks.to(features.dtype).unsqueeze(1), grid, mode="bilinear", padding_mode="zeros",
        align_corners=False,
    ).squeeze(1)


def _dense_factors(features: Tensor, sampled: Tensor, batch: Tensor, num_images: int) -> tuple[Tensor, Tensor]:
    """Objects grouped per image: ``features [B, K, D]`` and ``sampled [B, K, H * W]`` padded
    with zeros to the largest object count ``K`` (``batch`` need not be sorted)."""
    batch = batch.long()
    if bool((batch[1:] < batch[:-1]).any()):
        order = torch.argsort(batch, stable=True)
        batch, features, sampled = batch[order], features[order], sampled[order]
    feat_dense, _ = to_dense_batch(features, batch, batch_size=num_images)
    mask_dense, _ = to_dense_batch(sampled.flatten(1), batch, batch_size=num_images)
    return feat_dense, mask_dense


def _place(
    features: Tensor,
    sampled: Tensor,
    batch: Tensor,
    num_images: int,
    H: int,
    W: int,
) -> Tensor:
    """Sum ``features[o] * sampled[o]`` per image without an ``[O, D, H, W]`` intermediate.

    Objects are grouped per image (dense ``[B, O_max, ...]`` padding with zeros) and each image's
    layout is one matrix product ``features_b^T [D, O_b] @ masks_b [O_b, H * W]``.
    """
    D = features.size(1)
    if features.size(0) == 0:
        return features.new_zeros(num_images, D, H, W)
    feat_dense, mask_dense = _dense_factors(features, sampled, batch, num_images)
    layout = torch.bmm(feat_dense.transpose(1, 2), mask_dense)  # [B, D, H*W]
    return layout.view(num_images, D, H, W)


def masks_to_layout(
    features: Tensor,
    boxes: Tensor,
    masks: Tensor,
    batch: Tensor,
    num_images: int,
    H: int,
    W: Optional[int] = None,
) -> Tensor:
    r"""Scene layout from per-object features, boxes and box-relative masks (SG2Im).

    Each object's :math:`M \times M` mask is warped into its box on an :math:`H \times W` grid
    with bilinear sampling (:func:`boxes_to_grid`, zero outside the box), multiplied by the
    object's feature vector and summed over the objects of each image:

    .. math::
        L_b(:, h, w) = \sum_{o : \mathrm{batch}(o) = b} \mathbf{f}_o\,
        \tilde{m}_o(h, w), \qquad \tilde{m}_o = \operatorname{grid\_sample}(m_o,
        \mathrm{grid}(\mathrm{box}_o)).

    Differentiable w.r.t. features, boxes and masks. Vectorised over the whole batch; memory
    stays at ``O * H * W + B * D * H * W`` (no ``[O, D, H, W]`` tensor).

    Args:
        features: ``[O, D]`` object vectors.
        boxes: ``[O, 4]`` normalised ``x0, y0, x1, y1``.
        masks: ``[O, M, M]`` (or ``[O, Mh, Mw]``) box-relative masks, usually in ``[0, 1]``.
        batch: ``[O]`` image index of every object (PyG ``batch`` vector; need not be sorted).
        num_images: number of images ``B``.
        H: output height.
        W: output width (default ``H``).

    Returns:
        ``[B, D, H, W]`` layout; images without objects are all zero.
    """
    W = _check_size(H, W)
    _check_objects(features, boxes, batch, num_images)
    if masks.dim() != 3 or masks.size(0) != features.size(0):
        raise ValueError(
            f"masks must have shape [O={features.size(0)}, M, M], got "
            f"masks.shape={tuple(masks.shape)}"
        )
    if features.size(0) == 0:
        return features.new_zeros(num_images, features.size(1), H, W)
    return _place(features, _warp_masks(features, boxes, masks, H, W), batch, num_images, H, W)


def boxes_to_layout(
    features: Tensor,
    boxes: Tensor,
    batch: Tensor,
    num_images: int,
    H: int,
    W: Optional[int] = None,
    mask_size: int = 16,
) -> Tensor:
    r"""Scene layout from per-object features and boxes: each box filled with its feature.

    Equivalent to :func:`masks_to_layout` with an all-ones ``mask_size x mask_size`` mask: inside
    the box the value is the feature vector; bilinear sampling gives a soft edge of one mask
    pixel (``box side / mask_size``) centred on the box border (value 1/2 on the border), which
    keeps the layout differentiable w.r.t. the box coordinates.

    Args:
        features: ``[O, D]`` object vectors.
        boxes: ``[O, 4]`` normalised ``x0, y0, x1, y1``.
        batch: ``[O]`` image index of every object.
        num_images: number of images ``B``.
        H: output height.
        W: output width (default ``H``).
        mask_size: resolution of the constant mask (controls the edge softness).

    Returns:
        ``[B, D, H, W]`` layout.
    """
    if not isinstance(mask_size, int) or isinstance(mask_size, bool) or mask_size <= 0:
        raise ValueError(f"mask_size must be a positive int, got mask_size={mask_size!r}")
    ones = features.new_ones(1, mask_size, mask_size).expand(features.size(0), -1, -1)
    return masks_to_layout(features, boxes, ones, batch, num_images, H, W)


def masks_to_layout_factors(
    features: Tensor,
    boxes: Tensor,
    masks: Tensor | None,
    batch: Tensor,
    num_images: int,
    H: int,
    W: int | None = None,
    mask_size: int = 16,
) -> tuple[Tensor, Tensor]:
    """The two factors of :func:`masks_to_layout` (``masks=None``: :func:`boxes_to_layout`).

    Returns:
        ``(features [B, K, D], masks [B, K, H, W])``: each image's object vectors and warped
        masks, padded with zeros to the largest object count ``K``; the layout is
        ``einsum("bkd,bkhw->bdhw", features, masks)``, computed as :func:`masks_to_layout` does.
    """
    W = _check_size(H, W)
    _check_objects(features, boxes, batch, num_images)
    if masks is None:
        masks = features.new_ones(1, mask_size, mask_size).expand(features.size(0), -1, -1)
    if features.size(0) == 0:
        return features.new_zeros(num_images, 0, features.size(1)), features.new_zeros(num_images, 0, H, W)
    sampled = _warp_masks(features, boxes, masks, H, W)
    feat_dense, mask_dense = _dense_factors(features, sampled, batch, num_images)
    return feat_dense, mask_dense.view(num_images, -1, H, W)
