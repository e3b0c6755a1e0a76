import math

import monai.losses as M
import pytest
import torch
import torch.nn.functional as F

from medkit.losses import (
    BCEIoULoss,
    DiceCELoss,
    DiceLoss,
    FocalTverskyLoss,
    SoftIoULoss,
    WeightedBCELoss,
    object_background_ratio,
)

FLAGS = [
    dict(softmax=True, to_onehot_y=True),
    dict(sigmoid=True, to_onehot_y=True, include_background=False),
    dict(softmax=True, to_onehot_y=True, batch=True),
    dict(softmax=True, to_onehot_y=True, reduction="sum"),
    dict(sigmoid=True, to_onehot_y=True, reduction="none"),
]


@pytest.fixture
def data():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 3, 6, 7, generator=g)
    y = torch.randint(0, 3, (2, 1, 6, 7), generator=g)
    return x, y


def _same(a, b):
    torch.testing.assert_close(a.reshape(b.shape), b, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("kw", FLAGS)
def test_dice_matches_monai(data, kw):
    x, y = data
    _same(DiceLoss(**kw)(x, y), M.DiceLoss(**kw)(x, y))


@pytest.mark.parametrize("kw", FLAGS)
def test_soft_iou_matches_monai_jaccard(data, kw):
    x, y = data
    _same(SoftIoULoss(**kw)(x, y), M.DiceLoss(jaccard=True, **kw)(x, y))


@pytest.mark.parametrize("kw", FLAGS)
def test_focal_tversky_gamma1_matches_monai_tversky(data, kw):
    x, y = data
    ours = FocalTverskyLoss(alpha=0.3, beta=0.7, gamma=1.0, **kw)(x, y)
    _same(ours, M.TverskyLoss(alpha=0.3, beta=0.7, **kw)(x, y))


def test_focal_tversky_exponent(data):
    x, y = data
    base = M.TverskyLoss(alpha=0.3, beta=0.7, softmax=True, to_onehot_y=True, reduction="none")(x, y)
    ours = FocalTverskyLoss(gamma=0.75, softmax=True, to_onehot_y=True)(x, y)
    torch.testing.assert_close(ours, base.clamp_min(0).pow(0.75).mean(), atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("kw", [FLAGS[0], FLAGS[1], FLAGS[2], FLAGS[3]])
@pytest.mark.parametrize("lam", [(1.0, 1.0), (0.3, 2.0)])
def test_dice_ce_matches_monai(data, kw, lam):
    x, y = data
    ours = DiceCELoss(lambda_dice=lam[0], lambda_ce=lam[1], **kw)(x, y)
    ref = M.DiceCELoss(lambda_dice=lam[0], lambda_ce=lam[1], **kw)(x, y)
    _same(ours, ref)


def test_dice_ce_binary_single_channel(data):
    x = data[0][:, :1]
    y = (data[1] > 0).float()
    _same(DiceCELoss(sigmoid=True)(x, y), M.DiceCELoss(sigmoid=True)(x, y))


def test_dice_one_hot_target_equals_label_target(data):
    x, y = data
    oh = F.one_hot(y[:, 0], 3).movedim(-1, 1).float()
    _same(DiceLoss(softmax=True)(x, oh), DiceLoss(softmax=True, to_onehot_y=True)(x, y))
    # [B, H, W] labels are accepted too
    _same(DiceLoss(softmax=True, to_onehot_y=True)(x, y[:, 0]), DiceLoss(softmax=True)(x, oh))


def test_dice_hand_value():
    # p = sigmoid(0) = 0.5 everywhere, 2 of 4 pixels positive: 1 - (2*1 + s)/(2 + 2 + s)
    x = torch.zeros(1, 1, 2, 2)
    y = torch.tensor([[[[1.0, 0.0], [1.0, 0.0]]]])
    val = DiceLoss(sigmoid=True, smooth_nr=0.0, smooth_dr=0.0)(x, y)
    assert math.isclose(float(val), 0.5, rel_tol=1e-6)


def test_soft_iou_hand_value():
    # thesis Eq. 7.5: X = sum y p, U = sum (y + p - y p)
    p = torch.tensor([0.9, 0.2, 0.6, 0.1])
    y = torch.tensor([1.0, 0.0, 1.0, 1.0])
    X = (y * p).sum()
    U = (y + p - y * p).sum()
    logits = torch.log(p / (1 - p)).view(1, 1, 2, 2)
    val = SoftIoULoss(sigmoid=True, smooth_nr=1e-6, smooth_dr=1e-6)(logits, y.view(1, 1, 2, 2))
    torch.testing.assert_close(val, 1 - (X + 1e-6) / (U + 1e-6))


def test_weighted_bce_hand_value_and_ratio():
    p = torch.tensor([0.9, 0.2, 0.6, 0.1])
    y = torch.tensor([1.0, 0.0, 1.0, 0.0])
    logits = torch.log(p / (1 - p)).view(1, 1, 2, 2)
    t = y.view(1, 1, 2, 2)
    # thesis Eq. 7.4 with p_pos = object / background pixels = 2 / 2 = 1
    assert math.isclose(float(object_background_ratio(t)), 1.0, rel_tol=1e-5)
    ref = -(2.0 * y * torch.log(p) + (1 - y) * torch.log(1 - p)).mean()
    torch.testing.assert_close(WeightedBCELoss(p_pos=2.0)(logits, t), ref)
    # default: ratio from the target; unweighted equals torch BCE
    torch.testing.assert_close(
        WeightedBCELoss()(logits, t), F.binary_cross_entropy_with_logits(logits, t), atol=1e-5, rtol=1e-5
    )
    y3 = torch.tensor([1.0, 0.0, 0.0, 0.0]).view(1, 1, 2, 2)
    w = 1.0 / 3.0
    ref3 = F.binary_cross_entropy_with_logits(logits, y3, pos_weight=torch.tensor(w))
    torch.testing.assert_close(WeightedBCELoss()(logits, y3), ref3, atol=1e-5, rtol=1e-5)


def test_weighted_bce_ratio_is_per_channel():
    # 2 channels, batch 2, 2 pixels each: channel 0 has 1 object / 3 background pixels,
    # channel 1 has 3 / 1 (pooled over batch and space, not over channels)
    t = torch.tensor([[[1.0, 0.0], [1.0, 1.0]], [[0.0, 0.0], [0.0, 1.0]]]).view(2, 2, 2)
    t = t[..., None]  # [B=2, C=2, H=2, W=1]
    assert t[:, 0].sum() == 1 and t[:, 1].sum() == 3
    ratio = object_background_ratio(t, channel_dim=1)
    torch.testing.assert_close(ratio, torch.tensor([1 / 3, 3.0]), atol=1e-5, rtol=1e-5)
    assert math.isclose(float(object_background_ratio(t)), 1.0, rel_tol=1e-5)  # pooled
    logits = torch.tensor([0.5, -1.0, 2.0, 0.3, -0.7, 1.2, 0.1, -2.0]).view(2, 2, 2, 1)
    p = torch.sigmoid(logits)
    w = torch.tensor([1 / 3, 3.0]).view(1, 2, 1, 1)
    ref = -(w * t * torch.log(p) + (1 - t) * torch.log(1 - p))
    loss = WeightedBCELoss(reduction="none")
    torch.testing.assert_close(loss.pixelwise(logits, t), ref, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(WeightedBCELoss()(logits, t), ref.mean(), atol=1e-5, rtol=1e-5)


def test_bce_iou_hand_value():
    p = torch.tensor([0.9, 0.2, 0.6, 0.1])
    y = torch.tensor([1.0, 0.0, 1.0, 1.0])
    logits = torch.log(p / (1 - p)).view(1, 1, 2, 2)
    t = y.view(1, 1, 2, 2)
    bce = F.binary_cross_entropy(p, y)
    iou = ((y * p).sum() + 1e-5) / ((y + p - y * p).sum() + 1e-5)
    ref = bce - torch.log(2 * iou / (iou + 1))
    torch.testing.assert_close(BCEIoULoss()(logits, t), ref, atol=1e-5, rtol=1e-5)
    # 2 IoU / (IoU + 1) is the soft Dice: BCE - log(Dice) (thesis Eq. 7.7)
    dice = 2 * (y * p).sum() / (y.sum() + p.sum())
    torch.testing.assert_close(BCEIoULoss(smooth_nr=0, smooth_dr=0)(logits, t), bce - torch.log(dice), atol=1e-5, rtol=1e-5)


def test_losses_are_differentiable(data):
    x, y = data
    for loss in [DiceLoss(softmax=True, to_onehot_y=True), DiceCELoss(softmax=True, to_onehot_y=True),
                 SoftIoULoss(sigmoid=True, to_onehot_y=True), FocalTverskyLoss(softmax=True, to_onehot_y=True),
                 WeightedBCELoss(to_onehot_y=True), BCEIoULoss(to_onehot_y=True)]:
        xi = x.clone().requires_grad_(True)
        loss(xi, y).backward()
        assert torch.isfinite(xi.grad).all() and xi.grad.abs().sum() > 0, type(loss).__name__


def test_perfect_prediction_near_zero():
    y = torch.randint(0, 3, (2, 1, 5, 5), generator=torch.Generator().manual_seed(3))
    logits = F.one_hot(y[:, 0], 3).movedim(-1, 1).float() * 50
    assert float(DiceLoss(softmax=True, to_onehot_y=True)(logits, y)) < 1e-5
    assert float(SoftIoULoss(softmax=True, to_onehot_y=True)(logits, y)) < 1e-5


def test_loss_bad_args(data):
    x, y = data
    with pytest.raises(ValueError, match="mutually exclusive"):
        DiceLoss(sigmoid=True, softmax=True)
    with pytest.raises(ValueError, match="reduction"):
        DiceLoss(reduction="avg")
    with pytest.raises(ValueError, match="to_onehot_y"):
        DiceLoss(softmax=True)(x, y)
    with pytest.raises(ValueError, match=r"labels must be whole numbers in \[0, 2\]"):
        DiceLoss(softmax=True, to_onehot_y=True)(x, y + 5)
    with pytest.raises(ValueError, match="gamma"):
        FocalTverskyLoss(gamma=0)
    with pytest.raises(ValueError, match="p_pos"):
        WeightedBCELoss(p_pos=-1.0)
