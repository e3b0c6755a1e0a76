"""DisPositioNet: scene-graph image manipulation with disentangled pose and appearance.

Farshad et al., "DisPositioNet: Disentangled Pose and Identity in Semantic Image Manipulation",
BMVC 2022 (https://arxiv.org/abs/2211.05499); thesis ch. 12 and appendix C. SIMSG
(:class:`~sgkit.models.SIMSG`: masking scheme, visual features, image branch, discriminators,
losses, edit interface) with the generator of
:mod:`~sgkit.models.dispositionet_generator`: a disentangled scene-graph network, variational
appearance and pose codes and a per-object affine warp of the layout.

Training adds the ELBO terms to SIMSG's losses, each once: ``kl`` =
``kl_weight * (KL(q_A || N(0, I)) + KL(q_P || N(0, I)))`` (closed form,
:func:`~sgkit.models.losses.kl_normal`, averaged over objects and latent dimensions) and, when
``likelihood_weight > 0``, ``likelihood`` = the unit-variance Gaussian negative log-likelihood of
the target image (``0.5 * mean squared error``, constants dropped).

Inference samples by default (appearance and pose codes drawn, extra ``N(0, I)`` noise on the
appearance of nodes whose visual feature is masked); ``deterministic=True`` uses the means and no
extra noise. :meth:`DisPositioNet.manipulate` returns ``num_samples`` images per edit and the
per-object affine matrices, and takes hand-set ones (``poses=``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.data import HeteroData

from sgkit.models.dispositionet_config import DisPositioNetConfig
from sgkit.models.dispositionet_generator import DisPositioNetGenerator
from sgkit.models.losses import kl_normal
from sgkit.models.simsg import SIMSG, Manipulation, _as_list
from sgkit.models.simsg_generator import SIMSGBatch

__all__ = ["DisManipulation", "DisPositioNet", "gaussian_kl", "pairwise_region_l1"]


def gaussian_kl(mean: Tensor, var: Tensor) -> Tensor:
    """``KL(N(mean, var) || N(0, I))`` in closed form, averaged over rows and dimensions
    (:func:`~sgkit.models.losses.kl_normal` divided by the dimension); 0 without rows."""
    if mean.numel() == 0:
        return mean.new_zeros(())
    return kl_normal(mean, var.log()) / mean.size(-1)


@dataclass
class DisManipulation(Manipulation):
    """Result of :meth:`DisPositioNet.manipulate`: a :class:`~sgkit.models.Manipulation` whose
    ``image`` is the first sample, plus

    Attributes:
        samples: ``[K, B, 3, S, S]`` the ``num_samples`` images of every edit.
        poses: ``[K, O, 2, 3]`` the affine matrices applied to every node in every sample
            (:func:`~sgkit.models.dispositionet_generator.pose_to_affine` convention).
        gamma: ``[K, O, 6]`` the decoded pose parameters.
    """

    samples: Tensor | None = None
    poses: Tensor | None = None
    gamma: Tensor | None = None


class DisPositioNet(SIMSG):
    """DisPositioNet with its generator
    (:class:`~sgkit.models.dispositionet_generator.DisPositioNetGenerator`) and SIMSG's
    discriminators, losses and edit interface.

    Args:
        config: a :class:`~sgkit.models.DisPositioNetConfig`.
        vocab: optional :class:`~sgkit.data.Vocabulary`.
        seed: seed of the weight initialisation.

    Example:
        >>> cfg = DisPositioNetConfig.preset("spade-32-shapes", num_objects=36, num_predicates=6)
        >>> model = DisPositioNet(cfg, seed=0)
        >>> # model.fit(scenes, steps=1000)
        >>> # out = model.manipulate(source, replace_node(source, 1, 5), num_samples=8)
        >>> # out.samples.shape -> [8, 1, 3, 32, 32]; out.poses[0] -> per-node affine matrices
    """

    config_class = DisPositioNetConfig
    config: DisPositioNetConfig

    def __init__(self, config: DisPositioNetConfig, vocab: Any = None, *, seed: int | None = None) -> None:
        if not isinstance(config, DisPositioNetConfig):
            raise TypeError(f"config must be a DisPositioNetConfig, got {type(config).__name__}")
        super().__init__(config, vocab, seed=seed)
        self._sampling: dict[str, Any] = {"deterministic": False, "poses": None, "cursor": 0, "record": None}

    def _build_generator(self) -> nn.Module:
        return DisPositioNetGenerator(self.config)

    # ------------------------------------------------------------------ training
    def generator_losses(self, batch: SIMSGBatch, out: Mapping[str, Any]) -> dict[str, Tensor]:  # type: ignore[override]
        """SIMSG's terms plus ``kl`` and (``likelihood_weight > 0``) ``likelihood``."""
        terms = super().generator_losses(batch, out)
        terms.pop("total")
        c = self.config
        if c.kl_weight > 0:
            terms["kl"] = c.kl_weight * (gaussian_kl(out["mean_a"], out["var_a"])
                                         + gaussian_kl(out["mean_p"], out["var_p"]))
        if c.likelihood_weight > 0:
            assert batch.images is not None
            terms["likelihood"] = c.likelihood_weight * 0.5 * F.mse_loss(out["image"], batch.images)
        terms["total"] = torch.stack(list(terms.values())).sum() if terms else out["image"].sum() * 0
        return terms

    # ------------------------------------------------------------------ inference
    def _run(self, batch: SIMSGBatch, seed: int, layout_boxes: Tensor | None = None) -> dict[str, Any]:
        """One eval forward pass with the current sampling options (:meth:`_sampling_scope`)."""
        self.eval()
        opts = self._sampling
        poses = opts["poses"]
        if poses is not None:
            start = opts["cursor"]
            poses = poses[start:start + batch.num_objects]
            opts["cursor"] = start + batch.num_objects
        gen = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            out = self.generator(batch.to(self._device()), boxes=layout_boxes, generator=gen,
                                 deterministic=opts["deterministic"], poses=poses)
        if opts["record"] is not None:
            opts["record"].append((out["poses"].cpu(), out["gamma"].cpu()))
        return out

    def _set_sampling(self, deterministic: bool, poses: Tensor | None) -> None:
        self._sampling = {"deterministic": bool(deterministic), "poses": poses, "cursor": 0, "record": []}

    def _reset_sampling(self) -> None:
        self._sampling = {"deterministic": False, "poses": None, "cursor": 0, "record": None}

    def manipulate(  # type: ignore[override]
        self,
        source: HeteroData | Sequence[HeteroData],
        edited: HeteroData | Sequence[HeteroData],
        *,
        num_samples: int = 1,
        deterministic: bool = False,
        poses: Sequence[Tensor] | None = None,
        seed: int = 0,
        **kwargs: Any,
    ) -> DisManipulation:
        """Redraw source images after graph edits, ``num_samples`` times.

        Args:
            source, edited: as :meth:`SIMSG.manipulate`.
            num_samples: samples per edit (sample ``k`` uses seed ``seed + 1_000_003 * k``).
            deterministic: posterior means, no extra noise (every sample then differs only by the
                masked-pixel noise).
            poses: optional ``[N_i, 2, 3]`` affine matrices per edit (one per node of the edited
                graph) replacing the decoded poses, e.g. a hand-set rotation.
            seed: seed of all draws (same seed, same output).
            kwargs: the other arguments of :meth:`SIMSG.manipulate` (policy, ``layout_boxes``,
                ``composite``, ``batch_size``, ``plans``).

        Returns:
            A :class:`DisManipulation`.
        """
        if not isinstance(num_samples, int) or isinstance(num_samples, bool) or num_samples < 1:
            raise ValueError(f"num_samples must be a positive int, got num_samples={num_samples!r}")
        edits = _as_list(edited, "edited")
        forced = None
        if poses is not None:
            if len(poses) != len(edits):
                raise ValueError(f"poses must have one entry per edit ({len(edits)}), got {len(poses)}")
            forced = torch.cat([torch.as_tensor(p, dtype=torch.float32).view(-1, 2, 3) for p in poses])
            n_nodes = sum(int(g["object"].label.numel()) for g in edits)
            if forced.size(0) != n_nodes:
                raise ValueError(f"poses must give one [2, 3] matrix per node of the edited graphs ({n_nodes}), "
                                 f"got {forced.size(0)}")
        images, pose_list, gamma_list = [], [], []
        first: Manipulation | None = None
        try:
            for k in range(num_samples):
                self._set_sampling(deterministic, forced)
                m = super().manipulate(source, edits, seed=seed + 1_000_003 * k, **kwargs)
                record = self._sampling["record"]
                pose_list.append(torch.cat([r[0] for r in record]))
                gamma_list.append(torch.cat([r[1] for r in record]))
                images.append(m.image)
                first = first or m
        finally:
            self._reset_sampling()
        assert first is not None
        return DisManipulation(**vars(first), samples=torch.stack(images), poses=torch.stack(pose_list),
                               gamma=torch.stack(gamma_list))

    def reconstruct(self, scenes: Sequence[HeteroData], *, deterministic: bool = False,  # type: ignore[override]
                    **kwargs: Any) -> dict[str, Tensor]:
        """:meth:`SIMSG.reconstruct` (``kwargs``) with sampling on or, with ``deterministic``, the
        posterior means."""
        try:
            self._set_sampling(deterministic, None)
            return super().reconstruct(scenes, **kwargs)
        finally:
            self._reset_sampling()

    def sample_diversity(self, pairs: Sequence[Mapping[str, Any]], *, num_samples: int = 8, seed: int = 0,
                         **kwargs: Any) -> float:
        """Mean pairwise L1 (on 0-255) between ``num_samples`` samples of every edit of ``pairs``,
        inside the edited region (pixels masked in the source), averaged over edits."""
        out = self.manipulate_pairs(pairs, num_samples=num_samples, seed=seed, **kwargs)
        return pairwise_region_l1(out.samples, out.region)  # type: ignore[arg-type]


def pairwise_region_l1(samples: Tensor, region: Tensor) -> float:
    """Mean over edits of the mean absolute difference (0-255) between every pair of samples
    ``[K, B, 3, S, S]``, taken over the pixels of ``region [B, S, S]`` (edits with an empty
    region are skipped; ``nan`` if none remains or ``K < 2``)."""
    K = samples.size(0)
    if K < 2:
        return float("nan")
    vals = []
    for b in range(samples.size(1)):
        m = region[b]
        if not bool(m.any()):
            continue
        px = samples[:, b][:, :, m] * 255.0  # [K, 3, P]
        d = (px.unsqueeze(0) - px.unsqueeze(1)).abs().mean(dim=(2, 3))
        vals.append(float(d.sum() / (K * (K - 1))))
    return float(sum(vals) / len(vals)) if vals else float("nan")
