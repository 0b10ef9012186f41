"""Reading snapshots from disk: a file, a directory, or a .tar.gz of either.

Accepts exactly what users have: `kubectl get ... -o yaml|json` output (one object, a `List`,
a typed `PodList`, multi-document YAML), a directory of such files, and bundles written by
`amldoctor dump` (with `manifest.json`). Every malformed input becomes one `InputError` line that
names the file (and the line, for YAML), never a traceback. This module must not import the
`kubernetes` client: offline use stays fast.
"""

from __future__ import annotations

import gc
import json
import tarfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from amldoctor import selective, yamlread
from amldoctor.errors import InputError
from amldoctor.intake import describe_status
from amldoctor.k8s.timeutil import parse_time
from amldoctor.snapshot import Missing, Snapshot

MANIFEST = "manifest.json"
DATA_SUFFIXES = (".yaml", ".yml", ".json")
FREEZE_AT = 10_000  # objects: about 150,000 containers, a collector pass of a tenth of a second


def load_snapshot(path: str | Path) -> Snapshot:
    """Load a snapshot; raise InputError with one clear line for anything unusable.

    Files are read and parsed one at a time, so a bundle's raw bytes are never all in memory
    with its objects. Should any file be unusable, the reading starts over in name order (all
    files read, then parsed), so the error names the file a plain sequential read would.
    """
    p = Path(path)
    if str(path) == "-":
        raise InputError("--snapshot - (stdin) is not supported; save the output to a file first")
    if not p.exists():
        raise InputError(f"snapshot path {str(path)!r} does not exist")
    checked: set[int] = set()  # ids of objects the typed decoder built: intake skips them
    with long_lived_objects() as keep:
        manifest, objects, what = _load_files(p, checked)
        keep(objects)
    if not objects:
        raise InputError(
            f"{what} holds no Kubernetes objects (expected kubectl get -o yaml/json output)"
        )
    snap = Snapshot(
        objects,
        source=str(path),
        server_version=_text(manifest.get("server_version")),
        captured_at=parse_time(manifest.get("captured_at")),
        namespace=_text(manifest.get("namespace")),
        context=_text(manifest.get("context")),
        missing=[
            Missing.from_dict(m) for m in manifest.get("missing") or () if isinstance(m, dict)
        ],
        collected_kinds={str(k) for k in manifest["collected"]}
        if isinstance(manifest.get("collected"), list)
        else None,
        checked=checked,
    )
    del checked  # ids of live objects only while `objects` holds them
    if not snap.objects:
        statuses = snap.intake.statuses
        detail = f": {describe_status(statuses[0])}" if statuses else ""
        raise InputError(
            f"{what} holds API errors, not Kubernetes objects{detail}"
            if statuses
            else f"{what} holds no Kubernetes objects (expected kubectl get -o yaml/json output)"
        )
    return snap


def _text(value: object) -> str | None:
    """A manifest field that should be a string; anything else counts as absent."""
    return value if isinstance(value, str) and value else None


@contextmanager
def long_lived_objects() -> Iterator[Callable[[list], None]]:
    """Build objects that live as long as the snapshot with the cyclic collector paused.

    Yields `keep(objects)`, to call once the snapshot's objects are built: it freezes them
    when there are FREEZE_AT or more. Used for bundles (here) and live collections
    (`collect.py`) alike.

    Parsed documents hold no reference cycles, yet every dict and list they are made of counts
    towards the collector's thresholds: left on, it re-traverses everything built so far again
    and again (parsing a 5,000-node bundle took twice as long), and its first full pass after
    loading walks millions of containers for nothing (about 5 s there). Frozen (`gc.freeze`),
    a big snapshot is never traversed again; reference counting still frees it. Small snapshots
    are not frozen, so a long-lived process that loads many of them keeps collecting as usual.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield _freeze_if_large
    finally:
        if enabled:
            gc.enable()


def _freeze_if_large(objects: list) -> None:
    if len(objects) >= FREEZE_AT:
        gc.freeze()


def _load_files(p: Path, checked: set[int]) -> tuple[dict, list[dict], str]:
    """The manifest, the objects, and what `p` is (for messages); `checked` receives the ids
    of the objects the typed decoder built (`selective.decode_documents`)."""
    if p.is_dir():
        what = f"directory {p}"
        paths = _dir_paths(p)
        try:
            manifest, objects = _parse_files(_read_files(p, _largest_first(paths)), checked)
        except InputError:
            checked.clear()
            manifest, objects = _parse_files(list(_read_files(p, enumerate(paths))), checked)
    elif p.name.endswith((".tar.gz", ".tgz", ".tar")):
        what = f"tarball {p}"
        try:
            manifest, objects = _parse_files(_tar_files(p), checked)
        except InputError:
            checked.clear()
            files = sorted(_tar_files(p), key=lambda f: f.order)
            manifest, objects = _parse_files(files, checked)
    else:
        what = str(p)
        manifest, objects = _parse_files([_File(str(p), p.name, 0, _read(p))], checked)
    return manifest, objects, what


@dataclass
class _File:
    """One input file: `name` for messages, `member` (its path in the bundle) to tell its role,
    `order` (its rank by name) to keep objects in file order whatever order files are read in."""

    name: str
    member: str
    order: int | str
    data: bytes


def _parse_files(files: Iterable[_File], checked: set[int]) -> tuple[dict, list[dict]]:
    """The manifest (the last one, in file order) and every object, in file order."""
    manifests: list[tuple[int | str, dict]] = []
    parsed: list[tuple[int | str, list[dict]]] = []
    strings = selective.Strings()  # shared across files: node names in pods and events
    for file in files:
        if Path(file.member).name == MANIFEST:
            manifests.append((file.order, _parse_manifest(file.name, file.data)))
            continue
        data, file.data = file.data, b""  # held here only: gone once parsed
        parsed.append((file.order, _parse_data(file.name, data, strings, checked)))
        del data  # gone before the next file is read
    parsed.sort(key=lambda item: item[0])
    manifests.sort(key=lambda item: item[0])
    manifest = manifests[-1][1] if manifests else {}
    return manifest, [obj for _, items in parsed for obj in items]


def _read(p: Path) -> bytes:
    try:
        return p.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {p}: {exc.strerror or exc}") from None


def _dir_paths(root: Path) -> list[Path]:
    return sorted(
        f
        for f in root.rglob("*")
        if f.is_file() and (f.suffix in DATA_SUFFIXES or f.name == MANIFEST)
    )


def _largest_first(paths: list[Path]) -> list[tuple[int, Path]]:
    """(rank by name, path), the largest file first.

    The largest file (pods, in a cluster bundle) is parsed while no other objects exist yet, so
    its text is gone before they are built: peak memory stays close to the objects' own size
    instead of adding the largest file's text on top of everything else.
    """
    ranked = list(enumerate(paths))
    sizes = {}
    for rank, f in ranked:
        try:
            sizes[rank] = f.stat().st_size
        except OSError:
            sizes[rank] = 0  # reading it reports the error
    return sorted(ranked, key=lambda item: -sizes[item[0]])


def _read_files(root: Path, ranked: Iterable[tuple[int, Path]]) -> Iterator[_File]:
    """Files read one at a time, so only one file's bytes are in memory at once."""
    for rank, f in ranked:
        yield _File(str(f), f.relative_to(root).as_posix(), rank, _read(f))


def _tar_files(p: Path) -> Iterator[_File]:
    """Members in the order they are stored: a compressed tarball is decompressed once."""
    try:
        with tarfile.open(p, "r:*") as tar:
            for member in tar:
                if not member.isfile():
                    continue
                if not (member.name.endswith(DATA_SUFFIXES) or Path(member.name).name == MANIFEST):
                    continue
                handle = tar.extractfile(member)
                if handle is not None:
                    yield _File(f"{p}:{member.name}", member.name, member.name, handle.read())
    except (tarfile.TarError, EOFError, OSError, zlib.error) as exc:
        raise InputError(f"{p} is not a readable tarball: {_tar_problem(p, exc)}") from None


def _tar_problem(p: Path, exc: BaseException) -> str:
    """One line on what is wrong: tarfile's own message lists every method it tried."""
    try:
        with p.open("rb") as handle:
            head = handle.read(512)
    except OSError as err:
        return err.strerror or str(err)
    if p.name.endswith((".gz", ".tgz")) and not head.startswith(b"\x1f\x8b"):
        if head.lstrip()[:1] in (b"{", b"[") or b"apiVersion" in head or b"kind:" in head:
            return "it is not gzip-compressed but plain YAML/JSON; rename it to .yaml or .json"
        return "it is not gzip-compressed (create it with tar -czf)"
    if head.startswith(b"\x1f\x8b"):
        return "the compressed data is damaged or truncated, or not a tar archive inside"
    text = " ".join(str(exc).split())
    return text[:200] or type(exc).__name__


def _parse_manifest(name: str, data: bytes) -> dict:
    try:
        manifest = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{name}: manifest is not valid JSON: {exc}") from None
    if not isinstance(manifest, dict):
        raise InputError(f"{name}: manifest must be a JSON object")
    return manifest


def _parse_data(
    name: str, data: bytes, strings: selective.Strings, checked: set[int]
) -> list[dict]:
    """A file's objects: JSON through the selective decoder, anything else as text.

    The decoder reads the bytes as they are (no text copy of a 200 MB file) and builds only
    the fields amldoctor reads (`selective`); a file it refuses is parsed as before and
    pruned to the same fields, so what loads, and how, does not depend on the decoder.
    """
    _check_bytes(name, data)
    body = data[3:] if data.startswith(UTF8_BOM) else data
    if selective.first_byte(body) in (b"{", b"["):
        try:
            docs = selective.decode_documents(body, strings, checked)
        except selective.Refused:
            pass
        else:
            return _objects(name, docs, selected=True)
    del body
    return _parse_text(name, _decode(name, data))


UTF8_BOM = b"\xef\xbb\xbf"


def _check_bytes(name: str, data: bytes) -> None:
    if not data or data.isspace():  # isspace, unlike strip, copies nothing
        raise InputError(f"{name} is empty")
    if b"\x00" in data[:8192]:
        raise InputError(f"{name} is a binary file, not YAML or JSON")


def _decode(name: str, data: bytes) -> str:
    _check_bytes(name, data)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError(f"{name} is a binary file, not YAML or JSON (invalid UTF-8)") from None


def _parse_text(name: str, text: str) -> list[dict]:
    if text.lstrip()[:1] in ("{", "["):
        try:
            docs = [json.loads(text)]
        except json.JSONDecodeError:
            docs = list(_yaml_documents(name, text))  # JSON-looking YAML flow style
    else:
        docs = list(_yaml_documents(name, text))
    return _objects(name, docs, selected=False)


def _objects(name: str, docs: list[object], *, selected: bool) -> list[dict]:
    """The documents' objects; `selected` when the decoder already kept only what is read."""
    objects: list[dict] = []
    for index, doc in enumerate(docs):
        if doc is None:
            continue
        objects.extend(_flatten(name, index, doc, selected))
    return objects


def _yaml_documents(name: str, text: str) -> Iterator[object]:
    try:
        yield from yamlread.load_all(text)
    except yamlread.YamlProblem as exc:
        raise InputError(f"{name}:{exc.line}: {exc.message}") from None


def _flatten(name: str, index: int, doc: object, selected: bool) -> list[dict]:
    if isinstance(doc, list):  # a bare JSON array of objects
        return [obj for i, item in enumerate(doc) for obj in _flatten(name, i, item, selected)]
    if not isinstance(doc, dict):
        raise InputError(
            f"{name}: document {index + 1} is not a Kubernetes object (got {type(doc).__name__})"
        )
    kind = doc.get("kind")
    if not kind or not isinstance(kind, str):
        raise InputError(
            f"{name}: document {index + 1} has no 'kind' (is this kubectl -o yaml/json output?)"
        )
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
            items.append(drop_unread(item, selected))
        return items
    return [drop_unread(doc, selected)]


def drop_unread(obj: dict, selected: bool = False) -> dict:
    """Drop what no rule reads: the fields `selective` skips (unless `selected`: already
    done), and `metadata.managedFields` of every kind, as the live collector does.

    Files from the API or older kubectl carry them on every object, often as much as the rest
    of a pod's metadata: the snapshot would hold them, and every later pass step over them.
    """
    if not selected:
        obj = selective.prune(obj)  # type: ignore[assignment]
    meta = obj.get("metadata")
    if type(meta) is dict and "managedFields" in meta:
        del meta["managedFields"]
    return obj
