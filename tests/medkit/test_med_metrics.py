import math

import pytest
import torch
from monai.metrics import compute_dice, compute_iou

from medkit.metrics import DiceMetric, IoUMetric, confusion_counts, dice, iou


def test_hand_values():
    pred = torch.tensor([[0, 1, 1, 2]])
    tgt = torch.tensor([[0, 1, 0, 2]])
    # class 0: P={0}, T={0,2}: dice 2/3, iou 1/2; class 1: P={1,2}, T={1}; class 2 exact
    torch.testing.assert_close(dice(pred, tgt, reduction="none"), torch.tensor([2 / 3, 2 / 3, 1.0]))
    torch.testing.assert_close(iou(pred, tgt, reduction="none"), torch.tensor([0.5, 0.5, 1.0]))
    assert math.isclose(float(iou(pred, tgt)), 2 / 3, rel_tol=1e-6)
    assert math.isclose(float(iou(pred, tgt, include_background=False)), 0.75, rel_tol=1e-6)


def test_absent_class_is_nan_and_skipped_in_mean():
    pred = torch.tensor([[0, 0, 1]])
    tgt = torch.tensor([[0, 0, 1]])
    d = dice(pred, tgt, num_classes=3, reduction="none")
    assert d[:2].tolist() == [1.0, 1.0] and math.isnan(d[2])
    assert float(dice(pred, tgt, num_classes=3)) == 1.0
    # predicted but absent from the target: 0, not nan
    assert float(iou(torch.tensor([[2, 0, 1]]), tgt, num_classes=3, reduction="none")[2]) == 0.0


def test_logits_and_onehot_inputs():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 4, 5, 6, generator=g)
    tgt = torch.randint(0, 4, (2, 5, 6), generator=g)
    oh = torch.nn.functional.one_hot(tgt, 4).movedim(-1, 1).float()
    a = dice(logits, tgt, reduction="none")
    torch.testing.assert_close(a, dice(logits.argmax(1), tgt, num_classes=4, reduction="none"))
    torch.testing.assert_close(a, dice(logits, oh, reduction="none"))
    torch.testing.assert_close(a, dice(logits.argmax(1), oh, reduction="none"))
    # single-channel logits: binary foreground = logit > 0
    b = torch.randn(2, 1, 5, 6, generator=g)
    bt = torch.randint(0, 2, (2, 5, 6), generator=g)
    torch.testing.assert_close(
        iou(b, bt, reduction="none"), iou((b[:, 0] > 0).long(), bt, num_classes=2, reduction="none")
    )


def test_per_image_matches_monai():
    g = torch.Generator().manual_seed(1)
    pred = torch.randint(0, 3, (4, 8, 8), generator=g)
    tgt = torch.randint(0, 3, (4, 8, 8), generator=g)
    P = torch.nn.functional.one_hot(pred, 3).movedim(-1, 1).float()
    T = torch.nn.functional.one_hot(tgt, 3).movedim(-1, 1).float()
    torch.testing.assert_close(
        dice(pred, tgt, per_image=True, reduction="none"), compute_dice(P, T).float(), atol=1e-6, rtol=1e-6
    )
    torch.testing.assert_close(
        iou(pred, tgt, per_image=True, reduction="none", include_background=False),
        compute_iou(P, T, include_background=False).float(), atol=1e-6, rtol=1e-6,
    )


def test_stateful_metric_pools_batches():
    g = torch.Generator().manual_seed(2)
    pred = torch.randint(0, 3, (6, 5, 5), generator=g)
    tgt = torch.randint(0, 3, (6, 5, 5), generator=g)
    m = DiceMetric(3, include_background=False, class_names=["bg", "a", "b"])
    m.update(pred[:2], tgt[:2])
    m.update(pred[2:], tgt[2:])
    res = m.compute()
    full = dice(pred, tgt, num_classes=3, reduction="none")
    assert set(res) == {"a", "b", "mean"}
    assert math.isclose(res["a"], float(full[1]), rel_tol=1e-6)
    assert math.isclose(res["mean"], float(full[1:].mean()), rel_tol=1e-6)
    im = IoUMetric(3)
    im.update(pred, tgt)
    torch.testing.assert_close(im.per_class(), iou(pred, tgt, num_classes=3, reduction="none"))
    m.reset()
    assert m.inter.sum() == 0


def test_confusion_counts_hand():
    inter, pc, tc = confusion_counts(torch.tensor([[0, 1, 1]]), torch.tensor([[1, 1, 0]]), 2)
    assert inter.tolist() == [0.0, 1.0] and pc.tolist() == [1.0, 2.0] and tc.tolist() == [1.0, 2.0]


def test_metric_bad_args():
    with pytest.raises(ValueError, match="reduction"):
        dice(torch.tensor([[0]]), torch.tensor([[0]]), reduction="max")
    with pytest.raises(ValueError, match=r"target labels must lie in \[0, 1\]"):
        iou(torch.tensor([[0, 1]]), torch.tensor([[0, 3]]), num_classes=2)
    with pytest.raises(ValueError, match="differ in shape"):
        iou(torch.tensor([[0, 1]]), torch.tensor([[0, 1, 1]]))
    with pytest.raises(ValueError, match="class_names"):
        DiceMetric(3, class_names=["a"])
