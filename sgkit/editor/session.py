"""Editing sessions of the scene-graph image editor: one per browser tab, bounded in number and memory.

An :class:`EditorSession` holds the scene being edited as a stack of :class:`EditState`: the
current picture with its graph (``source``), the graph with the edits not yet generated
(``edited``, from :mod:`sgkit.data.edits`), and the last generated region. Every edit, generation
and image change pushes a new state; :meth:`EditorSession.undo` pops one. The history is capped
(oldest states dropped). :class:`SessionStore` keeps at most ``max_sessions`` sessions and at most
``max_bytes`` of tensors in total, evicting the least recently used session first.
"""
from __future__ import annotations

import inspect
import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from torch import Tensor
from torch_geometric.data import HeteroData

from sgkit.data.edits import add_node, change_predicate, remove_node, replace_node
from sgkit.data.scene_graph import EDGE, NODE

__all__ = ["EditError", "EditState", "EditorSession", "SessionStore", "supports_sampling"]


class EditError(ValueError):
    """A request the editor refuses (unknown node, category, predicate, session or file name)."""


def supports_sampling(model: Any) -> bool:
    """Whether ``model`` draws several appearances for one edit: a DisPositioNet, or a model whose
    ``manipulate`` takes ``num_samples``."""
    if type(model).__name__ == "DisPositioNet":
        return True
    try:
        return "num_samples" in inspect.signature(model.manipulate).parameters
    except (TypeError, ValueError, AttributeError):
        return False


@dataclass(frozen=True)
class EditState:
    """One step of a session.

    Attributes:
        scene: position of the scene in the data.
        source: the current picture's graph with ``image`` and ``object.box``.
        edited: ``source`` with the pending edits (``object.src_index`` relative to ``source``).
        region: ``[S, S]`` bool: the region the last generation redrew (``None`` before).
        seed: the noise seed of the next generation (a generated state: the seed that drew it).
        generated: the picture is a generated one.
    """

    scene: int
    source: HeteroData
    edited: HeteroData
    region: Tensor | None = None
    seed: int = 0
    generated: bool = False

    def nbytes(self) -> int:
        """Bytes held by the tensors of this state."""
        total = 0
        for g in (self.source, self.edited):
            for store in g.stores:
                total += sum(v.element_size() * v.numel() for v in store.values() if isinstance(v, Tensor))
        if self.region is not None:
            total += self.region.numel()
        return total


def _fresh(graph: HeteroData) -> HeteroData:
    """A copy of ``graph`` as a new source: no ``src_index`` (nodes are their own source)."""
    out = graph.clone()
    if "src_index" in out[NODE]:
        del out[NODE].src_index
    return out


class EditorSession:
    """The edits of one browser tab on one model and one list of scenes.

    Args:
        model: a SIMSG-like model with ``manipulate(source, edited, composite=, seed=)``.
        scenes: graphs with ``image`` and ``object.box``.
        vocab: the vocabulary naming categories and predicates.
        max_history: most states kept for :meth:`undo`.
        lock: lock serialising model calls across sessions.
    """

    def __init__(self, model: Any, scenes: Sequence[HeteroData], vocab: Any, *, max_history: int = 32,
                 lock: threading.Lock | None = None) -> None:
        if not len(scenes):
            raise ValueError("scenes: the editor needs at least one scene")
        self.model, self.scenes, self.vocab = model, scenes, vocab
        self.max_history = max(1, int(max_history))
        self.lock = lock or threading.Lock()
        self.history: list[EditState] = [self._load(0)]

    # ------------------------------------------------------------------ state
    @property
    def state(self) -> EditState:
        """The current state."""
        return self.history[-1]

    def _push(self, state: EditState) -> EditState:
        self.history.append(state)
        del self.history[: max(0, len(self.history) - self.max_history)]
        return state

    def _load(self, index: int) -> EditState:
        g = self.scenes[index]
        if "image" not in g or "box" not in g[NODE]:
            raise EditError(f"scene {index}: the editor needs an image and object boxes")
        src = _fresh(g)
        return EditState(scene=index, source=src, edited=src.clone())

    def nbytes(self) -> int:
        """Bytes held by the history of this session."""
        return sum(s.nbytes() for s in self.history)

    # ------------------------------------------------------------------ checks
    def _node(self, value: Any, name: str = "node") -> int:
        n = int(self.state.edited[NODE].label.numel())
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < n:
            raise EditError(f"{name}: unknown node {value!r} (the graph has nodes 0..{n - 1})")
        return value

    def _edge(self, value: Any) -> int:
        e = self.num_edges()
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < e:
            raise EditError(f"edge: unknown edge {value!r} (the graph has {e} edges)")
        return value

    def _name(self, value: Any, kind: str) -> int:
        names = self.vocab.objects if kind == "category" else self.vocab.predicates
        if not isinstance(value, str) or value not in names:
            raise EditError(f"{kind}: unknown {kind} {value!r}")
        return names.index(value)

    def num_edges(self) -> int:
        """Edges of the edited graph."""
        g = self.state.edited
        return int(g[EDGE].label.numel()) if EDGE in g.edge_types and "label" in g[EDGE] else 0

    # ------------------------------------------------------------------ edits
    def _apply(self, fn: Callable[[HeteroData], HeteroData]) -> EditState:
        return self._push(replace(self.state, edited=fn(self.state.edited), region=None))

    def remove(self, node: Any) -> EditState:
        """Delete a node and its edges (at least one node stays)."""
        k = self._node(node)
        if int(self.state.edited[NODE].label.numel()) <= 1:
            raise EditError("node: the last node of a graph cannot be removed")
        return self._apply(lambda g: remove_node(g, k))

    def replace(self, node: Any, category: Any) -> EditState:
        """Give a node another category (by name)."""
        k, c = self._node(node), self._name(category, "category")
        return self._apply(lambda g: replace_node(g, k, c, vocab=self.vocab))

    def set_predicate(self, edge: Any, predicate: Any) -> EditState:
        """Change the predicate of an edge (by name)."""
        j, p = self._edge(edge), self._name(predicate, "predicate")
        return self._apply(lambda g: change_predicate(g, j, p, vocab=self.vocab))

    def add(self, category: Any, anchor: Any, predicate: Any, as_subject: Any = True) -> EditState:
        """Append a node of ``category`` related to ``anchor`` by ``predicate``."""
        c, a = self._name(category, "category"), self._node(anchor, "anchor")
        p = self._name(predicate, "predicate")
        if not isinstance(as_subject, bool):
            raise EditError(f"as_subject: expected true or false, got {as_subject!r}")
        return self._apply(lambda g: add_node(g, c, a, p, as_subject=as_subject, vocab=self.vocab))

    def generate(self, *, new_seed: bool = False) -> EditState:
        """Redraw the picture with the pending edits (``model.manipulate``, composited into the
        edited region); the result becomes the current picture. ``new_seed`` draws another
        sample of the last generation (\"Sample again\")."""
        st = self.state
        if new_seed:
            if not st.generated or len(self.history) < 2:
                raise EditError("sample: generate an edit first")
            base = self.history[-2]
            src, edited, seed = base.source, base.edited, st.seed + 1
        else:
            src, edited, seed = st.source, st.edited, st.seed
        with self.lock:
            out = self.model.manipulate(src, edited, composite=True, seed=seed)
        new = _fresh(edited)
        new.image = out.image[0].clamp(0, 1).cpu()
        new[NODE].box = out.layout_boxes[out.batch == 0].float().cpu()
        return self._push(EditState(scene=st.scene, source=new, edited=new.clone(), region=out.region[0].cpu(),
                                    seed=seed, generated=True))

    def undo(self) -> EditState:
        """Go back one step."""
        if len(self.history) < 2:
            raise EditError("undo: nothing to undo")
        self.history.pop()
        return self.state

    def next_image(self) -> EditState:
        """Start over on the next scene of the data (wrapping around)."""
        return self._push(self._load((self.state.scene + 1) % len(self.scenes)))


class SessionStore:
    """Sessions by id, at most ``max_sessions`` and ``max_bytes`` in total (least recently used
    evicted first; the session just used is never evicted).

    Args:
        factory: builds a new :class:`EditorSession`.
        max_sessions: most sessions kept.
        max_bytes: most bytes of tensors kept over all sessions.
    """

    def __init__(self, factory: Callable[[], EditorSession], *, max_sessions: int = 16,
                 max_bytes: int = 256 * 2**20) -> None:
        if max_sessions < 1:
            raise ValueError(f"max_sessions: must be at least 1, got {max_sessions}")
        if max_bytes < 1:
            raise ValueError(f"max_bytes: must be positive, got {max_bytes}")
        self.factory, self.max_sessions, self.max_bytes = factory, max_sessions, max_bytes
        self._sessions: OrderedDict[str, EditorSession] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._sessions)

    def create(self) -> tuple[str, EditorSession]:
        """A new session and its id."""
        session = self.factory()
        sid = secrets.token_hex(16)
        with self._lock:
            self._sessions[sid] = session
            self._evict(sid)
        return sid, session

    def get(self, sid: Any) -> EditorSession:
        """The session ``sid`` (marked as recently used)."""
        with self._lock:
            if not isinstance(sid, str) or sid not in self._sessions:
                raise EditError(f"session: unknown or expired session {sid!r}; reload the page")
            self._sessions.move_to_end(sid)
            return self._sessions[sid]

    def trim(self, sid: str) -> None:
        """Evict other sessions until the memory bound holds again."""
        with self._lock:
            self._evict(sid)

    def nbytes(self) -> int:
        """Bytes held by all sessions."""
        return sum(s.nbytes() for s in self._sessions.values())

    def _evict(self, keep: str) -> None:
        while len(self._sessions) > 1 and (len(self._sessions) > self.max_sessions or self.nbytes() > self.max_bytes):
            oldest = next(iter(self._sessions))
            if oldest == keep:
                self._sessions.move_to_end(keep)
                oldest = next(iter(self._sessions))
            del self._sessions[oldest]
        if self._sessions.get(keep) is not None:
            s = self._sessions[keep]
            while len(s.history) > 1 and s.nbytes() > self.max_bytes:
                del s.history[0]
