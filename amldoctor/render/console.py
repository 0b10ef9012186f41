"""The terminal report: the causes worst first, each with its fix; every object with --expand.

Written for an on-call engineer at 3 a.m.: a triage list of the few causes and how many objects
each holds, then one entry per cause (amldoctor.render.incidents), the cluster's own problems in
their own section, then a summary that also says what could not be checked. `--expand` prints
every object with every finding instead (render_findings).
"""

from __future__ import annotations

from collections import defaultdict

from rich.console import Console
from rich.text import Text

from amldoctor.engine.grouping import FindingGroup, is_cluster_finding, superseded_by
from amldoctor.engine.report import Finding, ObjectRef, Report, Severity, missing_notes
from amldoctor.render.incidents import render_group, render_triage
from amldoctor.render.saidbefore import SaidBefore
from amldoctor.render.style import ICONS, STYLES, format_evidence, plural
from amldoctor.termtext import write_fix, write_paragraph, write_wrapped


def render_findings(
    console: Console,
    findings: list[Finding],
    *,
    indent: str = "  ",
    explained: dict[int, str] | None = None,
) -> None:
    """Findings grouped by object, groups ordered by their worst finding.

    `explained` (id(finding) -> rule) marks a finding another one on the object explains, so
    the reader knows which fix comes first.
    """
    explained = explained or {}
    groups: dict[ObjectRef, list[Finding]] = defaultdict(list)
    for finding in findings:
        groups[finding.object].append(finding)
    ordered = sorted(
        groups.items(), key=lambda item: (-max(f.severity for f in item[1]), item[0].sort_key())
    )
    for ref, items in ordered:
        worst = max(f.severity for f in items)
        header = Text()
        header.append(f"{ICONS[worst]} ", style=STYLES[worst])
        header.append(str(ref), style="bold")
        owner = items[0].owner
        if owner is not None:
            header.append(f"  (owned by {owner.kind}/{owner.name})", style="dim")
        if console.soft_wrap or len(header) <= console.width:
            console.print(header, soft_wrap=True)
        else:
            write_wrapped(console, header.plain, first="", rest="    ", style="bold")
        for f in sorted(items, key=Finding.sort_key):
            line = Text(indent)
            line.append(f"{f.severity.label.upper():<7}", style=STYLES[f.severity])
            line.append(f" {f.rule} ", style="bold")
            line.append(f"{f.name}", style="dim")
            console.print(line)
            body = len(indent) + 8
            write_paragraph(console, f.message, indent=body)
            if id(f) in explained:
                note = f"explained by {explained[id(f)]} on this object: its fix comes first"
                write_paragraph(console, note, style="dim", indent=body)
            evidence = format_evidence(f.evidence)
            if evidence:
                write_paragraph(console, f"evidence: {evidence}", style="dim", indent=body)
            if f.remediation:
                write_fix(console, f.remediation, indent=body)
        console.print()


JOBS_LIMIT = 8
# Causes shown in full in the grouped view, worst first; the rest are named in one line.
MAX_ENTRIES = 20


def render_report(console: Console, report: Report, *, expand: bool = False) -> None:
    src = report.source()
    title = Text("amldoctor scan", style="bold")
    spaces = src["namespaces"] or []
    scope = ", ".join(spaces) if len(spaces) <= 4 else f"{len(spaces)} namespaces"
    scope = scope or "all namespaces"
    title.append(f"  ·  {scope}  ·  {src['origin']}", style="dim")
    details = []
    if src["context"]:
        details.append(f"context {src['context']}")
    if src["server_version"]:
        details.append(f"Kubernetes {src['server_version']}")
    details.append(f"captured {src['captured_at']}")
    title.append(f"  ({', '.join(details)})", style="dim")
    write_wrapped(console, title.plain, first="", rest="  ", style="bold")
    console.print()

    groups = report.groups()
    workload = [g for g in groups if not g.cluster]
    cluster = [g for g in groups if g.cluster]
    triage = groups if report.cluster_in_exit else workload
    if len(report.findings) > 1 and not expand:
        render_triage(console, triage)
    if report.jobs:
        from amldoctor.aml.render import render_jobs

        render_jobs(console, report.jobs, limit=None if expand else JOBS_LIMIT)
    if not report.findings:
        console.print(
            Text("No findings: nothing wrong was found in the pods in scope.", style="green")
        )
        console.print()
    elif expand:
        marks = superseded_by(groups)
        own = [f for f in report.findings if not is_cluster_finding(f)]
        render_findings(console, own, explained=marks)
        cluster_findings = [f for f in report.findings if is_cluster_finding(f)]
        if cluster_findings:
            write_wrapped(console, _cluster_title(report), first="", rest="  ", style="bold")
            render_findings(console, cluster_findings, explained=marks)
    else:
        _render_entries(console, report, triage, workload, cluster)

    for note in missing_notes(report.snapshot.missing):
        write_wrapped(console, f"not checked: {note}", first="", rest="  ", style="yellow")
    for skipped in report.skipped:
        text = f"skipped {skipped.rule} {skipped.name}: {skipped.reason}"
        write_wrapped(console, text, first="", rest="  ", style="yellow")
    for note in report.notes:
        write_wrapped(console, f"note: {note}", first="", rest="  ", style="yellow")

    summary = summary_text(report.counts())
    if groups and not expand:
        summary.append(f" in {plural(len(groups), 'cause')}")
    summary.append(f"  ·  {plural(report.pods_checked, 'pod')} checked")
    if report.suppressed:
        summary.append(f"  ·  {report.suppressed} suppressed by amldoctor.io/ignore or --ignore")
    console.print(summary)


def _render_entries(
    console: Console,
    report: Report,
    triage: list[FindingGroup],
    workload: list[FindingGroup],
    cluster: list[FindingGroup],
) -> None:
    """One entry per cause, numbered as in the triage list, within the entry budget.

    Info causes (inventory, context) and causes beyond the first MAX_ENTRIES (worst first) are
    each summarised in one line that names their rules and says `--expand` shows them: an
    incident must fit a screen whatever the cluster holds.
    """
    numbers = {id(g): n for n, g in enumerate(triage, 1)}
    following = len(triage)
    ranked = [g for g in triage if g.severity != Severity.INFO]
    ranked += [g for g in cluster if g.severity != Severity.INFO and id(g) not in numbers]
    shown = {id(g) for g in ranked[:MAX_ENTRIES]}
    said = SaidBefore()
    for group in workload:
        if id(group) in shown:
            render_group(console, numbers[id(group)], group, said)
    if any(id(g) in shown for g in cluster):
        write_wrapped(console, _cluster_title(report), first="", rest="  ", style="bold")
    for group in cluster:
        if id(group) not in numbers:
            following += 1
            numbers[id(group)] = following
        if id(group) in shown:
            render_group(console, numbers[id(group)], group, said)
    over = ranked[MAX_ENTRIES:]
    if over:
        text = f"… {plural(len(over), 'more cause')} ({_objects(over)}): {_rules(over)}"
        write_wrapped(console, f"{text}; --expand lists every object", first="", rest="  ")
    info = [g for g in [*workload, *cluster] if g.severity == Severity.INFO]
    if info:
        lead = f"{ICONS[Severity.INFO]} {plural(len(info), 'info cause')} ({_objects(info)})"
        text = f"{lead}: {_rules(info)}; --expand for {len(info)} more"
        write_wrapped(console, text, first="", rest="  ", style=STYLES[Severity.INFO])
    if over or info:
        console.print()


def _objects(groups: list[FindingGroup]) -> str:
    """'42 Pods' / '366 objects': how many objects the summarised causes hold."""
    kinds = {ref.kind for g in groups for ref in g.objects}
    kind = next(iter(kinds)) if len(kinds) == 1 else "object"
    return plural(sum(g.count for g in groups), kind)


def _rules(groups: list[FindingGroup]) -> str:
    """'AMD605 gpu-inventory ×4, AMD604 node-cordoned': the rules of the summarised causes."""
    counts: dict[tuple[str, str], int] = {}
    for g in groups:
        counts[(g.rule, g.name)] = counts.get((g.rule, g.name), 0) + 1
    return ", ".join(
        f"{rule} {name}" + (f" ×{n}" if n > 1 else "") for (rule, name), n in counts.items()
    )


def _cluster_title(report: Report) -> str:
    if report.cluster_in_exit:
        return "Cluster (nodes, instance types, AML extension)"
    return (
        "Cluster (nodes, instance types, AML extension): "
        "not in the exit code of a namespace scan unless --include-cluster"
    )


def summary_text(counts: dict[str, int]) -> Text:
    """'2 errors, 1 warning, 0 info', coloured only where non-zero."""
    summary = Text()
    summary.append(
        plural(counts["error"], "error"), style=STYLES[Severity.ERROR] if counts["error"] else ""
    )
    summary.append(", ")
    summary.append(
        plural(counts["warning"], "warning"),
        style=STYLES[Severity.WARNING] if counts["warning"] else "",
    )
    summary.append(f", {counts['info']} info")
    return summary
