"""MetaMedSeg few-shot segmentation on held-out synthetic organs (thesis Table 7.1).

Meta-trains a U-Net (instance norm) with Reptile on the synthetic *source* organs (brain,
hippocampus, liver, lung, pancreas, colon, vessel: 11 data sets with organ-weighted task
sampling) and fine-tunes it on ``K' = 15`` shots of each held-out *target* data set (cardiac,
spleen, prostate peripheral and transitional zones), reporting the test IoU averaged over several
random shot selections. Compared initialisations, all with the same fine-tuning:

* ``scratch``: random initialisation (the thesis' "supervised learning" row);
* ``transfer``: supervised pre-training on the pooled source slices;
* ``reptile_{aw,idw}_{standard,volumetric}``: MetaMedSeg with average or inverse-distance
  weighting, standard (random slices) or volumetric (one volume, step ceil(|V|/K)) tasks.

Protocols (``--protocol``; data sizes and the fine-tuning schedule are shared: 20 epochs, Adam lr
0.005, wd 3e-5, StepLR 0.7 every 2 epochs, batch 5):

* ``thesis`` (default of the full budget): 100 meta-epochs x 5 tasks x 15 shots, 5 full-batch
  inner steps, inner Adam lr 0.01, wd 0.003, StepLR 0.7 every 2 inner epochs; meta-training loss
  ``BCE - log(2 IoU / (IoU + 1))`` (:func:`medkit.meta.default_loss`; ``--meta-loss wbce`` or
  ``bce`` for the other rows of Table 7.3); meta step size decayed linearly 1.0 -> 0.0; transfer:
  20 epochs over the pooled source slices, Adam lr 1e-3, soft IoU loss;
* ``budget`` (default of ``--quick``): 60 meta-epochs x 5 tasks x 5 inner steps, inner Adam lr
  5e-3, beta 1.0 -> 0.1; transfer gets the same number of gradient steps; BCE - log Dice
  everywhere.

Real data. ``--decathlon DIR`` runs the same comparison on the Medical Segmentation Decathlon
(``DIR/Task02_Heart``, ``DIR/Task09_Spleen``, ... read from local NIfTI files with
:func:`medkit.datasets.organs.load_decathlon`): heart, spleen and prostate are the targets, all
other tasks the sources, slices 256x256 (64x64 and at most 4 volumes per task with ``--quick``).

Usage::

    python examples/metamedseg.py --out runs/metamedseg          # full budget, thesis protocol
    python examples/metamedseg.py --out runs/metamedseg_tl --methods transfer,reptile_aw_volumetric --seed 3
    python examples/metamedseg.py --out runs/metamedseg_quick --quick
    python examples/metamedseg.py --out runs/metamedseg_msd --decathlon /path/to/decathlon

Writes ``OUT/results.json`` (``{method: {organ: mean IoU}}``), ``OUT/details.json`` (standard
deviations, per-selection IoUs, meta-training histories, configuration, timings,
``direction``: reptile_aw_volumetric minus transfer in this run, and ``collapsed``: per Reptile
method, whether its adapted query IoU ended below 0.01) and ``OUT/metamedseg_iou.png``,
``OUT/metamedseg_training.png``, ``OUT/metamedseg_examples.png``. Measured tables and the
experiment log: the documentation's experiments section (``docs/experiments/metamedseg.rst``).
"""
from __future__ import annotations

import argparse
import copy
import json
import time
from pathlib import Path
from typing import Any

import torch

from medkit.datasets.organs import OrganVolumes, load_decathlon, synthetic_organs
from medkit.losses import SoftIoULoss, WeightedBCELoss
from medkit.meta import Reptile, TaskSampler, few_shot_iou, pretrain
from medkit.meta.finetune import LossFn
from medkit.nn import UNet

METHODS = (
    "scratch",
    "transfer",
    "reptile_aw_standard",
    "reptile_aw_volumetric",
    "reptile_idw_standard",
    "reptile_idw_volumetric",
)

FULL = dict(
    image_size=32, num_volumes=6, num_slices=30, base_channels=8, depth=3,
    meta_epochs=60, tasks_per_epoch=5, inner_steps=5, inner_lr=5e-3, beta=1.0, beta_final=0.1,
    transfer_lr=5e-3, shots=15, repeats=5, ft_epochs=20, ft_lr=0.005, ft_batch=5, test_volumes=2,
)
QUICK = dict(
    image_size=32, num_volumes=4, num_slices=30, base_channels=8, depth=3,
    meta_epochs=20, tasks_per_epoch=5, inner_steps=5, inner_lr=5e-3, beta=1.0, beta_final=0.1,
    transfer_lr=5e-3, shots=15, repeats=2, ft_epochs=10, ft_lr=0.005, ft_batch=5, test_volumes=1,
)
#: Protocol overrides applied on top of FULL / QUICK (data sizes and fine-tuning unchanged).
#: ``budget``: the configs as they stand (transfer gets meta-epochs x tasks x inner steps gradient
#: steps, every phase with the default BCE + log-Dice loss). ``thesis``: thesis lines 1565-1575
#: mapped onto this code (see the module docstring for each reading).
PROTOCOLS: dict[str, dict[str, Any]] = {
    "budget": {},
    "thesis": dict(
        meta_epochs=100, inner_lr=0.01, inner_wd=0.003, inner_gamma=0.7, inner_step_size=2,
        beta=1.0, beta_final=0.0, meta_loss="default",
        transfer_epochs=20, transfer_lr=1e-3, transfer_wd=3e-5, transfer_loss="iou", ft_loss="iou",
    ),
}
LOSSES = ("default", "wbce", "bce", "iou")


def make_loss(name: str) -> LossFn | None:
    """Loss by name: ``default`` (``None``: :func:`medkit.meta.default_loss`, BCE - log Dice),
    ``wbce`` (weighted BCE of thesis Eq. 7.4, ``p_pos`` = object / background pixel ratio),
    ``bce`` (plain BCE) or ``iou`` (soft IoU loss of Eq. 7.5, pooled over the batch)."""
    if name == "default":
        return None
    if name == "wbce":
        return WeightedBCELoss(p_pos=None)
    if name == "bce":
        return WeightedBCELoss(p_pos=1.0)
    if name == "iou":
        return SoftIoULoss(sigmoid=True, batch=True)
    raise ValueError(f"loss must be one of {LOSSES}, got {name!r}")


def make_config(quick: bool = False, protocol: str | None = None) -> dict[str, Any]:
    """FULL or QUICK with the overrides of ``protocol`` (a key of :data:`PROTOCOLS`).

    ``protocol=None`` picks the default: ``thesis`` for the full budget (the configuration
    that reproduces Table 7.1's direction, module docstring), ``budget`` for ``quick`` (the
    thesis protocol's 100 meta-epochs and 20 transfer epochs do not fit in about 2 minutes).
    """
    if protocol is None:
        protocol = "budget" if quick else "thesis"
    if protocol not in PROTOCOLS:
        raise ValueError(f"protocol must be one of {tuple(PROTOCOLS)}, got {protocol!r}")
    return dict(QUICK if quick else FULL, **PROTOCOLS[protocol], protocol=protocol)


def direction(results: dict[str, dict[str, float]], meta: str = "reptile_aw_volumetric") -> dict[str, Any] | None:
    """The Table 7.1 direction in this run: mean IoU over the target organs of ``meta`` minus
    ``transfer`` (``None`` when either method was not run)."""
    if meta not in results or "transfer" not in results:
        return None
    mean = {m: sum(v.values()) / len(v) for m, v in results.items()}
    return {
        "meta": meta,
        "meta_mean_iou": mean[meta],
        "transfer_mean_iou": mean["transfer"],
        "difference": mean[meta] - mean["transfer"],
        "meta_beats_transfer": bool(mean[meta] > mean["transfer"]),
    }


#: Decathlon organs held out as few-shot targets (thesis section 7.3: cardiac, spleen, prostate)
DECATHLON_TARGETS = ("heart", "spleen", "prostate")


def decathlon_data(
    root: str | Path,
    *,
    image_size: int,
    test_volumes: int,
    seed: int,
    max_volumes: int | None = None,
    progress: bool = True,
) -> tuple[list[OrganVolumes], list[tuple[OrganVolumes, OrganVolumes]]]:
    """Source data sets and ``(train, test)`` target splits from Decathlon task folders.

    Every sub-folder of ``root`` with a ``dataset.json`` (``Task02_Heart``, ...) is read with
    :func:`medkit.datasets.organs.load_decathlon`, one data set per (modality, label) pair.
    Data sets of the organs in :data:`DECATHLON_TARGETS` become targets, split by volume
    (``test_volumes`` test volumes, at most all but one); all others are sources. A slice is
    kept when its mask has at least ``400 (image_size / 256)^2`` pixels (one threshold for all
    organs, a simplification of the thesis' per-organ thresholds of 100-1000 pixels at 256x256).

    Raises:
        FileNotFoundError: if ``root`` holds no task folder.
        ValueError: if no source or no target data set is left.
    """
    root = Path(root)
    tasks = sorted(p for p in root.iterdir() if (p / "dataset.json").is_file()) if root.is_dir() else []
    if not tasks:
        raise FileNotFoundError(f"decathlon: no task folder with a dataset.json in {str(root)!r}")
    min_pixels = max(1, round(400 * (image_size / 256) ** 2))
    sources: list[OrganVolumes] = []
    targets: list[tuple[OrganVolumes, OrganVolumes]] = []
    for task in tasks:
        for d in load_decathlon(
            task, image_size=image_size, min_pixels=min_pixels, max_volumes=max_volumes, progress=progress
        ):
            if d.organ not in DECATHLON_TARGETS:
                sources.append(d)
            elif d.num_volumes >= 2:
                targets.append(d.split(min(test_volumes, d.num_volumes - 1), seed=seed))
            else:
                print(f"decathlon: target {d.name} has {d.num_volumes} volume, skipped", flush=True)
    if not sources or not targets:
        raise ValueError(
            f"decathlon: {str(root)!r} gave {len(sources)} source and {len(targets)} target data sets; "
            f"targets are the organs {DECATHLON_TARGETS} (with >= 2 volumes), sources all others"
        )
    return sources, targets


def make_model(cfg: dict[str, Any], seed: int) -> UNet:
    """The shared initial U-Net (same random weights for every method)."""
    torch.manual_seed(seed)
    return UNet(1, 1, base_channels=cfg["base_channels"], depth=cfg["depth"], norm="instance")


def run(cfg: dict[str, Any], seed: int = 0, *, progress: bool = True, methods: tuple[str, ...] = METHODS) -> dict[str, Any]:
    """Run the comparison; returns ``{"results": {method: {organ: iou}}, "details": {...}}``."""
    t0 = time.time()
    targets: list[tuple[OrganVolumes, OrganVolumes]]
    if cfg.get("decathlon"):
        sources, targets = decathlon_data(
            cfg["decathlon"], image_size=cfg["image_size"], test_volumes=cfg["test_volumes"], seed=seed,
            max_volumes=cfg.get("max_volumes"), progress=progress,
        )
    else:
        data_kw = dict(num_volumes=cfg["num_volumes"], num_slices=cfg["num_slices"], image_size=cfg["image_size"], seed=seed)
        sources = synthetic_organs(cfg.get("source_organs", "source"), **data_kw)
        targets = [
            d.split(cfg["test_volumes"], seed=seed) for d in synthetic_organs(cfg.get("target_organs", "target"), **data_kw)
        ]
    print(f"data: {len(sources)} source data sets, {len(targets)} target data sets ({time.time() - t0:.1f}s)", flush=True)
    init = make_model(cfg, seed)
    budget = cfg["meta_epochs"] * cfg["tasks_per_epoch"] * cfg["inner_steps"]
    transfer_steps = None
    ft_loss = make_loss(cfg.get("ft_loss", "default"))
    inits: dict[str, torch.nn.Module] = {}
    histories: dict[str, list[dict[str, float]]] = {}
    timings: dict[str, float] = {}
    for method in methods:
        t = time.time()
        model = copy.deepcopy(init)
        if method == "transfer":
            length = dict(epochs=cfg["transfer_epochs"]) if cfg.get("transfer_epochs") else dict(steps=budget)
            losses = pretrain(
                model, sources, **length, batch_size=cfg["shots"], lr=cfg.get("transfer_lr", cfg["inner_lr"]),
                weight_decay=cfg.get("transfer_wd", 0.0), loss=make_loss(cfg.get("transfer_loss", "default")),
                seed=seed, progress=progress,
            )
            transfer_steps = len(losses)
            histories[method] = [{"loss": v} for v in losses[:: max(1, len(losses) // 200)]]
        elif method.startswith("reptile"):
            _, rule, mode = method.split("_")
            sampler = TaskSampler(sources, shots=cfg["shots"], mode=mode, weighted=True, seed=seed)
            meta = Reptile(
                model,
                rule=rule,
                beta=cfg["beta"],
                beta_final=cfg["beta_final"],
                inner_steps=cfg["inner_steps"],
                inner_lr=cfg["inner_lr"],
                weight_decay=cfg.get("inner_wd", 0.0),
                inner_gamma=cfg.get("inner_gamma", 1.0),
                inner_step_size=cfg.get("inner_step_size", 2),
                loss=make_loss(cfg.get("meta_loss", "default")),
                tasks_per_epoch=cfg["tasks_per_epoch"],
                seed=seed,
            )
            histories[method] = meta.fit(sampler, cfg["meta_epochs"], progress=progress)
        inits[method] = model
        timings[f"train_{method}"] = time.time() - t
        print(f"{method}: initialisation ready ({timings[f'train_{method}']:.1f}s)", flush=True)
    results: dict[str, dict[str, float]] = {}
    stds: dict[str, dict[str, float]] = {}
    runs: dict[str, dict[str, list[float]]] = {}
    finetuned: dict[str, dict[str, torch.nn.Module]] = {}
    for method, model in inits.items():
        t = time.time()
        results[method], stds[method], runs[method], finetuned[method] = {}, {}, {}, {}
        for train, test in targets:
            r = few_shot_iou(
                model, train, test, shots=cfg["shots"], repeats=cfg["repeats"], seed=seed,
                epochs=cfg["ft_epochs"], lr=cfg["ft_lr"], batch_size=cfg["ft_batch"], loss=ft_loss, return_models=True,
            )
            finetuned[method][train.name] = r["models"][0]
            results[method][train.name] = r["mean"]
            stds[method][train.name] = r["std"]
            runs[method][train.name] = r["runs"]
        timings[f"eval_{method}"] = time.time() - t
        mean = sum(results[method].values()) / len(results[method])
        print(f"{method}: " + ", ".join(f"{k}={v:.3f}" for k, v in results[method].items()) + f" | mean={mean:.3f}", flush=True)
    timings["total"] = time.time() - t0
    details = {
        "config": dict(cfg, seed=seed, meta_gradient_steps=budget, transfer_steps=transfer_steps),
        "std": stds,
        "runs": runs,
        "mean_over_organs": {m: sum(v.values()) / len(v) for m, v in results.items()},
        "direction": direction(results),
        # a meta-model whose adapted query IoU ends below 0.01 predicts (almost) all background;
        # IoU-loss fine-tuning cannot leave that saturated start (thesis protocol, docstring)
        "collapsed": {
            m: bool(h[-1]["query_iou"] < 0.01) for m, h in histories.items() if m.startswith("reptile") and h
        },
        "history": histories,
        "timings_s": timings,
    }
    return {"results": results, "details": details, "finetuned": finetuned, "targets": targets}


def print_table(results: dict[str, dict[str, float]]) -> str:
    """Table 7.1 layout: rows organ x update rule, columns standard / volume-based tasks."""
    rows = [("Supervised (scratch)", "scratch", None), ("Transfer learning", "transfer", None),
            ("MetaMedSeg + IDW", "reptile_idw_standard", "reptile_idw_volumetric"),
            ("MetaMedSeg + AW", "reptile_aw_standard", "reptile_aw_volumetric")]
    organs = list(next(iter(results.values())).keys())
    lines = [f"{'update rule':24s} {'target organ':24s} {'standard':>9s} {'volume':>9s}"]
    for organ in organs:
        for label, std_key, vol_key in rows:
            s = results.get(std_key, {}).get(organ)
            v = results.get(vol_key, {}).get(organ) if vol_key else None
            fs = f"{100 * s:9.2f}" if s is not None else f"{'-':>9s}"
            fv = f"{100 * v:9.2f}" if v is not None else f"{'-':>9s}"
            lines.append(f"{label:24s} {organ:24s} {fs} {fv}")
    text = "\n".join(lines)
    print(text, flush=True)
    return text


def plot(out: Path, res: dict[str, Any]) -> None:
    """Bar chart of IoU per organ and method, meta-training curves, example segmentations."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    results, details = res["results"], res["details"]
    methods = list(results)
    organs = list(next(iter(results.values())))
    fig, ax = plt.subplots(figsize=(10, 4))
    width = 0.8 / len(methods)
    for i, m in enumerate(methods):
        vals = [results[m][o] for o in organs]
        errs = [details["std"][m][o] for o in organs]
        ax.bar(np.arange(len(organs)) + i * width, vals, width, yerr=errs, label=m, capsize=2)
    ax.set_xticks(np.arange(len(organs)) + 0.4 - width / 2)
    ax.set_xticklabels(organs)
    ax.set_ylabel(f"test IoU ({details['config']['shots']} shots)")
    ax.set_title("Few-shot segmentation of held-out synthetic organs")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)  # beside the bars
    fig.tight_layout()
    fig.savefig(out / "metamedseg_iou.png", dpi=120, bbox_inches="tight")
    plt.close(fig)

    fig, ax = plt.subplots(1, 2, figsize=(10, 3.5))
    for m, hist in details["history"].items():
        if m.startswith("reptile") and hist:
            ax[0].plot([h["query_loss"] for h in hist], label=m)
            ax[1].plot([h["query_iou"] for h in hist], label=m)
    ax[0].set_title("meta-training: query loss after adaptation")
    ax[1].set_title("meta-training: query IoU after adaptation")
    for a in ax:
        a.set_xlabel("meta-epoch")
        a.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "metamedseg_training.png", dpi=120)
    plt.close(fig)

    # qualitative: one test slice per target organ, model fine-tuned on the first shot selection
    targets = res["targets"]
    fig, axes = plt.subplots(
        len(targets), len(methods) + 2, figsize=(1.6 * (len(methods) + 2), 1.6 * len(targets)), squeeze=False
    )
    for r, (train, test) in enumerate(targets):
        img, msk = test[len(test) // 2]
        axes[r, 0].imshow(img[0], cmap="gray")
        axes[r, 0].set_ylabel(train.name, fontsize=6)
        axes[r, 1].imshow(msk, vmin=0, vmax=1)
        if r == 0:
            axes[r, 0].set_title("image", fontsize=7)
            axes[r, 1].set_title("truth", fontsize=7)
        for c, m in enumerate(methods):
            model = res["finetuned"][m][train.name]
            model.eval()
            with torch.no_grad():
                pred = (model(img[None])[0, 0] > 0).long()
            axes[r, c + 2].imshow(pred, vmin=0, vmax=1)
            if r == 0:
                axes[r, c + 2].set_title(m.replace("reptile_", ""), fontsize=6)
    for a in axes.flat:
        a.set_xticks([])
        a.set_yticks([])
    fig.tight_layout()
    fig.savefig(out / "metamedseg_examples.png", dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("runs/metamedseg"), help="output folder")
    parser.add_argument("--quick", action="store_true", help="reduced budget (about 2-3 min on 2 idle cores)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--protocol", choices=tuple(PROTOCOLS), default=None,
        help="hyperparameter protocol (default: thesis for the full budget, budget with --quick)",
    )
    parser.add_argument("--methods", type=str, default=None, help=f"comma-separated subset of {METHODS}")
    parser.add_argument("--meta-epochs", type=int, default=None, help="override the number of meta-epochs")
    parser.add_argument("--repeats", type=int, default=None, help="override the number of shot selections")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads (default 1; 0 = torch's default of one per core). Small models "
                        "on a busy machine run fastest with 1 thread; other counts change results only by "
                        "float rounding (reductions summed in another order)")
    parser.add_argument(
        "--decathlon", type=Path, default=None,
        help="folder of Medical Segmentation Decathlon task folders (Task02_Heart, ...): heart, spleen and "
        "prostate are the targets, the other tasks the sources (default image size 256, as the thesis)",
    )
    parser.add_argument("--max-volumes", type=int, default=None, help="read at most this many volumes per Decathlon task")
    parser.add_argument("--image-size", type=int, default=None, help="override the slice size")
    parser.add_argument("--shots", type=int, default=None, help="override the number of shots (K and K')")
    parser.add_argument(
        "--meta-loss", choices=LOSSES, default=None,
        help="override the meta-training loss ('default': BCE - log(2 IoU / (IoU + 1)), Table 7.3's BCE + IoU row)",
    )
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = make_config(args.quick, args.protocol)
    methods = METHODS
    if args.methods:
        methods = tuple(m.strip() for m in args.methods.split(",") if m.strip())
        bad = [m for m in methods if m not in METHODS]
        if bad or not methods:
            parser.error(f"--methods must be a non-empty subset of {METHODS}, got {args.methods!r}")
    if args.meta_epochs is not None:
        cfg["meta_epochs"] = args.meta_epochs
    if args.repeats is not None:
        cfg["repeats"] = args.repeats
    if args.decathlon is not None:
        cfg["decathlon"] = str(args.decathlon)
        cfg["image_size"] = 64 if args.quick else 256
        cfg["max_volumes"] = args.max_volumes if args.max_volumes is not None else (4 if args.quick else None)
    if args.meta_loss is not None:
        cfg["meta_loss"] = args.meta_loss
    for name in ("image_size", "shots"):
        value = getattr(args, name)
        if value is not None:
            if value < 1:
                parser.error(f"--{name.replace('_', '-')} must be >= 1, got {value}")
            cfg[name] = value
    args.out.mkdir(parents=True, exist_ok=True)
    res = run(cfg, args.seed, progress=not args.no_progress, methods=methods)
    res["details"]["table"] = print_table(res["results"])
    (args.out / "results.json").write_text(json.dumps(res["results"], indent=2))
    (args.out / "details.json").write_text(json.dumps(res["details"], indent=2))
    plot(args.out, res)
    print(f"wrote {args.out / 'results.json'} and figures in {args.out}", flush=True)
    return res


if __name__ == "__main__":
    main()
