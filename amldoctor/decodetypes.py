"""The msgspec types `selective` decodes with, generated from `apishapes`.

Two things are decided here, once per kind:

- **Strict scalars.** Every declared scalar gets the type `shapes.checker` accepts from JSON
  (a string, an integer, a boolean, a quantity as a string or a number...), so an object the
  typed decoder builds is one intake would keep unchanged: intake need not walk it again. A
  wrong-typed value makes msgspec refuse the object, and the caller takes it generically.
- **Repeated subtrees.** Some parts of an object are, byte for byte, the same in thousands of
  objects: a Deployment's replicas carry the same container `env`, `resources` and probes, the
  same tolerations and affinity and owner; the events about one pod name it in the same
  `involvedObject`. Built once per object, they were half of a loaded cluster's memory (at
  5,000 nodes: env lists 100 MiB, tolerations 44 MiB, event object references 48 MiB...).
  These fields are decoded as their raw JSON text first (`msgspec.Raw`, a slice of the input,
  nothing built); `Repeats` then builds each distinct text once, strictly typed, and every
  object with the same text gets the same value. Callers must therefore treat what they read
  as read-only (amldoctor's analysis never changes a snapshot's objects; what-if code works
  on deep copies), which a unit test checks over every fixture.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TypedDict

import msgspec

from amldoctor.apishapes import CONTAINER, CONTAINER_STATUS, METADATA, POD_SPEC, VOLUME, shape_of
from amldoctor.shapes import ListOf, MapOf, Obj

# Kept on every object whatever its shape says: what names the kind.
ALWAYS_KEPT = ("kind", "apiVersion")

# Where values repeat from object to object: shared, decoded once per distinct JSON text.
# Keyed by the shape (`apishapes` object) whose fields they are, or by kind for top-level fields.
REPEATED_FIELDS: dict[int, frozenset[str]] = {
    id(CONTAINER): frozenset(
        {"env", "envFrom", "resources", "ports", "livenessProbe", "readinessProbe",
         "startupProbe", "securityContext", "lifecycle"}
    ),
    id(POD_SPEC): frozenset({"tolerations", "affinity", "securityContext", "nodeSelector"}),
    id(METADATA): frozenset({"ownerReferences"}),
    # A volume's name differs from pod to pod (kube-api-access-x7k2p), its source rarely.
    id(VOLUME): frozenset(
        {"projected", "configMap", "secret", "emptyDir", "hostPath", "csi", "ephemeral"}
    ),
    id(CONTAINER_STATUS): frozenset({"lastState", "resources"}),
}  # fmt: skip
REPEATED_TOP: dict[str, frozenset[str]] = {
    "Event": frozenset({"involvedObject", "regarding", "source"}),
}

# The msgspec type of each scalar schema: exactly what `shapes.checker` accepts from JSON, or
# less (a JSON document cannot hold the datetimes YAML makes of timestamps). Numbers msgspec
# cannot represent (`1e999`) it refuses outright, so every float it builds is finite.
_SCALARS: dict[str, Any] = {
    "str": str,
    "int": int,  # msgspec refuses `1.0` and `true` here, as the checker does
    "bool": bool,
    "time": str,
    "quantity": str | int | float,
    "port": str | int,
    "scalar": str | int | float | bool,
    "any": Any,
}


@dataclass(frozen=True)
class Repeated:
    """A field decoded as raw text, then built once per distinct text by `decoder`.

    `schema` is the identity of the field's shape: fields of one shape share their values, so
    a container status reporting its container's resources (as the kubelet does for every
    running container) holds the very dict its container holds."""

    decoder: msgspec.json.Decoder = field(compare=False)
    schema: int = 0


# A plan says where, inside a decoded value, raw fields wait to be built:
# ("obj", {key: plan or Repeated}), ("list", plan) or ("map", plan); None when nowhere.
Plan = tuple[str, Any] | None


def compile_type(schema: Any, name: str, repeats: bool = True) -> tuple[Any, Plan]:
    """The strict msgspec type of one schema (`None` not included, see `field_type`), and
    where its repeated fields are (none when `repeats` is false: a repeated subtree's own)."""
    if isinstance(schema, Obj):
        if not schema.fields:  # "an object, fields unlisted": kept whole
            return dict[str, Any], None
        shared = REPEATED_FIELDS.get(id(schema), frozenset()) if repeats else frozenset()
        return _typed_object(schema.fields, name, shared, repeats, {})
    if isinstance(schema, ListOf):  # a null item is wrong (the checker says so too)
        item, plan = compile_type(schema.item, f"{name}Item", repeats)
        return list[item], (("list", plan) if plan else None)  # type: ignore[valid-type]
    if isinstance(schema, MapOf):
        value, plan = field_type(schema.value, f"{name}Value", repeats)
        return dict[str, value], (("map", plan) if plan else None)  # type: ignore[valid-type]
    return _SCALARS[schema], None


def field_type(schema: Any, name: str, repeats: bool = True) -> tuple[Any, Plan]:
    """A field's or a map value's type: an explicit null is "unset" and always accepted."""
    kind, plan = compile_type(schema, name, repeats)
    return (Any if kind is Any else kind | None), plan


def object_type(kind: str) -> tuple[Any, Plan]:
    """The type of a whole object of `kind` (kind and apiVersion kept), and its plan."""
    extra = {key: Any for key in ALWAYS_KEPT}
    shared = REPEATED_TOP.get(kind, frozenset())
    return _typed_object(shape_of(kind).fields, kind, shared, True, extra)


def _typed_object(
    fields: dict[str, Any], name: str, shared: frozenset[str], repeats: bool, extra: dict
) -> tuple[Any, Plan]:
    types: dict[str, Any] = {}
    steps: dict[str, Any] = {}
    for key, sub in fields.items():
        if key in shared:
            whole, _ = field_type(sub, f"{name}_{key}", repeats=False)
            types[key] = msgspec.Raw
            steps[key] = Repeated(msgspec.json.Decoder(whole), id(sub))
            continue
        types[key], plan = field_type(sub, f"{name}_{key}", repeats)
        if plan:
            steps[key] = plan
    types.update(extra)
    typed = TypedDict(name, types, total=False)  # type: ignore[misc]
    return typed, (("obj", steps) if steps else None)


class Repeats:
    """Each distinct text of a repeated field, built once: one table per load or collection.

    `share`, when given, is applied to each value once as it is built (string sharing).
    """

    def __init__(self, share: Any = None) -> None:
        self._built: dict[tuple[int, bytes], object] = {}
        self._share = share

    def restore(self, value: Any, plan: Plan) -> None:
        """Replace, in place, every raw field of `value` (decoded with `plan`) by its value.

        Raises msgspec.ValidationError when a raw text does not have its field's type.
        """
        if plan is None or value is None:
            return
        what, inner = plan
        if what == "obj":
            for key, step in inner.items():
                child = value.get(key)
                if child is None:
                    continue
                if type(step) is Repeated:
                    value[key] = self._value(step, child)
                else:
                    self.restore(child, step)
        elif what == "list":
            for item in value:
                self.restore(item, inner)
        else:
            for item in value.values():
                self.restore(item, inner)

    def _value(self, step: Repeated, raw: msgspec.Raw) -> object:
        key = (step.schema, bytes(raw))
        found = self._built.get(key, _MISSING)
        if found is _MISSING:
            found = step.decoder.decode(raw)
            if self._share is not None:
                found = self._share(found)
            self._built[key] = found
        return found


_MISSING = object()
