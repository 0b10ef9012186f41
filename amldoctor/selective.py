"""Reading only the fields amldoctor reads: a typed JSON decoder built from `apishapes`.

Python's objects for parsed JSON take four to five times the JSON text, and most of a pod,
node or event is fields no rule reads (termination message paths, DNS policy, images listed
on each node, probe handlers of every sidecar...). `json.load` builds all of it, and a
5,000-node bundle then needs more memory than the questions asked of it. Here, for the kinds
that make up nearly all of a cluster's bytes (`SELECTED_KINDS`), the decoder builds dicts of
the declared fields only and skips the rest of the text without building it (msgspec, with
`TypedDict` types generated once from the shapes). Every other kind is kept whole: rules read
their fields more freely and they are few.

What this must not change is what a snapshot accepts and how a wrong value is treated. So the
generated types check nothing but "an object here, a list there": a scalar that has the wrong
type is still decoded and later set aside by `intake` exactly as before (`shapes.conform`).
When the decoder refuses a document (a wrong-typed container, or JSON that msgspec does not
accept and the standard library does, such as `NaN`), the caller falls back to the standard
parser and `prune`, which drops the same fields from the generic tree: the result is the same,
only slower, for the rare file that needs it. YAML snapshots go through `prune` too, so a
JSON and a YAML copy of one cluster read the same fields.

The consequence for code that reads objects: a field of a Pod, Node or Event that is not
declared in `apishapes` is not there. Declare it before reading it.
"""

from __future__ import annotations

import re
from typing import Any, TypedDict

import msgspec

from amldoctor.apishapes import shape_of
from amldoctor.shapes import ListOf, MapOf, Obj

# The kinds decoded selectively: together nearly all of a cluster's bytes (pods above all).
SELECTED_KINDS = frozenset({"Pod", "Node", "Event"})
# Kept on every object whatever its shape says: what names the kind.
ALWAYS_KEPT = ("kind", "apiVersion")


class Refused(Exception):
    """The decoder cannot read this document as typed; parse it generically and `prune`."""


def _type_of(schema: Any, name: str) -> Any:
    """The msgspec type of one schema: containers checked, scalars not (intake judges them)."""
    if isinstance(schema, Obj):
        if not schema.fields:  # "an object, fields unlisted": kept whole
            return dict[str, Any] | None
        fields = {key: _type_of(sub, f"{name}_{key}") for key, sub in schema.fields.items()}
        return _typed_dict(name, fields) | None
    if isinstance(schema, ListOf):
        return list[_type_of(schema.item, f"{name}Item")] | None  # type: ignore[misc]
    if isinstance(schema, MapOf):
        return dict[str, _type_of(schema.value, f"{name}Value")] | None  # type: ignore[misc]
    return Any


def _object_type(kind: str) -> Any:
    shape = shape_of(kind)
    fields = {key: _type_of(sub, f"{kind}_{key}") for key, sub in shape.fields.items()}
    fields.update({key: Any for key in ALWAYS_KEPT})
    return _typed_dict(kind, fields)


def _typed_dict(name: str, fields: dict[str, Any]) -> Any:
    """A `total=False` TypedDict: msgspec builds a plain dict of the fields present."""
    return TypedDict(name, fields, total=False)  # type: ignore[operator]


class _Kind(TypedDict, total=False):
    kind: Any


class _Document(TypedDict, total=False):
    """A document's kind, and its items as undecoded slices when it is a list."""

    kind: Any
    apiVersion: Any
    items: list[msgspec.Raw]


_DECODERS: dict[str, msgspec.json.Decoder] = {}
_DOCUMENT = msgspec.json.Decoder(_Document)
_KIND = msgspec.json.Decoder(_Kind)
_ITEMS = msgspec.json.Decoder(list[msgspec.Raw])
_ANY = msgspec.json.Decoder()


def decoder(kind: object) -> msgspec.json.Decoder:
    """The decoder for one object of `kind`: selective for `SELECTED_KINDS`, else whole."""
    if not isinstance(kind, str) or kind not in SELECTED_KINDS:
        return _ANY
    found = _DECODERS.get(kind)
    if found is None:
        found = _DECODERS[kind] = msgspec.json.Decoder(_object_type(kind))
    return found


def page_decoder(kind: str) -> msgspec.json.Decoder:
    """A LIST response of `kind` (`{"metadata": ..., "items": [...]}`), in one pass."""
    key = f"{kind}List"
    found = _DECODERS.get(key)
    if found is None:
        item = _object_type(kind) if kind in SELECTED_KINDS else dict[str, Any]
        page = _typed_dict(key, {"metadata": Any, "items": list[item] | None})  # type: ignore[valid-type]
        found = _DECODERS[key] = msgspec.json.Decoder(page)
    return found


def decode_page(kind: str, data: bytes, strings: Strings | None = None) -> dict:
    """One LIST page; `Refused` when it needs the generic parser."""
    try:
        page = page_decoder(kind).decode(data)
    except (msgspec.DecodeError, msgspec.ValidationError):
        raise Refused from None
    if strings is not None:
        for item in page.get("items") or ():
            strings.share(item)
    return page


class Strings:
    """One object per distinct string value across everything one load or collection reads.

    Most of a cluster's string values repeat: "True", "Ready", the namespace, the node a pod
    is bound to, the image, "kubelet", every label value of a Deployment's pods. Each copy is a
    separate object of 50 bytes or more, and strings are half of what decoded pods, nodes and
    events weigh; sharing them cuts that weight by a third. Done per object as it is decoded,
    so the duplicates are freed (and their memory reused) before the next one is built. The
    table itself lives only as long as the load.
    """

    def __init__(self) -> None:
        self._table: dict[str, str] = {}

    def share(self, value: object) -> object:
        """`value` with its strings replaced by the shared ones (dicts and lists in place)."""
        if type(value) is dict or type(value) is list:
            _share(value, self._table.setdefault)
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


def decode_documents(data: bytes, strings: Strings | None = None) -> list[object]:
    """A JSON file as the documents the loader flattens (one object, a List, or an array).

    A List keeps its envelope (`kind`, `apiVersion`) with each item decoded for its own kind
    (an item without a `kind` takes the list's: `PodList` -> Pod). Raises `Refused` for
    anything the standard parser must judge instead, so errors read as they always did.
    `strings`, when given, shares the string values of every object decoded.
    """
    share = strings.share if strings is not None else _same
    try:
        if first_byte(data) == b"[":
            return [[share(_decode_item(raw, None)) for raw in _ITEMS.decode(data)]]
        doc = _DOCUMENT.decode(data)
        kind, items = doc.get("kind"), doc.get("items")
        if isinstance(kind, str) and kind.endswith("List") and items is not None:
            item_kind = kind[: -len("List")] or None
            return [{**doc, "items": [share(_decode_item(raw, item_kind)) for raw in items]}]
        return [share(decoder(kind).decode(data))]
    except (msgspec.DecodeError, msgspec.ValidationError):
        raise Refused from None


def _same(value: object) -> object:
    return value


def first_byte(data: bytes) -> bytes:
    """The first byte after leading whitespace (without copying the data, as `lstrip` would)."""
    start = _SPACE.match(data).end()  # type: ignore[union-attr]
    return data[start : start + 1]


_SPACE = re.compile(rb"\s*")


def _decode_item(raw: msgspec.Raw, default_kind: str | None) -> object:
    """One list item. In a `PodList` (what kubectl and the API give) the kind is known; in a
    plain `List` each item names its own, read first (msgspec skips the rest of the text)."""
    kind = default_kind if default_kind in SELECTED_KINDS else _KIND.decode(raw).get("kind")
    try:
        item = decoder(kind or default_kind).decode(raw)
        own = item.get("kind") if type(item) is dict else None
        if own is not None and own != kind and kind == default_kind:
            item = decoder(own).decode(raw)  # an item that names another kind than its list
        return item
    except msgspec.ValidationError:
        return prune(_ANY.decode(raw))  # one odd item: generic, then the same fields kept


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
    kept = _prune(obj, shape_of(kind))
    for key in ALWAYS_KEPT:
        if key in obj:
            kept[key] = obj[key]
    return kept


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
