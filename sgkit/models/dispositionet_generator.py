"""The DisPositioNet generator: SIMSG's stages with a disentangled graph encoder, variational
appearance and pose codes and a per-object affine warp of the layout.

Farshad et al., "DisPositioNet: Disentangled Pose and Identity in Semantic Image Manipulation",
BMVC 2022 (https://arxiv.org/abs/2211.05499); thesis ch. 12 and appendix C. Extends
:class:`~sgkit.models.SIMSGGenerator`:

* graph encoder: two chained :class:`~sgkit.nn.DSGN` stacks on the object graph (with the
  ``__image__`` node), predicates entering the routing, when ``graph_encoder="dsgn"``;
* appearance and pose encoders ``E_A``, ``E_P`` (:class:`GaussianEncoder`) on the graph features
  ``z_G``: a mean and a variance (Softplus) branch each, sampled with the reparameterisation
  trick ``z = mu + sqrt(v) * eps``;
* boxes, masks and the layout vectors come from the appearance code ``z_A``;
* a pose decoder ``Q_P`` maps ``z_P`` to 6 numbers ``gamma`` (last layer initialised at zero, so
  training starts at the identity), turned into a 2 x 3 affine matrix ``theta`` by
  :func:`pose_to_affine`;
* each object's own box-relative mask is warped by its ``theta`` (:func:`warp_patches`) before it
  is placed at the object's layout box and summed into the layout. The warp acts in the patch's
  own normalised coordinates ``[-1, 1]^2`` with zero padding, so it changes that object's patch
  only and the result does not depend on object order.
"""
from __future__ import annotations

from dataclasses import replace

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sgkit.data.batch import SceneBatch
from sgkit.models.dispositionet_config import DisPositioNetConfig
from sgkit.models.simsg_generator import SIMSGBatch, SIMSGGenerator
from sgkit.nn.disen_routing import DSGN

__all__ = ["DisPositioNetGenerator", "GaussianEncoder", "pose_to_affine", "reparameterize", "warp_patches"]


def reparameterize(mean: Tensor, var: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """A draw ``mean + sqrt(var) * eps`` with ``eps ~ N(0, I)`` from ``generator`` (differentiable
    in ``mean`` and ``var``)."""
    eps = torch.randn(mean.shape, generator=generator, dtype=mean.dtype).to(mean.device)
    return mean + var.sqrt() * eps


def pose_to_affine(gamma: Tensor, param: str = "expm") -> Tensor:
    r"""Affine sampling matrices ``theta [O, 2, 3]`` from pose parameters ``gamma [O, 6]``.

    ``theta`` maps a point ``p`` of the *warped* patch (coordinates in ``[-1, 1]^2``, ``x`` then
    ``y``) to the point ``theta @ [p; 1]`` of the original patch that is read there (the
    convention of :func:`torch.nn.functional.affine_grid`). Both parameterisations give the
    identity at ``gamma = 0`` and are unconstrained:

    * ``"expm"``: :math:`\theta = \exp\begin{pmatrix}\gamma_1&\gamma_2&\gamma_3\\
      \gamma_4&\gamma_5&\gamma_6\\0&0&0\end{pmatrix}_{[:2]}`, smooth, always invertible
      (inverse: ``expm(-G)``), the default;
    * ``"decomposed"``: :math:`\theta = [R(\gamma_1)\,\mathrm{Sh}(\gamma_2)\,
      \mathrm{diag}(e^{\gamma_3}, e^{\gamma_4}) \mid (\gamma_5, \gamma_6)]`, the rotation x shear x
      scale + translation of thesis eq. 12.7 with log-scales so scales stay positive; the angle
      is readable, which makes hand-set poses easy.
    """
    if gamma.dim() != 2 or gamma.size(1) != 6:
        raise ValueError(f"gamma must have shape [O, 6], got gamma.shape={tuple(gamma.shape)}")
    if param == "expm":
        gen = torch.cat([gamma.view(-1, 2, 3), gamma.new_zeros(gamma.size(0), 1, 3)], dim=1)
        return torch.linalg.matrix_exp(gen)[:, :2]
    if param == "decomposed":
        a, m, s1, s2, tx, ty = gamma.unbind(1)
        c, s, one, zero = a.cos(), a.sin(), torch.ones_like(a), torch.zeros_like(a)
        rot = torch.stack([c, -s, s, c], 1).view(-1, 2, 2)
        shear = torch.stack([one, m, zero, one], 1).view(-1, 2, 2)
        scale = torch.diag_embed(torch.stack([s1.exp(), s2.exp()], 1))
        return torch.cat([rot @ shear @ scale, torch.stack([tx, ty], 1).unsqueeze(2)], dim=2)
    raise ValueError(f"param must be 'expm' or 'decomposed', got param={param!r}")


def warp_patches(patches: Tensor, theta: Tensor) -> Tensor:
    """Warp box-relative patches ``[O, M, M]`` (or ``[O, C, M, M]``) by ``theta [O, 2, 3]``
    (bilinear, zero padding, ``align_corners=False``): output pixel ``p`` reads input point
    ``theta @ [p; 1]``. Each patch is warped by its own matrix only."""
    squeeze = patches.dim() == 3
    x = patches.unsqueeze(1) if squeeze else patches
    if theta.shape != (x.size(0), 2, 3):
        raise ValueError(f"theta must have shape [{x.size(0)}, 2, 3], got theta.shape={tuple(theta.shape)}")
    if x.size(0) == 0:
        return patches
    grid = F.affine_grid(theta.to(x.dtype), list(x.shape), align_corners=False)
    out = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return out.squeeze(1) if squeeze else out


class GaussianEncoder(nn.Module):
    """Diagonal Gaussian posterior from object features: a mean branch ``BatchNorm1d -> Linear ->
    LeakyReLU -> Linear`` and a variance branch of the same structure followed by Softplus
    (thesis ch. 12: two fully connected layers of 64 units, one batch normalisation)."""

    def __init__(self, dim: int, hidden: int, out_dim: int | None = None) -> None:
        super().__init__()
        out = dim if out_dim is None else out_dim

        def branch() -> nn.Sequential:
            return nn.Sequential(nn.BatchNorm1d(dim), nn.Linear(dim, hidden), nn.LeakyReLU(0.2), nn.Linear(hidden, out))

        self.mean = branch()
        self.var = nn.Sequential(branch(), nn.Softplus())

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """``(mean, variance)`` ``[O, out]`` each (variance > 0)."""
        if x.size(0) == 0:
            z = x.new_zeros(0, self.mean[-1].out_features)
            return z, z
        return self.mean(x), self.var(x) + 1e-6


class _TwoStageDSGN(nn.Module):
    """Two chained :class:`~sgkit.nn.DSGN` stacks with the same edges and predicate features."""

    def __init__(self, c: DisPositioNetConfig, in_channels: int) -> None:
        super().__init__()
        kw = dict(edge_channels=c.embedding_dim, num_factors=c.dsgn_factors, factor_channels=c.dsgn_factor_channels,
                  num_layers=c.dsgn_layers, num_iterations=c.dsgn_iterations)
        self.stage1 = DSGN(in_channels, c.dsgn_hidden_dim, **kw)  # type: ignore[arg-type]
        self.stage2 = DSGN(c.dsgn_hidden_dim, c.gconv_dim, **kw)  # type: ignore[arg-type]

    def forward(self, x: Tensor, edge_index: Tensor, edge_attr: Tensor) -> Tensor:
        return self.stage2(self.stage1(x, edge_index, edge_attr), edge_index, edge_attr)


class DisPositioNetGenerator(SIMSGGenerator):
    """DisPositioNet generator (see the module docstring).

    Args:
        config: a :class:`~sgkit.models.DisPositioNetConfig`.

    Shapes:
        - input: a :class:`~sgkit.models.SIMSGBatch`.
        - output dict: as :class:`~sgkit.models.SIMSGGenerator` plus ``mean_a``, ``var_a``,
          ``mean_p``, ``var_p`` ``[O, D]`` (posteriors), ``z_a``, ``z_p`` ``[O, D]`` (the codes
          used), ``gamma [O, 6]``, ``poses [O, 2, 3]`` (the affine matrices applied) and
          ``masks_unwarped [O, M, M]``; ``masks_pred`` holds the warped masks that were laid out.
    """

    config: DisPositioNetConfig

    def __init__(self, config: DisPositioNetConfig) -> None:
        super().__init__(config)
        c = config
        if c.graph_encoder == "dsgn":
            self.gcn = _TwoStageDSGN(c, self.node_input_channels)
        D = c.gconv_dim
        self.appearance_encoder = GaussianEncoder(D, c.encoder_hidden_dim)
        self.pose_encoder = GaussianEncoder(D, c.encoder_hidden_dim)
        self.pose_decoder = nn.Sequential(nn.Linear(D, c.encoder_hidden_dim), nn.LeakyReLU(0.2),
                                          nn.Linear(c.encoder_hidden_dim, 6))
        nn.init.zeros_(self.pose_decoder[-1].weight)
        nn.init.zeros_(self.pose_decoder[-1].bias)

    def posterior(self, z_graph: Tensor) -> dict[str, Tensor]:
        """Appearance and pose posteriors ``mean_a, var_a, mean_p, var_p`` of graph features."""
        mean_a, var_a = self.appearance_encoder(z_graph)
        mean_p, var_p = self.pose_encoder(z_graph)
        return {"mean_a": mean_a, "var_a": var_a, "mean_p": mean_p, "var_p": var_p}

    def poses(self, z_p: Tensor) -> tuple[Tensor, Tensor]:
        """``(gamma [O, 6], theta [O, 2, 3])`` from pose codes."""
        gamma = self.pose_decoder(z_p)
        return gamma, pose_to_affine(gamma, self.config.pose_param)

    def forward(self, batch: SceneBatch, *, boxes: Tensor | None = None, masks: Tensor | None = None,  # type: ignore[override]
                generator: torch.Generator | None = None, deterministic: bool = False,
                poses: Tensor | None = None) -> dict[str, Tensor | None]:
        """Generate images.

        Args:
            batch: a :class:`~sgkit.models.SIMSGBatch` with source images and boxes.
            boxes: layout boxes replacing the chosen ones (e.g. the ground truth).
            masks: masks replacing the predicted ones (before the pose warp).
            generator: RNG of every draw (latent samples, extra noise, masked pixels).
            deterministic: use the posterior means and no extra noise.
            poses: ``[O, 2, 3]`` affine matrices replacing the decoded ones (hand-set poses).
        """
        if not isinstance(batch, SIMSGBatch) or batch.source_images is None or batch.boxes is None:
            raise ValueError("batch must be a SIMSGBatch with source_images and boxes")
        c = self.config
        z = self.fill_features(batch, self.object_features(batch), generator)
        batch = replace(batch, visual_features=z)
        z_graph = self.encode(batch)
        post = self.posterior(z_graph)
        if deterministic:
            z_a, z_p = post["mean_a"], post["mean_p"]
        else:
            z_a = reparameterize(post["mean_a"], post["var_a"], generator)
            z_p = reparameterize(post["mean_p"], post["var_p"], generator)
            if batch.keep_feature is not None and c.sample_noise_scale > 0:
                extra = torch.randn(z_a.shape, generator=generator, dtype=z_a.dtype).to(z_a.device)
                drop = (~batch.keep_feature.to(z_a.device)).unsqueeze(1).to(z_a.dtype)
                z_a = z_a + c.sample_noise_scale * drop * extra
        gamma, theta = self.poses(z_p)
        if poses is not None:
            theta = torch.as_tensor(poses, dtype=z_a.dtype, device=z_a.device)
            if theta.shape != (z_a.size(0), 2, 3):
                raise ValueError(f"poses must have shape [{z_a.size(0)}, 2, 3], got poses.shape={tuple(theta.shape)}")
        boxes_pred, masks_pred = self.predict_layout(z_a)
        layout_boxes = self.choose_boxes(batch, boxes_pred) if boxes is None else boxes
        batch = replace(batch, masked_input=self.masked_input(batch, layout_boxes, generator))
        unwarped = masks_pred if masks is None else masks
        if unwarped is None:  # box layouts: the warp acts on the full box
            side = c.mask_size or 16
            unwarped = z_a.new_ones(z_a.size(0), side, side)
        warped = warp_patches(unwarped.to(z_a.dtype), theta)
        layout = self.compose_layout(batch, z_a, layout_boxes, warped, generator=generator)
        return {"image": self.decode(layout), "layout": layout, "boxes_pred": boxes_pred, "masks_pred": warped,
                "masks_unwarped": unwarped, "features": z_a, "layout_boxes": layout_boxes,
                "masked_input": batch.masked_input, "visual_features": batch.visual_features, "z_graph": z_graph,
                "z_a": z_a, "z_p": z_p, "gamma": gamma, "poses": theta, **post}
