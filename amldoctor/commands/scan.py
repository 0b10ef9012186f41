"""`amldoctor scan`: every rule over the pods in scope, rendered."""

from __future__ import annotations

import sys

from amldoctor.aml.jobview import group_by_job
from amldoctor.commands.options import check_fail_on, split_codes
from amldoctor.errors import InputError
from amldoctor.k8s.selectors import parse_selector
from amldoctor.render import check_format, make_console
from amldoctor.rules.base import find_rule
from amldoctor.rules.engine import run_rules
from amldoctor.sources import Target, open_snapshot, resolve_namespaces


def run_scan(
    *,
    snapshot: str | None,
    namespace: str | None,
    all_namespaces: bool,
    selector: str | None,
    output: str,
    fail_on: str,
    ignore: list[str],
    kubeconfig: str | None,
    context: str | None,
    request_timeout: float | None,
) -> int:
    fmt = check_format(output)
    fail_on = check_fail_on(fail_on)
    ignore_codes = split_codes(ignore)
    unknown = [code for code in ignore_codes if find_rule(code) is None]
    if unknown:
        raise InputError(f"--ignore: unknown rule {', '.join(unknown)} (see `amldoctor rules`)")
    predicate = parse_selector(selector) if selector else None
    target = Target(
        snapshot=snapshot,
        kubeconfig=kubeconfig,
        context=context,
        namespace=namespace,
        all_namespaces=all_namespaces,
        selector=selector,
        request_timeout=request_timeout,
        progress=fmt == "table" and sys.stderr.isatty(),
    )
    snap = open_snapshot(target)
    namespaces = resolve_namespaces(snap, target)
    report = run_rules(snap, namespaces=namespaces, selector=predicate, ignore=ignore_codes)
    report.jobs = group_by_job(snap, report.findings, pods_in_scope(snap, namespaces, predicate))
    emit_report(report, fmt)
    return report.exit_code(fail_on)


def pods_in_scope(snap, namespaces, predicate) -> list[dict]:
    return [
        p
        for p in snap.pods
        if (namespaces is None or (p.get("metadata") or {}).get("namespace") in namespaces)
        and (predicate is None or predicate(p))
    ]


def emit_report(report, fmt: str) -> None:
    """Print a report in the chosen format to stdout."""
    if fmt == "json":
        from amldoctor.render.structured import to_json

        sys.stdout.write(to_json(report.to_dict()) + "\n")
    elif fmt == "yaml":
        from amldoctor.render.structured import to_yaml

        sys.stdout.write(to_yaml(report.to_dict()))
    elif fmt == "markdown":
        from amldoctor.render.markdown import report_markdown

        sys.stdout.write(report_markdown(report))
    else:
        from amldoctor.render.console import render_report

        render_report(make_console(), report)
