"""The typed decoder changes nothing but speed and memory, whatever form the input takes.

The selective decoder checks scalar types as it decodes, so intake skips what it built, and it
builds each repeated subtree (container env, tolerations, event object references...) once.
Three things must hold for that to be invisible:

- a wrong-typed value anywhere is set aside exactly as before: the object takes the tolerant
  path (generic parse, prune, intake), with the same `reshaped` count and the same objects.
  The variants are generated: one per declared scalar field found in the fixtures, each given a
  value of the wrong type, in every input form (a `List`, a kubectl `PodList` whose items have
  no kind, a single object, a bare array). The reference is the same file read the tolerant
  way (the decoder refusing it: standard parser, prune, intake), as before the typed decoder;
- every fixture, as JSON, scans the same typed as read the tolerant way;
- nothing in scan or why-pending changes the objects it reads (shared subtrees are shared by
  many objects: a change to one would change them all).
"""

from __future__ import annotations

import copy
import json
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest

from amldoctor import intake, selective, sources, yamlread
from amldoctor.apishapes import shape_of
from amldoctor.load import load_snapshot
from amldoctor.shapes import ListOf, MapOf, Obj
from tests.unit.inprocess import invoke

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = sorted(
    [
        *(ROOT / "fixtures" / "rules").glob("*/*.yaml"),
        *(ROOT / "fixtures" / "whypending").glob("*.yaml"),
    ]
)
# A value of the wrong type for each scalar schema (what a hand-edited file may hold).
WRONG = {
    "str": 7,
    "int": "7",
    "bool": "yes",
    "time": 7,
    "quantity": True,
    "port": 1.5,
    "scalar": [1],
}


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


def _objects(path: Path) -> list[dict]:
    found: list[dict] = []
    for doc in yamlread.load_all(path.read_text()):
        if isinstance(doc, dict) and isinstance(doc.get("items"), list):
            found.extend(i for i in doc["items"] if isinstance(i, dict))
        elif isinstance(doc, dict):
            found.append(doc)
    return [_jsonable(o) for o in found]


def _scalar_paths(value: Any, schema: Any, path: tuple) -> list[tuple[tuple, str]]:
    """(path, scalar schema) for every scalar present in `value` that `schema` declares."""
    if isinstance(schema, Obj) and isinstance(value, dict):
        return [
            found
            for key, child in value.items()
            if key in schema.fields and child is not None
            for found in _scalar_paths(child, schema.fields[key], (*path, key))
        ]
    if isinstance(schema, ListOf) and isinstance(value, list):
        return [
            found
            for i, child in enumerate(value)
            for found in _scalar_paths(child, schema.item, (*path, i))
        ]
    if isinstance(schema, MapOf) and isinstance(value, dict):
        return [
            found
            for key, child in value.items()
            if child is not None
            for found in _scalar_paths(child, schema.value, (*path, key))
        ]
    if isinstance(schema, str) and schema != "any":
        return [(path, schema)]
    return []


def _generic(path: tuple) -> str:
    return ".".join("[]" if isinstance(p, int) else str(p) for p in path)


def _variants() -> list[tuple[str, dict, tuple, str]]:
    """One (id, object, path, schema) per declared scalar field of pods, nodes and events."""
    seen: dict[str, tuple[str, dict, tuple, str]] = {}
    for fixture in FIXTURES:
        for obj in _objects(fixture):
            kind = obj.get("kind")
            if kind not in selective.SELECTED_KINDS:
                continue
            for path, schema in _scalar_paths(obj, shape_of(kind), ()):
                key = f"{kind}.{_generic(path)}"
                seen.setdefault(key, (key, obj, path, schema))
    return sorted(seen.values())


VARIANTS = _variants()


def _with(obj: dict, path: tuple, value: object) -> dict:
    changed = copy.deepcopy(obj)
    parent = changed
    for step in path[:-1]:
        parent = parent[step]
    parent[path[-1]] = value
    return changed


def _forms(kind: str, objects: list[dict]) -> dict[str, object]:
    items = [{k: v for k, v in o.items() if k not in ("kind", "apiVersion")} for o in objects]
    return {
        "list": {"apiVersion": "v1", "kind": "List", "items": objects},
        "typed-list": {"apiVersion": "v1", "kind": f"{kind}List", "items": items},
        "object": objects[0],
        "array": objects,
    }


def _refuse(*args: object, **kwargs: object) -> list[object]:
    raise selective.Refused


def _read(path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[tuple, tuple]:
    """(objects, reshaped) read typed, then read the tolerant way."""
    snap = load_snapshot(path)
    typed = (snap.objects, snap.intake.reshaped)
    with monkeypatch.context() as patch:
        patch.setattr(selective, "decode_documents", _refuse)
        snap = load_snapshot(path)
    return typed, (snap.objects, snap.intake.reshaped)


def test_variants_cover_every_kind_and_every_scalar_type():
    kinds = {v[0].split(".")[0] for v in VARIANTS}
    types = {v[3] for v in VARIANTS}
    assert kinds == {"Pod", "Node", "Event"}
    assert {"str", "int", "bool", "time", "quantity", "port"} <= types
    assert len(VARIANTS) > 100


@pytest.mark.parametrize("form", ["list", "typed-list", "object", "array"])
@pytest.mark.parametrize(("key", "obj", "path", "schema"), VARIANTS, ids=[v[0] for v in VARIANTS])
def test_a_wrong_typed_value_is_set_aside_as_by_the_tolerant_path(
    tmp_path, monkeypatch, key, obj, path, schema, form
):
    wrong = _with(obj, path, WRONG[schema])
    doc = _forms(obj["kind"], [wrong, obj] if form != "object" else [wrong])[form]
    (tmp_path / "in.json").write_text(json.dumps(doc))
    typed, tolerant = _read(tmp_path / "in.json", monkeypatch)
    assert typed == tolerant
    assert typed[1] == 1


def test_a_number_msgspec_cannot_hold_sends_the_file_the_standard_way(tmp_path, monkeypatch):
    """`1e999` is refused by msgspec for the whole document; the standard parser reads it as
    infinity, which intake sets aside as before."""
    pod = next(o for f in FIXTURES for o in _objects(f) if o.get("kind") == "Pod")
    text = json.dumps({"kind": "List", "items": [pod]}).replace("{", '{"priority": 1e999, ', 1)
    text = text.replace('"spec": {', '"spec": {"overhead": {"cpu": 1e999}, ', 1)
    (tmp_path / "a.json").write_text(text)
    typed, tolerant = _read(tmp_path / "a.json", monkeypatch)
    assert typed == tolerant
    assert typed[1] == 1


def test_typed_objects_are_not_walked_by_intake_again(tmp_path, monkeypatch):
    """The point of the strict types: intake holds to their shape only what the decoder did
    not build (here: the one object with a wrong-typed value)."""
    pods = [o for f in FIXTURES[:20] for o in _objects(f) if o.get("kind") == "Pod"][:5]
    wrong = _with(pods[0], ("spec", "priority"), "high")
    (tmp_path / "p.json").write_text(json.dumps({"kind": "List", "items": [wrong, *pods[1:]]}))
    walked: list[dict] = []
    real = intake.conform

    def conform(value, schema, path=""):  # type: ignore[no-untyped-def]
        walked.append(value)
        return real(value, schema, path)

    monkeypatch.setattr(intake, "conform", conform)
    snap = load_snapshot(tmp_path / "p.json")
    assert [w["metadata"]["name"] for w in walked] == [wrong["metadata"]["name"]]
    assert snap.intake.reshaped == 1


def test_repeated_subtrees_are_one_object(tmp_path):
    pod = next(
        o
        for f in FIXTURES
        for o in _objects(f)
        if o.get("kind") == "Pod" and (o.get("spec") or {}).get("tolerations")
    )
    other = _with(pod, ("metadata",), {"name": "other", "namespace": "ns", "uid": "other"})
    (tmp_path / "p.json").write_text(json.dumps({"kind": "List", "items": [pod, other]}))
    first, second = load_snapshot(tmp_path / "p.json").of_kind("Pod")
    assert first["spec"]["tolerations"] == pod["spec"]["tolerations"]
    assert first["spec"]["tolerations"] is second["spec"]["tolerations"]


def _as_json_copy(fixture: Path, tmp_path: Path) -> Path:
    path = tmp_path / (fixture.stem + ".json")
    path.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": _objects(fixture)}))
    return path


def _scan(path: Path) -> dict:
    result = invoke("scan", "--snapshot", str(path), "-A", "-o", "json", "--fail-on", "never")
    assert result.code == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.parametrize("fixture", FIXTURES, ids=lambda p: str(p.relative_to(ROOT)))
def test_a_fixture_as_json_scans_the_same_typed_as_read_the_tolerant_way(
    fixture, tmp_path, monkeypatch
):
    path = _as_json_copy(fixture, tmp_path)
    typed = _scan(path)
    monkeypatch.setattr(selective, "decode_documents", _refuse)
    assert typed == _scan(path)


@pytest.mark.parametrize("fixture", FIXTURES, ids=lambda p: str(p.relative_to(ROOT)))
def test_scan_and_why_pending_leave_the_objects_they_read_unchanged(fixture, tmp_path, monkeypatch):
    path = _as_json_copy(fixture, tmp_path)
    loaded: list = []

    def keep(target):  # type: ignore[no-untyped-def]
        snap = load_snapshot(target)
        loaded.append((snap, json.dumps(snap.objects, sort_keys=True, default=str)))
        return snap

    monkeypatch.setattr(sources, "load_snapshot", keep)
    invoke("scan", "--snapshot", str(path), "-A", "-o", "json", "--fail-on", "never")
    pods = [
        o for o in _objects(fixture) if o.get("kind") == "Pod" and not o["spec"].get("nodeName")
    ]
    for pod in pods[:3]:
        meta = pod["metadata"]
        invoke(
            "why-pending",
            meta["name"],
            "-n",
            meta.get("namespace", "default"),
            "--snapshot",
            str(path),
            "-o",
            "json",
        )
    assert loaded
    for snap, before in loaded:
        assert json.dumps(snap.objects, sort_keys=True, default=str) == before
