"""kubectl's `-l/--selector` syntax: `a=b,c!=d,e in (x,y),f notin (z),g,!h`.

Parsed once into a predicate over an object's labels, so `scan -l` narrows pods offline exactly
as the API server would narrow a live list.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from amldoctor.errors import InputError

_SET_RE = re.compile(r"^\s*([^\s!=(),]+)\s+(in|notin)\s+\(([^)]*)\)\s*$")
_CMP_RE = re.compile(r"^\s*([^\s!=(),]+)\s*(==|=|!=)\s*([^\s!=(),]*)\s*$")
_KEY_RE = re.compile(r"^\s*(!?)\s*([^\s!=(),]+)\s*$")


def _split(selector: str) -> list[str]:
    """Split on commas that are not inside parentheses."""
    parts, depth, current = [], 0, ""
    for ch in selector:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += ch
    parts.append(current)
    return [p for p in parts if p.strip()]


Test = Callable[[dict], bool]  # over an object's labels


def _in(key: str, values: set[str]) -> Test:
    return lambda labels: key in labels and labels[key] in values


def _not_in(key: str, values: set[str]) -> Test:
    return lambda labels: labels.get(key) not in values


def _exists(key: str, negate: bool) -> Test:
    return lambda labels: (key in labels) != negate


def parse_selector(selector: str) -> Callable[[dict], bool]:
    """Return a predicate over objects; raise InputError for syntax kubectl would reject."""
    tests: list[Test] = []
    for part in _split(selector):
        if m := _SET_RE.match(part):
            key, op, raw = m.group(1), m.group(2), m.group(3)
            values = {v.strip() for v in raw.split(",") if v.strip()}
            if op == "in":
                tests.append(_in(key, values))
            else:
                tests.append(_not_in(key, values))
        elif m := _CMP_RE.match(part):
            key, op, value = m.group(1), m.group(2), m.group(3)
            if op == "!=":
                tests.append(_not_in(key, {value}))
            else:
                tests.append(_in(key, {value}))
        elif m := _KEY_RE.match(part):
            negate, key = bool(m.group(1)), m.group(2)
            tests.append(_exists(key, negate))
        else:
            raise InputError(f"invalid label selector {selector!r}: cannot parse {part.strip()!r}")

    def matches(obj: dict) -> bool:
        labels = (obj.get("metadata") or {}).get("labels") or {}
        return all(test(labels) for test in tests)

    return matches
