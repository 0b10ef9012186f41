"""Fixes folded for the grouped view: a YAML snippet becomes flow-style YAML, one line per key.

The incident view shows each cause's fix once; a block-style snippet (tolerations, a PVC, a
resources stanza) took 5 to 15 rows per cause, so 33 causes no longer fit a screen budget on a
100-column terminal. Flow style keeps every key and value (it is still YAML that pastes into a
manifest) in a few rows; `--expand` and `-o json` keep the block form. Prose lines and commands
are left as they are.
"""

from __future__ import annotations

import re
import textwrap

import yaml

from amldoctor.yamlwrite import dump_yaml

# `key:` or `key: scalar-without-spaces` or `key: [flow]`; a prose line has spaces in its lead.
_MAPPING_LINE = re.compile(r"^[A-Za-z_][\w./-]*:(?:$|\s+(?:\S+|\[.*\]|\{.*\})$)")

# Flow lines start with this indent so the fix writer prints them verbatim (never hard-wrapped).
FLOW_INDENT = "  "


def _yamlish(line: str) -> bool:
    """True for a line that can belong to a block-style YAML snippet."""
    if not line.strip():
        return False
    return line.startswith(" ") or line.startswith("- ") or bool(_MAPPING_LINE.match(line))


def _flow(value: object) -> str:
    dumped = dump_yaml(value, default_flow_style=True, width=float("inf"), sort_keys=False)
    return dumped.strip().removesuffix("...").strip()


def _fold(block: list[str]) -> list[str] | None:
    """The snippet as flow-style lines, or None when it is not a YAML mapping or list.

    A snippet with a comment ("# or valueFrom: ...") is kept as it is: flow style drops comments.
    """
    if any("#" in line for line in block):
        return None
    try:
        data = yaml.safe_load(textwrap.dedent("\n".join(block)))
    except yaml.YAMLError:
        return None
    if isinstance(data, dict) and data:
        return [f"{FLOW_INDENT}{key}: {_flow(value)}" for key, value in data.items()]
    if isinstance(data, list) and data:
        return [f"{FLOW_INDENT}{_flow(data)}"]
    return None


def compact_remediation(remediation: str) -> str:
    """The remediation with each block-style YAML snippet of two lines or more in flow style."""
    lines = remediation.splitlines()
    out: list[str] = []
    index = 0
    while index < len(lines):
        end = index
        # The first line of a fix is always prose ("fix: ..."); snippets follow it.
        while index > 0 and end < len(lines) and _yamlish(lines[end]):
            end += 1
        if end - index >= 2:
            folded = _fold(lines[index:end])
            if folded is not None and len(folded) < end - index:
                out.extend(folded)
                index = end
                continue
        if end > index:
            out.extend(lines[index:end])
            index = end
        else:
            out.append(lines[index])
            index += 1
    return "\n".join(out)
