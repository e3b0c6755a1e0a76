"""Vocabulary: names <-> ids for object categories, predicates and attributes."""
from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
from torch import Tensor

from ._checks import is_name, read_json

__all__ = ["Vocabulary", "UnknownNameError", "names_to_ids"]


class UnknownNameError(KeyError):
    """A name missing from a :class:`Vocabulary` (a :class:`KeyError` whose message reads plainly)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class _Table:
    """One name <-> id table (0-based ids, order of first appearance)."""

    def __init__(self, kind: str, names: Iterable[str]) -> None:
        self.kind = kind
        self.names: list[str] = []
        self.index: dict[str, int] = {}
        for name in names:
            if name in self.index:
                raise ValueError(f"{kind}: duplicate name {name!r} in vocabulary")
            self.add(name)

    def add(self, name: str) -> int:
        if not isinstance(name, str):
            raise TypeError(f"{self.kind}: names must be strings, got {name!r}")
        if name not in self.index:
            self.index[name] = len(self.names)
            self.names.append(name)
        return self.index[name]

    def encode(self, name: str, on_unknown: str, mapping: Mapping[str, str] | None) -> int:
        if name in self.index:
            return self.index[name]
        if mapping is not None and name in mapping and mapping[name] in self.index:
            return self.index[mapping[name]]
        if on_unknown == "add":
            return self.add(name)
        if on_unknown == "error":
            raise UnknownNameError(
                f"unknown {self.kind} name {name!r} (not among the vocabulary's {len(self.names)} {self.kind} "
                "names); pass on_unknown=\"add\" to grow the vocabulary"
            )
        raise ValueError(f"on_unknown: expected 'error' or 'add', got {on_unknown!r}")

    def decode(self, i: int) -> str:
        if isinstance(i, bool) or not isinstance(i, (int, np.integer)) and not (
            isinstance(i, Tensor) and i.numel() == 1 and not i.is_floating_point()
        ):
            raise ValueError(f"{self.kind} id: expected an integer, got {i!r}")
        if not 0 <= int(i) < len(self.names):
            raise KeyError(f"{self.kind} id {int(i)} out of range [0, {len(self.names)})")
        return self.names[int(i)]


class Vocabulary:
    """Object classes, predicates and attributes of a scene-graph data set.

    Ids are 0-based positions in the name lists. Unknown names raise :class:`KeyError` with the
    name unless the caller passes ``on_unknown="add"`` (grow the vocabulary) or a ``mapping`` of
    synonyms onto known names.

    Args:
        objects: object category names.
        predicates: predicate names.
        attributes: attribute names.
        object_ranks: optional hierarchy level per object category (e.g. background 0 ->
            objects 1 -> parts 2), used by the hierarchical node ordering. Defaults to all 0.

    Example:
        >>> vocab = Vocabulary(["sky", "man"], ["above"])
        >>> vocab.encode_object("man"), vocab.decode_predicate(0)
        (1, 'above')
    """

    def __init__(
        self,
        objects: Sequence[str],
        predicates: Sequence[str],
        attributes: Sequence[str] = (),
        *,
        object_ranks: Sequence[int] | None = None,
    ) -> None:
        self._objects = _Table("object", objects)
        self._predicates = _Table("predicate", predicates)
        self._attributes = _Table("attribute", attributes)
        if object_ranks is not None and len(object_ranks) != len(self._objects.names):
            raise ValueError(
                f"object_ranks: has {len(object_ranks)} entries but there are {len(self._objects.names)} objects"
            )
        self._ranks = None if object_ranks is None else [int(r) for r in object_ranks]

    # ------------------------------------------------------------------ views
    @property
    def objects(self) -> list[str]:
        """Object category names in id order."""
        return list(self._objects.names)

    @property
    def predicates(self) -> list[str]:
        """Predicate names in id order."""
        return list(self._predicates.names)

    @property
    def attributes(self) -> list[str]:
        """Attribute names in id order."""
        return list(self._attributes.names)

    @property
    def num_objects(self) -> int:
        """Number of object categories."""
        return len(self._objects.names)

    @property
    def num_predicates(self) -> int:
        """Number of predicates."""
        return len(self._predicates.names)

    @property
    def num_attributes(self) -> int:
        """Number of attributes."""
        return len(self._attributes.names)

    @property
    def object_ranks(self) -> list[int]:
        """Hierarchy level of every object category (all 0 when not given)."""
        n = self.num_objects
        ranks = self._ranks or []
        return ranks + [0] * (n - len(ranks))

    # --------------------------------------------------------- encode/decode
    def encode_object(self, name: str, *, on_unknown: str = "error", mapping: Mapping[str, str] | None = None) -> int:
        """Id of an object category name (see the class docstring for ``on_unknown``)."""
        return self._objects.encode(name, on_unknown, mapping)

    def encode_predicate(
        self, name: str, *, on_unknown: str = "error", mapping: Mapping[str, str] | None = None
    ) -> int:
        """Id of a predicate name."""
        return self._predicates.encode(name, on_unknown, mapping)

    def encode_attribute(
        self, name: str, *, on_unknown: str = "error", mapping: Mapping[str, str] | None = None
    ) -> int:
        """Id of an attribute name."""
        return self._attributes.encode(name, on_unknown, mapping)

    def decode_object(self, i: int) -> str:
        """Name of object category ``i``."""
        return self._objects.decode(i)

    def decode_predicate(self, i: int) -> str:
        """Name of predicate ``i``."""
        return self._predicates.decode(i)

    def decode_attribute(self, i: int) -> str:
        """Name of attribute ``i``."""
        return self._attributes.decode(i)

    def encode(self, objects: Iterable[str], predicates: Iterable[str] = (), **kwargs: Any) -> tuple[list[int], list[int]]:
        """Encode lists of object and predicate names at once."""
        return [self.encode_object(o, **kwargs) for o in objects], [self.encode_predicate(p, **kwargs) for p in predicates]

    def decode(self, objects: Iterable[int], predicates: Iterable[int] = ()) -> tuple[list[str], list[str]]:
        """Decode lists of object and predicate ids at once."""
        return [self.decode_object(o) for o in objects], [self.decode_predicate(p) for p in predicates]

    # ---------------------------------------------------------- construction
    @classmethod
    def from_names(
        cls, objects: Iterable[str], predicates: Iterable[str], attributes: Iterable[str] = ()
    ) -> Vocabulary:
        """Build from names seen in data: duplicates are dropped, first appearance fixes the id."""
        return cls(list(dict.fromkeys(objects)), list(dict.fromkeys(predicates)), list(dict.fromkeys(attributes)))

    @classmethod
    def from_vg_sgg_dicts(cls, path: str | os.PathLike | Mapping[str, Any]) -> Vocabulary:
        """The names of a VG-SGG dict file (``VG-SGG-dicts-with-attri.json``) in the order of the
        file's ids (0-based here).

        A file whose ids are 0-based or have gaps still gives names in id order, but ids stored
        elsewhere against that file must be translated: use
        :func:`sgkit.data.visual_genome.read_vg_sgg_dicts`, which also returns the maps from file
        ids to vocabulary ids and the VG150 object ranks (the loaders do).
        """
        d = _load_json(path)
        for key in ("idx_to_label", "idx_to_predicate"):
            if key not in d:
                raise ValueError(f"{key}: missing from the VG-SGG dict file")

        def ordered(key: str) -> list[str]:
            table = d.get(key, {})
            return [table[k] for k in sorted(table, key=int)]

        return cls(ordered("idx_to_label"), ordered("idx_to_predicate"), ordered("idx_to_attribute"))

    @classmethod
    def from_sg2im_vocab(cls, path: str | os.PathLike | Mapping[str, Any]) -> Vocabulary:
        """Load an sg2im ``vocab.json`` (``object_idx_to_name``, ``pred_idx_to_name``).

        sg2im reserves ``__image__`` / ``__in_image__`` and may leave ``None`` holes; they are kept
        as names so that ids stay identical to sg2im's.
        """
        d = _load_json(path)
        where = "the given mapping" if isinstance(path, Mapping) else os.fspath(path)
        lists = {}
        for key in ("object_idx_to_name", "pred_idx_to_name", "attribute_idx_to_name"):
            if key not in d:
                if key == "attribute_idx_to_name":
                    lists[key] = []
                    continue
                raise ValueError(f"{where}: {key}: missing from the sg2im vocab file")
            names = d[key]
            if not isinstance(names, list):
                raise ValueError(f"{where}: {key}: expected a list of names, got {type(names).__name__}")
            for i, n in enumerate(names):
                if n is not None and not isinstance(n, str):
                    raise ValueError(f"{where}: {key}[{i}]: expected a name (string) or null, got {n!r}")
            lists[key] = [n if n is not None else f"__none_{i}__" for i, n in enumerate(names)]
        try:
            return cls(lists["object_idx_to_name"], lists["pred_idx_to_name"], lists["attribute_idx_to_name"])
        except ValueError as exc:
            raise ValueError(f"{where}: {exc}") from exc

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form (used in checkpoints)."""
        return {
            "objects": self.objects,
            "predicates": self.predicates,
            "attributes": self.attributes,
            "object_ranks": self._ranks,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Vocabulary:
        """Inverse of :meth:`to_dict`."""
        return cls(d["objects"], d["predicates"], d.get("attributes", ()), object_ranks=d.get("object_ranks"))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Vocabulary) and self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        return (
            f"Vocabulary(objects={self.num_objects}, predicates={self.num_predicates}, "
            f"attributes={self.num_attributes})"
        )


def _load_json(path: str | os.PathLike | Mapping[str, Any]) -> Mapping[str, Any]:
    if isinstance(path, Mapping):
        return path
    d = read_json(path)
    if not isinstance(d, Mapping):
        raise ValueError(f"{os.fspath(path)}: expected a JSON object, got {type(d).__name__}")
    return d


def _encode_names(
    items: list[Any], where: list[str], kind: str, vocab: Vocabulary | None, on_unknown: str
) -> list[Any]:
    """Ids for ``items`` that are all names, all ids (returned as given) or an error naming the odd one.

    Args:
        items: the values (names or ids).
        where: the argument and position of every item, for messages (``"labels[2]"``).
        kind: ``"object"`` or ``"predicate"``.
        vocab: vocabulary that encodes names.
        on_unknown: passed to the vocabulary.
    """
    names = [is_name(v) for v in items]
    if not any(names):
        return items
    if not all(names):
        first = names[0]
        k = next(k for k, b in enumerate(names) if b != first)
        got = f"the id {items[k]!r} among names" if first else f"the name {str(items[k])!r} among ids"
        raise ValueError(
            f"{where[k]}: got {got} ({where[0]} is {items[0]!r}); give every {kind} as a name or every one as an id"
        )
    if vocab is None:
        raise ValueError(
            f"{where[0]}: got the name {str(items[0])!r} but no vocabulary; pass vocab= (a sgkit.data.Vocabulary, "
            f"e.g. dataset.vocab) or encode names first with Vocabulary.encode"
        )
    encode = vocab.encode_object if kind == "object" else vocab.encode_predicate
    out = []
    for v, w in zip(items, where):
        try:
            out.append(encode(str(v), on_unknown=on_unknown))
        except KeyError as exc:
            raise type(exc)(f"{w}: {exc}") from None
    return out


def names_to_ids(labels: Any, triplets: Any, vocab: Vocabulary | None, on_unknown: str) -> tuple[Any, Any]:
    """``(labels, triplets)`` of :func:`~sgkit.data.from_triplets` with names replaced by ids.

    Ids and tensors pass through unchanged; a mix of names and ids within the labels (or within
    the predicates), names without a vocabulary and names in subject/object position raise a
    :class:`ValueError` naming the item.
    """
    if isinstance(labels, np.ndarray) and labels.dtype.kind in "USO":
        labels = labels.tolist()
    if isinstance(labels, (list, tuple)):
        labels = _encode_names(list(labels), [f"labels[{i}]" for i in range(len(labels))], "object", vocab, on_unknown)
    if isinstance(triplets, np.ndarray) and triplets.dtype.kind in "USO":
        triplets = triplets.tolist()
    if isinstance(triplets, (list, tuple)):
        # ragged input would otherwise fail inside torch with a message that hides the culprit
        for k, t in enumerate(triplets):
            if not isinstance(t, (Sequence, Tensor, np.ndarray)) or is_name(t) or len(t) != 3:
                raise ValueError(f"triplets[{k}]: expected (subject, predicate, object), got {t!r}")
            for j, role in ((0, "subject"), (2, "object")):
                if is_name(t[j]):
                    raise ValueError(
                        f"triplets[{k}][{j}]: expected the {role}'s node index (a position in labels), got the "
                        f"name {str(t[j])!r}"
                    )
        preds = [t[1] for t in triplets]
        if any(is_name(p) for p in preds):
            ids = _encode_names(preds, [f"triplets[{k}][1]" for k in range(len(preds))], "predicate", vocab, on_unknown)
            triplets = [(t[0], p, t[2]) for t, p in zip(triplets, ids)]
    return labels, triplets
