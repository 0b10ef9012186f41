"""Findings grouped by cause: the incident view of a large cluster.

On a cluster of thousands of pods one cause (a missing toleration, one OOM limit, one deleted
Secret) produces hundreds of findings that differ only in the pod's name. The on-call engineer
needs the few causes, worst first, with how many objects each holds and the fix once. This module
is a pure function over findings, `group_findings`, so every renderer (and any future format
registry) can use it; it decides nothing about the findings themselves.

A *cause key* is derived per rule from the finding's evidence: the values that say why (the
scheduler's reasons, the OOM limit, the image and its pull error, the missing Secret) with the
values that only say which object or when (names, timestamps, restart counts, IPs) taken out or
replaced by placeholders. Findings with the same rule, severity and cause key form one group,
whatever owner (Job, Deployment, StatefulSet, PodGroup, AML job) they belong to.

Warnings and infos about an object that already has an error fold under that error: they are
part of the same incident, not separate causes.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from amldoctor.engine.report import Finding, ObjectRef, Severity

# Evidence keys that describe *which* object or *when*, never *why*: two pods Pending for the
# same reason differ in these, so they never take part in a cause key.
VOLATILE_KEYS = frozenset(
    {
        "age",
        "age_seconds",
        "closest_nodes",
        "count",
        "event_count",
        "failures",
        "finished_at",
        "first_seen",
        "last_seen",
        "last_restart",
        "node",
        "node_kernel_oom_kills",
        "pods",
        "requested_by",
        "restart_count",
        "restarts",
        "since",
        "source",
        "started_at",
        "usage_bytes",
        "used_by",
        "withdrawn",
    }
)
# Findings about the cluster rather than one namespace's workloads: nodes, instance types (both
# cluster-scoped objects), and the AML extension's own components, wherever they run.
CLUSTER_KINDS = frozenset({"Node", "InstanceType", "StorageClass", "Namespace"})
CLUSTER_RULES = frozenset({"AMD701", "AMD720", "AMD721", "AMD722"})

_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z?")
_IPV4 = re.compile(r"\b\d{1,3}(\.\d{1,3}){3}\b")
_DURATION = re.compile(r"\b\d+(\.\d+)?[smhd]\b( before capture)?")
_LEADING_COUNT = re.compile(r"(^|→ )\d+ ")


@dataclass
class FindingGroup:
    """One cause: every finding with the same rule, severity and cause key."""

    id: str
    rule: str
    name: str
    severity: Severity
    findings: list[Finding]
    cluster: bool
    folded: list[Finding] = field(default_factory=list)

    @property
    def example(self) -> Finding:
        return self.findings[0]

    @property
    def objects(self) -> list[ObjectRef]:
        return [f.object for f in self.findings]

    @property
    def count(self) -> int:
        return len(self.findings)

    def owners(self) -> list[tuple[ObjectRef, int]]:
        """Owners of the objects (the object itself when it has none), most objects first."""
        counts = Counter(f.owner or f.object for f in self.findings)
        return sorted(counts.items(), key=lambda item: (-item[1], item[0]))

    def namespaces(self) -> list[str]:
        return sorted({f.object.namespace for f in self.findings if f.object.namespace})

    def folded_counts(self) -> list[tuple[str, str, Severity, int]]:
        """(rule, name, severity, count) of the findings folded under this group."""
        counts = Counter((f.rule, f.name, f.severity) for f in self.folded)
        return sorted(
            ((rule, name, sev, n) for (rule, name, sev), n in counts.items()),
            key=lambda item: (-item[2], item[0]),
        )

    def to_dict(self, examples: int = 3) -> dict:
        """The JSON form of a group (`scan -o json` → `groups`)."""
        return {
            "id": self.id,
            "rule": self.rule,
            "name": self.name,
            "severity": self.severity.label,
            "scope": "cluster" if self.cluster else "namespace",
            "count": self.count,
            "kinds": sorted({ref.kind for ref in self.objects}),
            "namespaces": self.namespaces(),
            "owners": [{**ref.to_dict(), "count": n} for ref, n in self.owners()],
            "examples": [ref.to_dict() for ref in self.objects[:examples]],
            "message": self.example.message,
            "remediation": self.example.remediation,
            "folded": [
                {"rule": rule, "name": name, "severity": sev.label, "count": n}
                for rule, name, sev, n in self.folded_counts()
            ],
        }


def is_cluster_finding(finding: Finding) -> bool:
    """True for findings about the cluster itself (nodes, instance types, the AML extension)."""
    return (
        finding.object.namespace is None
        or finding.object.kind in CLUSTER_KINDS
        or finding.rule in CLUSTER_RULES
    )


def group_findings(findings: Iterable[Finding]) -> list[FindingGroup]:
    """Group findings by cause and rank the groups: errors first, then by objects held.

    Every finding ends up in exactly one group: its own cause's, or, for a warning or info about
    an object that also has an error, the group of that object's first error (as `folded`).
    """
    findings = sorted(findings, key=Finding.sort_key)
    by_cause: dict[tuple, list[Finding]] = {}
    for finding in findings:
        by_cause.setdefault(group_key(finding), []).append(finding)
    groups = [_make_group(key, items) for key, items in by_cause.items()]
    groups.sort(key=_rank)

    first_error: dict[ObjectRef, FindingGroup] = {}
    workload_error: dict[tuple, FindingGroup] = {}
    for group in groups:
        if group.severity == Severity.ERROR:
            for f in group.findings:
                first_error.setdefault(f.object, group)
                workload_error.setdefault(workload_key(f), group)
    for group in groups:
        kept = []
        for finding in group.findings:
            host = _host(finding, group, first_error, workload_error)
            if host is not None:
                host.folded.append(finding)
            else:
                kept.append(finding)
        group.findings = kept
    groups = [g for g in groups if g.findings]
    groups.sort(key=_rank)
    return groups


def workload_key(finding: Finding) -> tuple:
    """(namespace, name) of the workload a finding is about: its owner, else the object itself.

    Kinds are left out on purpose: an AML job is a Volcano Job, its PodGroup and its pods, and
    the Job and PodGroup share the job's name.
    """
    ref = finding.owner or finding.object
    return (ref.namespace, ref.name)


def _host(
    finding: Finding,
    group: FindingGroup,
    first_error: dict[ObjectRef, FindingGroup],
    workload_error: dict[tuple, FindingGroup],
) -> FindingGroup | None:
    """The error group this finding folds under, if any.

    A warning or info folds under an error on the same object or workload. An error folds only
    under an error about an object of another kind in the same workload (the PodGroup of a job
    whose pod is Pending): two errors on pods, even of one Deployment, are two causes.
    """
    if group.severity != Severity.ERROR:
        host = first_error.get(finding.object) or workload_error.get(workload_key(finding))
        return host if host is not group else None
    host = workload_error.get(workload_key(finding))
    if host is None or host is group or host.rule == finding.rule:
        return None
    if _rank(host) >= _rank(group):
        return None
    if any(f.object.kind == finding.object.kind for f in host.findings):
        return None
    return host


def group_ids(groups: Iterable[FindingGroup]) -> dict[int, str]:
    """id(finding) -> the id of the group it is shown under (folded findings included)."""
    ids: dict[int, str] = {}
    for group in groups:
        for finding in [*group.findings, *group.folded]:
            ids[id(finding)] = group.id
    return ids


def _rank(group: FindingGroup) -> tuple:
    return (-group.severity, -group.count, group.rule, group.example.sort_key())


def _make_group(key: tuple, items: list[Finding]) -> FindingGroup:
    digest = hashlib.sha1(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()
    first = items[0]
    return FindingGroup(
        id=f"{first.rule}-{digest[:8]}",
        rule=first.rule,
        name=first.name,
        severity=first.severity,
        findings=items,
        cluster=is_cluster_finding(first),
    )


def group_key(finding: Finding) -> tuple:
    """(rule, severity, scope, cause) for one finding."""
    derive = CAUSE_KEYS.get(finding.rule, evidence_cause)
    cause = derive(finding)
    text = json.dumps(_placeholders(cause, finding), sort_keys=True, default=str)
    return (finding.rule, int(finding.severity), is_cluster_finding(finding), text)


# -- cause keys per rule ---------------------------------------------------------------------


def evidence_cause(finding: Finding) -> Any:
    """The default cause: the evidence without the keys that only say which object or when."""
    return strip_volatile(finding.evidence)


def scheduling_cause(finding: Finding) -> Any:
    """Pending pods: the same scheduler reasons over the same request shape.

    The node counts in a FailedScheduling message move as the cluster changes between two pods'
    attempts; the reasons and what the pod asks for (the funnel's last step) do not.
    """
    ev = finding.evidence
    causes = ev.get("causes")
    reasons = (
        sorted({str(c.get("reason")) for c in causes if isinstance(c, dict)})
        if isinstance(causes, list)
        else None
    )
    funnel = ev.get("funnel")
    funnel = _LEADING_COUNT.sub(r"\1N ", funnel) if isinstance(funnel, str) else None
    if not reasons and not funnel:
        return evidence_cause(finding)
    return {"reasons": reasons, "funnel": funnel, "gates": ev.get("scheduling_gates")}


def message_cause(finding: Finding) -> Any:
    """AML workload rules summarise a whole job in their message; its evidence is a full dump."""
    return _DURATION.sub("<age>", finding.message)


def probe_cause(finding: Finding) -> Any:
    """Probe failures: same probe, same settings, same kinds of failure; not how many."""
    ev = dict(strip_volatile(finding.evidence))
    if isinstance(ev.get("causes"), dict):
        ev["causes"] = sorted(ev["causes"])
    return ev


def claim_cause(finding: Finding) -> Any:
    """A Pending claim: the class or binding problem, not the size each claim asks for."""
    ev = strip_volatile(finding.evidence)
    return {k: v for k, v in ev.items() if k not in ("request", "capacity")}


CAUSE_KEYS: dict[str, Callable[[Finding], Any]] = {
    "AMD101": scheduling_cause,
    "AMD503": claim_cause,
    "AMD301": probe_cause,
    "AMD302": probe_cause,
    "AMD303": probe_cause,
    **{code: message_cause for code in ("AMD710", "AMD711", "AMD713", "AMD730", "AMD731")},
}


def strip_volatile(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: strip_volatile(v) for k, v in value.items() if k not in VOLATILE_KEYS}
    if isinstance(value, list):
        return [strip_volatile(v) for v in value]
    return value


def _placeholders(value: Any, finding: Finding) -> Any:
    """Replace the object's own names (and times, IPs) in every string by placeholders.

    `missing-pvc-9tkz-data` mounted by Job `missing-pvc-9tkz` and `missing-pvc-j9nk-data` mounted by
    `missing-pvc-j9nk` are one cause: each Job's template mounts a claim named after the Job.
    """
    names = [(finding.object.name, "<object>")]
    if finding.owner is not None:
        names.append((finding.owner.name, "<owner>"))
    if finding.object.namespace:
        names.append((finding.object.namespace, "<namespace>"))
    ident = finding.evidence.get("id")
    if isinstance(ident, str) and ident:
        names.append((ident, "<id>"))
    names.sort(key=lambda item: -len(item[0]))

    def fix(text: str) -> str:
        for name, mark in names:
            if name:
                text = text.replace(name, mark)
        return _IPV4.sub("<ip>", _TIMESTAMP.sub("<time>", text))

    def walk(v: Any) -> Any:
        if isinstance(v, str):
            return fix(v)
        if isinstance(v, dict):
            return {fix(str(k)): walk(x) for k, x in v.items()}
        if isinstance(v, list):
            return [walk(x) for x in v]
        return v

    return walk(value)
