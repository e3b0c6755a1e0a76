"""``sgkit train`` / ``sample`` / ``complete``: SceneGraphGen and GraphRNN from the command line.

Uses only the public model API (:class:`sgkit.SceneGraphGen`, :class:`sgkit.GraphRNN`:
``fit``, ``sample``, ``complete``, ``save``, ``load``).
"""
from __future__ import annotations

import argparse
import os
from typing import Any

from ._io import (
    FORMATS,
    add_input_arguments,
    guarded,
    load_graphs,
    load_input,
    save_graphs,
    set_threads,
)

__all__ = ["register", "load_model"]

_THREADS_HELP = ("torch CPU threads (default 1; 0 = torch's default). On a busy or small machine more threads "
                 "often make training slower; results differ between thread counts only by float rounding")


def _models() -> dict[str, Any]:
    from sgkit import GraphRNN, SceneGraphGen

    return {"scenegraphgen": SceneGraphGen, "graphrnn": GraphRNN}


def load_model(path: str) -> Any:
    """Load a SceneGraphGen or GraphRNN checkpoint (whichever class the file holds)."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"model: no such file {path!r}")
    errors = []
    for cls in _models().values():
        try:
            return cls.load(path)
        except ValueError as exc:
            errors.append(str(exc))
        except Exception as exc:
            raise ValueError(f"model: {path!r} is not a torch checkpoint ({type(exc).__name__})") from exc
    raise ValueError(f"model: {path!r} is not a SceneGraphGen or GraphRNN checkpoint ({errors[0]})")


def _vocab_of(model: Any) -> Any:
    from sgkit.data import Vocabulary

    if model.vocab is not None:
        return model.vocab
    return Vocabulary([f"object {i}" for i in range(model.num_classes)],
                      [f"predicate {i}" for i in range(model.num_predicates)])


def _generator(seed: int) -> Any:
    import torch

    return torch.Generator().manual_seed(seed)


def _write(graphs: list, vocab: Any, args: argparse.Namespace, what: str) -> None:
    from sgkit.viz import plot_scene_grid

    save_graphs(graphs, args.output, vocab, args.to)
    print(f"wrote {len(graphs)} {what} graphs to {args.output} ({args.to})")
    if args.figure:
        shown = graphs[: args.figure_graphs]
        titles = [f"{what} {k}" for k in range(len(shown))]
        print(f"wrote {plot_scene_grid(shown, vocab, args.figure, ncols=min(3, max(1, len(shown))), titles=titles)}")


def _train(args: argparse.Namespace) -> int:
    set_threads(args.threads)
    graphs, vocab = load_input(args)
    if not graphs:
        raise ValueError(f"input: {args.input} holds no graphs to train on")
    max_nodes = args.max_nodes or max(int(g["object"].num_nodes) for g in graphs)
    cls = _models()[args.model]
    model = cls(vocab.num_objects, vocab.num_predicates, vocab=vocab, max_nodes=max_nodes,
                hidden_dim=args.hidden_dim, num_layers=args.num_layers, seed=args.seed)
    model.fit(graphs, ordering=args.ordering, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
              seed=args.seed, progress=not args.quiet)
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    tmp = f"{args.output}.tmp-{os.getpid()}"
    model.save(tmp)
    os.replace(tmp, args.output)  # atomic: a crash never leaves a half-written checkpoint
    last = model.history_[-1]["loss"] if model.history_ else float("nan")
    print(f"trained {type(model).__name__} on {len(graphs)} graphs for {args.epochs} epochs "
          f"(final loss {last:.3f} nats per graph); wrote {args.output}")
    return 0


def _check_count(n: int) -> None:
    if n < 1:
        raise ValueError(f"-n/--num: must be at least 1, got {n}")


def _sample(args: argparse.Namespace) -> int:
    set_threads(args.threads)
    _check_count(args.num)
    model = load_model(args.model)
    graphs = model.sample(args.num, generator=_generator(args.seed), max_nodes=args.max_nodes)
    _write(graphs, _vocab_of(model), args, "sampled")
    return 0


def _complete(args: argparse.Namespace) -> int:
    from sgkit.data import from_triplets, to_triplets

    set_threads(args.threads)
    _check_count(args.num)
    model = load_model(args.model)
    vocab = _vocab_of(model)
    graphs, file_vocab = load_graphs(args.partial, args.format, dicts=args.dicts)
    if not 0 <= args.index < len(graphs):
        raise ValueError(f"--index: {args.index} is out of range for {args.partial} with {len(graphs)} graphs")
    labels, trips = to_triplets(graphs[args.index])
    try:  # re-encode the names of the file with the model's vocabulary
        labels = [vocab.encode_object(file_vocab.decode_object(c)) for c in labels]
        trips = [(s, vocab.encode_predicate(file_vocab.decode_predicate(p)), o) for s, p, o in trips]
    except KeyError as exc:
        raise ValueError(f"partial: {args.partial}[{args.index}] uses a name the model does not know: "
                         f"{exc.args[0] if exc.args else exc}") from exc
    partial = from_triplets(labels, trips)
    graphs = model.complete(partial, args.num, generator=_generator(args.seed), max_nodes=args.max_nodes)
    _write(graphs, vocab, args, "completed")
    return 0


def _output_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("output", help="file for the graphs (.json)")
    p.add_argument("-n", "--num", type=int, default=8, help="how many graphs (default 8)")
    p.add_argument("--seed", type=int, default=0, help="seed of the sampling (default 0)")
    p.add_argument("--max-nodes", type=int, default=None, help="stop every graph at this many nodes")
    p.add_argument("--to", choices=("sg2im", "networkx"), default="sg2im", help="output format (default sg2im)")
    p.add_argument("--figure", default=None, help="also draw the graphs into this image file")
    p.add_argument("--figure-graphs", type=int, default=6, help="graphs in the figure (default 6)")
    p.add_argument("--threads", type=int, default=1, help=_THREADS_HELP)


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``sgkit train``, ``sgkit sample`` and ``sgkit complete``."""
    p = sub.add_parser("train", help="train SceneGraphGen or GraphRNN on a scene-graph file and save the model",
                       description="Train a generative scene-graph model; the checkpoint holds the vocabulary.")
    add_input_arguments(p)
    p.add_argument("output", help="checkpoint file to write (.pt)")
    p.add_argument("--model", choices=("scenegraphgen", "graphrnn"), default="scenegraphgen")
    p.add_argument("--epochs", type=int, default=10, help="passes over the data (default 10)")
    p.add_argument("--batch-size", type=int, default=256, help="graphs per step (default 256)")
    p.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate (default 1e-3)")
    p.add_argument("--ordering", choices=("random", "bfs", "hierarchical", "identity"), default="random",
                   help="node ordering of the training sequences (default random)")
    p.add_argument("--max-nodes", type=int, default=None, help="largest graph the model holds (default: largest in the data)")
    p.add_argument("--hidden-dim", type=int, default=128, help="GRU hidden size (default 128)")
    p.add_argument("--num-layers", type=int, default=4, help="GRU layers (default 4)")
    p.add_argument("--seed", type=int, default=0, help="seed of initialisation, orders and batches (default 0)")
    p.add_argument("--threads", type=int, default=1, help=_THREADS_HELP)
    p.add_argument("--quiet", action="store_true", help="hide the progress bar")
    p.set_defaults(func=guarded("train", _train))

    p = sub.add_parser("sample", help="sample scene graphs from a trained model",
                       description="Sample scene graphs from a checkpoint written by `sgkit train`.")
    p.add_argument("model", help="checkpoint (.pt) of SceneGraphGen or GraphRNN")
    _output_arguments(p)
    p.set_defaults(func=guarded("sample", _sample))

    p = sub.add_parser("complete", help="complete a partial scene graph with a trained model",
                       description="Continue one graph of a file (its nodes and edges are kept) several times.")
    p.add_argument("model", help="checkpoint (.pt) of SceneGraphGen or GraphRNN")
    p.add_argument("partial", help="scene-graph file holding the partial graph")
    _output_arguments(p)
    p.add_argument("--index", type=int, default=0, help="position of the partial graph in its file (default 0)")
    p.add_argument("--format", choices=FORMATS, default=None, help="format of the partial-graph file")
    p.add_argument("--dicts", default=None, help="VG-SGG-dicts-with-attri.json (VG-SGG h5 input)")
    p.set_defaults(func=guarded("complete", _complete))
