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
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from amldoctor.engine.registry import REGISTRY, load_all
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
        "last_updated",
        "node",
        "node_kernel_oom_kills",
        "pending_pods",
        "pods",
        "requested_by",
        "restart_count",
        "restarts",
        "run_id",
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
# AKS node names: the pool and its scale set say which nodes, the instance suffix only which one.
_AKS_NODE = re.compile(r"\b(aks-[a-z0-9]+-\d{8}-vmss)[0-9a-z]{6}\b")
# Job ids, run UUIDs and hash-named containers (`3f2a9c1e-execution-wrapper`): per run, not why.
_HEX_ID = re.compile(r"\b(?=[0-9a-f]*[a-f])(?=[0-9a-f]*\d)[0-9a-f]{8,}\b")
# A number or quantity standing alone (`103Mi`, `2.00`, `line 12`), not a digit inside a word
# (`python3`, `V2`): that is a name, and a different name is a different cause.
_NUMBER = re.compile(r"(?<![\w.])\d+(?:\.\d+)?(?:[KMGTPE]i?|m)?\b")
_ADDRESS = re.compile(r"\b0x[0-9a-fA-F]+\b")
_GO_DURATION = re.compile(r"\b(?:\d+(?:\.\d+)?(?:ms|h|m|s))+\b")

# Evidence fields, per rule, that say which container, image, size or node rather than why: the
# same cause in two workloads differs in them (checked field by field in test_cause_keys.py). A
# dotted path names a field inside a mapping. Fields not listed here (and not VOLATILE_KEYS) are
# the cause: a different value is a different group.
INCIDENTAL: dict[str, frozenset[str]] = {
    code: frozenset(fields.split())
    for code, fields in {
        "AMD104": "pods_wanted pods_existing",
        "AMD201": "container memory_limit memory_limit_bytes memory_request suggested_limit"
        " suggestion_basis",
        "AMD202": "container memory_request memory_limit unreserved_bytes",
        "AMD203": "container memory_request",
        "AMD204": "threshold available containers_over_request",
        "AMD205": "volume size_limit container memory_limit",
        "AMD206": "container",
        "AMD301": "container last_failure probe_settings.target",
        "AMD302": "container kills probe_settings.target",
        "AMD303": "container ran_seconds probe_settings.target",
        "AMD304": "container declared_ports",
        "AMD401": "container image",
        "AMD402": "container image tag",
        "AMD403": "container referenced_by",
        "AMD404": "container",
        "AMD405": "container image command",
        "AMD406": "container image",
        "AMD407": "container image",
        "AMD501": "volume events",
        "AMD502": "volume event_message",
        "AMD505": "nodes",
        "AMD601": "pool",
        "AMD604": "gpus",
        "AMD606": "pool device_plugin_pod",
        "AMD607": "gpu_labelled_nodes",
        "AMD702": "nodes_total nodes_matching matching_node_states",
        "AMD703": "closest_node nodes_checked",
        "AMD704": "selected_ready_nodes",
        "AMD707": "untolerated_taints",
        "AMD708": "container",
    }.items()
}
# Free text that quotes a log or an API error: its shape is the cause (the log signature), the
# numbers in it (line numbers, sizes, addresses, durations) are not.
SIGNATURE_KEYS = frozenset(
    {"termination_message", "status_message", "event_message", "runtime_message", "message"}
)
# What the grouped view names for a group whose findings differ in an incidental field: the
# engineer fixes each image's crash or each workload's limit, so they are listed, not hidden.
NAMED_VARIANTS: dict[str, tuple[str, str]] = {
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
            {str(v) for f in self.findings if (v := _lookup(f.evidence, path))}, key=_natural
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
    derive = CAUSE_KEYS.get(finding.rule, evidence_cause)
    cause = derive(finding)
    text = json.dumps(_placeholders(cause, finding), sort_keys=True, default=str)
    return (finding.rule, int(finding.severity), is_cluster_finding(finding), text)


# -- cause keys per rule ---------------------------------------------------------------------


def evidence_cause(finding: Finding) -> Any:
    """The default cause: the evidence without the keys that only say which object or when,
    without the rule's incidental fields, and with logs and API errors reduced to their shape."""
    ev = strip_volatile(finding.evidence)
    if isinstance(ev, dict):
        ev = _without(ev, INCIDENTAL.get(finding.rule, frozenset()))
        ev = {k: signature(v) if k in SIGNATURE_KEYS else v for k, v in ev.items()}
    return ev


def signature(value: Any) -> Any:
    """A log line or API error reduced to its shape: numbers and durations taken out."""
    if not isinstance(value, str):
        return value
    value = _ADDRESS.sub("<address>", _GO_DURATION.sub("<duration>", value))
    return _NUMBER.sub("N", value)


def _without(ev: dict, paths: frozenset[str]) -> dict:
    """`ev` without the (possibly dotted) paths."""
    out = {k: v for k, v in ev.items() if k not in paths}
    for path in paths:
        head, _, rest = path.partition(".")
        if rest and isinstance(out.get(head), dict):
            out[head] = _without(out[head], frozenset({rest}))
    return out


def _natural(text: str) -> tuple:
    """Sort key that orders 256Mi before 1024Mi and image:1.9 before image:1.10."""
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in re.split(r"(\d+)", text))


def _lookup(ev: Any, path: str) -> Any:
    for part in path.split("."):
        if not isinstance(ev, dict):
            return None
        ev = ev.get(part)
    return ev


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
    """Probe failures: same probe, same settings, same kinds of failure; not how many, nor the
    port or path each workload probes."""
    ev = evidence_cause(finding)
    for key in ("causes", "failure_causes"):
        if isinstance(ev.get(key), dict):
            ev[key] = sorted(ev[key])
    return ev


def claim_cause(finding: Finding) -> Any:
    """A Pending claim: the class or binding problem, not the size each claim asks for."""
    ev = evidence_cause(finding)
    return {k: v for k, v in ev.items() if k not in ("request", "capacity")}


def quota_cause(finding: Finding) -> Any:
    """A used-up ResourceQuota: which resources are used up, not by how much."""
    ev = evidence_cause(finding)
    lines = ev.get("lines")
    if isinstance(lines, list):
        ev["lines"] = sorted(str(x.get("resource")) for x in lines if isinstance(x, dict))
    return ev


def pull_cause(finding: Finding) -> Any:
    """An image pull: the registry, repository and kind of failure, across tags of one image."""
    ev = evidence_cause(finding)
    message, image = ev.get("registry_message"), finding.evidence.get("image")
    tag = finding.evidence.get("tag")
    if isinstance(message, str):
        for text, mark in ((image, "<image>"), (tag, "<tag>")):
            if isinstance(text, str) and text:
                message = message.replace(text, mark)
        ev["registry_message"] = message
    return ev


CAUSE_KEYS: dict[str, Callable[[Finding], Any]] = {
    "AMD101": scheduling_cause,
    "AMD105": quota_cause,
    "AMD402": pull_cause,
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


def _token(name: str) -> re.Pattern[str]:
    """`name` where it starts a token: `missing-pvc-9tkz` in `missing-pvc-9tkz-data`, but not
    pod `notebook` inside image `scipy-notebook`, which names the image, not the pod."""
    return re.compile(rf"(?<![\w.-]){re.escape(name)}(?![A-Za-z0-9])")


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

    patterns = [(_token(name), mark) for name, mark in names if name]

    def fix(text: str) -> str:
        for pattern, mark in patterns:
            text = pattern.sub(mark, text)
        text = _AKS_NODE.sub(r"\1<instance>", _HEX_ID.sub("<hex>", text))
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
