"""Shared look of the terminal output: severity colours and icons, evidence, plurals."""

from __future__ import annotations

from amldoctor.engine.report import Severity

STYLES = {Severity.ERROR: "bold red", Severity.WARNING: "yellow", Severity.INFO: "cyan"}
ICONS = {Severity.ERROR: "✖", Severity.WARNING: "▲", Severity.INFO: "●"}


def plural(count: int, word: str) -> str:
    """'1 pod', '2 pods': counts in the output read as English."""
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def format_evidence(evidence: dict, limit: int = 8) -> str:
    """Compact `key=value` pairs for the short scalar evidence.

    Long texts (the scheduler's full message, a termination message) and nested data are
    already summarised in the message line; they stay in full in -o json/yaml.
    """
    parts = []
    for key, value in evidence.items():
        if isinstance(value, str) and len(value) > 100:
            continue
        if isinstance(value, str | int | float | bool) and value != "":
            parts.append(f"{key}={value}")
        elif isinstance(value, list) and value and all(isinstance(v, str | int) for v in value):
            shown = ", ".join(str(v) for v in value[:6]) + (", ..." if len(value) > 6 else "")
            parts.append(f"{key}=[{shown}]")
    return "  ".join(parts[:limit])
