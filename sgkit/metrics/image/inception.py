"""The Inception-v3 network from local weights only: pool features, class probabilities, batching."""
from __future__ import annotations

from typing import Callable, Optional, Sequence, Union

import torch
import torch.nn.functional as F
from torch import Tensor

from ._common import PathLike, _load_state

__all__ = ["InceptionClassifier", "InceptionFeatures", "extract_features"]


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

    def __init__(self, weights_path: PathLike, *, keep_classifier: bool = False) -> None:
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
        if not keep_classifier:
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


class InceptionClassifier(InceptionFeatures):
    """ImageNet class logits ``[B, 1000]`` of torchvision's Inception-v3, from a local weights file only.

    The same preprocessing as :class:`InceptionFeatures` with the classifier kept: the network
    behind the Inception Score (:func:`~sgkit.metrics.image.inception_score`). Note that the widely
    quoted IS numbers use the TensorFlow Inception graph; torchvision weights give consistent but
    not identical values.

    Args:
        weights_path: local torchvision ``inception_v3`` state dict. Nothing is downloaded.
    """

    def __init__(self, weights_path: PathLike) -> None:
        super().__init__(weights_path, keep_classifier=True)


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
