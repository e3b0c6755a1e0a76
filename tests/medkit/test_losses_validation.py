"""Bad and edge-case input to the medkit losses: a valid, non-negative loss or a clear error."""
import math

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from medkit.losses import (
    BCEIoULoss,
    DiceCELoss,
    DiceLoss,
    FocalTverskyLoss,
    SoftIoULoss,
    WeightedBCELoss,
    object_background_ratio,
)

LOSSES = {
    "dice": DiceLoss,
    "iou": SoftIoULoss,
    "tversky": FocalTverskyLoss,
    "dicece": DiceCELoss,
    "wbce": WeightedBCELoss,
    "bceiou": BCEIoULoss,
}
SIGMOID_ONLY = ("wbce", "bceiou")


@st.composite
def loss_case(draw):
    name = draw(st.sampled_from(sorted(LOSSES)))
    b = draw(st.integers(1, 3))
    c = draw(st.integers(1, 4))
    spatial = tuple(draw(st.lists(st.integers(1, 4), min_size=1, max_size=2)))
    act = "sigmoid" if name in SIGMOID_ONLY else draw(st.sampled_from(["sigmoid", "softmax"]))
    kw = dict(
        include_background=draw(st.booleans()),
        to_onehot_y=draw(st.booleans()),
        batch=draw(st.booleans()),
        reduction=draw(st.sampled_from(["mean", "sum"] if name == "dicece" else ["mean", "sum", "none"])),
    )
    kw[act] = True
    if name == "wbce":
        kw["p_pos"] = draw(st.one_of(st.none(), st.floats(0, 10)))
    # target: valid or corrupted labels / probabilities
    kind = draw(st.sampled_from(["labels", "float_labels", "probs"]))
    seed = draw(st.integers(0, 2**16))
    g = torch.Generator().manual_seed(seed)
    x = torch.randn((b, c) + spatial, generator=g) * draw(st.sampled_from([1.0, 30.0]))
    corrupt = draw(st.sampled_from([None, "negative", "above", "fraction", "nan"]))
    if kind == "probs":
        t = torch.rand((b, c) + spatial, generator=g)
        if draw(st.booleans()):
            t = (t > 0.5).float()
    else:
        t = torch.randint(0, c, (b, 1) + spatial, generator=g).float()
    if corrupt is not None:
        pos = tuple(0 for _ in t.shape)
        t[pos] = {"negative": -1.0, "above": float(c) + 0.0, "fraction": 0.6, "nan": float("nan")}[corrupt]
    if kind == "labels" and corrupt in (None, "negative", "above"):
        t = t.long()
    return name, kw, x, t


def _expected_errors(name, kw, x, t):
    """Independent oracle: the message fragments that may be raised (any one), empty if valid."""
    c = x.shape[1]
    errs = []
    if kw.get("softmax") and c == 1:
        errs.append("softmax=True needs more than one channel")
    if not kw["include_background"] and c == 1:
        errs.append("include_background=False needs more than one channel")
    if kw["to_onehot_y"] and t.shape[1] != 1:
        errs.append("to_onehot_y=True needs label targets")
    elif t.shape[1] != c and not kw["to_onehot_y"]:
        errs.append("does not match input")
    labels = kw["to_onehot_y"] and t.shape[1] == 1 and c > 1
    v = t.double()
    if labels:
        ok = bool(torch.isfinite(v).all()) and bool((v == v.round()).all()) and v.min() >= 0 and v.max() <= c - 1
    else:
        ok = bool(torch.isfinite(v).all()) and v.min() >= 0 and v.max() <= 1
    if not ok:
        errs.append("target")
    return errs


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(loss_case())
def test_losses_give_a_valid_result_or_a_clear_error(case):
    name, kw, x, t = case
    loss = LOSSES[name](**kw)
    expected = _expected_errors(name, kw, x, t)
    if not expected:
        out = loss(x, t)
        assert torch.isfinite(out).all(), (name, kw, out)
        assert bool((out >= -1e-5).all()), (name, kw, out)  # every family is a non-negative loss
    else:
        with pytest.raises(ValueError, match="|".join(expected)):
            loss(x, t)


@settings(max_examples=60, deadline=None)
@given(
    st.sampled_from(sorted(LOSSES)),
    st.sampled_from(["smooth_nr", "smooth_dr", "gamma", "alpha", "beta", "p_pos", "lambda_dice", "lambda_ce"]),
    st.sampled_from([float("nan"), float("inf"), float("-inf"), -1.0, "1", True]),
)
def test_bad_numeric_arguments_are_named(name, arg, value):
    own = {
        "tversky": ("gamma", "alpha", "beta"),
        "wbce": ("p_pos",),
        "bceiou": ("p_pos",),
        "dicece": ("lambda_dice", "lambda_ce"),
    }
    if arg not in ("smooth_nr", "smooth_dr") and arg not in own.get(name, ()):
        return
    kw = {arg: value}
    if name in SIGMOID_ONLY:
        kw.setdefault("sigmoid", True)
    with pytest.raises(ValueError, match=f"{arg} must be a finite number"):
        LOSSES[name](**kw)


# ----------------------------------------------------------------------------- regressions


def test_negative_target_is_rejected_not_a_negative_loss():
    x = torch.randn(1, 2, 4, 4)
    t = torch.zeros(1, 2, 4, 4)
    t[0, 1, 0, 0] = -1.0
    with pytest.raises(ValueError, match=r"target must hold one-hot or probabilistic values in \[0, 1\].*-1"):
        DiceCELoss(softmax=True)(x, t)


def test_target_above_one_is_rejected():
    with pytest.raises(ValueError, match=r"\[0, 1\].*got range \[2, 2\]"):
        DiceLoss(sigmoid=True)(torch.randn(1, 1, 3, 3), torch.full((1, 1, 3, 3), 2.0))


def test_fractional_label_is_rejected_not_class_zero():
    t = torch.zeros(1, 1, 2, 2)
    t[0, 0, 0, 0] = 0.6
    with pytest.raises(ValueError, match=r"non-integral labels .*\[0, 2\].*0.6"):
        DiceLoss(softmax=True, to_onehot_y=True)(torch.randn(1, 3, 2, 2), t)


def test_nan_target_is_rejected():
    t = torch.zeros(1, 1, 2, 2)
    t[0, 0, 1, 1] = float("nan")
    with pytest.raises(ValueError, match="with NaN"):
        WeightedBCELoss()(torch.randn(1, 1, 2, 2), t)


@pytest.mark.parametrize("shape", [(0, 2, 4, 4), (2, 2, 0, 4)])
def test_empty_batch_is_rejected(shape):
    with pytest.raises(ValueError, match="input must not be empty"):
        DiceLoss(softmax=True, to_onehot_y=True)(torch.randn(shape), torch.zeros(shape[0], 1, *shape[2:]))


def test_nan_gamma_and_p_pos_are_rejected():
    with pytest.raises(ValueError, match="gamma must be a finite number > 0, got nan"):
        FocalTverskyLoss(gamma=float("nan"))
    with pytest.raises(ValueError, match="p_pos must be a finite number >= 0, got nan"):
        WeightedBCELoss(p_pos=float("nan"))


def test_all_foreground_mask_gives_plain_bce():
    # before: p_pos = n_obj / eps made the loss about 4e9 times plain BCE
    x = torch.randn(2, 1, 8, 8)
    t = torch.ones(2, 1, 8, 8)
    plain = torch.nn.functional.binary_cross_entropy_with_logits(x, t)
    torch.testing.assert_close(WeightedBCELoss(p_pos=None)(x, t), plain)
    auto = BCEIoULoss(p_pos=None)(x, t)
    assert math.isfinite(float(auto)) and float(auto) < float(plain) + 5
    assert float(object_background_ratio(t)) == 1.0
    # a channel without objects keeps weight 0, a mixed one the thesis ratio
    t2 = torch.zeros(1, 2, 2, 2)
    t2[0, 1] = torch.tensor([[1.0, 1.0], [1.0, 0.0]])
    torch.testing.assert_close(object_background_ratio(t2, channel_dim=1), torch.tensor([0.0, 3.0]))


def test_check_target_false_skips_the_check():
    t = torch.full((1, 1, 2, 2), 0.5)  # fine as probabilities
    DiceLoss(sigmoid=True, check_target=False)(torch.randn(1, 1, 2, 2), t)
    with pytest.raises(ValueError, match="check_target must be a bool"):
        DiceLoss(check_target="no")
