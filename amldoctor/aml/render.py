"""Text for the per-job view: a rich section for the terminal and Markdown for tickets.

Renderers only format what `jobview.group_by_job` and `jobview.explain_job` computed; they
decide nothing. Output is deterministic: entries arrive sorted and are printed in that order.
"""

from __future__ import annotations

from collections.abc import Iterable

from rich.console import Console
from rich.text import Text

from amldoctor.mdtext import escape, fix_markdown
from amldoctor.termtext import write_paragraph, write_wrapped

_STYLES = {"error": "bold red", "warning": "yellow", "info": "cyan", None: "green"}
_ICONS = {"error": "✖", "warning": "▲", "info": "●", None: "✔"}


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", "<br>")


def render_jobs(console: Console, jobs: list[dict], limit: int | None = None) -> None:
    """The 'AML jobs and deployments' section printed by `scan` ahead of the causes.

    With `limit`, at most that many entries are listed (the unhealthy ones first: `jobs` arrive
    worst first) and the rest are counted, so a cluster running hundreds of jobs still reads in
    one screen; the causes below cover every job's findings.
    """
    if not jobs:
        return
    by_state: dict[str, int] = {}
    for job in jobs:
        state = job.get("severity") or "ok"
        by_state[state] = by_state.get(state, 0) + 1
    title = Text("AML jobs and online deployments", style="bold")
    if limit is not None and len(jobs) > limit:
        counts = ", ".join(
            f"{by_state[s]} {s}" for s in ("error", "warning", "info", "ok") if s in by_state
        )
        title.append(f"  ({len(jobs)}: {counts})", style="dim")
    console.print(title)
    shown = jobs if limit is None else jobs[:limit]
    for job in shown:
        severity = job.get("severity")
        line = Text("  ")
        line.append(f"{_ICONS[severity]} ", style=_STYLES[severity])
        line.append(str(job["summary"]))
        if limit is not None and not console.soft_wrap:
            # The short list on a terminal: one row per job, its causes are below.
            console.print(line, no_wrap=True, overflow="ellipsis", soft_wrap=False)
            continue
        if limit is not None:
            console.print(line, soft_wrap=True)
            continue
        write_wrapped(
            console, line.plain[2:], first="  ", rest="    ", style=_STYLES[severity] or ""
        )
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
            write_paragraph(console, " · ".join(details), style="dim", indent=6)
    if len(shown) < len(jobs):
        console.print(
            Text(f"  … and {len(jobs) - len(shown)} more (--expand lists every one)", style="dim")
        )
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
            f"AmlJob {aml['name']}: "
            + ", ".join(
                [
                    f"phase {aml['phase']}" if aml.get("phase") else "no phase reported yet",
                    f"node count {aml['node_count']}"
                    if aml.get("node_count")
                    else "node count not set",
                ]
            ),
        )
    pg = result.get("podgroup")
    if pg:
        text = (
            f"PodGroup {pg['name']}: {pg.get('phase') or 'no phase reported yet'}, "
            f"minMember {pg.get('minMember') or 'not set'}, queue {pg.get('queue') or 'default'}"
        )
        cond = pg.get("condition") or {}
        if cond.get("message"):
            text += f"; {cond.get('reason') or cond.get('type')}: {cond['message']}"
        yield "", text
    for pod in result.get("pods") or ():
        text = f"pod {pod['name']}: {pod.get('phase') or 'no phase reported yet'}" + (
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
    """`why-pending --job ID -o markdown`, for a ticket.

    The job's state as escaped bullets (`<placeholders>` stay visible), then one section per
    finding: its message, and its fix with YAML in ```yaml blocks and commands in ```sh blocks
    so they paste whole (a fix in a table cell pastes as neither).
    """
    lines = []
    for i, (_, text) in enumerate(_explain_lines(result)):
        lines.append(f"## {escape(text)}" if i == 0 else f"- {escape(text)}")
    findings = result.get("findings") or []
    if findings:
        lines += ["", "### Findings"]
    for n, f in enumerate(findings, 1):
        lines += ["", f"#### {n}. {f['severity']}: {f['rule']} {f.get('name', '')}".rstrip()]
        lines += ["", escape(f["message"])]
        if f.get("remediation"):
            lines += ["", "**Fix**", "", *fix_markdown(f["remediation"])]
    return "\n".join(lines) + "\n"
