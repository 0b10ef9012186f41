"""Reading only the fields amldoctor reads: a typed JSON decoder built from `apishapes`.

Python's objects for parsed JSON take four to five times the JSON text, and most of a pod,
node or event is fields no rule reads (termination message paths, DNS policy, images listed
on each node, probe handlers of every sidecar...). `json.load` builds all of it, and a
5,000-node bundle then needs more memory than the questions asked of it. Here, for the kinds
that make up nearly all of a cluster's bytes (`SELECTED_KINDS`), the decoder builds dicts of
the declared fields only and skips the rest of the text without building it (msgspec, with
`TypedDict` types generated once from the shapes). Every other kind is kept whole: rules read
their fields more freely and they are few.

What this must not change is what a snapshot accepts and how a wrong value is treated. The
types (`decodetypes`) are strict: an object a typed decoder builds is one intake would keep
unchanged, so intake need not walk it again (the loader passes the ids of such objects on:
`checked`). An object with a wrong-typed value anywhere is refused by its typed decoder and
taken generically instead, then `prune`d to the same fields and held to its shape by intake
exactly as before: the same values set aside, the same `reshaped` count. When the decoder
refuses a whole document (JSON that msgspec does not accept and the standard library does,
such as `NaN` or `1e999`), the caller falls back to the standard parser and `prune`: the
result is the same, only slower, for the rare file that needs it. YAML snapshots go through
`prune` too, so a JSON and a YAML copy of one cluster read the same fields. Fields whose
values repeat from object to object are built once per distinct text and shared
(`decodetypes`): objects read from a snapshot are read-only.

The consequence for code that reads objects: a field of a Pod, Node or Event that is not
declared in `apishapes` is not there. Declare it before reading it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import partial
from typing import Any, TypedDict

import msgspec

from amldoctor.apishapes import shape_of
from amldoctor.decodetypes import ALWAYS_KEPT, Plan, Repeats, object_type
from amldoctor.shapes import ListOf, MapOf, Obj

# The kinds decoded selectively: together nearly all of a cluster's bytes (pods above all).
SELECTED_KINDS = frozenset({"Pod", "Node", "Event"})


class Refused(Exception):
    """The decoder cannot read this document as typed; parse it generically and `prune`."""


class _Kind(TypedDict, total=False):
    kind: Any


class _Document(TypedDict, total=False):
    """A document's kind, and its items as undecoded slices when it is a list."""

    kind: Any
    apiVersion: Any
    items: list[msgspec.Raw]


_DOCUMENT = msgspec.json.Decoder(_Document)
_KIND = msgspec.json.Decoder(_Kind)
_ITEMS = msgspec.json.Decoder(list[msgspec.Raw])
_ANY = msgspec.json.Decoder()


@dataclass(frozen=True)
class Typed:
    """One kind's typed decoder, and where its repeated fields wait as raw text."""

    decoder: msgspec.json.Decoder
    plan: Plan


_TYPED: dict[str, Typed] = {}


def typed(kind: object) -> Typed | None:
    """The typed decoder of `kind`, or None when objects of `kind` are kept whole."""
    if not isinstance(kind, str) or kind not in SELECTED_KINDS:
        return None
    found = _TYPED.get(kind)
    if found is None:
        kind_type, plan = object_type(kind)
        found = _TYPED[kind] = Typed(msgspec.json.Decoder(kind_type), plan)
    return found


_PAGES: dict[str, Typed] = {}


def _page_typed(kind: str) -> Typed:
    """A LIST response of `kind` (`{"metadata": ..., "items": [...]}`), in one pass."""
    found = _PAGES.get(kind)
    if found is None:
        item, plan = object_type(kind) if kind in SELECTED_KINDS else (dict[str, Any], None)
        fields = {"metadata": Any, "items": list[item] | None}  # type: ignore[valid-type]
        page = TypedDict(f"{kind}List", fields, total=False)  # type: ignore[misc]
        found = _PAGES[kind] = Typed(msgspec.json.Decoder(page), plan)
    return found


def is_typed_kind(kind: str) -> bool:
    """Are this kind's objects built by a typed decoder (and so already of their shape)?"""
    return kind in SELECTED_KINDS


def decode_page(kind: str, data: bytes, strings: Strings | Repeats | None = None) -> dict:
    """One LIST page; `Refused` when it needs the generic parser.

    `strings` is the collection's table: `Strings` shares string values and repeated fields;
    a bare `Repeats` builds each repeated field once per distinct text without walking the
    strings (a namespace's scan: that walk cost more than the memory it saves there); None, a
    `Strings` table of the page's own.
    """
    page_type = _page_typed(kind)
    table = strings if strings is not None else Strings()
    take = table.take if isinstance(table, Strings) else table.restore
    try:
        page = page_type.decoder.decode(data)
        for item in page.get("items") or ():
            take(item, page_type.plan)
    except (msgspec.DecodeError, msgspec.ValidationError):
        raise Refused from None
    return page


class Strings:
    """One object per distinct string value, and per distinct text of a repeated field
    (`decodetypes.Repeats`), across everything one load or collection reads.

    Most of a cluster's string values repeat: "True", "Ready", the namespace, the node a pod
    is bound to, the image, "kubelet", every label value of a Deployment's pods. Each copy is a
    separate object of 50 bytes or more, and strings are half of what decoded pods, nodes and
    events weigh; sharing them cuts that weight by a third. Done per object as it is decoded,
    so the duplicates are freed (and their memory reused) before the next one is built. The
    tables themselves live only as long as the load.
    """

    def __init__(self) -> None:
        self._table: dict[str, str] = {}
        # The function, not `self.share`: a bound method would make the two tables a reference
        # cycle, which a load (collector paused, then frozen) would never free.
        self.repeats = Repeats(partial(_share_value, self._table.setdefault))

    def share(self, value: object) -> object:
        """`value` with its strings replaced by the shared ones (dicts and lists in place)."""
        if type(value) is dict or type(value) is list:
            _share(value, self._table.setdefault)
        return value

    def take(self, value: object, plan: Plan) -> object:
        """A freshly decoded object: its own strings shared, then its repeated fields built
        (shared already, so not walked again). Raises msgspec.ValidationError as `Repeats`."""
        self.share(value)
        self.repeats.restore(value, plan)
        return value


def _share_value(same: Any, value: object) -> object:
    if type(value) is dict or type(value) is list:
        _share(value, same)
    return value


def _share(value: dict | list, same: Any) -> None:
    if type(value) is dict:
        for key, child in value.items():  # assigning existing keys: safe while iterating
            kind = type(child)
            if kind is str:
                value[key] = same(child, child)
            elif kind is dict or kind is list:
                _share(child, same)
    else:
        for index, child in enumerate(value):
            kind = type(child)
            if kind is str:
                value[index] = same(child, child)
            elif kind is dict or kind is list:
                _share(child, same)


def decode_documents(
    data: bytes, strings: Strings | None = None, checked: set[int] | None = None
) -> list[object]:
    """A JSON file as the documents the loader flattens (one object, a List, or an array).

    A List keeps its envelope (`kind`, `apiVersion`) with each item decoded for its own kind
    (an item without a `kind` takes the list's: `PodList` -> Pod). Raises `Refused` for
    anything the standard parser must judge instead, so errors read as they always did.
    `strings` shares the string values and repeated fields of every object decoded (a table
    of its own when not given). `checked`, when given, receives the ids of the objects a typed
    decoder built: they already have the shape intake holds objects to (see the module
    docstring), and they are the very objects the loader keeps, so the ids stay theirs for as
    long as the caller holds the documents.
    """
    table = strings if strings is not None else Strings()
    built: list[tuple[object, bool]] = []

    def item(raw: msgspec.Raw, default_kind: str | None, api_version: object = None) -> object:
        value, is_typed = _decode_item(raw, default_kind, api_version, table)
        built.append((value, is_typed))
        return value

    try:
        if first_byte(data) == b"[":
            docs: list[object] = [[item(raw, None) for raw in _ITEMS.decode(data)]]
        else:
            doc = _DOCUMENT.decode(data)
            kind, items = doc.get("kind"), doc.get("items")
            if isinstance(kind, str) and kind.endswith("List") and items is not None:
                item_kind = kind[: -len("List")] or None
                api_version = doc.get("apiVersion")
                listed = [item(raw, item_kind, api_version) for raw in items]
                docs = [{**doc, "items": listed}]
            else:
                kind_type = typed(kind)
                if kind_type is None:
                    value = table.share(_ANY.decode(data))
                else:
                    value = table.take(kind_type.decoder.decode(data), kind_type.plan)
                built.append((value, kind_type is not None))
                docs = [value]
    except (msgspec.DecodeError, msgspec.ValidationError):
        raise Refused from None
    if checked is not None:
        checked.update(id(value) for value, is_typed in built if is_typed)
    return docs


def first_byte(data: bytes) -> bytes:
    """The first byte after leading whitespace (without copying the data, as `lstrip` would)."""
    start = _SPACE.match(data).end()  # type: ignore[union-attr]
    return data[start : start + 1]


_SPACE = re.compile(rb"\s*")


def _decode_item(
    raw: msgspec.Raw, default_kind: str | None, api_version: object, table: Strings
) -> tuple[object, bool]:
    """One list item, and whether a typed decoder built it (it then has its kind's shape).

    In a `PodList` (what kubectl and the API give) the kind is known; in a plain `List` each
    item names its own, read first (msgspec skips the rest of the text). An item of a typed
    list without a `kind` gets the list's, and its `apiVersion`, in front of its own fields,
    as the loader gives such items (`load._flatten`), so the object checked is the one kept.
    An item a typed decoder refuses (a wrong-typed value) is parsed generically and pruned:
    intake then sets its wrong values aside, as it does for any source.
    """
    kind = default_kind if _selected(default_kind) else _KIND.decode(raw).get("kind")
    used = kind or default_kind
    try:
        item = _decode_as(raw, used, table)
        own = item.get("kind", _ABSENT) if type(item) is dict else None
        if own is _ABSENT:  # typed only when the list's kind is a selected one (a `PodList`)
            if _selected(used):
                return _with_kind(item, used, api_version), True
            return item, False
        if own is not None and own != kind and kind == default_kind:
            used = own
            item = _decode_as(raw, own, table)  # an item that names another kind than its list
        return item, _selected(used) and own == used
    except msgspec.ValidationError:
        item = _ANY.decode(raw)
        if type(item) is dict and "kind" not in item and _selected(default_kind):
            item = _with_kind(item, default_kind, api_version)  # so that it is pruned as one
        return table.share(prune(item)), False


def _with_kind(item: dict, kind: object, api_version: object) -> dict:
    return {"kind": kind, "apiVersion": api_version, **item}


def _decode_as(raw: msgspec.Raw, kind: object, table: Strings) -> Any:
    kind_type = typed(kind)
    if kind_type is None:
        return table.share(_ANY.decode(raw))
    return table.take(kind_type.decoder.decode(raw), kind_type.plan)


def _selected(kind: object) -> bool:
    return isinstance(kind, str) and kind in SELECTED_KINDS


_ABSENT = object()


def prune(obj: object) -> object:
    """A generically parsed object with the fields the decoder would skip dropped.

    Objects of other kinds, and values of the wrong container type, are returned as they are
    (intake sets the latter aside, as it does for any source).
    """
    if type(obj) is not dict:
        return obj
    kind = obj.get("kind")
    if not isinstance(kind, str) or kind not in SELECTED_KINDS:
        return obj
    fields = shape_of(kind).fields
    return {
        key: _prune(value, fields[key]) if key in fields else value
        for key, value in obj.items()
        if key in fields or key in ALWAYS_KEPT
    }


def _prune(value: Any, schema: Any) -> Any:
    if isinstance(schema, Obj):
        if not schema.fields or type(value) is not dict:
            return value
        return {k: _prune(v, schema.fields[k]) for k, v in value.items() if k in schema.fields}
    if isinstance(schema, ListOf) and type(value) is list:
        return [_prune(v, schema.item) for v in value]
    if isinstance(schema, MapOf) and type(value) is dict:
        return {k: _prune(v, schema.value) for k, v in value.items()}
    return value
