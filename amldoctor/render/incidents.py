"""The terminal incident view: a triage list of causes, then one entry per cause.

Formats only what `amldoctor.grouping` computed. Wrapped prose keeps its indentation; a line
that carries a command (`kubectl ...`, `az ...`) is never broken by us, so it pastes whole: the
terminal soft-wraps it instead.
"""

from __future__ import annotations

import re
import textwrap

from rich.console import Console
from rich.text import Text

from amldoctor.grouping import FindingGroup, _strip_volatile
from amldoctor.render.style import ICONS, STYLES, format_evidence, plural
from amldoctor.report import ObjectRef, Severity

TRIAGE_LIMIT = 10
EXAMPLES = 3
FIX_LINES = 40  # a longer fix is cut in the incident view; --expand and -o json keep it whole
_COMMAND = re.compile(r"(^|[`\s(])(kubectl|az|helm|amldoctor)\s")


def has_command(line: str) -> bool:
    """True when a line holds a shell command that must stay on one line to paste."""
    return bool(_COMMAND.search(line))


def objects_phrase(group: FindingGroup) -> str:
    """'50 Pods in 50 Jobs' / 'Node aks-…' / '3 PersistentVolumeClaims'."""
    kinds = sorted({ref.kind for ref in group.objects})
    kind = kinds[0] if len(kinds) == 1 else "object"
    if group.count == 1:
        return _ref(group.objects[0])
    phrase = plural(group.count, kind)
    owners = [ref for ref, _ in group.owners() if ref not in set(group.objects)]
    if owners:
        owner_kinds = sorted({ref.kind for ref in owners})
        owner_kind = owner_kinds[0] if len(owner_kinds) == 1 else "owner"
        phrase += f" in {plural(len(owners), owner_kind)}"
    return phrase


def _ref(ref: ObjectRef) -> str:
    return f"{ref.kind} {ref.namespace}/{ref.name}" if ref.namespace else f"{ref.kind} {ref.name}"


def _short(ref: ObjectRef) -> str:
    return f"{ref.namespace}/{ref.name}" if ref.namespace else ref.name


def render_triage(console: Console, groups: list[FindingGroup]) -> None:
    """'Top causes': one line per cause, worst first, each cut to the width rather than wrapped."""
    if not groups:
        return
    console.print(Text("Top causes", style="bold"))
    width = len(str(min(len(groups), TRIAGE_LIMIT)))
    for number, group in enumerate(groups[:TRIAGE_LIMIT], 1):
        line = Text(f"  {number:>{width}}. ")
        line.append(f"{ICONS[group.severity]} ", style=STYLES[group.severity])
        line.append(f"{group.rule} ", style="bold")
        line.append(f"{group.name}", style="dim")
        line.append(f"  {objects_phrase(group)}")
        spaces = group.namespaces()
        if spaces and group.count > 1:
            shown = ", ".join(spaces[:3]) + (", …" if len(spaces) > 3 else "")
            line.append(f" ({shown})", style="dim")
        line.no_wrap = True
        line.overflow = "ellipsis"
        console.print(line)
    rest = len(groups) - TRIAGE_LIMIT
    if rest > 0:
        console.print(Text(f"  … and {plural(rest, 'more cause')} below", style="dim"))
    console.print()


def render_group(console: Console, number: int, group: FindingGroup) -> None:
    """One cause: header, one example message, its evidence, the fix once, the objects, folds."""
    header = Text(f"{number}. ")
    header.append(f"{ICONS[group.severity]} ", style=STYLES[group.severity])
    header.append(f"{group.severity.label.upper()} {group.rule} ", style=STYLES[group.severity])
    header.append(group.name, style="dim")
    header.append(f"  ·  {objects_phrase(group)}", style="bold")
    console.print(header)
    example = group.example
    prefix = "e.g. " if group.count > 1 else ""
    _para(console, prefix + example.message)
    if group.severity == Severity.INFO:
        # Inventory and context, not a cause: the sentence says it; -o json has the rest.
        _examples(console, group)
        console.print()
        return
    # The example's per-object values (its restart count, its last event) would misdescribe
    # the group: only the evidence the whole group shares is shown.
    evidence = format_evidence(_strip_volatile(example.evidence), limit=5)
    if evidence:
        _para(console, f"evidence: {evidence}", style="dim")
    if example.remediation:
        _fix(console, example.remediation)
    _examples(console, group)
    for rule, name, severity, count in group.folded_counts():
        _para(
            console,
            f"also on these objects: {count} × {severity.label} {rule} {name}",
            style="dim",
        )
    console.print()


def _examples(console: Console, group: FindingGroup) -> None:
    """A few of the objects, on one line cut to the width; --expand lists them all."""
    if group.count < 2:
        return
    names = ", ".join(_short(ref) for ref in group.objects[:EXAMPLES])
    more = group.count - EXAMPLES
    tail = f" +{more} more" if more > 0 else ""
    line = Text(f"    {group.objects[0].kind.lower()}s: ", style="dim")
    line.append(names, style="dim")
    line.append(tail, style="dim")
    line.no_wrap = True
    line.overflow = "ellipsis"
    if console.soft_wrap:
        console.print(line, soft_wrap=True)
    else:
        # Keep the count visible: cut the names, not the "+N more".
        room = max(console.width - len(line.plain) + len(names) - 1, 20)
        if len(names) > room:
            line = Text(f"    {group.objects[0].kind.lower()}s: {names[: room - 1]}…{tail}")
            line.stylize("dim")
        console.print(line, no_wrap=True, overflow="ellipsis")


def render_groups(console: Console, groups: list[FindingGroup], *, start: int = 1) -> None:
    for number, group in enumerate(groups, start):
        render_group(console, number, group)


def _para(console: Console, text: str, *, style: str = "", indent: int = 4) -> None:
    """A paragraph whose wrapped lines keep their indentation.

    A leading label ("evidence: ", "fix: ") hangs: wrapped lines start under the text after it.
    Piped output (a soft-wrapping console) is never wrapped: one finding line, one line of text.
    """
    label, sep, _ = text.partition(": ")
    hang = len(label) + 2 if sep and label.isalpha() and len(label) < 12 else 0
    lead = " " * indent
    if console.soft_wrap:
        console.print(Text(lead + text, style=style), soft_wrap=True)
        return
    wrapped = textwrap.fill(
        text,
        width=max(console.width - 1, 40),
        initial_indent=lead,
        subsequent_indent=lead + " " * hang,
        break_long_words=False,
        break_on_hyphens=False,
    )
    console.print(Text(wrapped, style=style), soft_wrap=True)


def _fix(console: Console, remediation: str, indent: int = 4) -> None:
    lines = remediation.splitlines()
    cut = len(lines) - FIX_LINES if len(lines) > FIX_LINES + 1 else 0
    if cut:
        lines = lines[:FIX_LINES]
    for index, line in enumerate(lines):
        lead = "fix: " if index == 0 else "     "
        if has_command(line):
            # Never break a command: one physical line, soft-wrapped by the terminal.
            console.print(Text(" " * indent + lead + line, style="green"), soft_wrap=True)
        elif index == 0 or not line.startswith(" "):
            _para(console, lead + line, style="green", indent=indent)
        else:
            # YAML and continuation lines keep their own indentation.
            console.print(Text(" " * indent + lead + line, style="green"), soft_wrap=True)
    if cut:
        console.print(
            Text(f"{' ' * indent}     … {cut} more lines of fix: --expand or -o json", style="dim")
        )
