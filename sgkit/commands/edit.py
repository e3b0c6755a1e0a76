"""``sgkit edit``: the interactive scene-graph image editor as a local web page.

Loads an image-manipulation checkpoint (SIMSG, or any sgkit model class with ``manipulate``),
a list of scenes (ShapesWorld, or a folder with ``scenes.json``: sg2im JSON with ``boxes`` and an
``image`` file name per graph, relative to the folder) and serves the editor of
:mod:`sgkit.editor` on ``http://127.0.0.1:PORT/``. Other interfaces only with an explicit
``--host``. "Save" writes into ``--out`` only.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from ._io import UsageError, guarded

__all__ = ["load_model", "load_scenes", "register"]


def load_model(path: str, device: str = "cpu") -> Any:
    """The model of a checkpoint, of whichever sgkit model class it holds (needs ``manipulate``)."""
    from sgkit import models
    from sgkit.models.checkpoint import load_checkpoint

    name = load_checkpoint(path)["model"]
    cls = getattr(models, str(name), None)
    if cls is None or not hasattr(cls, "load") or not hasattr(cls, "manipulate"):
        raise ValueError(f"--checkpoint: {path!r} holds a {name} model, which cannot edit images (need e.g. SIMSG)")
    return cls.load(path, map_location=device).eval()


def load_scenes(data: str, model: Any, *, num: int = 32, seed: int = 0) -> tuple[list, Any]:
    """Scenes for the editor and their vocabulary (the model's when it has one)."""
    size = int(model.config.image_size)
    if data == "shapes":
        from sgkit.datasets import ShapesWorld

        ds = ShapesWorld(num, image_size=size, seed=seed, progress=False)
        return [ds[i] for i in range(len(ds))], model.vocab or ds.vocab
    folder = os.path.realpath(data)
    path = os.path.join(folder, "scenes.json")
    if not os.path.isdir(folder):
        raise UsageError(f"--data: expected 'shapes' or a folder, got {data!r}")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"--data: the folder {data!r} has no scenes.json (path={path!r})")
    from sgkit.data.image_files import read_image
    from sgkit.data.io import load_sg2im_json

    vocab = model.vocab
    if vocab is None:
        raise ValueError(f"--checkpoint: the model has no vocabulary to read {path!r} with")
    graphs, vocab = load_sg2im_json(path, vocab, max_graphs=num)
    with open(path, encoding="utf-8") as fh:
        raw = json.load(fh)
    for k, g in enumerate(graphs):
        name = raw[k].get("image") if isinstance(raw[k], dict) else None
        if not isinstance(name, str) or "box" not in g["object"]:
            raise ValueError(f"{path}[{k}]: every graph needs \"boxes\" and an \"image\" file name")
        file = os.path.realpath(os.path.join(folder, name))
        if os.path.commonpath([folder, file]) != folder:
            raise ValueError(f"{path}[{k}].image: {name!r} lies outside the folder {folder!r}")
        g.image = read_image(file, size)[0]
    return graphs, vocab


def _run(args: argparse.Namespace) -> int:
    from sgkit._imports import require

    require("WITH_STARLETTE", "sgkit edit")
    require("WITH_UVICORN", "sgkit edit")
    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port: expected 0..65535, got {args.port}")
    if args.num_scenes < 1:
        raise UsageError(f"--num-scenes: must be at least 1, got {args.num_scenes}")
    import uvicorn

    from sgkit.editor import create_app

    model = load_model(args.checkpoint, args.device)
    scenes, vocab = load_scenes(args.data, model, num=args.num_scenes, seed=args.seed)
    app = create_app(model, scenes, vocab, args.out)
    host = args.host or "127.0.0.1"
    if host not in ("127.0.0.1", "localhost", "::1"):
        print(f"sgkit edit: warning: serving on {host}: anyone who reaches this interface can use the editor "
              "and save into the output folder (there is no login)", file=sys.stderr)
    config = uvicorn.Config(app, host=host, port=args.port, log_level="warning")
    server = uvicorn.Server(config)
    url_host = f"[{host}]" if ":" in host else host
    print(f"sgkit edit: {type(model).__name__} on {len(scenes)} scenes; saving into {os.path.realpath(args.out)}")
    if args.port:
        print(f"open http://{url_host}:{args.port}/  (Ctrl+C stops)", flush=True)
    else:
        import asyncio

        async def serve() -> None:
            task = asyncio.create_task(server.serve())
            while not server.started:
                await asyncio.sleep(0.05)
            port = server.servers[0].sockets[0].getsockname()[1]
            print(f"open http://{url_host}:{port}/  (Ctrl+C stops)", flush=True)
            await task

        asyncio.run(serve())
        return 0
    server.run()
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``sgkit edit``."""
    p = sub.add_parser("edit", help="edit images through their scene graphs in the browser (SIMSG checkpoints)",
                       description="Serve the scene-graph image editor on a local web page (127.0.0.1 unless --host).")
    p.add_argument("--checkpoint", required=True, help="checkpoint (.pt) of SIMSG or another model with manipulate()")
    p.add_argument("--data", default="shapes",
                   help="'shapes' (ShapesWorld at the model's image size) or a folder with scenes.json (default shapes)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000; 0 picks a free one)")
    p.add_argument("--host", default=None, help="interface to bind (default 127.0.0.1; others only when given)")
    p.add_argument("--out", default="edits", help="folder Save writes into (default ./edits)")
    p.add_argument("--num-scenes", type=int, default=32, help="scenes to edit (default 32)")
    p.add_argument("--seed", type=int, default=0, help="seed of the ShapesWorld scenes (default 0)")
    p.add_argument("--device", default="cpu", help="torch device of the model (default cpu)")
    p.set_defaults(func=guarded("edit", _run))
