"""Small classifiers for federated experiments (no buffers, so they train under ``torch.func.vmap``)."""
from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

__all__ = ["MLP", "LeNet"]


class MLP(nn.Module):
    """Multi-layer perceptron on flattened inputs.

    Args:
        in_features: input size (images are flattened).
        num_classes: number of output logits.
        hidden: sizes of the hidden layers (ReLU after each).

    Shapes:
        input ``[B, *]`` with ``prod(*) == in_features``; output ``[B, num_classes]``.
    """

    def __init__(self, in_features: int, num_classes: int, hidden: Sequence[int] = (200,)) -> None:
        super().__init__()
        if in_features < 1:
            raise ValueError(f"in_features must be positive, got {in_features}")
        if num_classes < 2:
            raise ValueError(f"num_classes must be >= 2, got {num_classes}")
        if any(h < 1 for h in hidden):
            raise ValueError(f"hidden sizes must be positive, got {list(hidden)}")
        self.in_features = in_features
        self.num_classes = num_classes
        dims = [in_features, *hidden]
        layers: list[nn.Module] = []
        for a, b in zip(dims[:-1], dims[1:]):
            layers += [nn.Linear(a, b), nn.ReLU()]
        layers.append(nn.Linear(dims[-1], num_classes))
        self.net = nn.Sequential(*layers)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Re-initialise every linear layer (PyTorch defaults)."""
        for m in self.net:
            if isinstance(m, nn.Linear):
                m.reset_parameters()

    def forward(self, x: Tensor) -> Tensor:
        """Logits ``[B, num_classes]``."""
        return self.net(x.reshape(x.shape[0], -1))


class LeNet(nn.Module):
    """LeNet-5-size CNN (two 5x5 convolutions with max pooling, three linear layers).

    Both convolutions use padding 2 so that the network also fits 8x8 inputs (scikit-learn
    digits); on 28x28 MNIST it is the classic LeNet-5 (6 and 16 channels, 120-84-C).

    Args:
        in_channels: image channels.
        num_classes: number of output logits.
        image_size: height = width of the inputs.

    Shapes:
        input ``[B, in_channels, image_size, image_size]``; output ``[B, num_classes]``.
    """

    def __init__(self, in_channels: int = 1, num_classes: int = 10, image_size: int = 28) -> None:
        super().__init__()
        if in_channels < 1:
            raise ValueError(f"in_channels must be positive, got {in_channels}")
        if num_classes < 2:
            raise ValueError(f"num_classes must be >= 2, got {num_classes}")
        if image_size < 4:
            raise ValueError(f"image_size must be >= 4, got {image_size}")
        self.in_channels = in_channels
        self.num_classes = num_classes
        self.image_size = image_size
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 6, 5, padding=2),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(6, 16, 5, padding=2),
            nn.ReLU(),
            nn.MaxPool2d(2),
        )
        side = image_size // 2 // 2
        self.classifier = nn.Sequential(
            nn.Linear(16 * side * side, 120),
            nn.ReLU(),
            nn.Linear(120, 84),
            nn.ReLU(),
            nn.Linear(84, num_classes),
        )
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Re-initialise all layers (PyTorch defaults)."""
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Conv2d)):
                m.reset_parameters()

    def forward(self, x: Tensor) -> Tensor:
        """Logits ``[B, num_classes]``."""
        h = self.features(x)
        return self.classifier(h.flatten(1))
