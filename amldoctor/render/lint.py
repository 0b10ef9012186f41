"""Terminal and Markdown output of `amldoctor lint`: findings in file and line order.

Lint output is read next to an editor, so each finding starts with `file:line` (which terminals
and CI logs turn into links), then the object, the specific sentence and the YAML to write.
"""

from __future__ import annotations

from rich.console import Console
from rich.text import Text

from amldoctor.engine.report import Finding
from amldoctor.mdtext import escape, fix_markdown, table
from amldoctor.render.console import ICONS, STYLES, summary_text
from amldoctor.render.style import plural


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


def lint_markdown(report) -> str:
    """`lint -o markdown`, for a pull request or a ticket.

    A summary table (where, severity, rule, object, finding), then one section per finding with
    a fix: prose escaped (`<placeholders>` stay visible), YAML in ```yaml blocks and commands in
    ```sh blocks, so both paste whole; a fix squeezed into a table cell pastes as neither.
    """
    counts = report.counts()
    lines = [
        "## amldoctor lint",
        "",
        f"- Files: {', '.join(f'`{f}`' for f in report.files) or 'none'}",
        f"- {plural(counts['error'], 'error')}, {plural(counts['warning'], 'warning')}, "
        f"{counts['info']} info; {plural(report.workloads_checked, 'workload')} checked; "
        f"{report.suppressed} suppressed",
    ]
    against = report.source()["against"]
    if against:
        lines.append(f"- Pre-flight against `{against['origin']}`")
    lines += [f"- Not run: {s.rule} ({s.name}): {escape(s.reason)}" for s in report.skipped]
    lines += [f"- Note: {escape(note)}" for note in report.notes]
    if not report.findings:
        return "\n".join([*lines, "", "No findings."]) + "\n"
    rows = [
        [
            str(n),
            f"`{location(f)}`",
            f.severity.label,
            f"{f.rule} {f.name}",
            escape(str(f.object)),
            escape(f.message),
        ]
        for n, f in enumerate(report.findings, 1)
    ]
    lines += ["", *table(["#", "Where", "Severity", "Rule", "Object", "Finding"], rows)]
    for n, f in enumerate(report.findings, 1):
        if f.remediation:
            lines += ["", f"### {n}. Fix for {f.rule} at `{location(f)}`", ""]
            lines += fix_markdown(f.remediation)
    return "\n".join(lines) + "\n"
