"""Markdown for pasting into a ticket: a summary line and one table per severity."""

from __future__ import annotations

from tabulate import tabulate

from amldoctor.engine.report import Report, Severity, missing_notes


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", "<br>")


def report_markdown(report: Report) -> str:
    src = report.source()
    counts = report.counts()
    lines = [
        "## amldoctor scan",
        "",
        f"- Source: `{src['origin']}`"
        + (f" (context `{src['context']}`)" if src["context"] else "")
        + (f", Kubernetes {src['server_version']}" if src["server_version"] else ""),
        f"- Namespaces: {', '.join(src['namespaces'] or []) or 'all'}; captured "
        f"{src['captured_at']}",
        f"- {counts['error']} errors, {counts['warning']} warnings, {counts['info']} info; "
        f"{report.pods_checked} pods checked; {report.suppressed} suppressed",
    ]
    for note in missing_notes(report.snapshot.missing):
        lines.append(f"- Not checked: {note}")
    for skipped in report.skipped:
        lines.append(f"- Skipped {skipped.rule} ({skipped.name}): {skipped.reason}")
    if report.jobs:
        from amldoctor.aml.render import jobs_markdown

        lines += ["", jobs_markdown(report.jobs).rstrip()]
    for severity in sorted(Severity, reverse=True):
        rows = [
            [f.rule, str(f.object), _cell(f.message), _cell(f.remediation)]
            for f in report.findings
            if f.severity == severity
        ]
        if rows:
            lines += ["", f"### {severity.label.capitalize()}s", ""]
            lines.append(
                tabulate(rows, headers=["Rule", "Object", "Finding", "Fix"], tablefmt="github")
            )
    if not report.findings:
        lines += ["", "No findings."]
    return "\n".join(lines) + "\n"
