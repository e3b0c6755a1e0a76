"""Fine-tuning, few-shot evaluation and transfer pre-training of MetaMedSeg."""
from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from medkit.datasets.organs import OrganVolumes
from medkit.losses import BCEIoULoss, DiceCELoss
from medkit.meta.finetune import default_loss, evaluate_iou, few_shot_iou, fine_tune, pretrain


class _Threshold(nn.Module):
    """Logit ``scale * (x - 0.5)``: predicts foreground where the image exceeds 0.5."""

    out_channels = 1

    def __init__(self) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.tensor(10.0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.scale * (x - 0.5)


def test_evaluate_iou_pools_pixels_hand_computed() -> None:
    masks = torch.zeros(2, 2, 3, dtype=torch.long)
    masks[0, 0, :] = 1  # 3 foreground pixels
    masks[1, 1, 0] = 1  # 1 foreground pixel
    images = torch.zeros(2, 1, 2, 3)
    images[0, 0, 0, :2] = 1.0  # 2 of 3 hit
    images[1, 0, 1, 0] = 1.0  # hit
    images[1, 0, 0, 2] = 1.0  # false positive
    # pooled: intersection 3, union 3 + 1 + 1 = 5 (truth 4, predicted 4, overlap 3)
    assert evaluate_iou(_Threshold(), images, masks, batch_size=1) == pytest.approx(3 / 5)
    assert evaluate_iou(_Threshold(), masks[:, None].float(), masks) == pytest.approx(1.0)


def test_default_loss_matches_channels() -> None:
    assert isinstance(default_loss(1), BCEIoULoss)
    assert isinstance(default_loss(2), DiceCELoss)
    with pytest.raises(ValueError, match="out_channels"):
        default_loss(0)


def _blobs(n_vol: int, seed: int) -> OrganVolumes:
    g = torch.Generator().manual_seed(seed)
    vols = []
    for _ in range(n_vol):
        masks = torch.zeros(5, 8, 8, dtype=torch.long)
        for s in range(5):
            r, c = torch.randint(0, 5, (2,), generator=g).tolist()
            masks[s, r : r + 3, c : c + 3] = 1
        images = 0.8 * masks.float() + 0.1 + 0.05 * torch.randn(5, 8, 8, generator=g)
        vols.append((images, masks))
    return OrganVolumes("blobs", "blobs", vols)


def test_fine_tune_learns_a_threshold() -> None:
    torch.manual_seed(0)
    data = _blobs(2, 0)
    images, masks = data.slices()
    model = nn.Conv2d(1, 1, 1)
    with torch.no_grad():
        model.weight.fill_(0.1)
        model.bias.fill_(0.0)
    before = evaluate_iou(model, images, masks)
    losses = fine_tune(model, images, masks, epochs=30, lr=0.1, gamma=1.0, batch_size=4, loss=default_loss(1))
    assert len(losses) == 30 * 3  # 10 shots, batches of 4 -> 3 steps per epoch
    assert losses[-1] < 0.8 * losses[0]
    after = evaluate_iou(model, images, masks)
    assert after > max(before, 0.9), (before, after)


def test_few_shot_iou_repeats_are_seeded_and_leave_the_model_untouched() -> None:
    torch.manual_seed(0)
    train, test = _blobs(3, 1), _blobs(1, 2)
    model = nn.Conv2d(1, 1, 1)
    state = copy.deepcopy(model.state_dict())
    kw = dict(shots=4, repeats=3, seed=5, epochs=3, lr=0.05, loss=default_loss(1))
    a = few_shot_iou(model, train, test, **kw)
    b = few_shot_iou(model, train, test, **kw)
    assert a["runs"] == b["runs"] and len(a["runs"]) == 3
    assert a["mean"] == pytest.approx(sum(a["runs"]) / 3)
    assert a["std"] == pytest.approx(float(torch.tensor(a["runs"]).std()))
    for k, v in model.state_dict().items():
        assert torch.equal(v, state[k])
    with pytest.raises(ValueError, match="shots"):
        few_shot_iou(model, train, test, shots=100)


def test_pretrain_runs_the_requested_steps() -> None:
    torch.manual_seed(0)
    model = nn.Conv2d(1, 1, 1)
    losses = pretrain(model, [_blobs(2, 3), _blobs(2, 4)], steps=60, batch_size=5, lr=0.05, loss=default_loss(1), progress=False)
    assert len(losses) == 60
    assert sum(losses[-10:]) < sum(losses[:10])
    with pytest.raises(ValueError, match="steps"):
        pretrain(model, [_blobs(2, 3)], steps=0)


def test_pretrain_by_epochs_runs_whole_passes() -> None:
    torch.manual_seed(0)
    model = nn.Conv2d(1, 1, 1)
    sets = [_blobs(2, 3), _blobs(2, 4)]  # 20 pooled slices
    losses = pretrain(model, sets, epochs=3, batch_size=6, lr=0.05, loss=default_loss(1), progress=False)
    assert len(losses) == 3 * 4  # ceil(20 / 6) steps per pass
    assert len(pretrain(nn.Conv2d(1, 1, 1), sets, epochs=2, batch_size=5, progress=False)) == 2 * 4
    # weight decay is passed to the optimiser: a strong decay shrinks the weights
    norms = []
    for wd in (0.0, 5.0):
        big = nn.Conv2d(1, 1, 1)
        with torch.no_grad():
            big.weight.fill_(5.0)
        pretrain(big, sets, epochs=2, batch_size=5, lr=0.01, weight_decay=wd, optimizer="sgd", progress=False)
        norms.append(float(big.weight.abs()))
    assert norms[1] < 0.5 * norms[0], norms
    with pytest.raises(ValueError, match="exactly one"):
        pretrain(model, sets, steps=5, epochs=1)
    with pytest.raises(ValueError, match="exactly one"):
        pretrain(model, sets)
    with pytest.raises(ValueError, match="epochs"):
        pretrain(model, sets, epochs=0)
    with pytest.raises(ValueError, match="batch_size"):
        pretrain(model, sets, epochs=1, batch_size=0)
