"""FedAvg vs IDA (and IDA + FedAvg / IDA + INTRAC / Mean) on non-IID clients (thesis Tables 6.1, 6.2).

Clients hold ``ncc`` in {3, 5} classes or IID data; ``pr`` in {30 %, 50 %, 100 %} of them take
part in each round (Table 6.1 layout). The ablation of the weightings is run at ``ncc = 3``,
``pr = 30 %`` (Table 6.2) and a robustness run adds 30 % malicious clients that scale their
update x10 (``--attack`` picks another attack: sign_flip, noise, nan, inf).

Expected direction: IDA >= FedAvg under non-IID data, and IDA keeps learning where FedAvg
collapses because of the malicious clients.

Usage::

    python examples/federated_ida.py --out runs/federated_ida --quick

Writes ``results.json`` (``table``, ``ablation``, ``malicious``), ``table.png``,
``malicious.png`` and ``partition.png`` to ``--out``.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import torch

from fedkit.datasets import FederatedDataset, federated_digits, federated_mnist5k
from fedkit.models import MLP, LeNet
from fedkit.partition import plot_partition
from fedkit.simulate import plot_learning_curves, simulate
from fedkit.strategies import IDA, FedAvg, Strategy

NCC = (3, 5, "iid")
PR = (0.3, 0.5, 1.0)


def make_data(dataset: str, ncc: int | str, num_clients: int, seed: int) -> FederatedDataset:
    """The federated data set of one Table 6.1 column."""
    fn = federated_digits if dataset == "digits" else federated_mnist5k
    if ncc == "iid":
        return fn("iid", num_clients=num_clients, seed=seed)
    return fn("ncc", num_clients=num_clients, ncc=int(ncc), seed=seed)


def make_model(dataset: str, arch: str, seed: int) -> torch.nn.Module:
    """Initial global model (seeded)."""
    torch.manual_seed(seed)
    side = 8 if dataset == "digits" else 28
    if arch == "lenet":
        return LeNet(1, 10, side)
    return MLP(side * side, 10, (128,))


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the experiment; returns (and writes) the results dictionary."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default="runs/federated_ida")
    p.add_argument("--quick", action="store_true", help="reduced budget (digits, MLP, 20 rounds)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--dataset", choices=("digits", "mnist5k"), default=None)
    p.add_argument("--arch", choices=("mlp", "lenet"), default=None)
    p.add_argument("--clients", type=int, default=20)
    p.add_argument("--rounds", type=int, default=None)
    p.add_argument("--local-epochs", type=int, default=2)
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--attack", default="scale", help="attack of the malicious clients")
    p.add_argument("--malicious-fraction", type=float, default=0.3)
    p.add_argument("--sections", default="table,ablation,malicious", help="comma-separated subset to run")
    p.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads (default 1; 0 = torch's default of one per core). Small models "
                        "on a busy machine run fastest with 1 thread; other counts change results only by "
                        "float rounding (reductions summed in another order)")
    p.add_argument("--no-progress", action="store_true")
    a = p.parse_args(argv)
    if a.threads:
        torch.set_num_threads(a.threads)
    dataset = a.dataset or ("digits" if a.quick else "mnist5k")
    arch = a.arch or ("mlp" if a.quick else "lenet")
    rounds = a.rounds or (20 if a.quick else 60)
    sections = set(a.sections.split(","))
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    common = dict(lr=a.lr, batch_size=a.batch_size, local_epochs=a.local_epochs, seed=a.seed, progress=not a.no_progress)
    t0 = time.perf_counter()
    results: dict[str, Any] = {
        "config": {"dataset": dataset, "arch": arch, "clients": a.clients, "rounds": rounds, "local_epochs": a.local_epochs,
                   "lr": a.lr, "batch_size": a.batch_size, "seed": a.seed, "quick": a.quick},
    }
    cache: dict[tuple[Any, float, str], float] = {}

    def run(ncc: int | str, pr: float, strategy: Strategy, **extra: Any) -> Any:
        data = make_data(dataset, ncc, a.clients, a.seed)
        model = make_model(dataset, arch, a.seed)
        res = simulate(model, data, strategy, rounds, participation=pr, eval_every=max(1, rounds // 10), **common, **extra)
        print(f"  ncc={ncc} pr={pr:.0%} {strategy.name:<14s} global acc {res.global_acc:.3f} "
              f"local {res.local_mean:.3f} +- {res.local_std:.3f}  ({time.perf_counter() - t0:.0f}s)", flush=True)
        return res

    if "table" in sections:
        print("Table 6.1 layout: FedAvg vs IDA")
        table: dict[str, dict[str, dict[str, float]]] = {}
        for ncc in NCC:
            for pr in (PR if ncc != "iid" else (1.0,)):
                for strat in (FedAvg(), IDA()):
                    acc = run(ncc, pr, strat).global_acc
                    cache[(ncc, pr, strat.name)] = acc
                    table.setdefault(f"ncc={ncc}", {}).setdefault(f"pr={int(pr * 100)}%", {})[strat.name] = acc
        results["table"] = table
    if "ablation" in sections:
        print("Table 6.2 layout: weightings at ncc=3, pr=30%")
        abl: dict[str, float] = {}
        for strat in (FedAvg(weighting="uniform"), FedAvg(), IDA(), IDA(fedavg=True), IDA(intrac=True)):
            key = (3, 0.3, strat.name)
            abl[strat.name] = cache[key] if key in cache else run(3, 0.3, strat).global_acc
        results["ablation"] = abl
    if "malicious" in sections:
        print(f"{a.malicious_fraction:.0%} malicious clients ({a.attack}), ncc=3, pr=50%")
        mal: dict[str, float] = {}
        curves = {}
        for strat in (FedAvg(), IDA(), IDA(fedavg=True)):
            res = run(3, 0.5, strat, malicious_fraction=a.malicious_fraction, attack=a.attack)
            mal[strat.name] = res.global_acc
            curves[strat.name] = res
        results["malicious"] = mal
        results["malicious_attack"] = a.attack
        plot_learning_curves(curves, out / "malicious.png", title=f"{a.malicious_fraction:.0%} malicious clients ({a.attack})")
    data = make_data(dataset, 3, a.clients, a.seed)
    plot_partition(data.clients, data.y, out / "partition.png", num_classes=10, title="ncc=3 partition")
    if "table" in sections:
        _plot_table(results["table"], out / "table.png")
    results["seconds"] = time.perf_counter() - t0
    (out / "results.json").write_text(json.dumps(results, indent=2))
    print(json.dumps({k: v for k, v in results.items() if k in ("ablation", "malicious")}, indent=2))
    print(f"wrote {out / 'results.json'} in {results['seconds']:.0f}s")
    return results


def _plot_table(table: dict[str, dict[str, dict[str, float]]], path: Path) -> None:
    from matplotlib.figure import Figure  # no pyplot: works without a GUI backend

    labels, fedavg, ida = [], [], []
    for ncc, row in table.items():
        for pr, accs in row.items():
            labels.append(f"{ncc}\n{pr}")
            fedavg.append(accs["FedAvg"])
            ida.append(accs["IDA"])
    x = range(len(labels))
    fig = Figure(figsize=(8, 3.5))
    ax = fig.subplots()
    ax.bar([i - 0.2 for i in x], fedavg, 0.4, label="FedAvg")
    ax.bar([i + 0.2 for i in x], ida, 0.4, label="IDA")
    ax.set_xticks(list(x))
    ax.set_xticklabels(labels, fontsize=8)
    ax.set_ylabel("global accuracy")
    ax.set_ylim(0, 1)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0, frameon=False)  # beside the bars
    fig.tight_layout()
    fig.savefig(path, dpi=120)


if __name__ == "__main__":
    main()
