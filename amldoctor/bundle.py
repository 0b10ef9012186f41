"""Writing a snapshot bundle: what `amldoctor dump` hands to a colleague or to support.

A bundle is a directory or a `.tar.gz` holding one JSON `List` file per kind (exactly what
`kubectl get KIND -o json` prints, so other tools read it too) and `manifest.json` (tool version,
context, server, namespace, server version, capture time, the kinds read and those that could not
be, with why). `load.load_snapshot` reads it back into the same snapshot. Every object goes through
`redact_object` first: credential-like env values never leave the machine.
"""

from __future__ import annotations

import io
import json
import os
import tarfile
import tempfile
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC
from pathlib import Path

from amldoctor import __version__
from amldoctor.errors import InputError
from amldoctor.redact import redact_object
from amldoctor.snapshot import Snapshot

MANIFEST = "manifest.json"
FORMAT = 1
TARBALL_SUFFIXES = (".tar.gz", ".tgz")


def manifest(snap: Snapshot, server: str | None = None) -> dict:
    """The manifest.json contract (README, "Snapshots")."""
    collected = snap.collected_kinds
    if collected is None:
        collected = {str(o.get("kind")) for o in snap.objects if o.get("kind")}
    return {
        "tool": "amldoctor",
        "tool_version": __version__,
        "format": FORMAT,
        "context": snap.context,
        "server": server,
        "namespace": snap.namespace,
        "server_version": snap.server_version,
        "captured_at": snap.captured_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "collected": sorted(collected),
        "missing": [m.to_dict() for m in snap.missing],
    }


def bundle_files(snap: Snapshot, server: str | None = None) -> dict[str, bytes]:
    """File name -> content: `<Kind>[.<group>].json` per kind, plus the manifest."""
    by_file: dict[str, list[dict]] = defaultdict(list)
    for obj in snap.objects:
        api_version = str(obj.get("apiVersion") or "v1")
        name = _file_name(str(obj.get("kind") or "Unknown"), api_version)
        by_file[name].append(obj)
    files = {MANIFEST: (json.dumps(manifest(snap, server), indent=2) + "\n").encode()}
    for name, items in sorted(by_file.items()):
        items.sort(key=_sort_key)
        files[name] = _list_document(redact_object(item) for item in items)
    return files


def write_bundle(snap: Snapshot, output: str | Path, server: str | None = None) -> Path:
    """Write a bundle to `output`: a `.tar.gz`/`.tgz` tarball, or else a directory."""
    path = Path(output)
    files = bundle_files(snap, server)
    if path.name.endswith(TARBALL_SUFFIXES):
        _write_tarball(path, files, snap.captured_at.timestamp())
    else:
        _write_directory(path, files)
    return path


def _file_name(kind: str, api_version: str) -> str:
    """`Pod.json`, `Deployment.apps.json`, `Job.batch.volcano.sh.json`: kind.group like kubectl."""
    group = api_version.split("/")[0] if "/" in api_version else ""
    return f"{kind}.{group}.json" if group else f"{kind}.json"


def _sort_key(obj: dict) -> tuple[str, str]:
    meta = obj.get("metadata") or {}
    return (meta.get("namespace") or "", meta.get("name") or "")


def _list_document(items: Iterable[dict]) -> bytes:
    """A `List` with one item per line: diffable and grep-able, and written by the C encoder
    (indented JSON goes through the pure-Python one, several times slower on large clusters)."""
    lines = [json.dumps(item, ensure_ascii=False) for item in items]
    head = '{"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": ""}, "items": ['
    return (head + "\n" + ",\n".join(lines) + "\n]}\n").encode()


def _write_directory(path: Path, files: dict[str, bytes]) -> None:
    if path.exists() and not path.is_dir():
        raise InputError(f"{path} exists and is not a directory")
    if path.is_dir() and not (path / MANIFEST).exists() and any(path.iterdir()):
        raise InputError(f"{path} is a non-empty directory that holds no bundle; choose another")
    try:
        path.mkdir(parents=True, exist_ok=True)
        for stale in path.glob("*.json"):  # an older bundle's kinds must not linger
            stale.unlink()
        for name, data in files.items():
            (path / name).write_bytes(data)
    except OSError as exc:
        raise InputError(f"cannot write {path}: {exc.strerror or exc}") from None


def _write_tarball(path: Path, files: dict[str, bytes], mtime: float) -> None:
    """Written to a temporary file first, so a failed dump never leaves half a tarball."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".amldoctor-", suffix=".tar.gz", dir=path.parent)
    except OSError as exc:
        raise InputError(f"cannot write {path}: {exc.strerror or exc}") from None
    try:
        with (
            os.fdopen(fd, "wb") as raw,
            tarfile.open(fileobj=raw, mode="w:gz", compresslevel=6) as tar,
        ):
            for name, data in files.items():
                info = tarfile.TarInfo(name)
                info.size = len(data)
                info.mtime = int(mtime)
                info.mode = 0o644
                tar.addfile(info, io.BytesIO(data))
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise InputError(f"cannot write {path}: {exc.strerror or exc}") from None
