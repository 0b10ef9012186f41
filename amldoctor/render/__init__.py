"""Renderers turn a Report (or a why-pending result) into text. They never decide anything."""

from __future__ import annotations

import os
import sys
from typing import TextIO

from amldoctor.errors import InputError

REPORT_FORMATS = ("table", "json", "yaml", "markdown")


def check_format(fmt: str, allowed: tuple[str, ...] = REPORT_FORMATS) -> str:
    """Validate `-o`; an unknown format is a usage error (exit 2) naming the choices."""
    fmt = (fmt or "table").lower()
    if fmt not in allowed:
        raise InputError(f"unknown output format {fmt!r} (choose one of: {', '.join(allowed)})")
    return fmt


def make_console(stderr: bool = False, stream: TextIO | None = None):
    """A rich Console that honours NO_COLOR and plain output when piped.

    Piped output keeps a wide fixed width so lines are not wrapped mid-message in tickets.
    """
    from rich.console import Console

    stream = stream or (sys.stderr if stderr else sys.stdout)
    is_tty = stream.isatty()
    width = None if is_tty else int(os.environ.get("COLUMNS", "120"))
    return Console(
        file=stream,
        no_color=bool(os.environ.get("NO_COLOR")) or None,
        width=width,
        highlight=False,
        soft_wrap=not is_tty,
        emoji=False,
    )
