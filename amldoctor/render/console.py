"""The terminal report: findings grouped by object, worst first, each with its fix.

Written for an on-call engineer at 3 a.m.: the object and its owner on one line, then every
finding as severity, code, one specific sentence, the evidence numbers and the fix, then a
summary that also says what could not be checked.
"""

from __future__ import annotations

from collections import defaultdict

from rich.console import Console
from rich.text import Text

from amldoctor.engine.report import Finding, ObjectRef, Report, Severity, missing_notes

STYLES = {Severity.ERROR: "bold red", Severity.WARNING: "yellow", Severity.INFO: "cyan"}
ICONS = {Severity.ERROR: "✖", Severity.WARNING: "▲", Severity.INFO: "●"}


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


def render_findings(console: Console, findings: list[Finding], *, indent: str = "  ") -> None:
    """Findings grouped by object, groups ordered by their worst finding."""
    groups: dict[ObjectRef, list[Finding]] = defaultdict(list)
    for finding in findings:
        groups[finding.object].append(finding)
    ordered = sorted(groups.items(), key=lambda item: (-max(f.severity for f in item[1]), item[0]))
    for ref, items in ordered:
        worst = max(f.severity for f in items)
        header = Text()
        header.append(f"{ICONS[worst]} ", style=STYLES[worst])
        header.append(str(ref), style="bold")
        owner = items[0].owner
        if owner is not None:
            header.append(f"  (owned by {owner.kind}/{owner.name})", style="dim")
        console.print(header)
        for f in sorted(items, key=Finding.sort_key):
            line = Text(indent)
            line.append(f"{f.severity.label.upper():<7}", style=STYLES[f.severity])
            line.append(f" {f.rule} ", style="bold")
            line.append(f"{f.name}", style="dim")
            console.print(line)
            console.print(Text(f"{indent}        {f.message}"))
            evidence = format_evidence(f.evidence)
            if evidence:
                console.print(Text(f"{indent}        evidence: {evidence}", style="dim"))
            if f.remediation:
                lines = f.remediation.splitlines()
                console.print(Text(f"{indent}        fix: {lines[0]}", style="green"))
                for extra in lines[1:]:
                    console.print(Text(f"{indent}             {extra}", style="green"))
        console.print()


def render_report(console: Console, report: Report) -> None:
    src = report.source()
    title = Text("amldoctor scan", style="bold")
    scope = ", ".join(src["namespaces"] or []) or "all namespaces"
    title.append(f"  ·  {scope}  ·  {src['origin']}", style="dim")
    details = []
    if src["context"]:
        details.append(f"context {src['context']}")
    if src["server_version"]:
        details.append(f"Kubernetes {src['server_version']}")
    details.append(f"captured {src['captured_at']}")
    title.append(f"  ({', '.join(details)})", style="dim")
    console.print(title)
    console.print()

    if report.jobs:
        from amldoctor.aml.render import render_jobs

        render_jobs(console, report.jobs)
        console.print()
    if report.findings:
        render_findings(console, report.findings)
    else:
        console.print(
            Text("No findings: nothing wrong was found in the pods in scope.", style="green")
        )
        console.print()

    for note in missing_notes(report.snapshot.missing):
        console.print(Text(f"not checked: {note}", style="yellow"))
    for skipped in report.skipped:
        console.print(
            Text(f"skipped {skipped.rule} {skipped.name}: {skipped.reason}", style="yellow")
        )
    for note in report.notes:
        console.print(Text(f"note: {note}", style="yellow"))

    summary = summary_text(report.counts())
    summary.append(f"  ·  {report.pods_checked} pods checked")
    if report.suppressed:
        summary.append(f"  ·  {report.suppressed} suppressed by amldoctor.io/ignore or --ignore")
    console.print(summary)


def summary_text(counts: dict[str, int]) -> Text:
    """'2 errors, 1 warnings, 0 info', coloured only where non-zero."""
    summary = Text()
    summary.append(
        f"{counts['error']} errors", style=STYLES[Severity.ERROR] if counts["error"] else ""
    )
    summary.append(", ")
    summary.append(
        f"{counts['warning']} warnings", style=STYLES[Severity.WARNING] if counts["warning"] else ""
    )
    summary.append(f", {counts['info']} info")
    return summary
