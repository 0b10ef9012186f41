"""The types of the API fields amldoctor reads, and one walk that holds input to them.

Snapshots come from customers, support bundles and hand-edited files, and manifests from Helm
charts half-rendered: `containers: "x"`, `requests` as a list, `nodeSelector` as a list,
`tolerations` as a string. The API server would have rejected those objects; amldoctor must not
crash on them either. Rather than making every one of the hundreds of places that read a field
check its type, the fields amldoctor reads are declared here once, with their types, and
`conform` returns the object with every wrong-typed value removed, plus where it removed one.
Everything downstream can then trust the shape of what it reads; `lint` turns the same list of
problems into findings, so the user learns about them rather than about a traceback.

A schema is one of:
- a scalar type name: "str", "int", "bool", "time" (a string, or the datetime YAML makes of an
  unquoted timestamp), "quantity" (a string or a finite number), "port" (an int or a name),
  "scalar" (any string, number or bool) or "any" (not checked);
- `Obj({...})`: an object whose listed fields have these schemas (others are left alone);
- `ListOf(item)` and `MapOf(value)`: a list, or a string-keyed object, of one schema.

Nothing is copied unless something had to be removed, so a well-formed cluster of 50,000 pods
costs one walk and no allocation.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any


@dataclass(frozen=True)
class Obj:
    """An object: the fields amldoctor reads and their schemas."""

    fields: dict[str, Any]


@dataclass(frozen=True)
class ListOf:
    item: Any


@dataclass(frozen=True)
class MapOf:
    value: Any


@dataclass(frozen=True)
class Problem:
    """One removed value: where (a dotted path), what was expected, and what was there."""

    path: str
    expected: str
    got: str

    def __str__(self) -> str:
        return f"{self.path} must be {self.expected}, not {self.got}"


_REMOVED = object()


def _scalar_ok(kind: str, value: object) -> bool:
    if kind == "any":
        return True
    if kind == "str":
        return isinstance(value, str)
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "time":
        return isinstance(value, str | datetime | date)
    if kind == "quantity":
        if isinstance(value, str):
            return True
        return isinstance(value, int | float) and not isinstance(value, bool) and _finite(value)
    if kind == "port":
        return isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))
    if kind == "scalar":
        return isinstance(value, str | int | float | bool)
    raise ValueError(f"unknown scalar schema {kind!r}")


def _finite(value: int | float) -> bool:
    return isinstance(value, int) or math.isfinite(value)


_EXPECTED = {
    "str": "a string",
    "int": "an integer",
    "bool": "true or false",
    "time": "a timestamp",
    "quantity": "a quantity",
    "port": "a port number or name",
    "scalar": "a scalar",
}


def describe(value: object) -> str:
    """'a list', 'null', 'the string "x"': for messages about a wrong value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, str):
        shown = value if len(value) <= 20 else value[:17] + "..."
        return f"the string {shown!r}"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def expected_of(schema: Any) -> str:
    if isinstance(schema, Obj):
        return "an object"
    if isinstance(schema, ListOf):
        return "a list"
    if isinstance(schema, MapOf):
        return "an object (a map)"
    return _EXPECTED.get(schema, schema)


def conform(value: object, schema: Any, path: str = "") -> tuple[object, list[Problem]]:
    """`value` held to `schema`: wrong-typed parts removed, and where.

    The value itself is returned (not a copy) when nothing had to be removed. A top-level value
    of the wrong type comes back as `None`... callers conform objects (dicts) they already know
    are objects, and get `{}` semantics from the `Obj` case below.
    """
    if checker(schema)(value):  # the common case: nothing to remove, no path to build
        return value, []
    problems: list[Problem] = []
    result = _walk(value, schema, path, problems)
    return (None if result is _REMOVED else result), problems


_CHECKERS: dict[int, Callable[[object], bool]] = {}


def checker(schema: Any) -> Callable[[object], bool]:
    """A fast yes/no test of `value` against `schema` (built once per schema).

    It visits only the fields present in the value (a key-set intersection) and builds no
    paths, so a 50,000-pod cluster is checked in about a second; the slow walk that says where
    a problem is runs only for the rare object that has one.
    """
    key = id(schema)
    found = _CHECKERS.get(key)
    if found is None:
        found = _CHECKERS[key] = _compile(schema)
        _KEEP.append(schema)  # the id stays this schema's for as long as the checker is cached
    return found


_KEEP: list[Any] = []


def _compile(schema: Any) -> Callable[[object], bool]:
    if isinstance(schema, Obj):
        subs = {name: checker(sub) for name, sub in schema.fields.items()}
        lookup = subs.get

        def check_obj(value: object) -> bool:
            if type(value) is not dict:
                return False
            for name, child in value.items():  # present fields only, no allocation
                sub = lookup(name)
                if sub is not None and child is not None and not sub(child):
                    return False
            return True

        return check_obj
    if isinstance(schema, ListOf):
        item = checker(schema.item)
        return lambda value: type(value) is list and all(v is not None and item(v) for v in value)
    if isinstance(schema, MapOf):
        entry = checker(schema.value)
        return lambda value: (
            type(value) is dict
            and all(type(k) is str and (v is None or entry(v)) for k, v in value.items())
        )
    fast = {
        "str": lambda value: type(value) is str,
        "int": lambda value: type(value) is int,
        "bool": lambda value: type(value) is bool,
        "any": lambda value: True,
    }.get(schema)
    if fast is not None:
        return fast
    if schema == "time":
        return lambda value: type(value) is str or _scalar_ok("time", value)
    if schema == "quantity":
        return lambda value: type(value) is str or _scalar_ok("quantity", value)
    return lambda value: _scalar_ok(schema, value)


def _walk(value: object, schema: Any, path: str, problems: list[Problem]) -> object:
    if isinstance(schema, Obj):
        if not isinstance(value, dict):
            return _reject(value, schema, path, problems)
        changed: dict | None = None
        for key, sub in schema.fields.items():
            if key not in value:
                continue
            child = value[key]
            if child is None:  # an explicit null is "unset" to the API server too: readers cope
                continue
            new = _walk(child, sub, f"{path}.{key}" if path else key, problems)
            if new is not child:
                if changed is None:
                    changed = dict(value)
                if new is _REMOVED:
                    del changed[key]
                else:
                    changed[key] = new
        return value if changed is None else changed
    if isinstance(schema, ListOf):
        if not isinstance(value, list):
            return _reject(value, schema, path, problems)
        items: list | None = None
        for index, child in enumerate(value):
            new = _walk(child, schema.item, f"{path}[{index}]", problems)
            if new is not child and items is None:
                items = list(value[:index])
            if items is not None and new is not _REMOVED:
                items.append(new)
        return value if items is None else items
    if isinstance(schema, MapOf):
        if not isinstance(value, dict):
            return _reject(value, schema, path, problems)
        entries: dict | None = None
        for key, child in value.items():
            if child is None and isinstance(key, str):
                continue
            new = (
                _REMOVED
                if not isinstance(key, str)
                else _walk(child, schema.value, f"{path}.{key}", problems)
            )
            if new is not child or not isinstance(key, str):
                if entries is None:
                    entries = dict(value)
                if new is _REMOVED:
                    del entries[key]
                    if not isinstance(key, str):
                        problems.append(Problem(f"{path}.{key}", "a string key", describe(key)))
                else:
                    entries[key] = new
        return value if entries is None else entries
    if _scalar_ok(schema, value):
        return value
    return _reject(value, schema, path, problems)


def _reject(value: object, schema: Any, path: str, problems: list[Problem]) -> object:
    problems.append(Problem(path, expected_of(schema), describe(value)))
    return _REMOVED
