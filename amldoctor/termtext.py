"""Text for a terminal: paragraphs that keep their indentation, commands that stay whole.

Rich wraps a long line at the console width and starts the continuation at column 0, and it
breaks a `kubectl ...` command wherever a space falls, so the command no longer pastes. These
helpers wrap prose themselves (hanging indents kept) and treat a command as one unbreakable
word: it gets a line of its own, which the terminal soft-wraps if it must. Piped output is not
wrapped at all. No amldoctor imports: every renderer can use it.
"""

from __future__ import annotations

import re
import textwrap

from rich.console import Console
from rich.text import Text

_COMMAND = re.compile(r"(^|[`\s(])(kubectl|az|helm|amldoctor)\s")


def has_command(line: str) -> bool:
    """True when a line holds a shell command that must stay on one line to paste."""
    return bool(_COMMAND.search(line))


def write_paragraph(console: Console, text: str, *, style: str = "", indent: int = 4) -> None:
    """A paragraph whose wrapped lines keep their indentation.

    A leading label ("evidence: ", "fix: ") hangs: wrapped lines start under the text after it.
    """
    label, sep, _ = text.partition(": ")
    hang = len(label) + 2 if sep and label.isalpha() and len(label) < 12 else 0
    write_wrapped(console, text, first=" " * indent, rest=" " * (indent + hang), style=style)


def write_wrapped(console: Console, text: str, *, first: str, rest: str, style: str = "") -> None:
    """Wrap at the console's width, never inside a command.

    Piped output (a soft-wrapping console) is not wrapped at all. On a terminal, a command in
    backticks, or from `kubectl`/`az`/`amldoctor`/`helm` to the end of the line, is one word for
    the wrapper: it goes on one line, which the terminal soft-wraps if it must, so it pastes.
    """
    if console.soft_wrap:
        console.print(Text(first + text, style=style), soft_wrap=True)
        return
    protected = _protect(text)
    wrapped = textwrap.fill(
        protected,
        width=max(console.width - 1, 40),
        initial_indent=first,
        subsequent_indent=rest,
        break_long_words=False,
        break_on_hyphens=False,
    )
    console.print(Text(wrapped.replace(_GLUE, " "), style=style), soft_wrap=True)


_GLUE = "\u00a0"  # a no-break space: textwrap never breaks a line there
_SPAN = re.compile(r"`[^`]*`|\b(?:kubectl|az|amldoctor|helm)\s.*$")


def _protect(text: str) -> str:
    return _SPAN.sub(lambda m: m.group(0).replace(" ", _GLUE), text)


def write_fix(console: Console, remediation: str, indent: int = 4, label: str = "fix") -> None:
    """A fix under a `label: ` that hangs; YAML lines keep their own indentation."""
    lines = remediation.splitlines()
    hang = len(label) + 2
    for index, line in enumerate(lines):
        lead = " " * indent + (f"{label}: " if index == 0 else " " * hang)
        if line.startswith(" ") or (index and line.lstrip().startswith("- ")):
            # YAML keeps its own indentation, one line per line.
            console.print(Text(lead + line, style="green"), soft_wrap=True)
        else:
            write_wrapped(console, line, first=lead, rest=" " * (indent + hang), style="green")
