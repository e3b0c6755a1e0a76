"""The editor's web server: a Starlette app over :class:`~sgkit.editor.session.EditorSession`.

Routes (every ``/api`` route is a POST taking and returning JSON; ``sid`` names the tab's session):

- ``GET /``: the page; ``/static/...``: its script and style sheet.
- ``/api/session``: a new session and its state; ``/api/state`` (``sid``): the current state.
- ``/api/remove`` (``sid, node``), ``/api/replace`` (``sid, node, category``),
  ``/api/predicate`` (``sid, edge, predicate``), ``/api/add`` (``sid, category, anchor,
  predicate, as_subject``): the four edits of :mod:`sgkit.data.edits` (names, not ids).
- ``/api/generate``: redraw the picture with ``manipulate``; ``/api/sample``: another sample of
  the last generation (models that sample only); ``/api/undo``; ``/api/next``: the next scene.
- ``/api/save`` (``sid, name``): write ``name.png`` (the picture) and ``name.json`` (the edited
  graph, sg2im JSON) into the output folder.

A refused request answers status 400 with ``{"error": message}`` and changes nothing. Files are
written only inside ``out_dir``: ``name`` must be 1-64 letters, digits, ``-`` or ``_``.
"""
from __future__ import annotations

import base64
import io
import json
import os
import re
import threading
from collections.abc import Sequence
from importlib import resources
from typing import Any

import torch
from torch import Tensor
from torch_geometric.data import HeteroData

from sgkit._imports import require
from sgkit.data.scene_graph import EDGE, NODE

from .session import (
    EditError,
    EditorSession,
    EditState,
    SessionStore,
    supports_sampling,
)

__all__ = ["create_app", "state_json"]

_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def _png(image: Tensor) -> bytes:
    from PIL import Image

    arr = (image.detach().clamp(0, 1) * 255).round().byte().permute(1, 2, 0).cpu().numpy()
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


def _data_url(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _outline(region: Tensor) -> bytes:
    """A transparent PNG with the boundary of ``region`` in magenta, upsampled to at least 256 pixels
    so the line stays thin on the page."""
    scale = max(1, -(-256 // max(region.shape)))
    r = region.bool().repeat_interleave(scale, 0).repeat_interleave(scale, 1)
    pad = torch.nn.functional.pad(r[None, None].float(), (1, 1, 1, 1))
    inner = -torch.nn.functional.max_pool2d(-pad, 3, stride=1)[0, 0] > 0.5
    edge = r & ~inner
    rgba = torch.zeros(4, *r.shape)
    rgba[0], rgba[2], rgba[3] = edge.float(), edge.float(), edge.float()  # magenta
    from PIL import Image

    arr = (rgba * 255).byte().permute(1, 2, 0).numpy()
    buf = io.BytesIO()
    Image.fromarray(arr, mode="RGBA").save(buf, format="PNG")
    return buf.getvalue()


def _bbox(region: Tensor) -> list[float] | None:
    ys, xs = region.nonzero(as_tuple=True)
    if not len(xs):
        return None
    h, w = region.shape
    return [int(xs.min()) / w, int(ys.min()) / h, (int(xs.max()) + 1) / w, (int(ys.max()) + 1) / h]


def state_json(session: EditorSession, *, can_sample: bool) -> dict[str, Any]:
    """The state the page draws: picture, boxes, graph with pending edits, vocabularies."""
    st: EditState = session.state
    vocab = session.vocab
    src, ed = st.source, st.edited
    src_boxes = src[NODE].box.tolist()
    src_index = ed[NODE].src_index.tolist() if "src_index" in ed[NODE] else list(range(int(ed[NODE].label.numel())))
    src_labels = src[NODE].label.tolist()
    nodes = []
    for i, (c, s) in enumerate(zip(ed[NODE].label.tolist(), src_index)):
        nodes.append({"id": i, "name": vocab.decode_object(int(c)), "source": int(s),
                      "box": src_boxes[s] if s >= 0 else None,
                      "status": "added" if s < 0 else ("replaced" if src_labels[s] != c else "kept")})
    edges = []
    if EDGE in ed.edge_types and "label" in ed[EDGE]:
        for j, ((s, o), p) in enumerate(zip(ed[EDGE].edge_index.t().tolist(), ed[EDGE].label.tolist())):
            edges.append({"id": j, "subject": int(s), "object": int(o), "predicate": vocab.decode_predicate(int(p))})
    kept = {s for s in src_index if s >= 0}
    removed = [{"source": k, "name": vocab.decode_object(int(c)), "box": src_boxes[k]}
               for k, c in enumerate(src_labels) if k not in kept]
    src_edges = int(src[EDGE].label.numel()) if EDGE in src.edge_types and "label" in src[EDGE] else 0
    pending = (len(removed) > 0 or any(n["status"] != "kept" for n in nodes) or len(edges) != src_edges
               or not (EDGE not in src.edge_types or torch.equal(src[EDGE].label, ed[EDGE].label)))
    region = st.region
    return {
        "scene": st.scene, "num_scenes": len(session.scenes), "generated": st.generated, "pending": bool(pending),
        "image": _data_url(_png(src.image)), "image_size": int(src.image.shape[-1]),
        "nodes": nodes, "edges": edges, "removed": removed,
        "region": _data_url(_outline(region)) if region is not None else None,
        "region_box": _bbox(region) if region is not None else None,
        "categories": list(vocab.objects), "predicates": list(vocab.predicates),
        "can_undo": len(session.history) > 1, "can_sample": bool(can_sample and st.generated and len(session.history) > 1),
        "sampling": bool(can_sample), "model": type(session.model).__name__,
    }


def create_app(model: Any, scenes: Sequence[HeteroData], vocab: Any, out_dir: str | os.PathLike, *,
               max_sessions: int = 16, max_bytes: int = 256 * 2**20, max_history: int = 32) -> Any:
    """The editor as an ASGI app (Starlette).

    Args:
        model: a SIMSG-like model (``manipulate(source, edited, composite=, seed=)``).
        scenes: graphs with ``image`` and ``object.box``.
        vocab: the model's vocabulary.
        out_dir: the only folder "Save" writes to (created if missing).
        max_sessions: most sessions (browser tabs) kept.
        max_bytes: most bytes of tensors kept over all sessions.
        max_history: most undo steps per session.

    Raises:
        ImportError: without the ``editor`` extra.
        ValueError: for no scenes or no vocabulary.
    """
    require("WITH_STARLETTE", "the scene-graph editor")
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.requests import Request
    from starlette.responses import FileResponse, JSONResponse
    from starlette.routing import Mount, Route
    from starlette.staticfiles import StaticFiles

    if vocab is None:
        raise ValueError("vocab: the editor needs the model's vocabulary (names of categories and predicates)")
    if not len(scenes):
        raise ValueError("scenes: the editor needs at least one scene")
    out = os.path.realpath(os.fspath(out_dir))
    os.makedirs(out, exist_ok=True)
    lock = threading.Lock()
    store = SessionStore(lambda: EditorSession(model, scenes, vocab, max_history=max_history, lock=lock),
                         max_sessions=max_sessions, max_bytes=max_bytes)
    can_sample = supports_sampling(model)
    static = str(resources.files("sgkit.editor") / "static")

    def save(session: EditorSession, name: Any) -> dict[str, Any]:
        from sgkit.data.io import save_sg2im_json

        if not isinstance(name, str) or not _NAME.match(name):
            raise EditError(f"name: expected 1-64 letters, digits, '-' or '_', got {name!r}")
        paths = [os.path.realpath(os.path.join(out, name + ext)) for ext in (".png", ".json")]
        if any(os.path.commonpath([out, p]) != out or os.path.dirname(p) != out for p in paths):
            raise EditError(f"name: {name!r} would write outside the output folder")
        st = session.state
        tmp = paths[0] + ".tmp"
        with open(tmp, "wb") as fh:
            fh.write(_png(st.source.image))
        os.replace(tmp, paths[0])
        save_sg2im_json([st.edited], paths[1], vocab)
        return {"saved": [os.path.basename(p) for p in paths]}

    def act(body: dict[str, Any], op: str) -> dict[str, Any]:
        if op == "session":
            sid, session = store.create()
            return {"sid": sid, "state": state_json(session, can_sample=can_sample)}
        sid = body.get("sid")
        session = store.get(sid)
        extra: dict[str, Any] = {}
        if op == "remove":
            session.remove(body.get("node"))
        elif op == "replace":
            session.replace(body.get("node"), body.get("category"))
        elif op == "predicate":
            session.set_predicate(body.get("edge"), body.get("predicate"))
        elif op == "add":
            session.add(body.get("category"), body.get("anchor"), body.get("predicate"), body.get("as_subject", True))
        elif op == "generate":
            session.generate()
        elif op == "sample":
            if not can_sample:
                raise EditError(f"sample: {type(model).__name__} draws one image per edit")
            session.generate(new_seed=True)
        elif op == "undo":
            session.undo()
        elif op == "next":
            session.next_image()
        elif op == "save":
            extra = save(session, body.get("name"))
        store.trim(sid)
        return {"sid": sid, "state": state_json(session, can_sample=can_sample), **extra}

    def endpoint(op: str) -> Any:
        async def handle(request: Request) -> JSONResponse:
            raw = await request.body()
            try:
                body = json.loads(raw) if raw.strip() else {}
            except (json.JSONDecodeError, UnicodeDecodeError):
                return JSONResponse({"error": "request body: not valid JSON"}, status_code=400)
            if not isinstance(body, dict):
                return JSONResponse({"error": "request body: expected a JSON object"}, status_code=400)
            try:
                return JSONResponse(await run_in_threadpool(act, body, op))
            except EditError as exc:
                return JSONResponse({"error": str(exc)}, status_code=400)
            except ValueError as exc:  # the edit API's own checks
                return JSONResponse({"error": str(exc)}, status_code=400)

        return handle

    async def index(request: Request) -> FileResponse:
        return FileResponse(os.path.join(static, "index.html"), media_type="text/html")

    ops = ("session", "state", "remove", "replace", "predicate", "add", "generate", "sample", "undo", "next", "save")
    routes = [Route("/", index)] + [Route(f"/api/{op}", endpoint(op), methods=["POST"]) for op in ops]
    routes.append(Mount("/static", StaticFiles(directory=static), name="static"))
    app = Starlette(routes=routes)
    app.state.store = store
    app.state.out_dir = out
    return app
