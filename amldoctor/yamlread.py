"""Reading YAML the way kubectl does, with bounded work and errors a user can act on.

Used by every reader of YAML in amldoctor (snapshots, lint, `why-pending -f`), so the same file
is accepted or rejected, with the same message, whichever command reads it:

- a bare `=` is a string, as in Go's YAML (PyYAML's YAML 1.1 resolver makes it a `value` tag
  that its safe loader cannot construct; kube-prometheus's CRDs have it);
- aliases are bounded: a document whose aliases would expand to more than `MAX_EXPANDED_NODES`
  nodes (a "billion laughs" bomb is a few hundred bytes) is rejected before anything walks it;
- unrendered Helm or Go templates (`{{ .Values.x }}`) are named as such, with the command that
  renders them, instead of a generic syntax error;
- a stream can be read document by document, so one broken document does not hide the rest.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass

import yaml

MAX_EXPANDED_NODES = 2_000_000  # far above any real manifest or cluster file per document

_Base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class Loader(_Base):  # type: ignore[misc, valid-type]
    """The safe loader, with `=` read as the string it is."""


def _construct_value(loader: yaml.SafeLoader, node: yaml.Node) -> str:
    return str(loader.construct_scalar(node))  # type: ignore[arg-type]  # a ScalarNode here


Loader.add_constructor("tag:yaml.org,2002:value", _construct_value)

_TEMPLATE = re.compile(r"\{\{-?\s*[^{}]*?-?\}\}")
_DOC_START = re.compile(r"^---(?=\s|$)", re.M)


class YamlProblem(Exception):
    """A document that cannot be read: the 1-based line and a one-line message."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


def template_hint(text: str) -> str | None:
    """The message for text that is an unrendered Helm/Go template, else None."""
    match = _TEMPLATE.search(text)
    if match is None:
        return None
    snippet = match.group(0)
    if len(snippet) > 40:
        snippet = snippet[:37] + "...}}"
    return (
        f"unrendered template ({snippet}): this is a Helm chart or Go template, not a "
        "manifest; render it first (helm template CHART | amldoctor lint -, or kustomize build)"
    )


def is_alias_bomb(node: yaml.Node) -> bool:
    """Would aliases blow this document up: past the cap, and mostly made of repeats?"""
    size, distinct = expanded_size(node)
    return size > MAX_EXPANDED_NODES and size > 4 * distinct


def expanded_size(node: yaml.Node, limit: int = MAX_EXPANDED_NODES) -> tuple[int, int]:
    """(nodes once every alias is expanded, stopping past `limit`; distinct nodes).

    Each distinct node is sized once (aliases share node objects), so this costs the size of
    the file, not of the expansion.
    """
    sizes: dict[int, int] = {}

    def size(n: yaml.Node, depth: int = 0) -> int:
        key = id(n)
        if key in sizes:
            return sizes[key]
        sizes[key] = limit + 1  # a node that contains itself expands forever
        if depth > 500:
            return limit + 1
        total = 1
        if isinstance(n, yaml.MappingNode):
            for k, v in n.value:
                total += size(k, depth + 1) + size(v, depth + 1)
                if total > limit:
                    break
        elif isinstance(n, yaml.SequenceNode):
            for item in n.value:
                total += size(item, depth + 1)
                if total > limit:
                    break
        sizes[key] = min(total, limit + 1)
        return sizes[key]

    return size(node), len(sizes)


def problem_of(exc: yaml.YAMLError, text: str) -> YamlProblem:
    """A YAMLError as a line and one message (templates explained)."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    line = mark.line + 1 if mark is not None else 1
    hint = template_hint(text)
    if hint is not None:
        return YamlProblem(line, hint)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    context = getattr(exc, "context", None)
    return YamlProblem(line, f"YAML syntax error: {problem}" + (f" ({context})" if context else ""))


@dataclass
class Chunk:
    """One document's text and the line it starts on in its file (1-based)."""

    text: str
    first_line: int


def split_documents(text: str) -> list[Chunk]:
    """The stream cut at `---` lines, so each document can be parsed on its own."""
    starts = [m.start() for m in _DOC_START.finditer(text)]
    bounds = [0, *[s for s in starts if s > 0], len(text)]
    chunks = []
    for begin, end in itertools.pairwise(bounds):
        chunks.append(Chunk(text[begin:end], text.count("\n", 0, begin) + 1))
    return chunks


def nodes(text: str) -> Iterator[yaml.Node]:
    """Composed documents of a stream, each checked against alias bombs; raises YamlProblem."""
    has_anchors = "&" in text  # no anchor, no alias: nothing to expand
    loader = Loader(text)
    try:
        while True:
            try:
                if not loader.check_node():
                    return
                node = loader.get_node()
            except yaml.YAMLError as exc:
                raise problem_of(exc, text) from None
            if node is not None and has_anchors and is_alias_bomb(node):
                line = node.start_mark.line + 1
                raise YamlProblem(
                    line,
                    f"YAML aliases expand this document to more than {MAX_EXPANDED_NODES:,} "
                    "values (an alias bomb?); refusing to read it",
                )
            yield node
    finally:
        loader.dispose()


def construct(node: yaml.Node, text: str = "") -> object:
    """The Python value of a composed node (with the same constructors as `Loader`).

    `text` is the document's source, to tell an unrendered template from other errors.
    """
    loader = Loader("")
    try:
        return loader.construct_document(node)
    except yaml.YAMLError as exc:
        raise problem_of(exc, text) from None
    finally:
        loader.dispose()


def load_all(text: str) -> Iterator[object]:
    """Every document of a stream as Python values; raises YamlProblem on the first bad one."""
    if "&" not in text:  # the common case, at the C loader's full speed
        try:
            yield from yaml.load_all(text, Loader=Loader)
        except yaml.YAMLError as exc:
            raise problem_of(exc, text) from None
        return
    for node in nodes(text):
        yield construct(node, text)
