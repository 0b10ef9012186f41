"""Text for the per-job view: a rich section for the terminal and Markdown for tickets.

Renderers only format what `jobview.group_by_job` and `jobview.explain_job` computed; they
decide nothing. Output is deterministic: entries arrive sorted and are printed in that order.
"""

from __future__ import annotations

from collections.abc import Iterable

from rich.console import Console
from rich.text import Text

_STYLES = {"error": "bold red", "warning": "yellow", "info": "cyan", None: "green"}
_ICONS = {"error": "✖", "warning": "▲", "info": "●", None: "✔"}


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", "<br>")


def render_jobs(console: Console, jobs: list[dict]) -> None:
    """The 'AML jobs and deployments' section printed by `scan` ahead of the per-pod list."""
    if not jobs:
        return
    console.print(Text("AML jobs and online deployments", style="bold"))
    for job in jobs:
        severity = job.get("severity")
        line = Text("  ")
        line.append(f"{_ICONS[severity]} ", style=_STYLES[severity])
        line.append(str(job["summary"]))
        console.print(line)
        details = []
        it = job.get("instance_type") or {}
        if it.get("name"):
            details.append(f"instance type {it['name']} ({it.get('confidence', 'inferred')})")
        elif it.get("candidates"):
            details.append(f"instance type one of {', '.join(it['candidates'])}")
        if job.get("rules"):
            details.append(f"findings {', '.join(job['rules'])}")
        if job.get("run_id"):
            details.append(f"run {job['run_id']}")
        if details:
            console.print(Text(f"      {' · '.join(details)}", style="dim"))
    console.print()


def jobs_markdown(jobs: list[dict]) -> str:
    """A Markdown table of the per-job summaries (empty string when there are none)."""
    if not jobs:
        return ""
    lines = [
        "### AML jobs and online deployments",
        "",
        "| Severity | Kind | Id | Pods | Instance type | Summary |",
        "|---|---|---|---|---|---|",
    ]
    for job in jobs:
        pods = job.get("pods") or {}
        it = (job.get("instance_type") or {}).get("name") or "?"
        lines.append(
            f"| {job.get('severity') or 'ok'} | {job['kind']} | `{_cell(job['id'])}` | "
            f"{pods.get('total', 0)}/{pods.get('expected', 0)} | {_cell(it)} | "
            f"{_cell(job['summary'])} |"
        )
    return "\n".join(lines) + "\n"


def _explain_lines(result: dict) -> Iterable[tuple[str, str]]:
    """(style, text) lines shared by both renderers."""
    yield "bold", result["status"]
    job = result["job"]
    ident = ", ".join(f"{k} {v}" for k, v in job.items() if k not in ("kind",) and v)
    yield "dim", ident
    if result.get("aml_job"):
        aml = result["aml_job"]
        yield (
            "",
            f"AmlJob {aml['name']}: phase {aml.get('phase') or '?'}, node count "
            f"{aml.get('node_count') or '?'}",
        )
    pg = result.get("podgroup")
    if pg:
        text = (
            f"PodGroup {pg['name']}: {pg['phase']}, minMember {pg['minMember']}, queue "
            f"{pg['queue']}"
        )
        cond = pg.get("condition") or {}
        if cond.get("message"):
            text += f"; {cond.get('reason') or cond.get('type')}: {cond['message']}"
        yield "", text
    for pod in result.get("pods") or ():
        text = f"pod {pod['name']}: {pod['phase']}" + (
            f" on {pod['node']}" if pod.get("node") else ""
        )
        if pod.get("waiting"):
            text += f" ({pod['waiting']})"
        if pod.get("scheduler_message"):
            text += f"; scheduler: {pod['scheduler_message']}"
        yield "", text
    if result.get("pods_missing"):
        yield (
            "yellow",
            f"{result['pods_missing']} pod(s) do not exist yet: "
            f"{result.get('pods_missing_reason', '')}",
        )
    gang = result.get("gang_fit")
    if gang:
        yield (
            ("green" if gang["fits"] else "red"),
            f"gang fit: {gang['summary']} (from {gang.get('basis', '?')})",
        )
    it = result.get("instance_type") or {}
    if it:
        name = it.get("name") or (
            f"one of {', '.join(it['candidates'])}" if it.get("candidates") else "unknown"
        )
        text = f"instance type: {name} ({it.get('confidence', '?')}: {it.get('basis', '')})"
        fit = it.get("fit")
        if fit:
            text += (
                f"; selects {len(fit['nodes_matching'])} node(s), {len(fit['nodes_ready'])} Ready, "
                f"{len(fit['nodes_fitting'])} big enough"
            )
        yield "", text


def render_explain(console: Console, result: dict) -> None:
    """`amldoctor why-pending --job ID` in the terminal."""
    for style, text in _explain_lines(result):
        console.print(Text(text, style=style or ""))
    findings = result.get("findings") or []
    if findings:
        console.print()
        for f in findings:
            line = Text("  ")
            line.append(
                f"{f['severity'].upper():<7} {f['rule']} ", style=_STYLES.get(f["severity"], "")
            )
            line.append(f["message"])
            console.print(line)
            if f.get("remediation"):
                fix = f["remediation"].splitlines()
                console.print(Text(f"          fix: {fix[0]}", style="green"))
                for extra in fix[1:]:
                    console.print(Text(f"               {extra}", style="green"))


def explain_markdown(result: dict) -> str:
    """`why-pending --job ID -o markdown`."""
    lines = []
    for i, (_, text) in enumerate(_explain_lines(result)):
        lines.append(f"## {text}" if i == 0 else f"- {text}")
    findings = result.get("findings") or []
    if findings:
        lines += ["", "| Rule | Severity | Finding | Fix |", "|---|---|---|---|"]
        lines += [
            f"| {f['rule']} | {f['severity']} | {_cell(f['message'])} | "
            f"{_cell(f.get('remediation', ''))} |"
            for f in findings
        ]
    return "\n".join(lines) + "\n"
