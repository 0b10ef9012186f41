"""Running the rules over a snapshot: scope, skipping, suppression, ordering.

Pure: Snapshot in, Report out. A rule whose inputs could not be read is listed as skipped with
the reason instead of silently finding nothing; a rule that crashes on odd data is reported as
an internal note rather than taking the whole report down.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

from amldoctor.engine.registry import (
    REGISTRY,
    Context,
    RuleMeta,
    find_rule,
    ignored_codes,
    iter_rules,
    run_check,
    suppressed_by,
)
from amldoctor.engine.report import Finding, Report, SkippedRule
from amldoctor.k8s.containers import shared_views
from amldoctor.k8s.objects import meta
from amldoctor.k8s.owners import owner_chain
from amldoctor.snapshot import Snapshot


def run_rules(
    snap: Snapshot,
    *,
    namespaces: Iterable[str] | None = None,
    selector: Callable[[dict], bool] | None = None,
    ignore: Iterable[str] = (),
    only: Iterable[str] = (),
    rules: Iterable[RuleMeta] | None = None,
) -> Report:
    """Run every scan rule (or `rules`) and build the report.

    The rules share each pod's container views (`shared_views`) for the length of the run,
    with the cyclic garbage collector paused (`collector_paused`).
    """
    with shared_views(), collector_paused():
        return _run_rules(snap, namespaces, selector, ignore, only, rules)


@contextmanager
def collector_paused() -> Iterator[None]:
    """Run the block with Python's cyclic garbage collector paused, then resume it.

    The rules build hundreds of thousands of objects that live until the report is made
    (memoized simulations with a verdict per node, gang placements, container views, findings)
    and hardly any reference cycles. With the collector on, every full collection walked all of
    them again: a ninth of the CPU of a many-shapes `scan -A`, for nothing it could free (peak
    memory is the same with it paused). Reference counting still frees everything as usual;
    should a rule leave a cycle behind, the collector finds it once resumed.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _run_rules(
    snap: Snapshot,
    namespaces: Iterable[str] | None,
    selector: Callable[[dict], bool] | None,
    ignore: Iterable[str],
    only: Iterable[str],
    rules: Iterable[RuleMeta] | None,
) -> Report:
    scope = frozenset(namespaces) if namespaces is not None else None
    ctx = Context(snap, namespaces=scope, selector=selector)
    ignore_set = {_canonical(k) for k in ignore}
    only_set = {_canonical(k) for k in only}
    findings: list[Finding] = []
    skipped: list[SkippedRule] = []
    notes: list[str] = []  # inputs that could not be read are in report.snapshot.missing
    suppressed = 0

    for rule_meta in rules if rules is not None else iter_rules("scan"):
        if rule_meta.code in ignore_set or (only_set and rule_meta.code not in only_set):
            continue
        absent = [k for k in rule_meta.needs if not snap.collected(k)]
        if absent:
            reasons = []
            for kind in absent:
                miss = snap.missing_for(kind)
                reasons.append(f"{kind}: {miss.reason}" if miss else f"{kind}: not in the snapshot")
            skipped.append(SkippedRule(rule_meta.code, rule_meta.name, "; ".join(reasons)))
            continue
        for finding in run_check(rule_meta, ctx, notes, "this snapshot"):
            if _is_suppressed(snap, finding):
                suppressed += 1
            else:
                findings.append(finding)

    findings = _drop_superseded(findings)
    findings.sort(key=Finding.sort_key)
    scope_list = sorted(scope) if scope is not None else snap.namespaces()
    return Report(
        snapshot=snap,
        findings=findings,
        skipped=skipped,
        suppressed=suppressed,
        scope=scope_list,
        pods_checked=len(ctx.pods()),
        notes=notes,
    )


def _drop_superseded(findings: list[Finding]) -> list[Finding]:
    """Remove generic findings that a more specific rule already made for the same workload."""
    covered: set[tuple[str, object]] = set()
    for f in findings:
        for code in REGISTRY[f.rule].supersedes if f.rule in REGISTRY else ():
            covered.add((code, f.object))
            if f.owner is not None:
                covered.add((code, f.owner))
    if not covered:
        return findings
    return [
        f
        for f in findings
        if (f.rule, f.object) not in covered
        and (f.owner is None or (f.rule, f.owner) not in covered)
    ]


def _canonical(key: str) -> str:
    found = find_rule(key)
    return found.code if found else key.strip().upper()


def _is_suppressed(snap: Snapshot, finding: Finding) -> bool:
    """`amldoctor.io/ignore` on the object or any of its owners silences a finding."""
    obj = snap.get(finding.object.kind, finding.object.namespace, finding.object.name)
    if obj is None:
        return False
    for holder in [obj, *owner_chain(snap, obj)]:
        if meta(holder).get("annotations") and suppressed_by(ignored_codes(holder), finding):
            return True
    return False
