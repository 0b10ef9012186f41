"""Findings grouped by cause: the incident view of a large cluster.

On a cluster of thousands of pods one cause (a missing toleration, one OOM limit, one deleted
Secret) produces hundreds of findings that differ only in the pod's name. The on-call engineer
needs the few causes, worst first, with how many objects each holds and the fix once. This module
is a pure function over findings, `group_findings`, so every renderer (and any future format
registry) can use it; it decides nothing about the findings themselves.

A *cause key* is derived per rule from the finding's evidence (`engine/causekeys.py`): the
values that say why (the scheduler's reasons, how an OOM limit was set, the exit code and log
signature, the missing Secret), without those that only say which object, image, node or when.
Findings with the same rule, severity and cause key form one group, whatever owner (Job,
Deployment, StatefulSet, PodGroup, AML job) they belong to; the view names what varies in it
(the images, limits or probe targets).

Warnings and infos about an object that already has an error fold under that error: they are
part of the same incident, not separate causes. A rule can declare that it *explains* another
rule's findings on the same object (`@rule(..., explains=("AMD101",))`: the autoscaler's pool at
its maximum explains why the scheduler finds no node): the explained finding is kept (JSON marks
it `superseded_by`) but shown under the explaining cause, whose fix comes first.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from amldoctor.engine.causekeys import cause_text, lookup
from amldoctor.engine.registry import REGISTRY, load_all
from amldoctor.engine.report import Finding, ObjectRef, Severity

# Findings about the cluster rather than one namespace's workloads: nodes, instance types (both
# cluster-scoped objects), and the AML extension's own components, wherever they run.
CLUSTER_KINDS = frozenset({"Node", "InstanceType", "StorageClass", "Namespace"})
CLUSTER_RULES = frozenset({"AMD701", "AMD720", "AMD721", "AMD722"})

# What the grouped view names for a group whose findings differ in an incidental field: the
# engineer fixes each image's crash or each workload's limit, so they are listed, not hidden.
NAMED_VARIANTS: dict[str, tuple[str, str]] = {
    "AMD110": ("missing_node", "missing nodes"),
    "AMD201": ("memory_limit", "limits"),
    "AMD202": ("memory_limit", "limits"),
    "AMD301": ("probe_settings.target", "probe targets"),
    "AMD302": ("probe_settings.target", "probe targets"),
    "AMD303": ("probe_settings.target", "probe targets"),
    "AMD401": ("image", "images"),
    "AMD402": ("tag", "tags"),
    "AMD405": ("image", "images"),
    "AMD406": ("image", "images"),
    "AMD407": ("image", "images"),
}


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
    # (finding, the finding that explains it): other rules' findings this cause explains.
    superseded: list[tuple[Finding, Finding]] = field(default_factory=list)

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

    def superseded_counts(self) -> list[tuple[str, str, Severity, int]]:
        """(rule, name, severity, count) of the findings this cause explains."""
        counts = Counter((f.rule, f.name, f.severity) for f, _ in self.superseded)
        return sorted(
            ((rule, name, sev, n) for (rule, name, sev), n in counts.items()),
            key=lambda item: (-item[2], item[0]),
        )

    def variants(self) -> tuple[str, list[str]] | None:
        """(label, distinct values) of the field this rule's findings may differ in, if several.

        AMD401 causes differing only by image are one group; the engineer still needs to know
        which images crash, so the view names them.
        """
        named = NAMED_VARIANTS.get(self.rule)
        if named is None:
            return None
        path, label = named
        values = sorted(
            {str(v) for f in self.findings if (v := lookup(f.evidence, path))}, key=_natural
        )
        return (label, values) if len(values) > 1 else None

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
            "superseded": [
                {"rule": rule, "name": name, "severity": sev.label, "count": n}
                for rule, name, sev, n in self.superseded_counts()
            ],
        }


def is_cluster_finding(finding: Finding) -> bool:
    """True for findings about the cluster itself (nodes, instance types, the AML extension)."""
    return (
        finding.object.namespace is None
        or finding.object.kind in CLUSTER_KINDS
        or finding.rule in CLUSTER_RULES
    )


def declared_explains() -> dict[str, tuple[str, ...]]:
    """rule code -> the rule codes it explains on the same object, as the rules declare them."""
    load_all()
    return {code: meta.explains for code, meta in REGISTRY.items() if meta.explains}


def group_findings(
    findings: Iterable[Finding], explains: Mapping[str, Iterable[str]] | None = None
) -> list[FindingGroup]:
    """Group findings by cause and rank the groups: errors first, then by objects held.

    Every finding ends up in exactly one group: its own cause's; for a warning or info about an
    object that also has an error, the group of that object's first error (as `folded`); for a
    finding another rule explains (`explains`, default: what the rules declare), the group of
    the finding that explains it (as `superseded`).
    """
    findings = sorted(findings, key=Finding.sort_key)
    explained_by = _explained_by(findings, declared_explains() if explains is None else explains)
    by_cause: dict[tuple, list[Finding]] = {}
    for finding in findings:
        if id(finding) not in explained_by:
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
    home = {id(f): g for g in groups for f in [*g.findings, *g.folded]}
    for finding in findings:
        explainer = explained_by.get(id(finding))
        if explainer is not None:
            home[id(explainer)].superseded.append((finding, explainer))
    groups.sort(key=_rank)
    return groups


def _explained_by(
    findings: list[Finding], explains: Mapping[str, Iterable[str]]
) -> dict[int, Finding]:
    """id(finding) -> the (not itself explained) finding that explains it, on the same object.

    Chains resolve to their end (A explains B explains C: C is shown under A); a cycle of rules
    explaining each other explains nothing.
    """
    if not explains:
        return {}
    first: dict[tuple[str, ObjectRef], Finding] = {}
    for finding in findings:
        for code in explains.get(finding.rule, ()):
            first.setdefault((code, finding.object), finding)
    direct = {
        id(f): e
        for f in findings
        if (e := first.get((f.rule, f.object))) is not None and e is not f
    }
    resolved: dict[int, Finding] = {}
    for key, explainer in direct.items():
        seen = {key}
        while id(explainer) in direct and id(explainer) not in seen:
            seen.add(id(explainer))
            explainer = direct[id(explainer)]
        if id(explainer) not in seen:
            resolved[key] = explainer
    return resolved


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
        for finding in [*group.findings, *group.folded, *(f for f, _ in group.superseded)]:
            ids[id(finding)] = group.id
    return ids


def superseded_by(groups: Iterable[FindingGroup]) -> dict[int, str]:
    """id(finding) -> the rule code of the finding that explains it, for explained findings."""
    return {id(f): explainer.rule for g in groups for f, explainer in g.superseded}


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
    return (finding.rule, int(finding.severity), is_cluster_finding(finding), cause_text(finding))


def _natural(text: str) -> tuple:
    """Sort key that orders 256Mi before 1024Mi and image:1.9 before image:1.10."""
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in re.split(r"(\d+)", text))
