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

from amldoctor.errors import InputError

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
STDIN_NAME = "<stdin>"
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

FieldPath = tuple[str | int, ...]


@dataclass
class Document:
    """One Kubernetes object from a file, with the line of each of its fields."""

    file: str
    index: int  # 1-based position of the YAML document in its file
    obj: dict
    lines: dict[FieldPath, int]
    base: FieldPath = ()  # where the object sits in its YAML document (items of a List)

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
    loader = _Loader(data)
    index = 0
    try:
        while loader.check_node():
            node = loader.get_node()
            index += 1
            fields: dict[FieldPath, int] = {}
            _record(node, (), fields, None, set())
            _add_document(name, index, loader.construct_document(node), fields, out)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        context = getattr(exc, "context", None)
        text = f"YAML syntax error: {problem}" + (f" ({context})" if context else "")
        out.problems.append(Problem(name, mark.line + 1 if mark is not None else 1, text))
    finally:
        loader.dispose()


def _json_lines(text: str) -> dict[FieldPath, int]:
    """Lines of a JSON document's fields, via the YAML composer (tabs made spaces)."""
    try:
        node = yaml.compose(text.replace("\t", " "), Loader=_Loader)
    except yaml.YAMLError:
        return {(): 1}
    lines: dict[FieldPath, int] = {}
    _record(node, (), lines, None, set())
    return lines


def _record(
    node: yaml.Node | None, path: FieldPath, lines: dict, line: int | None, stack: set
) -> None:
    """Map every field path under `node` to its line (a mapping entry: the line of its key)."""
    if node is None or id(node) in stack:  # recursive aliases
        return
    lines.setdefault(path, line or node.start_mark.line + 1)
    stack.add(id(node))
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode):
                _record(value, (*path, key.value), lines, key.start_mark.line + 1, stack)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _record(item, (*path, i), lines, None, stack)
    stack.discard(id(node))


def _add_document(name: str, index: int, doc: object, lines: dict, out: ManifestSet) -> None:
    if doc is None:
        return
    where = f"{name}:{lines.get((), 1)}"
    if not isinstance(doc, dict):
        if isinstance(doc, list):  # a bare JSON array of objects
            for i, item in enumerate(doc):
                sub = {p[1:]: ln for p, ln in lines.items() if p[:1] == (i,)}
                _add_document(name, index, item, sub, out)
            return
        out.notes.append(
            f"{where}: document {index} is a {type(doc).__name__}, not a Kubernetes object; skipped"
        )
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
    out.documents.append(Document(name, index, doc, lines))
