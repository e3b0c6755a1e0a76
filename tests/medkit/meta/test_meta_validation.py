"""MetaMedSeg hyperparameters: non-finite or out-of-range values are rejected by name."""
import pytest
import torch

from medkit.meta import Reptile
from medkit.meta.finetune import make_optimizer
from medkit.nn import UNet


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(beta=float("inf")), "beta must be a finite number > 0, got inf"),
        (dict(beta=float("nan")), "beta must be a finite number > 0, got nan"),
        (dict(beta_final=float("nan")), "beta_final must be a finite number >= 0, got nan"),
        (dict(inner_lr=float("inf")), "inner_lr must be a finite number > 0, got inf"),
        (dict(inner_lr=0.0), "inner_lr must be a finite number > 0, got 0.0"),
        (dict(inner_gamma=1.5), r"inner_gamma must be a finite number > 0 and <= 1, got 1.5"),
        (dict(weight_decay=float("nan")), "weight_decay must be a finite number >= 0, got nan"),
        (dict(eps=0.0), "eps must be a finite number > 0, got 0.0"),
    ],
)
def test_reptile_hyperparameters_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Reptile(UNet(1, 1, base_channels=2, depth=1), **kwargs)


def test_optimizer_lr_checked():
    p = [torch.nn.Parameter(torch.zeros(1))]
    with pytest.raises(ValueError, match="lr must be a finite number > 0, got inf"):
        make_optimizer("adam", p, float("inf"), 0.0)
    with pytest.raises(ValueError, match="weight_decay must be a finite number >= 0, got -1"):
        make_optimizer("sgd", p, 0.1, -1)
