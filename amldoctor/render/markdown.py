"""Markdown for pasting into a ticket: the causes, worst first, each with its fix.

Prose is escaped (`<cluster>` would vanish as an HTML tag), YAML snippets and shell commands go
in fenced code blocks so they paste whole, and tables are written unpadded: a ticket system
renders them, and a diff of them stays small.
"""

from __future__ import annotations

from amldoctor.engine.grouping import FindingGroup
from amldoctor.engine.report import Report, missing_notes
from amldoctor.render.incidents import objects_phrase
from amldoctor.render.style import plural
from amldoctor.termtext import has_command

EXAMPLES = 5


def escape(text: str) -> str:
    """Markdown-safe prose: angle brackets, ampersands and pipes shown as typed.

    Emphasis markers stay: GitHub does not emphasise inside words (DRIFT_BASELINE_URI), and
    the masking marker `***MASKED***` must read the same in every format.

    Backtick spans are kept: inside them Markdown shows text literally.
    """
    out, code = [], False
    for part in text.split("`"):
        if code:
            out.append(f"`{part}`")
        else:
            for char, repl in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ("|", "\\|")):
                part = part.replace(char, repl)
            out.append(part)
        code = not code
    return "".join(out)


def table(headers: list[str], rows: list[list[str]]) -> list[str]:
    """A GitHub table without padding."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell.replace("\n", "<br>") for cell in row) + " |" for row in rows]
    return lines


def _is_yaml(line: str) -> bool:
    stripped = line.strip()
    if not stripped or has_command(" " + stripped):
        return False
    if line.startswith((" ", "- ")):
        return True
    key, sep, rest = stripped.partition(":")
    return bool(sep) and " " not in key and (not rest or rest.startswith(" ")) and len(rest) < 60


def fix_markdown(remediation: str) -> list[str]:
    """Prose as paragraphs, YAML in ```yaml blocks, bare commands in ```sh blocks."""
    lines: list[str] = []
    block: list[str] = []

    def flush() -> None:
        if block:
            lines.extend(["```yaml", *block, "```"])
            block.clear()

    for line in remediation.splitlines():
        if _is_yaml(line):
            block.append(line)
            continue
        flush()
        start = _bare_command_start(line)
        if start is None:
            lines.append(escape(line) + "  ")
            continue
        lead = line[:start].strip()
        if lead:
            lines.append(escape(lead))
        lines.extend(["```sh", line[start:].strip(), "```"])
    flush()
    return lines


def _bare_command_start(line: str) -> int | None:
    """Where a command outside backticks starts on this line (it runs to the line's end)."""
    if "`" in line:
        return None
    for tool in ("amldoctor ", "kubectl ", "az ", "helm "):
        at = line.find(tool)
        if at == 0 or (at > 0 and line[at - 1] in " :("):
            return at
    return None


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
