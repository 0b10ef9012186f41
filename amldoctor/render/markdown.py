"""Markdown for pasting into a ticket: the causes, worst first, each with its fix.

Prose is escaped (`<cluster>` would vanish as an HTML tag), YAML snippets and shell commands go
in fenced code blocks so they paste whole, and tables are written unpadded: a ticket system
renders them, and a diff of them stays small.
"""

from __future__ import annotations

from amldoctor.engine.grouping import FindingGroup
from amldoctor.engine.report import Report, missing_notes
from amldoctor.mdtext import escape, fix_markdown, table
from amldoctor.render.incidents import objects_phrase
from amldoctor.render.style import plural

EXAMPLES = 5


def _group_section(number: int, group: FindingGroup) -> list[str]:
    example = group.example
    lines = [
        "",
        f"### {number}. {group.severity.label}: {group.rule} {group.name} "
        f"({objects_phrase(group)})",
        "",
        ("e.g. " if group.count > 1 else "") + escape(example.message),
    ]
    if example.remediation:
        lines += ["", "**Fix**", "", *fix_markdown(example.remediation)]
    explained: dict[str, list] = {}
    for finding, _ in group.superseded:
        explained.setdefault(finding.rule, []).append(finding)
    for rule, items in sorted(explained.items()):
        shown = next((f for f in items if f.object == example.object), items[0])
        on = f" (on {plural(len(items), items[0].object.kind)})" if len(items) > 1 else ""
        lines += ["", f"**Explains {rule} {shown.name}{on}:** {escape(shown.message)}"]
        if shown.remediation:
            lines += ["", "**Otherwise**", "", *fix_markdown(shown.remediation)]
    variants = group.variants()
    if variants:
        label, values = variants
        lines += ["", f"{label.capitalize()}: " + ", ".join(f"`{v}`" for v in values)]
    if group.count > 1:
        names = ", ".join(
            f"`{ref.namespace + '/' if ref.namespace else ''}{ref.name}`"
            for ref in group.objects[:EXAMPLES]
        )
        more = group.count - EXAMPLES
        lines += ["", f"Objects: {names}" + (f" and {more} more" if more > 0 else "")]
    for rule, name, severity, count in group.folded_counts():
        lines += ["", f"Also on these objects: {count} × {severity.label} {rule} {name}"]
    return lines


def report_markdown(report: Report) -> str:
    src = report.source()
    counts = report.counts()
    groups = report.groups()
    lines = [
        "## amldoctor scan",
        "",
        f"- Source: `{src['origin']}`"
        + (f" (context `{src['context']}`)" if src["context"] else "")
        + (f", Kubernetes {src['server_version']}" if src["server_version"] else ""),
        f"- Namespaces: {', '.join(src['namespaces'] or []) or 'all'}; captured "
        f"{src['captured_at']}",
        f"- {plural(counts['error'], 'error')}, {plural(counts['warning'], 'warning')}, "
        f"{counts['info']} info in {plural(len(groups), 'cause')}; "
        f"{plural(report.pods_checked, 'pod')} checked; {report.suppressed} suppressed",
    ]
    for note in missing_notes(report.snapshot.missing):
        lines.append(f"- Not checked: {escape(note)}")
    for skipped in report.skipped:
        lines.append(f"- Skipped {skipped.rule} ({skipped.name}): {escape(skipped.reason)}")
    if groups:
        lines += ["", "### Top causes", ""]
        lines += table(
            ["#", "Severity", "Rule", "Objects", "Namespaces"],
            [
                [
                    str(n),
                    g.severity.label,
                    f"{g.rule} {g.name}",
                    escape(objects_phrase(g)),
                    ", ".join(g.namespaces()) or "(cluster)",
                ]
                for n, g in enumerate(groups, 1)
            ],
        )
    if report.jobs:
        from amldoctor.aml.render import jobs_markdown

        lines += ["", jobs_markdown(report.jobs).rstrip()]
    for number, group in enumerate(groups, 1):
        lines += _group_section(number, group)
    if not report.findings:
        lines += ["", "No findings."]
    return "\n".join(lines) + "\n"
