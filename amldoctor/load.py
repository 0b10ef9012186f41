"""Reading snapshots from disk: a file, a directory, or a .tar.gz of either.

Accepts exactly what users have: `kubectl get ... -o yaml|json` output (one object, a `List`,
a typed `PodList`, multi-document YAML), a directory of such files, and bundles written by
`amldoctor dump` (with `manifest.json`). Every malformed input becomes one `InputError` line that
names the file (and the line, for YAML), never a traceback. This module must not import the
`kubernetes` client: offline use stays fast.
"""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Iterator
from pathlib import Path

import yaml

from amldoctor.errors import InputError
from amldoctor.k8s.timeutil import parse_time
from amldoctor.snapshot import Missing, Snapshot

MANIFEST = "manifest.json"
DATA_SUFFIXES = (".yaml", ".yml", ".json")
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_snapshot(path: str | Path) -> Snapshot:
    """Load a snapshot; raise InputError with one clear line for anything unusable."""
    p = Path(path)
    if str(path) == "-":
        raise InputError("--snapshot - (stdin) is not supported; save the output to a file first")
    if not p.exists():
        raise InputError(f"snapshot path {str(path)!r} does not exist")
    if p.is_dir():
        files = _dir_files(p)
        what = f"directory {p}"
    elif p.name.endswith((".tar.gz", ".tgz", ".tar")):
        files = _tar_files(p)
        what = f"tarball {p}"
    else:
        files = [(str(p), _read(p))]
        what = str(p)

    manifest: dict = {}
    objects: list[dict] = []
    for name, data in files:
        if Path(name).name == MANIFEST:
            manifest = _parse_manifest(name, data)
            continue
        objects.extend(parse_documents(name, data))
    if not objects:
        raise InputError(f"{what} holds no Kubernetes objects (expected kubectl get -o yaml/json output)")
    return Snapshot(
        objects,
        source=str(path),
        server_version=manifest.get("server_version"),
        captured_at=parse_time(manifest.get("captured_at")),
        namespace=manifest.get("namespace"),
        context=manifest.get("context"),
        missing=[Missing.from_dict(m) for m in manifest.get("missing") or () if isinstance(m, dict)],
        collected_kinds=set(manifest["collected"]) if isinstance(manifest.get("collected"), list) else None,
    )


def _read(p: Path) -> bytes:
    try:
        return p.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {p}: {exc.strerror or exc}") from None


def _dir_files(root: Path) -> list[tuple[str, bytes]]:
    paths = sorted(
        f for f in root.rglob("*") if f.is_file() and (f.suffix in DATA_SUFFIXES or f.name == MANIFEST)
    )
    return [(str(f), _read(f)) for f in paths]


def _tar_files(p: Path) -> list[tuple[str, bytes]]:
    try:
        with tarfile.open(p, "r:*") as tar:
            out = []
            for member in sorted(tar.getmembers(), key=lambda m: m.name):
                if not member.isfile():
                    continue
                if not (member.name.endswith(DATA_SUFFIXES) or Path(member.name).name == MANIFEST):
                    continue
                handle = tar.extractfile(member)
                if handle is not None:
                    out.append((f"{p}:{member.name}", handle.read()))
            return out
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise InputError(f"{p} is not a readable tarball: {exc}") from None


def _parse_manifest(name: str, data: bytes) -> dict:
    try:
        manifest = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{name}: manifest is not valid JSON: {exc}") from None
    if not isinstance(manifest, dict):
        raise InputError(f"{name}: manifest must be a JSON object")
    return manifest


def _decode(name: str, data: bytes) -> str:
    if not data.strip():
        raise InputError(f"{name} is empty")
    if b"\x00" in data[:8192]:
        raise InputError(f"{name} is a binary file, not YAML or JSON")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError(f"{name} is a binary file, not YAML or JSON (invalid UTF-8)") from None


def parse_documents(name: str, data: bytes) -> list[dict]:
    """All Kubernetes objects in one file's bytes, with `List`s flattened."""
    text = _decode(name, data)
    stripped = text.lstrip()
    if stripped.startswith(("{", "[")):
        try:
            docs = [json.loads(text)]
        except json.JSONDecodeError:
            docs = list(_yaml_documents(name, text))  # JSON-looking YAML flow style
    else:
        docs = list(_yaml_documents(name, text))
    objects: list[dict] = []
    for index, doc in enumerate(docs):
        if doc is None:
            continue
        objects.extend(_flatten(name, index, doc))
    return objects


def _yaml_documents(name: str, text: str) -> Iterator[object]:
    try:
        yield from yaml.load_all(io.StringIO(text), Loader=_Loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{name}:{mark.line + 1}" if mark is not None else name
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise InputError(f"{where}: YAML syntax error: {problem}") from None


def _flatten(name: str, index: int, doc: object) -> list[dict]:
    if isinstance(doc, list):  # a bare JSON array of objects
        return [obj for i, item in enumerate(doc) for obj in _flatten(name, i, item)]
    if not isinstance(doc, dict):
        raise InputError(f"{name}: document {index + 1} is not a Kubernetes object (got {type(doc).__name__})")
    kind = doc.get("kind")
    if not kind or not isinstance(kind, str):
        raise InputError(f"{name}: document {index + 1} has no 'kind' (is this kubectl -o yaml/json output?)")
    if kind.endswith("List") and isinstance(doc.get("items"), list):
        item_kind = kind[: -len("List")] or None  # PodList -> Pod; plain List has no default
        api_version = doc.get("apiVersion")
        items = []
        for i, item in enumerate(doc["items"]):
            if not isinstance(item, dict):
                raise InputError(f"{name}: item {i + 1} of {kind} is not an object")
            if not item.get("kind"):
                if not item_kind:
                    raise InputError(f"{name}: item {i + 1} of the List has no 'kind'")
                item = {"kind": item_kind, "apiVersion": api_version, **item}
            items.append(item)
        return items
    return [doc]
