"""Reading manifests with the line of every field, from files, directories and stdin.

Findings must point at the offending line (`train.yaml:23`), so documents are composed into
YAML nodes first (they carry marks) and constructed second; a parallel map from field path to
line is kept next to the plain dict the rules read. JSON goes through the same path (JSON is
YAML once tabs, which JSON only allows as whitespace, are spaces).

Bad input never stops the run: a syntax error becomes a `Problem` with file and line, and the
documents before it in that file, and every other file, are still linted.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from amldoctor import yamlread
from amldoctor.errors import InputError

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
STDIN_NAME = "<stdin>"

FieldPath = tuple[str | int, ...]


@dataclass
class Document:
    """One Kubernetes object from a file, with the line of each of its fields."""

    file: str
    index: int  # 1-based position of the YAML document in its file
    obj: dict
    lines: dict[FieldPath, int]
    base: FieldPath = ()  # where the object sits in its YAML document (items of a List)
    item: int | None = None  # 1-based position in a bare JSON array, when the file is one

    @property
    def label(self) -> str:
        """'document 2', or 'item 3 of the array in document 1': which object a note is about."""
        if self.item is not None:
            return f"item {self.item} of the array in document {self.index}"
        return f"document {self.index}"

    def line(self, path: FieldPath = ()) -> int:
        """Line of the field, else of its nearest parent that is written in the file."""
        full = self.base + tuple(path)
        while full:
            if full in self.lines:
                return self.lines[full]
            full = full[:-1]
        return self.lines.get((), 1)

    @property
    def kind(self) -> str:
        return str(self.obj.get("kind") or "")

    @property
    def api_version(self) -> str:
        return str(self.obj.get("apiVersion") or "")

    @property
    def metadata(self) -> dict:
        value = self.obj.get("metadata")
        return value if isinstance(value, dict) else {}

    @property
    def name(self) -> str:
        return str(self.metadata.get("name") or self.metadata.get("generateName") or "(unnamed)")

    @property
    def namespace(self) -> str | None:
        ns = self.metadata.get("namespace")
        return str(ns) if ns else None


@dataclass(frozen=True)
class Problem:
    """Input that could not be read as YAML/JSON: where, and what the parser said."""

    file: str
    line: int
    message: str


@dataclass
class ManifestSet:
    """Everything read from the paths given: documents, unreadable inputs, skip notes."""

    documents: list[Document] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)


def read_manifests(paths: list[str], stdin_text: str | None = None) -> ManifestSet:
    """Read every path (`-` is stdin); a path that does not exist is a usage error (exit 2)."""
    out = ManifestSet()
    for name, text in _inputs(paths, stdin_text):
        out.files.append(name)
        parse_text(name, text, out)
    if not out.documents and not out.problems and not out.notes:
        where = ", ".join(STDIN_NAME if p == "-" else p for p in paths)
        out.notes.append(f"no YAML or JSON manifests found in {where}: nothing to lint")
    return out


def _inputs(paths: list[str], stdin_text: str | None) -> Iterator[tuple[str, str | bytes]]:
    for raw in paths:
        if raw == "-":
            yield STDIN_NAME, stdin_text if stdin_text is not None else sys.stdin.read()
            continue
        p = Path(raw)
        if not p.exists():
            raise InputError(f"path {raw!r} does not exist")
        if p.is_dir():
            for f in sorted(p.rglob("*")):
                rel = f.relative_to(p).parts
                if (
                    f.is_file()
                    and f.suffix in MANIFEST_SUFFIXES
                    and not any(s.startswith(".") for s in rel)
                ):
                    yield str(f), _read(f)
        else:
            yield str(p), _read(p)


def _read(p: Path) -> bytes:
    try:
        return p.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {p}: {exc.strerror or exc}") from None


def parse_text(name: str, data: str | bytes, out: ManifestSet) -> None:
    """Add the objects in one file to `out`; unreadable content becomes a Problem."""
    if isinstance(data, bytes):
        if b"\x00" in data[:8192]:
            out.problems.append(Problem(name, 1, "binary file, not YAML or JSON"))
            return
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            out.problems.append(Problem(name, 1, f"not UTF-8 text ({exc.reason})"))
            return
    if not data.strip():
        out.notes.append(f"{name}: empty file, nothing to lint")
        return
    if data.lstrip().startswith(("{", "[")):
        try:
            parsed = json.loads(data)
        except json.JSONDecodeError:
            pass  # YAML flow style that only looks like JSON
        else:
            lines = _json_lines(data)
            _add_document(name, 1, parsed, lines, out)
            return
    added = len(out.documents), len(out.notes)
    try:
        _add_stream(name, data, out, first_line=1)
    except yamlread.YamlProblem:
        # One broken document must not hide the others (`helm template ... | amldoctor lint -`):
        # start over one document at a time, reporting each broken one where it is.
        del out.documents[added[0] :], out.notes[added[1] :]
        chunks = yamlread.split_documents(data)
        for index, chunk in enumerate(chunks, start=1):
            try:
                _add_stream(name, chunk.text, out, first_line=chunk.first_line, index=index - 1)
            except yamlread.YamlProblem as exc:
                line = chunk.first_line + exc.line - 1
                which = f"document {index}: " if len(chunks) > 1 else ""
                out.problems.append(Problem(name, line, which + exc.message))


def _add_stream(name: str, text: str, out: ManifestSet, *, first_line: int, index: int = 0) -> None:
    """Add every document of `text` (which starts on `first_line` of the file)."""
    for node in yamlread.nodes(text):
        index += 1
        lines: dict[FieldPath, int] = {}
        _record(node, (), lines, None, {}, first_line - 1)
        _add_document(name, index, yamlread.construct(node, text), lines, out)


def _json_lines(text: str) -> dict[FieldPath, int]:
    """Lines of a JSON document's fields, via the YAML composer (tabs made spaces)."""
    try:
        node = yaml.compose(text.replace("\t", " "), Loader=yamlread.Loader)
    except yaml.YAMLError:
        return {(): 1}
    lines: dict[FieldPath, int] = {}
    _record(node, (), lines, None, {})
    return lines


def _record(
    node: yaml.Node | None,
    path: FieldPath,
    lines: dict,
    line: int | None,
    seen: dict[int, FieldPath],
    offset: int = 0,
) -> None:
    """Map every field path under `node` to its line (a mapping entry: the line of its key).

    A node reached through an alias is recorded at its first path only: walking it again for
    every path that aliases it is what made a few hundred bytes of YAML take gigabytes.
    """
    if node is None:
        return
    lines.setdefault(path, line or node.start_mark.line + 1 + offset)
    if id(node) in seen:
        return
    seen[id(node)] = path
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode):
                key_line = key.start_mark.line + 1 + offset
                _record(value, (*path, key.value), lines, key_line, seen, offset)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _record(item, (*path, i), lines, None, seen, offset)


_TYPE_NAMES = {int: "a number", float: "a number", str: "a string", bool: "a boolean"}


def _add_document(
    name: str, index: int, doc: object, lines: dict, out: ManifestSet, item: int | None = None
) -> None:
    if doc is None:
        return
    where = f"{name}:{lines.get((), 1)}"
    if not isinstance(doc, dict):
        if isinstance(doc, list) and item is None:  # a bare JSON array of objects
            for i, element in enumerate(doc):
                sub = {p[1:]: ln for p, ln in lines.items() if p[:1] == (i,)}
                _add_document(name, index, element, sub, out, item=i + 1)
            return
        label = f"item {item} of the array in document {index}" if item else f"document {index}"
        what = _TYPE_NAMES.get(type(doc), f"a {type(doc).__name__}")
        out.notes.append(f"{where}: {label} is {what}, not a Kubernetes object; skipped")
        return
    items = doc.get("items")
    if str(doc.get("kind") or "").endswith("List") and isinstance(items, list):
        for i, item in enumerate(items):
            if isinstance(item, dict):
                out.documents.append(Document(name, index, item, lines, ("items", i)))
            else:
                line = lines.get(("items", i), 1)
                out.notes.append(
                    f"{name}:{line}: item {i + 1} of the List is not an object; skipped"
                )
        return
    out.documents.append(Document(name, index, doc, lines, item=item))
