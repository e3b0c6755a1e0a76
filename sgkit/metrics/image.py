"""Image-quality metrics for generated images: MAE, SSIM, LPIPS, FID, KID, precision/recall.

Pure functions on tensors first, then a thin stateful :class:`ImageMetrics` that accumulates
batches. Nothing here downloads weights: LPIPS and the Inception feature extractor need local
weight files and raise a clear error without them; FID/KID/precision-recall accept features from
any extractor you pass in.
"""
from __future__ import annotations

import numbers
import os
from typing import Any, Callable, Optional, Sequence, Union

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    "mae",
    "ssim",
    "LPIPS",
    "frechet_distance",
    "fid",
    "fid_from_features",
    "kid",
    "kid_from_features",
    "precision_recall",
    "InceptionFeatures",
    "extract_features",
    "ImageMetrics",
]

PathLike = Union[str, os.PathLike]


def _check_pair(pred: Tensor, target: Tensor) -> None:
    if pred.shape != target.shape:
        raise ValueError(
            f"pred and target must have the same shape, got pred.shape={tuple(pred.shape)}, "
            f"target.shape={tuple(target.shape)}"
        )
    if pred.dim() != 4:
        raise ValueError(f"images must have shape [B, C, H, W], got pred.shape={tuple(pred.shape)}")


def _reduce(values: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return values.mean()
    if reduction == "sum":
        return values.sum()
    if reduction == "none":
        return values
    raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got reduction={reduction!r}")


def _mask_4d(mask: Tensor, like: Tensor) -> Tensor:
    if mask.dim() == 3:
        mask = mask.unsqueeze(1)
    B, _, H, W = like.shape
    if mask.dim() != 4 or mask.size(0) != B or mask.shape[-2:] != (H, W) or mask.size(1) != 1:
        raise ValueError(
            f"mask must have shape [B, H, W] or [B, 1, H, W] = [{B}, 1, {H}, {W}], got "
            f"mask.shape={tuple(mask.shape)}"
        )
    return mask.to(like.dtype)


def mae(
    pred: Tensor, target: Tensor, mask: Optional[Tensor] = None, reduction: str = "mean"
) -> Tensor:
    r"""Mean absolute error per image, :math:`\frac{1}{CHW}\sum |\hat{I} - I|`.

    Values are in the units of the inputs (e.g. ``[0, 1]`` images give MAE in ``[0, 1]``).

    Args:
        pred: ``[B, C, H, W]`` generated images.
        target: ``[B, C, H, W]`` reference images.
        mask: optional ``[B, H, W]`` or ``[B, 1, H, W]`` region of interest (non-zero = inside);
            the error is averaged over the pixels inside (an image with an empty RoI gives NaN).
        reduction: ``"mean"`` (over images), ``"sum"`` or ``"none"`` (``[B]``).

    Returns:
        Scalar or ``[B]`` tensor.
    """
    _check_pair(pred, target)
    err = (pred - target).abs()
    if mask is None:
        per_image = err.flatten(1).mean(dim=1)
    else:
        m = (_mask_4d(mask, pred) != 0).to(err.dtype)
        per_image = (err * m).flatten(1).sum(1) / (m.flatten(1).sum(1) * pred.size(1))
    return _reduce(per_image, reduction)


def _gaussian_kernel(sigma: float, radius: int, dtype: torch.dtype, device: torch.device) -> Tensor:
    x = torch.arange(-radius, radius + 1, dtype=dtype, device=device)
    k = torch.exp(-0.5 * (x / sigma) ** 2)
    return k / k.sum()


def ssim(
    pred: Tensor,
    target: Tensor,
    *,
    data_range: float = 1.0,
    win_size: Optional[int] = None,
    gaussian_weights: bool = False,
    sigma: float = 1.5,
    k1: float = 0.01,
    k2: float = 0.03,
    use_sample_covariance: bool = True,
    mask: Optional[Tensor] = None,
    reduction: str = "mean",
) -> Tensor:
    r"""Structural similarity (Wang et al., 2004), identical to scikit-image's definition.

    Computes, with local means/variances from a uniform ``win_size`` window (default 7) or an
    11-tap Gaussian (``gaussian_weights=True``, :math:`\sigma = 1.5`),

    .. math::
        S = \frac{(2\mu_x\mu_y + C_1)(2\sigma_{xy} + C_2)}
        {(\mu_x^2 + \mu_y^2 + C_1)(\sigma_x^2 + \sigma_y^2 + C_2)},\quad
        C_i = (k_i L)^2,

    averaged over the positions whose window lies fully inside the image (scikit-image crops the
    same border) and over channels. Matches
    ``skimage.metrics.structural_similarity(x, y, data_range=L, channel_axis=0, ...)``
    (computed in float64).

    Args:
        pred: ``[B, C, H, W]`` images.
        target: ``[B, C, H, W]`` images.
        data_range: dynamic range :math:`L` of the images (1 for ``[0, 1]``).
        win_size: odd window size (default 7, or the Gaussian's ``2 * round(3.5 sigma) + 1``);
            at least 3 with ``use_sample_covariance`` (1 is allowed only without it, as in
            scikit-image, which otherwise divides by zero).
        gaussian_weights: use a Gaussian window.
        sigma: Gaussian standard deviation.
        k1: constant :math:`k_1`.
        k2: constant :math:`k_2`.
        use_sample_covariance: normalise (co)variances by ``N - 1`` (scikit-image default).
        mask: optional ``[B, H, W]`` region of interest: the SSIM map is averaged over the valid
            positions inside it (NaN if none).
        reduction: ``"mean"``, ``"sum"`` or ``"none"`` (``[B]``).

    Returns:
        Scalar or ``[B]`` tensor (float64).
    """
    _check_pair(pred, target)
    if data_range <= 0:
        raise ValueError(f"data_range must be > 0, got data_range={data_range!r}")
    if sigma <= 0:
        raise ValueError(f"sigma must be > 0, got sigma={sigma!r}")
    B, C, H, W = pred.shape
    x = pred.to(torch.float64)
    y = target.to(torch.float64)
    if win_size is not None and (
        not isinstance(win_size, numbers.Integral) or isinstance(win_size, bool) or win_size < 1
        or win_size % 2 != 1
    ):
        raise ValueError(f"win_size must be a positive odd int, got win_size={win_size!r}")
    if win_size is not None:
        win_size = int(win_size)
    if gaussian_weights:
        radius = int(3.5 * sigma + 0.5)
        if win_size is not None and win_size != 2 * radius + 1:
            raise ValueError(
                f"with gaussian_weights the window is 2 * int(3.5 * sigma + 0.5) + 1 = "
                f"{2 * radius + 1}; got win_size={win_size}"
            )
        win_size = 2 * radius + 1
        k = _gaussian_kernel(sigma, radius, x.dtype, x.device)
        kernel = (k.view(-1, 1) * k.view(1, -1)).expand(C, 1, win_size, win_size)
    else:
        win_size = 7 if win_size is None else win_size
        kernel = torch.full(
            (C, 1, win_size, win_size), 1.0 / win_size**2, dtype=x.dtype, device=x.device
        )
    if win_size == 1 and use_sample_covariance:
        # scikit-image divides by N - 1 = 0 here (ZeroDivisionError); one pixel has no
        # sample variance.
        raise ValueError(
            "win_size must be >= 3 with use_sample_covariance=True (the sample covariance of a "
            "1-pixel window divides by N - 1 = 0), got win_size=1; pass an odd win_size >= 3 or "
            "use_sample_covariance=False"
        )
    if win_size > min(H, W):
        raise ValueError(
            f"win_size={win_size} exceeds the image extent {H}x{W}; pass a smaller odd win_size"
        )

    def filt(t: Tensor) -> Tensor:
        return F.conv2d(t, kernel, groups=C)

    ux, uy = filt(x), filt(y)
    uxx, uyy, uxy = filt(x * x), filt(y * y), filt(x * y)
    n_pts = win_size**2
    cov_norm = n_pts / (n_pts - 1) if use_sample_covariance else 1.0
    vx = cov_norm * (uxx - ux * ux)
    vy = cov_norm * (uyy - uy * uy)
    vxy = cov_norm * (uxy - ux * uy)
    c1 = (k1 * data_range) ** 2
    c2 = (k2 * data_range) ** 2
    s_map = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux**2 + uy**2 + c1) * (vx + vy + c2))
    if mask is None:
        per_image = s_map.flatten(1).mean(dim=1)
    else:
        pad = (win_size - 1) // 2
        m = (_mask_4d(mask, pred) != 0).to(s_map.dtype)[:, :, pad : H - pad, pad : W - pad]
        per_image = (s_map * m).flatten(1).sum(1) / (m.flatten(1).sum(1) * C)
    return _reduce(per_image, reduction)


def _load_state(path: PathLike, what: str) -> dict:
    if path is None:
        raise FileNotFoundError(
            f"{what}: no local weights file given. This toolkit never downloads weights; pass "
            "the path of a local copy."
        )
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{what}: weights file {os.fspath(path)!r} does not exist")
    state = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    return state


_LPIPS_NETS = {
    # torchvision feature indices where each LPIPS stage ends, and the stage widths
    "alex": ((2, 5, 8, 10, 12), (64, 192, 384, 256, 256)),
    "vgg": ((4, 9, 16, 23, 30), (64, 128, 256, 512, 512)),
}


class LPIPS(torch.nn.Module):
    r"""Learned Perceptual Image Patch Similarity (Zhang et al., CVPR 2018), from local weights.

    `"The Unreasonable Effectiveness of Deep Features as a Perceptual Metric"
    <https://arxiv.org/abs/1801.03924>`_. Images are shifted/scaled as in the reference code, a
    torchvision AlexNet or VGG-16 gives features :math:`f_l` at five stages, each is normalised
    over channels, and

    .. math::
        d(x, y) = \sum_l \frac{1}{H_l W_l} \sum_{h,w} \lVert \mathbf{w}_l \odot
        (\hat{f}_l(x)_{hw} - \hat{f}_l(y)_{hw}) \rVert_2^2 .

    No weights are downloaded: ``backbone_weights`` is a local torchvision state dict
    (``alexnet-owt-7be5be79.pth`` or ``vgg16-397923af.pth``) and ``linear_weights`` the LPIPS
    linear-layer file of the reference package (``weights/v0.1/alex.pth`` or ``vgg.pth``, keys
    ``lin{l}.model.1.weight``). Either missing raises :class:`FileNotFoundError`. Only the
    ``features.*`` entries of the backbone file are used.

    Args:
        net: ``"alex"`` or ``"vgg"``.
        backbone_weights: local path to the backbone's torchvision weights.
        linear_weights: local path to the LPIPS linear weights.
        normalize: inputs are in ``[0, 1]`` (converted to ``[-1, 1]``); ``False`` if they are
            already in ``[-1, 1]``.
    """

    def __init__(
        self,
        net: str = "alex",
        backbone_weights: Optional[PathLike] = None,
        linear_weights: Optional[PathLike] = None,
        normalize: bool = True,
    ) -> None:
        super().__init__()
        if net not in _LPIPS_NETS:
            raise ValueError(f"net must be one of {sorted(_LPIPS_NETS)}, got net={net!r}")
        import torchvision

        backbone_state = _load_state(backbone_weights, f"LPIPS ({net}) backbone")
        linear_state = _load_state(linear_weights, f"LPIPS ({net}) linear layers")
        with torch.device("meta"):  # no random initialisation; every used weight is loaded
            model = torchvision.models.alexnet() if net == "alex" else torchvision.models.vgg16()
        ends, widths = _LPIPS_NETS[net]
        # only the convolutional part is used: accept a full torchvision file or its features.*
        feature_state = {
            key[len("features.") :]: value
            for key, value in backbone_state.items()
            if key.startswith("features.")
        }
        model.features.to_empty(device="cpu")
        model.features.load_state_dict(feature_state)
        self.net = net
        self.normalize = normalize
        self.features = model.features[: ends[-1]].eval()
        self.ends = ends
        weights = []
        for layer, width in enumerate(widths):
            key = f"lin{layer}.model.1.weight"
            if key not in linear_state:
                raise KeyError(
                    f"linear_weights: key {key!r} missing in {os.fspath(linear_weights)!r}"
                )
            w = linear_state[key].reshape(-1)
            if w.numel() != width:
                raise ValueError(f"linear_weights: {key} has {w.numel()} entries, expected {width}")
            weights.append(w.float())
        self.register_buffer("lin_weights", torch.cat(weights))
        self.register_buffer("shift", torch.tensor([-0.030, -0.088, -0.188]).view(1, 3, 1, 1))
        self.register_buffer("scale", torch.tensor([0.458, 0.448, 0.450]).view(1, 3, 1, 1))
        self.widths = widths
        for p in self.parameters():
            p.requires_grad_(False)

    def _stages(self, x: Tensor) -> list[Tensor]:
        outs, start = [], 0
        for end in self.ends:
            for i in range(start, end):
                x = self.features[i](x)
            outs.append(x)
            start = end
        return outs

    def forward(self, pred: Tensor, target: Tensor) -> Tensor:
        """LPIPS distance per image, ``[B]``."""
        _check_pair(pred, target)
        if self.normalize:
            pred, target = pred * 2 - 1, target * 2 - 1
        fx = self._stages((pred - self.shift) / self.scale)
        fy = self._stages((target - self.shift) / self.scale)
        total = pred.new_zeros(pred.size(0))
        offset = 0
        for a, b, width in zip(fx, fy, self.widths):
            a = a / (a.pow(2).sum(1, keepdim=True).sqrt() + 1e-10)
            b = b / (b.pow(2).sum(1, keepdim=True).sqrt() + 1e-10)
            w = self.lin_weights[offset : offset + width].view(1, -1, 1, 1)
            total = total + ((a - b) ** 2 * w).sum(1).mean(dim=(1, 2))
            offset += width
        return total


def _sqrtm_psd(mat: Tensor) -> Tensor:
    vals, vecs = torch.linalg.eigh(mat)
    return (vecs * vals.clamp(min=0).sqrt()) @ vecs.T


def frechet_distance(mu1: Tensor, sigma1: Tensor, mu2: Tensor, sigma2: Tensor) -> float:
    r"""Fréchet distance between Gaussians :math:`\mathcal{N}(\mu_1, \Sigma_1)` and
    :math:`\mathcal{N}(\mu_2, \Sigma_2)` (the FID formula of Heusel et al., 2017):

    .. math::
        \lVert \mu_1 - \mu_2 \rVert^2 + \operatorname{tr}\left(\Sigma_1 + \Sigma_2 -
        2 (\Sigma_1 \Sigma_2)^{1/2}\right).

    :math:`\operatorname{tr}(\Sigma_1\Sigma_2)^{1/2}` is computed stably in float64 as the sum of
    square roots of the eigenvalues of the symmetric PSD matrix
    :math:`\Sigma_1^{1/2}\Sigma_2\Sigma_1^{1/2}` (same eigenvalues as :math:`\Sigma_1\Sigma_2`).

    Args:
        mu1: ``[D]`` mean.
        sigma1: ``[D, D]`` covariance.
        mu2: ``[D]`` mean.
        sigma2: ``[D, D]`` covariance.

    Returns:
        The distance as a float.
    """
    mu1, mu2 = torch.as_tensor(mu1, dtype=torch.float64), torch.as_tensor(mu2, dtype=torch.float64)
    s1 = torch.as_tensor(sigma1, dtype=torch.float64)
    s2 = torch.as_tensor(sigma2, dtype=torch.float64)
    D = mu1.numel()
    if mu2.shape != mu1.shape or s1.shape != (D, D) or s2.shape != (D, D):
        raise ValueError(
            f"expected mu [D], sigma [D, D]; got mu1 {tuple(mu1.shape)}, mu2 {tuple(mu2.shape)}, "
            f"sigma1 {tuple(s1.shape)}, sigma2 {tuple(s2.shape)}"
        )
    s1 = (s1 + s1.T) / 2
    s2 = (s2 + s2.T) / 2
    r1 = _sqrtm_psd(s1)
    inner = r1 @ s2 @ r1
    tr_covmean = torch.linalg.eigvalsh((inner + inner.T) / 2).clamp(min=0).sqrt().sum()
    diff = mu1 - mu2
    return float(diff @ diff + torch.trace(s1) + torch.trace(s2) - 2 * tr_covmean)


def _check_features(real: Tensor, fake: Tensor, min_rows: int = 2) -> tuple[Tensor, Tensor]:
    real = torch.as_tensor(real, dtype=torch.float64)
    fake = torch.as_tensor(fake, dtype=torch.float64)
    if real.dim() != 2 or fake.dim() != 2 or real.size(1) != fake.size(1):
        raise ValueError(
            f"features must be [N, D] with the same D, got real {tuple(real.shape)}, "
            f"fake {tuple(fake.shape)}"
        )
    for name, t in (("real", real), ("fake", fake)):
        if t.size(0) < min_rows:
            raise ValueError(f"{name} features need at least {min_rows} rows, got {t.size(0)}")
    return real, fake


def fid_from_features(real: Tensor, fake: Tensor) -> float:
    """Fréchet Inception Distance from two feature matrices ``[N, D]`` and ``[M, D]``.

    Uses the unbiased (``N - 1``) covariance, like the reference implementations.
    """
    real, fake = _check_features(real, fake)
    return frechet_distance(real.mean(0), torch.cov(real.T), fake.mean(0), torch.cov(fake.T))


def _poly_mmd2_unbiased(x: Tensor, y: Tensor, degree: int, gamma: float, coef0: float) -> Tensor:
    kxx = (x @ x.T * gamma + coef0) ** degree
    kyy = (y @ y.T * gamma + coef0) ** degree
    kxy = (x @ y.T * gamma + coef0) ** degree
    m, n = x.size(0), y.size(0)
    sxx = (kxx.sum() - kxx.diagonal().sum()) / (m * (m - 1))
    syy = (kyy.sum() - kyy.diagonal().sum()) / (n * (n - 1))
    return sxx + syy - 2 * kxy.mean()


def kid_from_features(
    real: Tensor,
    fake: Tensor,
    *,
    subset_size: int = 1000,
    num_subsets: int = 100,
    degree: int = 3,
    gamma: Optional[float] = None,
    coef0: float = 1.0,
    seed: int = 0,
) -> tuple[float, float]:
    r"""Kernel Inception Distance (Bińkowski et al., ICLR 2018) from features.

    The unbiased MMD² with the polynomial kernel
    :math:`k(x, y) = (\gamma\, x^\top y + c_0)^{d}` (default :math:`\gamma = 1/D`,
    :math:`c_0 = 1`, :math:`d = 3`), averaged over ``num_subsets`` random subsets of
    ``min(subset_size, N, M)`` rows drawn without replacement from each set.

    Args:
        real: ``[N, D]`` features.
        fake: ``[M, D]`` features.
        subset_size: rows per subset.
        num_subsets: number of subsets.
        degree: kernel degree.
        gamma: kernel scale (default ``1 / D``).
        coef0: kernel offset.
        seed: seed of the subset sampling.

    Returns:
        ``(mean, std)`` of the subset estimates.
    """
    real, fake = _check_features(real, fake)
    if subset_size < 2 or num_subsets < 1:
        raise ValueError(
            f"need subset_size >= 2 and num_subsets >= 1, got subset_size={subset_size}, "
            f"num_subsets={num_subsets}"
        )
    gamma = 1.0 / real.size(1) if gamma is None else gamma
    size = min(subset_size, real.size(0), fake.size(0))
    g = torch.Generator().manual_seed(seed)
    values = []
    for _ in range(num_subsets):
        ix = torch.randperm(real.size(0), generator=g)[:size]
        iy = torch.randperm(fake.size(0), generator=g)[:size]
        values.append(_poly_mmd2_unbiased(real[ix], fake[iy], degree, gamma, coef0))
    vals = torch.stack(values)
    std = float(vals.std(unbiased=False)) if len(values) > 1 else 0.0
    return float(vals.mean()), std


def _kth_nn_radii(feats: Tensor, k: int, batch_size: int) -> Tensor:
    radii = []
    for start in range(0, feats.size(0), batch_size):
        d = torch.cdist(feats[start : start + batch_size], feats)
        # the k-th neighbour excluding the point itself (distance 0 at rank 0)
        radii.append(d.kthvalue(k + 1, dim=1).values)
    return torch.cat(radii)


def _coverage(queries: Tensor, centres: Tensor, radii: Tensor, batch_size: int) -> Tensor:
    inside = []
    for start in range(0, queries.size(0), batch_size):
        d = torch.cdist(queries[start : start + batch_size], centres)
        inside.append((d <= radii.view(1, -1)).any(dim=1))
    return torch.cat(inside)


def precision_recall(
    real: Tensor, fake: Tensor, *, k: int = 3, batch_size: int = 1024
) -> tuple[float, float]:
    r"""Improved precision and recall (Kynkäänniemi et al., NeurIPS 2019) from features.

    Each sample's manifold ball has the radius of its ``k``-th nearest neighbour within its own
    set. Precision is the fraction of fake samples inside at least one real ball; recall is the
    fraction of real samples inside at least one fake ball.

    Args:
        real: ``[N, D]`` features of real images.
        fake: ``[M, D]`` features of generated images.
        k: neighbourhood size (3 in the paper).
        batch_size: rows per distance block (memory).

    Returns:
        ``(precision, recall)``.
    """
    real, fake = _check_features(real, fake, min_rows=k + 1)
    if k < 1:
        raise ValueError(f"k must be >= 1, got k={k}")
    real_r = _kth_nn_radii(real, k, batch_size)
    fake_r = _kth_nn_radii(fake, k, batch_size)
    precision = _coverage(fake, real, real_r, batch_size).double().mean()
    recall = _coverage(real, fake, fake_r, batch_size).double().mean()
    return float(precision), float(recall)


class InceptionFeatures(torch.nn.Module):
    """2048-d pool features of torchvision's Inception-v3, from a local weights file only.

    Images in ``[0, 1]`` are resized to 299 x 299 (bilinear), normalised with the ImageNet
    statistics and passed through Inception-v3 with ``transform_input=True`` (as torchvision does
    for its ImageNet weights); the classifier is removed. Note that the widely quoted FID numbers
    use the TensorFlow Inception graph; values from torchvision weights are consistent among
    themselves but not identical to those.

    Args:
        weights_path: local torchvision ``inception_v3`` state dict
            (e.g. ``inception_v3_google-0cc3c7bd.pth``). Nothing is downloaded.
    """

    def __init__(self, weights_path: PathLike) -> None:
        super().__init__()
        import torchvision

        state = _load_state(weights_path, "Inception-v3 feature extractor")
        with torch.device("meta"):  # no random initialisation; the state dict fills everything
            model = torchvision.models.inception_v3(
                weights=None, aux_logits=True, transform_input=True, init_weights=False
            )
        model.to_empty(device="cpu")
        model.load_state_dict(state)
        model.AuxLogits = None
        model.aux_logits = False
        model.fc = torch.nn.Identity()
        self.model = model.eval()
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1))
        for p in self.parameters():
            p.requires_grad_(False)

    def train(self, mode: bool = True) -> "InceptionFeatures":
        """The extractor always stays in evaluation mode."""
        super().train(False)
        return self

    def forward(self, images: Tensor) -> Tensor:
        """``[B, 3, H, W]`` images in ``[0, 1]`` -> ``[B, 2048]`` features."""
        if images.dim() != 4 or images.size(1) != 3:
            raise ValueError(f"images must be [B, 3, H, W], got images.shape={tuple(images.shape)}")
        x = F.interpolate(images, size=(299, 299), mode="bilinear", align_corners=False)
        return self.model((x - self.mean) / self.std)


@torch.no_grad()
def extract_features(
    images: Union[Tensor, Sequence[Tensor]],
    extractor: Callable[[Tensor], Tensor],
    *,
    batch_size: int = 64,
    progress: bool = False,
) -> Tensor:
    """Run ``extractor`` over images in batches and concatenate the features.

    Args:
        images: ``[N, C, H, W]`` tensor or a sequence of ``[B, C, H, W]`` batches.
        extractor: any callable mapping ``[B, C, H, W]`` to ``[B, D]``.
        batch_size: batch size when ``images`` is one tensor.
        progress: show a tqdm bar.

    Returns:
        ``[N, D]`` float64 features.
    """
    from tqdm.auto import tqdm

    if isinstance(images, Tensor):
        batches = list(images.split(batch_size))
    else:
        batches = list(images)
    feats = [extractor(b).flatten(1).double().cpu() for b in tqdm(batches, disable=not progress)]
    return torch.cat(feats)


def _resolve_extractor(
    feature_extractor: Optional[Callable[[Tensor], Tensor]], inception_weights: Optional[PathLike]
) -> Callable[[Tensor], Tensor]:
    if feature_extractor is not None:
        return feature_extractor
    if inception_weights is None:
        raise ValueError(
            "FID/KID need a feature extractor: pass feature_extractor=... or "
            "inception_weights=<local torchvision inception_v3 weights file> (nothing is downloaded)"
        )
    return InceptionFeatures(inception_weights)


def fid(
    real_images: Union[Tensor, Sequence[Tensor]],
    fake_images: Union[Tensor, Sequence[Tensor]],
    *,
    feature_extractor: Optional[Callable[[Tensor], Tensor]] = None,
    inception_weights: Optional[PathLike] = None,
    batch_size: int = 64,
    progress: bool = False,
) -> float:
    """FID between two image sets (``[N, 3, H, W]`` in ``[0, 1]`` or sequences of batches).

    Features come from ``feature_extractor`` or, if only ``inception_weights`` is given, from
    :class:`InceptionFeatures`; one of the two is required.
    """
    ext = _resolve_extractor(feature_extractor, inception_weights)
    real = extract_features(real_images, ext, batch_size=batch_size, progress=progress)
    fake = extract_features(fake_images, ext, batch_size=batch_size, progress=progress)
    return fid_from_features(real, fake)


def kid(
    real_images: Union[Tensor, Sequence[Tensor]],
    fake_images: Union[Tensor, Sequence[Tensor]],
    *,
    feature_extractor: Optional[Callable[[Tensor], Tensor]] = None,
    inception_weights: Optional[PathLike] = None,
    batch_size: int = 64,
    progress: bool = False,
    **kid_kwargs: Any,
) -> tuple[float, float]:
    """KID ``(mean, std)`` between two image sets; see :func:`kid_from_features` for options."""
    ext = _resolve_extractor(feature_extractor, inception_weights)
    real = extract_features(real_images, ext, batch_size=batch_size, progress=progress)
    fake = extract_features(fake_images, ext, batch_size=batch_size, progress=progress)
    return kid_from_features(real, fake, **kid_kwargs)


class ImageMetrics:
    """Accumulate image batches and report MAE, SSIM and (optionally) LPIPS, FID, KID, P/R.

    ``update(pred, target)`` adds per-image MAE/SSIM (and LPIPS when an :class:`LPIPS` module is
    given) and, when a ``feature_extractor`` is given, the features of both image sets;
    ``compute()`` returns a dict of floats. Distribution metrics need at least 2 images per set
    (``k + 1`` for precision/recall) and are skipped (absent from the dict) otherwise.

    Args:
        feature_extractor: callable ``[B, 3, H, W] -> [B, D]`` (e.g. :class:`InceptionFeatures`)
            or ``None``.
        inception_weights: local torchvision Inception-v3 weights; used to build the default
            :class:`InceptionFeatures` extractor when ``feature_extractor`` is ``None``. With
            neither, FID/KID/precision/recall are not computed.
        lpips: an :class:`LPIPS` module or ``None``.
        data_range: SSIM data range.
        kid_subset_size: KID subset size.
        kid_subsets: number of KID subsets.
        k: neighbourhood of precision/recall.
        seed: seed of the KID subsets.
    """

    def __init__(
        self,
        feature_extractor: Optional[Callable[[Tensor], Tensor]] = None,
        *,
        inception_weights: Optional[PathLike] = None,
        lpips: Optional[LPIPS] = None,
        data_range: float = 1.0,
        kid_subset_size: int = 1000,
        kid_subsets: int = 100,
        k: int = 3,
        seed: int = 0,
    ) -> None:
        if feature_extractor is None and inception_weights is not None:
            feature_extractor = InceptionFeatures(inception_weights)
        self.feature_extractor = feature_extractor
        self.lpips = lpips
        self.data_range = data_range
        self.kid_subset_size = kid_subset_size
        self.kid_subsets = kid_subsets
        self.k = k
        self.seed = seed
        self.reset()

    def reset(self) -> None:
        """Forget all accumulated batches."""
        self._mae: list[Tensor] = []
        self._ssim: list[Tensor] = []
        self._lpips: list[Tensor] = []
        self._real: list[Tensor] = []
        self._fake: list[Tensor] = []

    @torch.no_grad()
    def update(self, pred: Tensor, target: Tensor, mask: Optional[Tensor] = None) -> None:
        """Add generated (``pred``) and reference (``target``) images ``[B, C, H, W]``."""
        _check_pair(pred, target)
        self._mae.append(mae(pred, target, mask=mask, reduction="none").double().cpu())
        win = min(7, pred.size(-1), pred.size(-2))
        win = win if win % 2 == 1 else win - 1
        self._ssim.append(
            ssim(
                pred, target, data_range=self.data_range, win_size=win, mask=mask,
                reduction="none",
            ).cpu()
        )
        if self.lpips is not None:
            self._lpips.append(self.lpips(pred, target).double().cpu())
        if self.feature_extractor is not None:
            self._fake.append(self.feature_extractor(pred).flatten(1).double().cpu())
            self._real.append(self.feature_extractor(target).flatten(1).double().cpu())

    def compute(self) -> dict[str, float]:
        """Return ``mae``, ``ssim`` and, when available, ``lpips``, ``fid``, ``kid_mean``,
        ``kid_std``, ``precision``, ``recall``."""
        if not self._mae:
            raise RuntimeError("ImageMetrics.compute() called before any update()")
        out = {
            "mae": float(torch.cat(self._mae).nanmean()),
            "ssim": float(torch.cat(self._ssim).nanmean()),
        }
        if self._lpips:
            out["lpips"] = float(torch.cat(self._lpips).mean())
        if self._real:
            real, fake = torch.cat(self._real), torch.cat(self._fake)
            if real.size(0) >= 2:
                out["fid"] = fid_from_features(real, fake)
                out["kid_mean"], out["kid_std"] = kid_from_features(
                    real, fake, subset_size=self.kid_subset_size, num_subsets=self.kid_subsets,
                    seed=self.seed,
                )
            if real.size(0) > self.k:
                out["precision"], out["recall"] = precision_recall(real, fake, k=self.k)
        return out

    def __repr__(self) -> str:
        return (
            f"{self.__class__.__name__}(feature_extractor={self.feature_extractor is not None}, "
            f"lpips={self.lpips is not None}, images={sum(len(m) for m in self._mae)})"
        )

