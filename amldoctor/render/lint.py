"""Terminal and Markdown output of `amldoctor lint`: findings in file and line order.

Lint output is read next to an editor, so each finding starts with `file:line` (which terminals
and CI logs turn into links), then the object, the specific sentence and the YAML to write.
"""

from __future__ import annotations

from rich.console import Console
from rich.text import Text
from tabulate import tabulate

from amldoctor.engine.report import Finding
from amldoctor.render.console import ICONS, STYLES, summary_text


def location(f: Finding) -> str:
    file = f.evidence.get("file", "")
    line = f.evidence.get("line")
    return f"{file}:{line}" if line else str(file)


def render_lint(console: Console, report) -> None:
    """`report` is an `amldoctor.lint.engine.LintReport`."""
    title = Text("amldoctor lint", style="bold")
    files = report.files
    title.append(f"  ·  {len(files)} file(s), {report.workloads_checked} workload(s)", style="dim")
    against = report.source()["against"]
    if against:
        title.append(f"  ·  pre-flight against {against['origin']}", style="dim")
        if against.get("context"):
            title.append(f" (context {against['context']})", style="dim")
    console.print(title)
    console.print()
    for f in report.findings:
        head = Text()
        head.append(f"{ICONS[f.severity]} ", style=STYLES[f.severity])
        head.append(location(f), style="bold")
        head.append(f"  {f.severity.label.upper()} {f.rule} {f.name}", style=STYLES[f.severity])
        head.append(f"  {f.object}", style="dim")
        console.print(head)
        console.print(Text(f"    {f.message}"))
        if f.remediation:
            lines = f.remediation.splitlines()
            console.print(Text(f"    fix: {lines[0]}", style="green"))
            for extra in lines[1:]:
                console.print(Text(f"         {extra}", style="green"))
        console.print()
    if not report.findings:
        console.print(Text("No findings.", style="green"))
        console.print()
    by_reason: dict[str, list[str]] = {}
    for skipped in report.skipped:
        by_reason.setdefault(skipped.reason, []).append(skipped.rule)
    for reason, codes in by_reason.items():
        console.print(Text(f"not run: {', '.join(codes)} ({reason})", style="yellow"))
    for note in report.notes:
        console.print(Text(f"note: {note}", style="yellow"))
    summary = summary_text(report.counts())
    if report.suppressed:
        summary.append(
            f"  ·  {report.suppressed} suppressed (amldoctor.io/ignore, --ignore or config)"
        )
    console.print(summary)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", "<br>")


def lint_markdown(report) -> str:
    counts = report.counts()
    lines = [
        "## amldoctor lint",
        "",
        f"- Files: {', '.join(f'`{f}`' for f in report.files) or 'none'}",
        f"- {counts['error']} errors, {counts['warning']} warnings, {counts['info']} info; "
        f"{report.workloads_checked} workloads checked; {report.suppressed} suppressed",
    ]
    against = report.source()["against"]
    if against:
        lines.append(f"- Pre-flight against `{against['origin']}`")
    lines += [f"- Not run: {s.rule} ({s.name}): {s.reason}" for s in report.skipped]
    lines += [f"- Note: {note}" for note in report.notes]
    if report.findings:
        rows = [
            [
                f"`{location(f)}`",
                f.severity.label,
                f.rule,
                str(f.object),
                _cell(f.message),
                _cell(f.remediation),
            ]
            for f in report.findings
        ]
        lines += [
            "",
            tabulate(
                rows,
                headers=["Where", "Severity", "Rule", "Object", "Finding", "Fix"],
                tablefmt="github",
            ),
        ]
    else:
        lines += ["", "No findings."]
    return "\n".join(lines) + "\n"
