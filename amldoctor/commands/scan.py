"""`amldoctor scan`: every rule over the pods in scope, rendered."""

from __future__ import annotations

import sys

from amldoctor.commands.options import check_fail_on, split_codes
from amldoctor.errors import InputError
from amldoctor.k8s.selectors import parse_selector
from amldoctor.sources import PendingSnapshot, Target, resolve_namespaces


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
    expand: bool = False,
    include_cluster: bool = False,
) -> int:
    from amldoctor.commands.output import checked_format, emit
    from amldoctor.commands.results import ScanResult

    fmt = checked_format(ScanResult, output)
    fail_on = check_fail_on(fail_on)
    ignore_codes = split_codes(ignore)
    if ignore_codes:
        from amldoctor.engine.registry import find_rule

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
        occupancy_when_needed=True,
    )
    pending = PendingSnapshot(target)
    # The analysis is imported while a live cluster answers (see `PendingSnapshot`).
    pending.wait_settled()
    from amldoctor.commands.jobview import group_by_job
    from amldoctor.engine.registry import load_all
    from amldoctor.engine.runner import run_rules
    from amldoctor.engine.scope import within_selector
    from amldoctor.hints import rewrite, rewrite_findings, source_flags

    load_all()
    snap = pending.result()
    namespaces = resolve_namespaces(snap, target)
    report = run_rules(snap, namespaces=namespaces, selector=predicate, ignore=ignore_codes)
    if predicate is not None:
        report.findings = within_selector(
            snap, report.findings, pods_in_scope(snap, namespaces, predicate), predicate
        )
    report.jobs = group_by_job(
        snap,
        report.findings,
        pods_in_scope(snap, namespaces, predicate),
        namespaces=report.scope,
        pods_only=predicate is not None,
    )
    flags = source_flags(snapshot, context, kubeconfig)
    rewrite_findings(report.findings, flags)
    report.jobs = rewrite(report.jobs, flags)
    # A namespace-scoped scan answers for its namespaces; the cluster's own problems are shown
    # but only fail the run when asked.
    report.cluster_in_exit = include_cluster or (namespaces is None and predicate is None)
    result = ScanResult(report, expand=expand)
    emit(result, fmt)
    return result.exit_code(fail_on)


def pods_in_scope(snap, namespaces, predicate) -> list[dict]:
    return [
        p
        for p in snap.pods
        if (namespaces is None or (p.get("metadata") or {}).get("namespace") in namespaces)
        and (predicate is None or predicate(p))
    ]
