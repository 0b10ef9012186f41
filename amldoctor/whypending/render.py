"""why-pending for people: the console view and Markdown. They format `analyze()`'s document
and decide nothing.

The node × filter matrix lists nodes one per row; past `GROUP_THRESHOLD` nodes it groups them by
node pool (`kubernetes.azure.com/agentpool` / `agentpool`) and counts failures per filter.
"""

from __future__ import annotations

import re
from collections import defaultdict

from rich.console import Console
from rich.table import Table
from rich.text import Text

from amldoctor.mdtext import escape, fix_markdown, table
from amldoctor.scheduling import names
from amldoctor.scheduling.plugins import FUNNEL_ORDER, SHORT_LABELS
from amldoctor.termtext import write_fix, write_paragraph, write_wrapped

GROUP_THRESHOLD = 30
SHORT = {**SHORT_LABELS, names.FRAMEWORK: "prefilter"}


def _failing(row: dict) -> set[str]:
    return {f["plugin"] for f in row["all_failures"]}


def _columns(doc: dict) -> list[str]:
    seen = {p for row in doc["nodes"] for p in _failing(row)}
    order = [p for p, _ in FUNNEL_ORDER] + [names.FRAMEWORK]
    return [p for p in order if p in seen] + sorted(seen - set(order))


def node_matrix(doc: dict, width: int | None = None) -> Table:
    """One row per node (or per pool when there are many nodes), one column per failing filter.

    On a terminal narrower than the whole matrix the pool column goes (AKS node names carry the
    pool) so that the scheduler's reason keeps room to be read.
    """
    cols = _columns(doc)
    grouped = len(doc["nodes"]) > GROUP_THRESHOLD
    names = [str(r.get("name") or "") for r in doc["nodes"]]
    pool_names = [str(r.get("pool") or "") for r in doc["nodes"]]
    needed = (
        max([4, *map(len, names)])
        + max([4, *map(len, pool_names)])
        + sum(len(SHORT.get(c, c)) for c in cols)
        + 2 * (len(cols) + 3)
        + 24
    )
    show_pool = grouped or width is None or width >= needed
    show_reason = (
        grouped or width is None or width >= needed - len(max(pool_names, key=len, default=""))
    )
    table = Table(box=None, pad_edge=False, show_edge=False, header_style="bold")
    # Narrow columns never shrink below their header (at 80 columns rich would cut "pool" to
    # "p…"); the last column, the scheduler's reason, wraps instead.
    table.add_column("pool" if grouped else "node", no_wrap=True)
    second = "nodes" if grouped else "pool"
    if show_pool:
        widths = [len(second), *(map(len, pool_names) if not grouped else ())]
        table.add_column(second, no_wrap=True, min_width=max(widths))
    for c in cols:
        header = SHORT.get(c, c)
        table.add_column(header, justify="center", no_wrap=True, min_width=len(header))
    if show_reason:
        table.add_column("fits" if grouped else "scheduler's reason", overflow="fold")
    if grouped:
        pools: dict[str, list[dict]] = defaultdict(list)
        for row in doc["nodes"]:
            pools[row.get("pool") or "(no pool label)"].append(row)
        for pool, rows in sorted(pools.items()):
            cells = []
            for c in cols:
                n = sum(1 for r in rows if c in _failing(r))
                cells.append(Text(f"✗{n}", style="red") if n else Text("·", style="green"))
            fits = sum(1 for r in rows if r["fits"])
            table.add_row(
                pool, str(len(rows)), *cells, Text(str(fits), style="green" if fits else "red")
            )
        return table
    for row in doc["nodes"]:
        failing = _failing(row)
        cells = [Text("✗", style="red") if c in failing else Text("·", style="green") for c in cols]
        verdict = (
            Text("fits", style="green")
            if row["fits"]
            else Text(", ".join(row["reasons"]), style="red")
        )
        pool_cell = [row.get("pool") or ""] if show_pool else []
        table.add_row(row["name"], *pool_cell, *cells, *([verdict] if show_reason else []))
    return table


def render_console(console: Console, doc: dict, source: str = "") -> None:
    pod = doc["pod"]
    title = Text("why-pending ", style="bold")
    title.append(f"{pod['namespace']}/{pod['name']}", style="bold cyan")
    title.append(f"  ·  {pod['phase']}  ·  scheduler {pod['scheduler_name']}", style="dim")
    title.append(f"  ·  rules of kube-scheduler {doc['scheduler_version']}", style="dim")
    if source:
        title.append(f"  ·  {source}", style="dim")
    console.print(title)
    console.print(Text(doc["status"]["summary"]))
    if doc["requests"]:
        console.print(
            Text(
                "requests: " + ", ".join(f"{k} {v}" for k, v in doc["requests"].items()),
                style="dim",
            )
        )
    console.print()
    _messages(console, doc)
    if doc["limited_view"]:
        lv = doc["limited_view"]
        console.print(Text(lv["reason"], style="yellow"))
        for c in lv["causes"]:
            console.print(
                Text(
                    f"  {c['count']:>5}  {c['reason']}"
                    + (f"  [{c['plugin']}]" if c["plugin"] else "")
                )
            )
        if lv["prefilter_msg"]:
            console.print(Text(f"  all nodes: {lv['prefilter_msg']}"))
        console.print()
    if doc["funnel_line"]:
        console.print(Text("funnel: ", style="bold") + Text(doc["funnel_line"]))
        console.print()
    if doc["nodes"]:
        matrix = node_matrix(doc, width=console.width)
        console.print(matrix)
        if len(matrix.columns) == len(_columns(doc)) + 1:  # too narrow for the reason column
            _reasons_by_node(console, doc)
        console.print()
    pre = doc.get("preemption")
    if pre and pre.get("summary"):
        console.print(Text("preemption: ", style="bold") + Text(pre["summary"]))
        console.print()
    if doc["closest_nodes"] and doc["fixes"]:
        console.print(Text("closest nodes", style="bold"))
        for c in doc["closest_nodes"][:3]:
            write_wrapped(console, closest_line(c), first="  ", rest="      ")
        console.print()
    if doc["fixes"]:
        console.print(Text("what to change", style="bold green"))
        for f in doc["fixes"]:
            console.print(Text(f"  • {f['text']}", style="green"))
            for line in (f.get("yaml") or "").splitlines():
                console.print(Text(f"      {line}"))
        console.print()
    if doc.get("new_nodes"):
        _new_nodes_console(console, doc["new_nodes"])
    for note in doc["not_modelled"]:
        console.print(Text(f"not modelled: {note}", style="yellow"))
    if not doc["fixes"] and doc["findings"]:
        _runtime_findings(console, doc["findings"])


_SEVERITY_STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}


def _runtime_findings(console: Console, findings: list[dict]) -> None:
    """Why a scheduled pod still does not run: the rules' findings about it, with their fixes."""
    console.print(Text("findings", style="bold"))
    for f in findings:
        head = Text("  ")
        head.append(f"{f['severity'].upper():<7}", style=_SEVERITY_STYLE.get(f["severity"], ""))
        head.append(f" {f['rule']} ", style="bold")
        head.append(f["name"], style="dim")
        console.print(head)
        write_paragraph(console, f["message"], indent=10)
        if f.get("remediation"):
            write_fix(console, f["remediation"], indent=10)
    console.print()


def closest_line(closest: dict) -> str:
    """`node: detail; detail`, without the prefix when the details name the node already
    ("node n-a has taint ..."): the name once reads faster at the end of a long day."""
    text = "; ".join(closest["details"][:3])
    named = re.search(rf"(?<![\w.-]){re.escape(closest['name'])}(?![\w.-])", text)
    return text if named else f"{closest['name']}: {text}"


def _reasons_by_node(console: Console, doc: dict) -> None:
    """The scheduler's reason per node, as lines under a matrix too narrow to hold them."""
    by_reason: dict[str, list[str]] = defaultdict(list)
    for row in doc["nodes"]:
        by_reason["fits" if row["fits"] else ", ".join(row["reasons"])].append(row["name"])
    console.print(Text("scheduler's reason", style="bold"))
    for reason, nodes in sorted(by_reason.items()):
        write_wrapped(console, f"{reason}: {', '.join(nodes)}", first="  ", rest="      ")


def _new_nodes_console(console: Console, section: dict) -> None:
    console.print(Text("would a new node help?", style="bold"))
    console.print(Text(f"  {section['summary']}"))
    for pool in section["pools"]:
        if pool["text"] != section["summary"]:  # one pool: the summary said it already
            console.print(Text(f"  • {pool['text']}", style="dim"))
        if pool.get("fix"):
            console.print(Text(f"      {pool['fix']}", style="green"))
    auto = section["autoscaler"]
    if auto.get("latest_event"):
        console.print(Text(f"  cluster autoscaler said: {auto['latest_event']}", style="dim"))
    if auto.get("stale"):
        console.print(
            Text(f"  cluster autoscaler status is stale (last {auto['last_updated']})", "yellow")
        )
    for note in section["provisioning"]:
        console.print(Text(f"  {note}", style="dim"))
    console.print()


def _messages(console: Console, doc: dict) -> None:
    obs = doc["observed"] or {}
    if doc["observed_message"]:
        where = obs.get("source", "")
        extra = (
            f", {obs['event_count']}×, last {obs['last_seen']}" if obs.get("event_count") else ""
        )
        console.print(Text(f"scheduler said ({where}{extra}):", style="bold"))
        console.print(Text(f"  {doc['observed_message']}"))
    elif doc["status"]["state"] in ("unschedulable", "schedulable"):
        console.print(
            Text(
                "scheduler said: nothing in the snapshot (events expire after about an hour)",
                style="dim",
            )
        )
    if doc["scheduler_message"]:
        console.print(Text("amldoctor computes:", style="bold"))
        console.print(Text(f"  {doc['scheduler_message']}"))
    agrees = doc["agrees_with_scheduler"]
    if agrees is True:
        console.print(Text("  ✓ same verdict as the scheduler", style="green"))
    elif agrees is False:
        console.print(
            Text(
                "  ≠ differs from the scheduler's last message "
                "(the cluster changed since, or see 'not modelled'):",
                style="yellow",
            )
        )
        for d in doc["differences"]:
            console.print(Text(f"    {d}", style="yellow"))
    console.print()


def _cell(text: str) -> str:
    return escape(text).replace("\n", "<br>")


def _fix_lines(text: str, indent: str = "  ") -> list[str]:
    """A fix as a list item's body: prose escaped, YAML and commands in fenced blocks."""
    body = fix_markdown(text)
    first, rest = body[0] if body else "", body[1:]
    if first.startswith("```"):
        first, rest = "", body
    return [f"- {first.rstrip()}", *[f"{indent}{line}" if line else "" for line in rest]]


def render_markdown(doc: dict) -> str:
    pod = doc["pod"]
    lines = [
        f"## why-pending {pod['namespace']}/{pod['name']}",
        "",
        f"- **Status:** {escape(doc['status']['summary'])}",
        f"- **Scheduler:** {pod['scheduler_name']} "
        f"(rules of kube-scheduler {doc['scheduler_version']})",
    ]
    if doc["requests"]:
        lines.append("- **Requests:** " + ", ".join(f"{k} {v}" for k, v in doc["requests"].items()))
    if doc["observed_message"]:
        lines.append(f"- **Scheduler said:** `{doc['observed_message']}`")
    if doc["scheduler_message"]:
        lines.append(f"- **amldoctor computes:** `{doc['scheduler_message']}`")
    if doc["agrees_with_scheduler"] is not None:
        lines.append(
            f"- **Agrees with the scheduler:** {'yes' if doc['agrees_with_scheduler'] else 'no'}"
        )
        lines += [f"  - {_cell(d)}" for d in doc["differences"]]
    if doc["funnel_line"]:
        lines.append(f"- **Funnel:** {escape(doc['funnel_line'])}")
    if (doc.get("preemption") or {}).get("summary"):
        lines.append(f"- **Preemption:** {_cell(doc['preemption']['summary'])}")
    if doc["limited_view"]:
        lines.append(f"- **Limited view:** {_cell(doc['limited_view']['reason'])}")
        lines += [f"  - {c['count']} {_cell(c['reason'])}" for c in doc["limited_view"]["causes"]]
    if doc["nodes"]:
        cols = _columns(doc)
        headers = ["node", "pool", *(SHORT.get(c, c) for c in cols), "scheduler's reason"]
        rows = []
        for row in doc["nodes"]:
            marks = ["✗" if c in _failing(row) else "·" for c in cols]
            verdict = "fits" if row["fits"] else ", ".join(row["reasons"])
            rows.append([row["name"], row.get("pool") or "", *marks, _cell(verdict)])
        lines += ["", *table(headers, rows)]
    if doc["fixes"]:
        lines += ["", "### What to change", ""]
        for f in doc["fixes"]:
            lines += _fix_lines(f["text"])
            if f.get("yaml"):
                lines += [
                    "",
                    "  ```yaml",
                    *[f"  {line}" for line in f["yaml"].splitlines()],
                    "  ```",
                ]
    if doc.get("new_nodes"):
        section = doc["new_nodes"]
        lines += ["", "### Would a new node help?", "", f"{_cell(section['summary'])}", ""]
        for pool in section["pools"]:
            if pool["text"] != section["summary"]:
                lines.append(f"- {_cell(pool['text'])}")
            if pool.get("fix"):
                lines += ["", "  ```sh", f"  {pool['fix']}", "  ```"]
        if section["autoscaler"].get("latest_event"):
            lines.append(f"- cluster autoscaler said: `{section['autoscaler']['latest_event']}`")
        lines += [f"- {_cell(n)}" for n in section["provisioning"]]
    for note in doc["not_modelled"]:
        lines.append(f"- _Not modelled:_ {_cell(note)}")
    return "\n".join(lines) + "\n"
