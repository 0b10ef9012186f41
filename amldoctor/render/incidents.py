"""The terminal incident view: a triage list of causes, then one entry per cause.

Formats only what `amldoctor.engine.grouping` computed. Wrapped prose keeps its indentation; a line
that carries a command (`kubectl ...`, `az ...`) is never broken by us, so it pastes whole: the
terminal soft-wraps it instead.
"""

from __future__ import annotations

from rich.console import Console
from rich.text import Text

from amldoctor.engine.grouping import FindingGroup
from amldoctor.engine.report import Finding, ObjectRef, Severity
from amldoctor.render.compactfix import compact_remediation
from amldoctor.render.saidbefore import SaidBefore
from amldoctor.render.style import ICONS, STYLES, plural
from amldoctor.termtext import write_fix, write_paragraph

TRIAGE_LIMIT = 10
EXAMPLES = 3
VARIANTS = 8  # images or limits are short: more of them fit the line than pod names


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
        if console.soft_wrap:
            console.print(line, soft_wrap=True)
        else:
            console.print(line, no_wrap=True, overflow="ellipsis", soft_wrap=False)
    rest = len(groups) - TRIAGE_LIMIT
    if rest > 0:
        console.print(Text(f"  … and {plural(rest, 'more cause')} below", style="dim"))
    console.print()


def render_group(
    console: Console, number: int, group: FindingGroup, said: SaidBefore | None = None
) -> None:
    """One cause: header, one example message, the fix once (compacted), the objects, folds.

    `said` remembers what earlier causes printed, so wording they share is printed once.
    """
    said = said or SaidBefore()
    header = Text(f"{number}. ")
    header.append(f"{ICONS[group.severity]} ", style=STYLES[group.severity])
    header.append(f"{group.severity.label.upper()} {group.rule} ", style=STYLES[group.severity])
    header.append(group.name, style="dim")
    header.append(f"  ·  {objects_phrase(group)}", style="bold")
    console.print(header)
    example = group.example
    prefix = "e.g. " if group.count > 1 else ""
    write_paragraph(console, prefix + said.fold(example.message, number))
    if group.severity == Severity.INFO:
        # Inventory and context, not a cause: the sentence says it; -o json has the rest.
        _examples(console, group)
        console.print()
        return
    # No evidence line: the message quotes the numbers the cause is about, and the raw fields
    # (which restate them) are in --expand and -o json; here they cost a screen.
    if example.remediation:
        write_fix(console, _fold_fix(compact_remediation(example.remediation), number, said))
    _explained(console, group, number, said)
    _variants(console, group)
    _examples(console, group)
    for rule, name, severity, count in group.folded_counts():
        write_paragraph(
            console,
            f"also on these objects: {count} × {severity.label} {rule} {name}",
            style="dim",
        )
    console.print()


def _fold_fix(remediation: str, number: int, said: SaidBefore) -> str:
    """Prose lines folded against earlier causes; YAML lines (indented) kept as they are."""
    return "\n".join(
        line if line.startswith(" ") else said.fold(line, number)
        for line in remediation.splitlines()
    )


def _explained(console: Console, group: FindingGroup, number: int, said: SaidBefore) -> None:
    """What this cause explains (`explains=` on its rule), after this cause's own fix.

    One example per explained rule, the one on the example object when there is one: its
    message (the scheduler's verdict, say) and its fix as the fallback ("otherwise").
    """
    by_rule: dict[str, list[Finding]] = {}
    for finding, _ in group.superseded:
        by_rule.setdefault(finding.rule, []).append(finding)
    for rule, items in sorted(by_rule.items()):
        example = next((f for f in items if f.object == group.example.object), items[0])
        on = f" on {plural(len(items), items[0].object.kind)}" if len(items) > 1 else ""
        text = f"explains {rule} {example.name}{on}: {said.fold(example.message, number)}"
        write_paragraph(console, text, style="dim")
        if example.remediation:
            fix = _fold_fix(compact_remediation(example.remediation), number, said)
            write_fix(console, fix, label="otherwise")


def _variants(console: Console, group: FindingGroup) -> None:
    """The images (limits, probe targets) a merged cause spans, on one line cut to the width."""
    found = group.variants()
    if found is None:
        return
    label, values = found
    shown = ", ".join(values[:VARIANTS])
    tail = f" +{len(values) - VARIANTS} more" if len(values) > VARIANTS else ""
    _one_line(console, f"    {label} ({len(values)}): ", shown, tail)


def _one_line(console: Console, lead: str, names: str, tail: str) -> None:
    """`lead + names + tail` on one dim row: the names are cut, never the count in `tail`."""
    line = Text(lead + names + tail, style="dim")
    if console.soft_wrap:
        console.print(line, soft_wrap=True)
        return
    room = max(console.width - len(lead) - len(tail) - 1, 20)
    if len(names) > room:
        line = Text(f"{lead}{names[: room - 1]}…{tail}", style="dim")
    console.print(line, no_wrap=True, overflow="ellipsis")


def _examples(console: Console, group: FindingGroup) -> None:
    """A few of the objects, on one line cut to the width; --expand lists them all."""
    if group.count < 2:
        return
    names = ", ".join(_short(ref) for ref in group.objects[:EXAMPLES])
    more = group.count - EXAMPLES
    tail = f" +{more} more" if more > 0 else ""
    _one_line(console, f"    {group.objects[0].kind.lower()}s: ", names, tail)
