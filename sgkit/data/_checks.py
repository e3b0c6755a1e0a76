"""Input checks shared by the data model and its readers (one validation layer at the boundary).

Every check raises :class:`ValueError` whose message starts with the argument (and position) it
is about, names the offending value and, for files, the path.
"""
from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch_geometric.data import HeteroData

__all__ = ["FLOAT_ID_LIMIT", "as_graph_list", "as_index_tensor", "check_max_graphs", "is_name", "read_json"]

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1

FLOAT_ID_LIMIT: dict[torch.dtype, int] = {
    torch.float16: 2**11,
    torch.bfloat16: 2**8,
    torch.float32: 2**24,
    torch.float64: 2**24,
}
"""Largest magnitude of an id given as a float, per dtype.

Up to ``2**24`` float32 holds every integer exactly; Python floats often pass through float32
tensors on their way in, so floats beyond it (``16777217.0``) are rejected for every float dtype
rather than risk a silently rounded id. Half-precision types have smaller exact ranges.
"""
_NP_FLOAT_DTYPE = {np.dtype(np.float16): torch.float16, np.dtype(np.float32): torch.float32}


def is_name(value: Any) -> bool:
    """Whether ``value`` is a name (a ``str`` or a NumPy string scalar)."""
    return isinstance(value, (str, np.str_))


def _fmt(path: tuple[int, ...]) -> str:
    return "".join(f"[{i}]" for i in path)


def _name_hint(name: str, path: tuple[int, ...], value: Any) -> ValueError:
    return ValueError(
        f"{name}{_fmt(path)}: expected an integer id, got the name {str(value)!r}; encode names with "
        "Vocabulary.encode or pass vocab= to from_triplets"
    )


def _float_id(value: float, limit: int, name: str, path: tuple[int, ...]) -> int:
    where = f"{name}{_fmt(path)}"
    if not math.isfinite(value):
        raise ValueError(f"{where}: expected an integer id, got {value!r}")
    if not float(value).is_integer():
        raise ValueError(f"{where}: expected an integer id, got {value!r} (non-integral values are never truncated)")
    if abs(value) > limit:
        raise ValueError(
            f"{where}: expected an integer id, got the float {value!r}; floats above {limit} may have lost "
            "precision, pass large ids as integers"
        )
    return int(value)


def _int_id(value: int, name: str, path: tuple[int, ...]) -> int:
    value = int(value)
    if not _INT64_MIN <= value <= _INT64_MAX:
        raise ValueError(f"{name}{_fmt(path)}: id {value} does not fit in a 64-bit integer")
    return value


def _to_ints(value: Any, name: str, path: tuple[int, ...]) -> Any:
    """Nested Python ints of a nested sequence of integer-valued scalars (each checked)."""
    if isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name}{_fmt(path)}: expected an integer id, got the bool {bool(value)}")
    if is_name(value) or isinstance(value, bytes):
        raise _name_hint(name, path, value)
    if isinstance(value, (int, np.integer)):
        return _int_id(value, name, path)
    if isinstance(value, np.floating):
        limit = FLOAT_ID_LIMIT.get(_NP_FLOAT_DTYPE.get(value.dtype, torch.float64), 2**24)
        return _float_id(float(value), limit, name, path)
    if isinstance(value, float):
        return _float_id(value, FLOAT_ID_LIMIT[torch.float64], name, path)
    if isinstance(value, Tensor):
        if value.dim() == 0:
            return int(_tensor_ids(value.reshape(1), name, path, offset=False)[0])
        return [_to_ints(v, name, path + (i,)) for i, v in enumerate(value.unbind(0))]
    if isinstance(value, (np.ndarray, list, tuple)) or (isinstance(value, Sequence) and not is_name(value)):
        return [_to_ints(v, name, path + (i,)) for i, v in enumerate(value)]
    raise ValueError(f"{name}{_fmt(path)}: expected an integer id, got {type(value).__name__} {value!r}")


def _tensor_ids(t: Tensor, name: str, path: tuple[int, ...] = (), *, offset: bool = True) -> Tensor:
    """Long tensor of an integer-valued tensor; rejects bool, complex, non-integral or huge floats."""
    if t.dtype == torch.bool or t.is_complex():
        raise ValueError(f"{name}{_fmt(path)}: expected integer ids, got a tensor of dtype {t.dtype}")
    if t.is_floating_point():
        limit = FLOAT_ID_LIMIT.get(t.dtype, 2**24)
        bad = ~torch.isfinite(t) | (t != torch.round(t)) | (t.abs() > limit)
        if bool(bad.any()):
            pos = tuple(int(i) for i in bad.nonzero()[0])
            _float_id(float(t[pos].item()), limit, name, path + (pos if offset else ()))
        return t.to(torch.long)
    if t.dtype in (torch.uint64,):
        arr = t.cpu().numpy()
        return torch.from_numpy(_np_ids(arr, name, path)).to(t.device)
    return t.to(torch.long)


def _np_ids(arr: np.ndarray, name: str, path: tuple[int, ...] = ()) -> np.ndarray:
    if arr.dtype.kind == "u" and arr.size and int(arr.max()) > _INT64_MAX:
        pos = tuple(int(i) for i in np.argwhere(arr > _INT64_MAX)[0])
        _int_id(int(arr[pos]), name, path + pos)
    return arr.astype(np.int64)


def as_index_tensor(value: Any, name: str) -> Tensor:
    """Long tensor of integer-valued ids given as a (nested) sequence, NumPy array or tensor.

    Integral floats such as ``3.0`` are accepted up to :data:`FLOAT_ID_LIMIT`; booleans, names,
    non-integral (``1.7``, never truncated), non-finite or huge floats and integers outside int64
    are rejected.

    Args:
        value: the ids.
        name: argument name used in error messages (positions are appended, ``labels[2]``).

    Returns:
        A long tensor with the shape of ``value`` (a long tensor input is returned as it is).

    Raises:
        ValueError: naming ``name``, the position and the offending value.
    """
    if isinstance(value, Tensor):
        return _tensor_ids(value, name)
    if isinstance(value, np.ndarray) and value.dtype.kind in "iu":
        return torch.from_numpy(_np_ids(value, name))
    if isinstance(value, np.ndarray) and value.dtype.kind in "fbc":
        return _tensor_ids(torch.from_numpy(np.ascontiguousarray(value)), name)
    ints = _to_ints(value, name, ())
    try:
        return torch.tensor(ints, dtype=torch.long)
    except (TypeError, ValueError, RuntimeError) as exc:
        raise ValueError(f"{name}: rows of different lengths ({exc})") from exc


def as_graph_list(graphs: Any, name: str = "graphs", *, allow_empty: bool = True) -> list[HeteroData]:
    """``graphs`` as a list of :class:`HeteroData`, with a clear error for a single graph.

    Args:
        graphs: a sequence (or iterable) of scene graphs.
        name: argument name used in error messages.
        allow_empty: whether an empty sequence is accepted.

    Raises:
        ValueError: for a single graph instead of a list, a non-iterable, an element that is not a
            :class:`HeteroData` (naming its position) or, unless ``allow_empty``, an empty list.
    """
    if isinstance(graphs, HeteroData):
        raise ValueError(f"{name}: expected a list of scene graphs, got a single {type(graphs).__name__}; wrap it in a list: [graph]")
    if isinstance(graphs, (str, bytes, Tensor)) or not hasattr(graphs, "__iter__"):
        raise ValueError(f"{name}: expected a list of scene graphs, got {type(graphs).__name__}")
    out = list(graphs)
    for i, g in enumerate(out):
        if not isinstance(g, HeteroData):
            raise ValueError(f"{name}[{i}]: expected a torch_geometric HeteroData scene graph, got {type(g).__name__}")
    if not out and not allow_empty:
        raise ValueError(f"{name}: expected at least one scene graph, got an empty list")
    return out


def check_max_graphs(max_graphs: Any, name: str = "max_graphs") -> int | None:
    """``None`` (read every graph) or a count ``>= 0``; negative counts are rejected, not wrapped."""
    if max_graphs is None:
        return None
    if isinstance(max_graphs, (bool, np.bool_)) or not isinstance(max_graphs, (int, np.integer)):
        raise ValueError(f"{name}: expected None (all graphs) or an int >= 0, got {max_graphs!r}")
    if max_graphs < 0:
        raise ValueError(f"{name}: expected None (all graphs) or an int >= 0, got {max_graphs!r}")
    return int(max_graphs)


def read_json(path: str | os.PathLike) -> Any:
    """Parse a JSON file; a missing, empty, binary or malformed file raises an error naming the path.

    A UTF-8 byte-order mark is accepted.

    Raises:
        FileNotFoundError: for a missing file (the message holds the path).
        ValueError: ``"{path}: ..."`` for an empty, binary or malformed file.
    """
    where = os.fspath(path)
    if os.path.isdir(where):
        raise ValueError(f"{where}: is a directory, expected a JSON file")
    with open(where, "rb") as fh:
        raw = fh.read()
    if not raw.strip():
        raise ValueError(f"{where}: empty file, expected JSON")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{where}: not a UTF-8 JSON file (binary content at byte {exc.start})") from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{where}: malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from exc
    except RecursionError as exc:
        raise ValueError(f"{where}: JSON nested too deeply") from exc
