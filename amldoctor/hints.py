"""Hints that follow the user: `amldoctor ...` commands in findings carry the source flags.

Rules are pure and do not know where their snapshot came from, so a hint such as "node-by-node
analysis: amldoctor why-pending POD -n NS" would, pasted after a `--snapshot` scan, query
whatever cluster the kubeconfig points at. At the output boundary the command that printed the
hint adds its own `--snapshot`, `--context` and `--kubeconfig` to every such command.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable
from typing import Any

_START = re.compile(r"\bamldoctor (why-pending|scan)\b")
_VALUED = {"-n", "--namespace", "-l", "--selector", "--job", "-f", "--filename", "-o", "--output"}
_SOURCE = ("--snapshot", "--context", "--kubeconfig")


def source_flags(
    snapshot: str | None = None, context: str | None = None, kubeconfig: str | None = None
) -> str:
    """' --snapshot PATH --context C ...' for the flags that were given ('' for none)."""
    parts = []
    for flag, value in zip(_SOURCE, (snapshot, context, kubeconfig), strict=True):
        if value:
            parts.append(f"{flag} {shlex.quote(value)}")
    return "".join(f" {p}" for p in parts)


def with_source(text: str, flags: str) -> str:
    """Every `amldoctor why-pending|scan ...` command in `text`, with `flags` appended."""
    if not flags or "amldoctor " not in text:
        return text
    out, pos = [], 0
    for match in _START.finditer(text):
        if match.start() < pos:
            continue
        end = _command_end(text, match.end(), positional=match.group(1) == "why-pending")
        command = text[match.start() : end]
        out.append(text[pos : match.start()])
        out.append(command if any(f in command for f in _SOURCE) else command + flags)
        pos = end
    out.append(text[pos:])
    return "".join(out)


def _command_end(text: str, start: int, *, positional: bool) -> int:
    """Where the command's own words end: options, their values, and one pod name at most."""
    end, expect_value = start, False
    for token in re.finditer(r" +([^\s]+)", text[start:]):
        if token.start() != end - start:
            break  # a newline or another separator
        word = token.group(1)
        clean = word.rstrip("`).,;:")
        if expect_value:
            expect_value = False
        elif clean.startswith("-"):
            expect_value = clean in _VALUED
        elif positional and re.fullmatch(r"[a-z0-9<][\w.\-/<>]*", clean):
            positional = False
        else:
            break
        spaces = len(token.group(0)) - len(word)
        end = start + token.start() + spaces + len(clean)
        if clean != word:
            break  # the command ended inside this token (closing backtick or parenthesis)
    return end


def rewrite(value: Any, flags: str) -> Any:
    """`with_source` over every string of a JSON-like document."""
    if not flags:
        return value
    if isinstance(value, str):
        return with_source(value, flags)
    if isinstance(value, dict):
        return {k: rewrite(v, flags) for k, v in value.items()}
    if isinstance(value, list):
        return [rewrite(v, flags) for v in value]
    return value


def rewrite_findings(findings: Iterable, flags: str) -> None:
    """In place, on Finding objects: their message and remediation."""
    if not flags:
        return
    for finding in findings:
        finding.message = with_source(finding.message, flags)
        finding.remediation = with_source(finding.remediation, flags)
