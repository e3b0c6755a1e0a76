"""U-Net vs Y-Net on synthetic OCT B-scans (thesis ch. 8, Tables 8.1, 8.3 and 8.4).

Trains a U-Net and a Y-Net of equal width with Dice + cross-entropy (weights 1, 1; Adam,
weight decay 1e-4 as in the thesis, lr 3e-3 for the short budgets) on seeded synthetic OCT
scans, then reports per-class Dice on held-out scans (Table 8.1 layout), an ablation of
``alpha`` (Table 8.3, with the plain-convolution second encoder as first row) and of the
frequency band of the Fourier units (Table 8.4: thesis value-band semantics
``keep(-10, 10)`` / ``remove(-10, 10)``, plus removing the low spatial-frequency band
``|k| <= 4``), and checks the thesis direction over seeds (``results["direction"]``, see
below). Y-Net's spatial encoder is identical to the U-Net's by default (``--spatial-widths
unet``, the thesis text); ``--spatial-widths reference`` gives the reference code's narrower
last level.

Defaults. Full budget: the pre-registered vessel-shadow configuration below (turbid fluid,
2 vessel shadows per scan, 64 training / 32 test scans of 96x192, width 8, batch 8,
300 steps, lr 3e-3), tables on ``--seed``, direction check on seeds ``seed .. seed+2``
(about 30 min on one core). ``--quick``: the same data at 48x96 (96 training scans,
200 steps, one direction seed; about 2 min on 2 cores).

Training recipe. With the thesis loss as is (unweighted CE + per-scan Dice, ``--plain-loss``)
fluid (3 % of the pixels, the last class learned) was an initialisation lottery for both
networks (Dice about 0 or about 0.85 per seed). Weighting the cross-entropy by
``sqrt(f_max / f_c)`` and pooling the Dice over the mini-batch (:func:`train` defaults)
learns fluid on every seed tried.

Synthetic data (:func:`medkit.datasets.synthetic_oct`). ``--fluid-model``: ``turbid``
(default; fluid speckled like tissue with the ONL's texture, mean 0.23 vs ONL 0.26 / INL
0.32: a pocket is identifiable only by its lower mean over many speckle grains),
``texture`` (speckle-free, low-frequency fluid, its mean inside the INL/ONL range) or
``dark`` (intensity-separable). ``--shadows``: expected number of retinal vessel shadows per
scan (vertical bands attenuated to 40-60 % from a vessel in the NFL-IPL to the bottom of the
image, speckle kept; a realistic confounder: locally, shadowed INL/ONL looks like a dark
pocket, telling them apart needs vertical context over the retina's depth).

Thesis directions (Y-Net better on fluid, Table 8.1; removing the band hurts fluid,
Table 8.4). Criterion, fixed before the shadow grid was run (:func:`direction_check`): Y-Net's
mean fluid Dice over 3 seeds above the U-Net's, Y-Net ahead on >= 2 of 3 seeds, zeroing
Y-Net's spectral features at test time (:func:`evaluate_without_spectral`) lowers its fluid
Dice on >= 2 of 3 seeds, and ``remove(-10,10)`` lowers the mean. All budgets below: width 8,
batch 8, lr 3e-3, weight decay 1e-4, seeds 0/1/2, one thread; fluid Dice per seed (mean).

A. Texture fluid, 48x96, 64 training scans, 150 steps (the slow test's budget):

======================  =====================  ======
model                   fluid Dice per seed    mean
======================  =====================  ======
U-Net                   0.845 / 0.901 / 0.919  0.888
Y-Net (alpha 0.5)       0.892 / 0.883 / 0.907  0.894
Y-Net remove(-10,10)    0.885 / 0.890 / 0.871  0.882
Y-Net remove |k|<=4     0.896 / 0.894 / 0.917  0.902
======================  =====================  ======

Variants at this size (U-Net / Y-Net means): no weight decay 0.902 / 0.890 (``remove(-10,10)``
0.884, ``|k|<=4`` 0.883); 16 training scans, 100 steps 0.838 / 0.567 (Y-Net seed 1 never
learned fluid); ``noise=0.12`` 0.797 / 0.729. Fluid 0.27 with 35 % speckle (seed 0): U-Net
0.859, Y-Net 0.851.

B. Larger scans, 64 training scans, 150 steps:

=========================  =====================  =====================  =====================
model                      turbid 96x192          turbid 128x256         texture 96x192
=========================  =====================  =====================  =====================
U-Net                      0.015 / 0.781 / 0.780  0.000 / 0.765 / 0.830  0.914 (seed 0)
Y-Net (alpha 0.5)          0.750 / 0.723 / 0.649  0.797 / 0.798 / 0.829  0.952 (seed 0)
Y-Net remove(-10,10)       0.780 / 0.784 / 0.660  0.703 / 0.813 / 0.846
Y-Net remove |k|<=4        0.774 / 0.779 / 0.663
=========================  =====================  =====================  =====================

Means: turbid 96x192 U-Net 0.525, Y-Net 0.707, ``remove(-10,10)`` 0.741, ``|k|<=4`` 0.739;
turbid 128x256 0.532 / 0.808 / 0.788. Y-Net's higher means come from U-Net runs that never
learned fluid at 150 steps (seed 0), not from the spectral branch (see the diagnosis).

C. Pre-registered vessel-shadow grid (the defaults): 2 shadows per scan, 96x192, 64 training
/ 32 test scans, 300 steps, about 95-115 s per training. "0 bneck": fluid Dice with the
bottleneck output zeroed at test time (:func:`evaluate_without_bottleneck`), "0 spec": with
Y-Net's spectral features zeroed.

====================  =============================  =====================  =====================
turbid fluid          fluid Dice per seed (mean)     0 bneck                0 spec
====================  =============================  =====================  =====================
U-Net                 0.781 / 0.754 / 0.703 (0.746)  0.781 / 0.752 / 0.698
Y-Net (alpha 0.5)     0.755 / 0.757 / 0.774 (0.762)  0.758 / 0.756 / 0.771  0.751 / 0.757 / 0.762
Y-Net remove(-10,10)  0.799 / 0.678 / 0.792 (0.756)  0.799 / 0.674 / 0.785  0.799 / 0.681 / 0.787
Y-Net remove |k|<=4   0.794 / 0.700 / 0.724 (0.739)  0.792 / 0.755 / 0.765  0.787 / 0.756 / 0.717
====================  =============================  =====================  =====================

====================  =============================  =====================  =====================
texture fluid         fluid Dice per seed (mean)     0 bneck                0 spec
====================  =============================  =====================  =====================
U-Net                 0.944 / 0.953 / 0.955 (0.951)  0.944 / 0.953 / 0.955
Y-Net (alpha 0.5)     0.951 / 0.952 / 0.960 (0.954)  0.951 / 0.951 / 0.960  0.951 / 0.952 / 0.960
Y-Net remove(-10,10)  0.947 / 0.944 / 0.960 (0.950)  0.947 / 0.943 / 0.960  0.947 / 0.943 / 0.960
Y-Net remove |k|<=4   0.951 / 0.953 / 0.961 (0.955)  0.951 / 0.953 / 0.961  0.951 / 0.953 / 0.961
====================  =============================  =====================  =====================

Verdict on C: the pre-registered criterion holds *nominally* for both fluid models, so the
configuration (with turbid fluid, the primary one of the pre-registration) is the default.
But a branch whose removal changes fluid Dice by 0.0002 is not "used", so after the grid a
fifth criterion was added: zeroing the spectral features must lower the mean fluid Dice by
at least ``min_effect = 0.01``. With it the grid is NOT reproduced (turbid: mean drop 0.005;
texture: under 0.001); ``results["direction"]`` reports both ``nominal`` (the four
pre-registered criteria) and ``reproduced`` (all five), computed from each run, never set
by hand. The margins are tiny: turbid, Y-Net ahead by
0.016 in the mean (on seed 1 by 0.003), zeroing its spectral features lowers fluid Dice by
0.003 / 0.0002 / 0.012 and ``remove(-10,10)`` lowers the mean only through seed 1 (-0.079;
+0.044 and +0.018 on seeds 0 and 2); texture, Y-Net ahead by 0.004, spectral zeroing
changes fluid Dice by 3e-5 to 2e-4, ``remove(-10,10)`` -0.004. All are well inside the
seed spread (0.05 for turbid), and the networks do not use their bottleneck (next section),
so this is not evidence that the spectral branch helps.

Diagnosis: the decoders ignore their deepest level, so features that join only at the
bottleneck (Y-Net's spectral encoder) cannot matter.

- Zeroing the bottleneck output at test time changes fluid Dice by <= 0.013 for *both*
  networks in every configuration of A and B (e.g. turbid 96x192: U-Net 0.015 / 0.781 /
  0.780 -> 0.016 / 0.782 / 0.774, Y-Net 0.750 / 0.723 / 0.649 -> 0.749 / 0.724 / 0.640),
  zeroing only Y-Net's spectral features by <= 0.04, in either sign (turbid 128x256: 0.797 /
  0.798 / 0.829 -> 0.791 / 0.795 / 0.838). In the U-Net (A), zeroing the up-path into
  decoder level 3 or 2 leaves fluid Dice at 0.88, into level 1 drops it to 0.20: the
  networks segment from the level 0-2 features (receptive field about 40 px, enough for the
  local intensity/speckle contrast that sets fluid apart), and Adam's coupled L2 weight decay
  drives the unused deepest up-convolution to ``|w|`` about 0.003. Without weight decay the
  bottleneck is used a little (zeroing the spectral features: -0.017 / -0.006 / +0.001) but
  the direction does not appear. The FFC global paths do receive gradients (about
  1e-6..4e-5 per weight after 30 steps).
- Vessel shadows (C) were meant to make wide vertical context necessary. They do act as a
  confounder: the rate of non-fluid INL..ONL pixels predicted as fluid is up to about twice
  as high under shadows as outside them (turbid seeds 1/2: U-Net 0.077 vs 0.045 and 0.041
  vs 0.009, Y-Net 0.026 vs 0.018 and 0.145 vs 0.069; post hoc, not part of the criterion).
  But the pre-registered mechanism check failed: zeroing the U-Net's bottleneck (turbid,
  seed 0) changes fluid Dice by < 0.0001 with shadows (0.781) and by 0.002 without (0.737),
  far from the 0.05 that would show use. Across C it changes fluid Dice of U-Net and Y-Net
  by <= 0.005 (turbid) and <= 0.001 (texture); only Y-Net ``remove |k|<=4`` (turbid seeds
  1/2) uses its deepest level, and zeroing it *raises* fluid Dice by 0.055 / 0.040. A
  40-60 % attenuation makes shadowed tissue (about 0.10-0.19) darker than turbid fluid
  (0.23), which is visible locally; weaker shadows were not tried (not pre-registered).

Conclusion: on this synthetic data and at these budgets the U-Net/Y-Net differences are
optimisation noise of two networks whose deepest level is unused; the global Fourier
features cannot act through a bottleneck the decoder ignores. The pre-registered shadow
grid passes the four pre-registered criteria nominally (``nominal`` in ``results.json``) but
without a working mechanism, so ``reproduced`` is false; the slow test asserts no direction.

Real data. ``--duke DIR`` runs the same tables and direction check on the Duke DME data set
(``DIR/Subject_01.mat`` .. ``Subject_10.mat``, read from local files with
:class:`medkit.datasets.DukeOCT`: subjects 1-6 train, 9-10 test, 224x224, labels resized
nearest-neighbour) with the thesis recipe (batch 10, lr 5e-4, weight decay 1e-4, 80 epochs,
width 32; seeds vary the initialisation only). Not run here: the data cannot be downloaded
at run time, so the thesis direction on real scans is still to be checked by a user who has
the files.

Usage::

    python examples/oct_ynet.py --out runs/oct_ynet --quick
    python examples/oct_ynet.py --out runs/oct_duke --duke /path/to/duke   # real data

Writes ``results.json`` and ``qualitative.png``, ``ablations.png`` to ``--out``.
"""
from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import torch
from torch import nn
from tqdm import tqdm

from medkit.datasets import OCT_CLASSES, DukeOCT, synthetic_oct
from medkit.losses import DiceCELoss
from medkit.metrics import DiceMetric
from medkit.nn import UNet, YNet, count_parameters

CLASSES = list(OCT_CLASSES[1:])  # Table 8.1 columns: 7 layers + Fluid
#: fluid Dice of the pre-registered vessel-shadow grid (turbid fluid, 2 shadows per scan,
#: default full budget), seeds 0, 1, 2 (module docstring)
MEASURED_FLUID_DICE = {
    "UNet": [0.781, 0.754, 0.703],
    "YNet": [0.755, 0.757, 0.774],
    "YNet without spectral": [0.751, 0.757, 0.762],
    "YNet remove(-10,10)": [0.799, 0.678, 0.792],
    "YNet remove |k|<=4": [0.794, 0.700, 0.724],
}


def train(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    steps: int,
    batch_size: int,
    seed: int,
    lr: float = 5e-4,
    weight_decay: float = 1e-4,
    balanced: bool = True,
    batch_dice: bool = True,
    progress: bool = True,
    desc: str = "",
) -> list[float]:
    """Train ``model`` with Dice+CE for ``steps`` mini-batches; returns the loss curve.

    ``balanced`` weights the cross-entropy by :func:`class_weights` of ``labels`` and
    ``batch_dice`` pools the Dice sums over the mini-batch (one Dice per class, so scans
    without fluid do not contribute a degenerate empty-class Dice term). Without both
    (the plain thesis loss) fluid, 3 % of the pixels and the last class to be learned, was
    learned or not depending on the initialisation at the quick budget (fluid Dice about
    0 or about 0.85 per seed); with both it is learned on every seed tried.
    """
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    loss_fn = DiceCELoss(
        softmax=True, to_onehot_y=True, lambda_dice=1.0, lambda_ce=1.0, batch=batch_dice,
        ce_weight=class_weights(labels, len(OCT_CLASSES)) if balanced else None,
    )
    model.train()
    losses = []
    n = images.shape[0]
    for _ in tqdm(range(steps), desc=desc, disable=not progress, leave=False):
        idx = torch.randint(0, n, (batch_size,), generator=g)
        x, y = images[idx], labels[idx]
        if torch.rand((), generator=g) < 0.5:  # horizontal flip augmentation
            x, y = x.flip(-1), y.flip(-1)
        loss = loss_fn(model(x), y[:, None])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    return losses


def class_weights(labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Cross-entropy class weights ``sqrt(f_max / f_c)`` from the pixel frequencies ``f_c``."""
    freq = torch.bincount(labels.flatten(), minlength=num_classes).double().clamp_min(1)
    freq = freq / freq.sum()
    return (freq.max() / freq).sqrt().float()


@torch.no_grad()
def evaluate(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> dict[str, float]:
    """Per-class Dice (pixels pooled over the test scans) and their mean (Table 8.1)."""
    model.eval()
    metric = DiceMetric(len(OCT_CLASSES), include_background=False, class_names=list(OCT_CLASSES))
    for i in range(0, images.shape[0], 16):
        metric.update(model(images[i : i + 16]), labels[i : i + 16])
    return metric.compute()


@torch.no_grad()
def evaluate_without_spectral(
    model: YNet, images: torch.Tensor, labels: torch.Tensor
) -> dict[str, float]:
    """:func:`evaluate` with Y-Net's spectral-encoder output replaced by zeros (test time).

    Measures how much the trained decoder relies on the spectral branch: a Dice close to
    :func:`evaluate`'s means the branch is not used.
    """
    orig = model.encode_spectral
    model.encode_spectral = lambda x: torch.zeros_like(orig(x))  # type: ignore[method-assign]
    try:
        return evaluate(model, images, labels)
    finally:
        del model.encode_spectral  # back to the class method


@torch.no_grad()
def predict(model: nn.Module, images: torch.Tensor) -> torch.Tensor:
    model.eval()
    return model(images).argmax(1)


def table(rows: dict[str, dict[str, float]], title: str) -> str:
    head = f"{'':<18}" + "".join(f"{c:>9}" for c in CLASSES + ["mean"])
    lines = [title, head]
    for name, d in rows.items():
        lines.append(f"{name:<18}" + "".join(f"{d[c]:>9.3f}" for c in CLASSES + ["mean"]))
    return "\n".join(lines)


@torch.no_grad()
def evaluate_without_bottleneck(
    model: nn.Module, images: torch.Tensor, labels: torch.Tensor
) -> dict[str, float]:
    """:func:`evaluate` with the output of ``model.bottleneck`` replaced by zeros (test time).

    Works for :class:`~medkit.nn.UNet` and :class:`~medkit.nn.YNet`: a Dice close to
    :func:`evaluate`'s means the decoder does not use its deepest level.
    """
    handle = model.bottleneck.register_forward_hook(lambda m, i, o: torch.zeros_like(o))
    try:
        return evaluate(model, images, labels)
    finally:
        handle.remove()


def direction_check(per_seed: dict[int, dict[str, float]], min_effect: float = 0.01) -> dict:
    """The thesis direction, decided from measured fluid Dice over seeds.

    Args:
        per_seed: for every seed, fluid Dice of ``"UNet"``, ``"YNet"``, ``"YNet without
            spectral"`` (:func:`evaluate_without_spectral`) and ``"YNet remove(-10,10)"``.
        min_effect: smallest mean fluid-Dice drop from zeroing Y-Net's spectral features
            that counts as the spectral branch being used (``0.01``).

    Returns:
        The five criteria and ``reproduced`` (all five hold): Y-Net's mean fluid Dice above
        the U-Net's; Y-Net ahead on at least two thirds of the seeds (2 of 3); zeroing
        Y-Net's spectral features lowers its fluid Dice on at least two thirds of the seeds;
        that drop is at least ``min_effect`` in the mean (added after the shadow grid, whose
        drops of 0.0002-0.012 passed the per-seed criterion while the branch was unused);
        the value band ``remove(-10,10)`` lowers the mean fluid Dice. ``nominal`` is the
        conjunction of the four pre-registered criteria (without ``min_effect``).

    Raises:
        ValueError: for an empty ``per_seed`` or a negative ``min_effect``.
    """
    seeds = sorted(per_seed)
    if not seeds:
        raise ValueError("per_seed must hold at least one seed, got none")
    if not min_effect >= 0:
        raise ValueError(f"min_effect must be >= 0, got {min_effect!r}")
    need = math.ceil(2 * len(seeds) / 3)

    def mean(key: str) -> float:
        return sum(per_seed[s][key] for s in seeds) / len(seeds)

    def wins(better: str, worse: str) -> int:
        return sum(per_seed[s][better] > per_seed[s][worse] for s in seeds)

    crit = {
        "ynet_mean_above_unet": mean("YNet") > mean("UNet"),
        "ynet_ahead_on_most_seeds": wins("YNet", "UNet") >= need,
        "zeroing_spectral_lowers_on_most_seeds": wins("YNet", "YNet without spectral") >= need,
        "band_removal_lowers_mean": mean("YNet remove(-10,10)") < mean("YNet"),
    }
    nominal = all(crit.values())
    crit["spectral_drop_at_least_min_effect"] = (
        mean("YNet") - mean("YNet without spectral") >= min_effect
    )
    return {
        "seeds": seeds,
        "fluid_dice": {str(s): per_seed[s] for s in seeds},
        "mean_fluid_dice": {k: mean(k) for k in per_seed[seeds[0]]},
        **crit,
        "min_effect": min_effect,
        "nominal": nominal,
        "reproduced": all(crit.values()),
    }


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", default="runs/oct_ynet", help="output directory")
    p.add_argument("--quick", action="store_true", help="reduced budget (about 2 min on 2 cores)")
    p.add_argument("--seed", type=int, default=0, help="seed of the tables (and first direction seed)")
    p.add_argument(
        "--direction-seeds", type=int, default=None,
        help="number of seeds (seed, seed+1, ...) for the direction check (default: 3, "
        "--quick: 1); U-Net, Y-Net and Y-Net remove(-10,10) are trained on each",
    )
    p.add_argument("--steps", type=int, default=None, help="training steps per model")
    p.add_argument("--width", type=int, default=None, help="base channels of both networks")
    p.add_argument("--lr", type=float, default=None, help="Adam learning rate (thesis: 5e-4)")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: default)")
    p.add_argument(
        "--spatial-widths", choices=["unet", "reference"], default="unet",
        help="Y-Net spatial encoder: identical to the U-Net's (thesis text) or the reference "
        "code's narrower last level",
    )
    p.add_argument(
        "--plain-loss", action="store_true",
        help="the thesis loss as is: unweighted CE and per-scan Dice (fluid becomes an "
        "initialisation lottery at the quick budget)",
    )
    p.add_argument(
        "--fluid-model", choices=["texture", "dark", "turbid"], default="turbid",
        help="synthetic fluid: 'turbid' (default: tissue-like speckle, slightly darker), "
        "'texture' (speckle-free, low-frequency) or 'dark'",
    )
    p.add_argument(
        "--shadows", type=float, default=2.0,
        help="expected number of retinal vessel shadows per scan, train and test scans "
        "(default 2; see medkit.datasets.synthetic_oct)",
    )
    p.add_argument(
        "--duke", type=Path, default=None,
        help="directory with the Duke DME files Subject_01.mat .. Subject_10.mat: train on "
        "subjects 1-6, test on 9-10 at 224x224 with the thesis recipe (batch 10, lr 5e-4, "
        "80 epochs, width 32) instead of synthetic scans",
    )
    p.add_argument("--no-progress", action="store_true")
    args = p.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    progress = not args.no_progress

    duke: tuple[torch.Tensor, ...] | None = None
    if args.duke is not None:  # real data, thesis protocol (section 8.4.1)
        tr, te = DukeOCT(args.duke, "train"), DukeOCT(args.duke, "test")
        duke = (tr.images, tr.labels, te.images, te.labels)
        n_train, n_test = len(tr), len(te)
        h, w = tr.images.shape[-2:]
        batch = 10
        steps = args.steps or (10 if args.quick else 80 * math.ceil(n_train / batch))
        width = args.width or (8 if args.quick else 32)
        alphas = [0.0, 0.5, 1.0] if args.quick else [0.0, 0.25, 0.5, 0.75, 1.0]
        n_seeds = args.direction_seeds or (1 if args.quick else 3)
    elif args.quick:
        n_train, n_test, h, w = 96, 32, 48, 96
        steps, width, batch = args.steps or 200, args.width or 8, 8
        alphas = [0.0, 0.5, 1.0]
        n_seeds = args.direction_seeds or 1
    else:  # the pre-registered vessel-shadow configuration (module docstring)
        n_train, n_test, h, w = 64, 32, 96, 192
        steps, width, batch = args.steps or 300, args.width or 8, 8
        alphas = [0.0, 0.25, 0.5, 0.75, 1.0]
        n_seeds = args.direction_seeds or 3
    # few steps on synthetic scans: a larger step size than the thesis' 5e-4
    lr = args.lr or (5e-4 if duke is not None else 3e-3)
    if n_seeds < 1:
        raise ValueError(f"--direction-seeds must be >= 1, got {n_seeds}")
    t0 = time.time()
    dkw = dict(height=h, width=w, fluid_model=args.fluid_model, shadows=args.shadows)

    def data(seed: int) -> tuple[torch.Tensor, ...]:
        if duke is not None:  # fixed split; the seed varies the initialisation and batches
            return duke
        x_tr, y_tr, _ = synthetic_oct(n_train, seed=seed, **dkw)
        x_te, y_te, _ = synthetic_oct(n_test, seed=seed + 10_000, **dkw)
        return x_tr, y_tr, x_te, y_te

    source = (f"Duke DME {args.duke}" if duke is not None else
              f"{args.fluid_model} fluid, {args.shadows:g} vessel shadows per scan")
    print(f"data: {n_train} train / {n_test} test scans of {h}x{w} ({source}), "
          f"{steps} steps per model")

    def run(name: str, factory, seed: int, d: tuple[torch.Tensor, ...]) -> tuple[dict, nn.Module]:
        x_tr, y_tr, x_te, y_te = d
        torch.manual_seed(seed)
        model = factory()
        t = time.time()
        curve = train(
            model, x_tr, y_tr, steps=steps, batch_size=batch, seed=seed,
            lr=lr, balanced=not args.plain_loss, batch_dice=not args.plain_loss,
            progress=progress, desc=f"{name} seed {seed}",
        )
        res = {
            "dice": evaluate(model, x_te, y_te),
            "params": count_parameters(model),
            "final_loss": sum(curve[-20:]) / len(curve[-20:]),
            "train_seconds": time.time() - t,
        }
        print(f"  {name:<22} seed {seed}  fluid {res['dice']['Fluid']:.3f}  mean "
              f"{res['dice']['mean']:.3f}  ({res['train_seconds']:.0f}s)")
        return res, model

    kw = dict(base_channels=width, depth=4)
    ykw = dict(kw, spatial_widths=args.spatial_widths)
    rm10 = dict(band=(-10.0, 10.0), band_action="remove", band_domain="value")

    def unet_f():
        return UNet(1, len(OCT_CLASSES), **kw)

    def ynet_f():
        return YNet(1, len(OCT_CLASSES), alpha=0.5, **ykw)

    d0 = data(args.seed)
    x_te, y_te = d0[2], d0[3]
    results: dict = {}
    results["UNet"], unet = run("UNet", unet_f, args.seed, d0)
    results["YNet"], ynet = run("YNet", ynet_f, args.seed, d0)

    alpha_rows = {"no FFC (conv)": run("YNet conv encoder", lambda: YNet(1, len(OCT_CLASSES), spectral="conv", **ykw), args.seed, d0)[0]}
    for a in alphas:
        if a == 0.5:
            alpha_rows["alpha=0.5"] = results["YNet"]
            continue
        alpha_rows[f"alpha={a}"] = run(f"YNet alpha={a}", lambda a=a: YNet(1, len(OCT_CLASSES), alpha=a, **ykw), args.seed, d0)[0]
    band_rows = {"no change": results["YNet"]}
    bands = [
        ("keep(-10,10)", dict(band=(-10.0, 10.0), band_action="keep", band_domain="value")),
        ("remove(-10,10)", rm10),
        ("remove |k|<=4", dict(band=(0.0, 4.0), band_action="remove", band_domain="frequency")),
    ]
    for name, bkw in bands:
        band_rows[name] = run(f"YNet {name}", lambda bkw=bkw: YNet(1, len(OCT_CLASSES), alpha=0.5, **ykw, **bkw), args.seed, d0)[0]

    print(table({"UNet": results["UNet"]["dice"], "YNet": results["YNet"]["dice"]}, "\nTable 8.1 (synthetic OCT, Dice)"))
    print(table({k: v["dice"] for k, v in alpha_rows.items()}, "\nTable 8.3 (alpha ablation)"))
    print(table({k: v["dice"] for k, v in band_rows.items()}, "\nTable 8.4 (frequency band)"))
    print(f"\nparameters: UNet {results['UNet']['params']:,}  YNet {results['YNet']['params']:,}")

    # direction check over seeds, with the test-time ablations (bottleneck / spectral zeroed)
    per_seed: dict[int, dict[str, float]] = {}
    for seed in range(args.seed, args.seed + n_seeds):
        if seed == args.seed:
            d, (ru, u), (ry, y), rr = d0, (results["UNet"], unet), (results["YNet"], ynet), band_rows["remove(-10,10)"]
        else:
            d = data(seed)
            ru, u = run("UNet", unet_f, seed, d)
            ry, y = run("YNet", ynet_f, seed, d)
            rr = run("YNet remove(-10,10)", lambda: YNet(1, len(OCT_CLASSES), alpha=0.5, **ykw, **rm10), seed, d)[0]
        xt, yt = d[2], d[3]
        per_seed[seed] = {  # Dice of the trained models from run(); ablations evaluated here
            "UNet": ru["dice"]["Fluid"],
            "YNet": ry["dice"]["Fluid"],
            "YNet without spectral": evaluate_without_spectral(y, xt, yt)["Fluid"],
            "YNet remove(-10,10)": rr["dice"]["Fluid"],
            "UNet without bottleneck": evaluate_without_bottleneck(u, xt, yt)["Fluid"],
            "YNet without bottleneck": evaluate_without_bottleneck(y, xt, yt)["Fluid"],
        }
    direction = direction_check(per_seed)
    print(f"\ndirection (fluid Dice, seeds {direction['seeds']}): "
          + ", ".join(f"{k} {v:.3f}" for k, v in direction["mean_fluid_dice"].items())
          + f"; nominal: {direction['nominal']}, reproduced: {direction['reproduced']}")

    results["alpha_ablation"] = {k: {"dice": v["dice"], "params": v["params"]} for k, v in alpha_rows.items()}
    results["band_ablation"] = {k: {"dice": v["dice"], "params": v["params"]} for k, v in band_rows.items()}
    results["config"] = {
        "quick": args.quick, "seed": args.seed, "direction_seeds": n_seeds, "steps": steps,
        "batch_size": batch, "lr": lr, "base_channels": width, "train_scans": n_train,
        "test_scans": n_test, "height": h, "width": w, "spatial_widths": args.spatial_widths,
        "plain_loss": args.plain_loss, "fluid_model": args.fluid_model,
        "shadows": args.shadows, "duke": None if duke is None else str(args.duke),
        "seconds": time.time() - t0,
    }
    results["direction"] = {
        **direction,
        "band_fluid_dice": {k: v["dice"]["Fluid"] for k, v in band_rows.items()},
        # the pre-registered shadow grid behind the defaults (module docstring)
        "measured_turbid_shadows_seeds_0_1_2": MEASURED_FLUID_DICE,
    }
    (out / "results.json").write_text(json.dumps(results, indent=2))
    plot(out, x_te, y_te, unet, ynet, alpha_rows, band_rows)
    print(f"wrote {out / 'results.json'} in {time.time() - t0:.0f}s")
    return results


def plot(out: Path, x, y, unet, ynet, alpha_rows, band_rows) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    has_fluid = (y == len(OCT_CLASSES) - 1).flatten(1).sum(1)
    idx = has_fluid.argsort(descending=True)[:3]
    pu, py = predict(unet, x[idx]), predict(ynet, x[idx])
    fig, axes = plt.subplots(len(idx), 4, figsize=(14, 2.6 * len(idx)), squeeze=False)
    for r, i in enumerate(idx.tolist()):
        for c, (im, title) in enumerate(
            [(x[i, 0], "B-scan"), (y[i], "ground truth"), (pu[r], "U-Net"), (py[r], "Y-Net")]
        ):
            ax = axes[r, c]
            if c == 0:
                ax.imshow(im, cmap="gray")
            else:
                ax.imshow(im, cmap="tab10", vmin=0, vmax=9, interpolation="nearest")
            ax.set_title(title)
            ax.axis("off")
    fig.tight_layout()
    fig.savefig(out / "qualitative.png", dpi=100)
    plt.close(fig)

    fig, axes = plt.subplots(1, 2, figsize=(12, 4))
    for ax, rows, title in ((axes[0], alpha_rows, "alpha (Table 8.3)"), (axes[1], band_rows, "band (Table 8.4)")):
        names = list(rows)
        fl = [rows[k]["dice"]["Fluid"] for k in names]
        mn = [rows[k]["dice"]["mean"] for k in names]
        pos = range(len(names))
        ax.bar([p - 0.2 for p in pos], fl, 0.4, label="Fluid")
        ax.bar([p + 0.2 for p in pos], mn, 0.4, label="mean")
        ax.set_xticks(list(pos), names, rotation=20, fontsize=8)
        ax.set_ylabel("Dice")
        ax.set_title(title)
        ax.legend()
    fig.tight_layout()
    fig.savefig(out / "ablations.png", dpi=100)
    plt.close(fig)


if __name__ == "__main__":
    main()
