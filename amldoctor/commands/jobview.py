"""The per-job view: findings regrouped by the AML job or online deployment they belong to.

AML users know a job id ("3f2a…") or an endpoint, not pod names. `group_by_job` turns the flat
finding list into one line per job or deployment ("job 3f2a…: 3/4 workers Running, 1 Pending: no
node has 8 free nvidia.com/gpu") with its worst finding; `explain_job` is the whole-job
why-pending: the PodGroup, its pods or their absence, the gang fit, the instance type and every
finding about the job. Both return JSON-ready dicts (see the function docstrings for the keys).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from amldoctor.aml.fit import analyze as analyze_instance_type
from amldoctor.aml.instancetypes import instance_types, resolve_instance_type
from amldoctor.aml.jobs import gang_for_podgroup, min_member, podgroup_status, why_text
from amldoctor.aml.model import (
    LABEL_RUN_ID,
    Workload,
    aml_job_for,
    as_dict,
    is_aml_pod,
    labels_of,
    name_of,
    namespace_of,
    node_count_of_aml_job,
    podgroup_of_pod,
    podgroups,
    volcano_job_for,
    workload_of,
    workload_of_podgroup,
)
from amldoctor.aml.nodes import Capacity
from amldoctor.engine.report import Finding
from amldoctor.engine.runner import run_rules
from amldoctor.errors import InputError
from amldoctor.k8s.objects import TERMINAL_PHASES
from amldoctor.k8s.owners import owner_chain
from amldoctor.snapshot import Snapshot
from amldoctor.whypending import analyze as why_pending

SEVERITY_ORDER = {"error": 3, "warning": 2, "info": 1}


@dataclass
class _Group:
    workload: Workload
    pods: list[dict] = field(default_factory=list)
    podgroup: dict | None = None
    findings: list[dict] = field(default_factory=list)


def _as_dict(finding: Finding | Mapping) -> dict:
    return finding.to_dict() if isinstance(finding, Finding) else dict(finding)


def _collect(
    snap: Snapshot, pods: Iterable[dict], namespaces: set[str] | None
) -> dict[tuple, _Group]:
    """Every AML job and deployment: from its pods, and from PodGroups (in `namespaces`) that have
    none."""
    groups: dict[tuple, _Group] = {}
    for pod in pods:
        workload = workload_of(pod)
        if workload is None:
            continue
        group = groups.setdefault(workload.key, _Group(workload))
        group.pods.append(pod)
        if group.podgroup is None and workload.kind == "job":
            group.podgroup = podgroup_of_pod(snap, pod)
    for pg in podgroups(snap):
        workload = workload_of_podgroup(pg)
        if workload is None or (namespaces is not None and workload.namespace not in namespaces):
            continue
        group = groups.setdefault(workload.key, _Group(workload))
        group.podgroup = group.podgroup or pg
    return groups


def _owner_keys(snap: Snapshot, group: _Group) -> set[tuple[str, str, str]]:
    """(kind, namespace, name) of every object whose findings belong to this workload."""
    keys = set()
    for pod in group.pods:
        keys.add(("Pod", namespace_of(pod), name_of(pod)))
        for owner in owner_chain(snap, pod):
            keys.add(
                (str(owner.get("kind")), namespace_of(owner) or namespace_of(pod), name_of(owner))
            )
    if group.podgroup is not None:
        pg = group.podgroup
        keys.add(("PodGroup", namespace_of(pg), name_of(pg)))
        job = volcano_job_for(snap, pg)
        if job is not None:
            keys.add(("Job", namespace_of(job), name_of(job)))
    if group.workload.kind == "job":
        keys.add(("AmlJob", group.workload.namespace, group.workload.id))
    return keys


def _instance_type(snap: Snapshot, group: _Group) -> dict | None:
    if group.pods:
        return resolve_instance_type(snap, group.pods[0])
    if group.podgroup is not None:
        job = volcano_job_for(snap, group.podgroup) or {}
        tasks = as_dict(job.get("spec")).get("tasks")
        task = (
            next((t for t in tasks if isinstance(t, dict)), None)
            if isinstance(tasks, list)
            else None
        )
        if task is not None:
            template = {
                "metadata": {"labels": {"jobsource": "aml"}},
                "spec": as_dict(as_dict(task.get("template")).get("spec")),
            }
            return resolve_instance_type(snap, template)
    return None


def _phase_counts(pods: list[dict]) -> Counter:
    counts: Counter = Counter()
    for pod in pods:
        status, spec = as_dict(pod.get("status")), as_dict(pod.get("spec"))
        phase = str(status.get("phase") or "Pending")
        if phase == "Pending" and spec.get("nodeName"):
            phase = "Starting"
        counts[phase] += 1
    return counts


def _expected(snap: Snapshot, group: _Group) -> int:
    if group.podgroup is not None:
        return max(min_member(group.podgroup), len(group.pods))
    aml_job = aml_job_for(snap, group.workload)
    count = node_count_of_aml_job(aml_job) if aml_job else None
    return max(count or 0, len(group.pods))


def _counts_text(group: _Group, counts: Counter, expected: int) -> str:
    if group.workload.kind == "deployment":
        ready = sum(1 for p in group.pods if _pod_ready(p))
        text = f"{ready}/{len(group.pods)} replicas ready"
        others = {k: v for k, v in counts.items() if k != "Running"}
    else:
        if not group.pods:
            return "queued, no pods yet"
        text = f"{counts.get('Running', 0)}/{expected} workers Running"
        others = {k: v for k, v in counts.items() if k != "Running"}
    extra = ", ".join(f"{v} {k}" for k, v in sorted(others.items()))
    return f"{text}, {extra}" if extra else text


def _pod_ready(pod: dict) -> bool:
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in as_dict(pod.get("status")).get("conditions") or ()
        if isinstance(c, dict)
    )


def _reason(finding: dict, workload: Workload) -> str:
    """The short cause of a finding, for the one-line summary (without repeating the job's name)."""
    gang = as_dict(finding.get("evidence")).get("gang_fit")
    if isinstance(gang, dict) and gang.get("summary"):
        return str(gang["summary"])
    message = str(finding.get("message") or "")
    for prefix in (
        f"{workload.label()}: ",
        f"online deployment {workload.id}: ",
        f"AML job {workload.id}: ",
    ):
        if message.startswith(prefix):
            return message[len(prefix) :]
    return message


def _top(findings: list[dict]) -> dict | None:
    """The worst finding; among equals, AML-level ones (AMD7xx) speak for the whole job."""
    if not findings:
        return None
    return min(
        findings,
        key=lambda f: (
            -SEVERITY_ORDER.get(f.get("severity", ""), 0),
            not str(f.get("rule", "")).startswith("AMD7"),
            f.get("rule", ""),
        ),
    )


def _ref_key(ref: object) -> tuple[str, str, str]:
    ref = as_dict(ref)
    return (str(ref.get("kind")), ref.get("namespace") or "", str(ref.get("name")))


def _belongs(finding: dict, keys: set[tuple[str, str, str]], instance_type: str | None) -> bool:
    """A finding about the workload's objects (or their owners), or about its instance type."""
    obj = _ref_key(finding.get("object"))
    if obj in keys or _ref_key(finding.get("owner")) in keys:
        return True
    return obj[0] == "InstanceType" and bool(instance_type) and obj[2] == instance_type


class _FindingIndex:
    """`_belongs` for many workloads: findings indexed by the objects they are about, so that
    grouping them by job reads each finding once instead of once per job."""

    def __init__(self, findings: list[dict]) -> None:
        self._findings = findings
        self._by_key: dict[tuple[str, str, str], list[int]] = {}
        self._by_instance_type: dict[str, list[int]] = {}
        for i, finding in enumerate(findings):
            obj, owner = _ref_key(finding.get("object")), _ref_key(finding.get("owner"))
            for key in {obj, owner}:
                self._by_key.setdefault(key, []).append(i)
            if obj[0] == "InstanceType":
                self._by_instance_type.setdefault(obj[2], []).append(i)

    def belonging(self, keys: set[tuple[str, str, str]], instance_type: str | None) -> list[dict]:
        """The findings `_belongs` accepts, in their original order."""
        found: set[int] = set()
        for key in keys:
            found.update(self._by_key.get(key, ()))
        if instance_type:
            found.update(self._by_instance_type.get(instance_type, ()))
        return [self._findings[i] for i in sorted(found)]


def group_by_job(
    snapshot: Snapshot,
    findings: Iterable[Finding | Mapping],
    pods: Iterable[dict] | None = None,
    *,
    namespaces: Iterable[str] | None = None,
    pods_only: bool = False,
) -> list[dict]:
    """One summary per AML job / online deployment, worst first.

    `findings` are Finding objects or their `to_dict()` form; `pods` are the pods in scope (all
    of the snapshot's when None). Each entry: `kind` (job|deployment), `id`, `namespace`,
    optional `run_id`, `compute`, `endpoint`, `deployment`, `podgroup`; `instance_type`
    (resolution dict or None); `pods` (`total`, `expected`, `by_phase`, `names`); `severity`
    (worst finding's, or None); `findings` (count); `top_finding` (`rule`, `severity`,
    `message`, `object`, or None); `rules` (codes of all its findings); `summary` (one line).
    Instance-type findings are attached to every workload that uses that instance type.

    `namespaces` is the scan's scope: only jobs there are listed (a job's status is only true
    when its findings were looked for). `pods_only` (a label selector was given) lists only jobs
    with a pod in `pods`: a selector says nothing about a job that has no pod yet.
    """
    all_findings = [_as_dict(f) for f in findings]
    if pods is None:
        pod_list, scope = [p for p in snapshot.pods if is_aml_pod(p)], None
    elif namespaces is not None:
        scope = set(namespaces)
        pod_list = [p for p in pods if is_aml_pod(p) and namespace_of(p) in scope]
    else:
        pod_list = [p for p in pods if is_aml_pod(p)]
        # Jobs with no pod at all are in scope when their namespace is: the pods' namespaces,
        # the namespaces findings were made in, and the snapshot's own namespace.
        scope = {namespace_of(p) for p in pod_list}
        scope |= {ns for f in all_findings if (ns := as_dict(f.get("object")).get("namespace"))}
        scope |= {snapshot.namespace} if snapshot.namespace else set()
    groups = _collect(snapshot, pod_list, scope)
    if pods_only:
        groups = {key: group for key, group in groups.items() if group.pods}
    index = _FindingIndex(all_findings)
    out = []
    for group in groups.values():
        keys = _owner_keys(snapshot, group)
        it = _instance_type(snapshot, group)
        it_name = (it or {}).get("name")
        group.findings = index.belonging(keys, it_name)
        counts = _phase_counts(group.pods)
        expected = _expected(snapshot, group)
        top = _top(group.findings)
        summary = f"{group.workload.label()}: {_counts_text(group, counts, expected)}"
        if top is not None:
            summary += f": {_reason(top, group.workload)}"
        entry = {
            **group.workload.to_dict(),
            "instance_type": it,
            "pods": {
                "total": len(group.pods),
                "expected": expected,
                "by_phase": dict(sorted(counts.items())),
                "names": sorted(name_of(p) for p in group.pods),
            },
            "severity": top.get("severity") if top else None,
            "findings": len(group.findings),
            "top_finding": {k: top.get(k) for k in ("rule", "severity", "message", "object")}
            if top
            else None,
            "rules": sorted({str(f.get("rule")) for f in group.findings}),
            "summary": summary,
        }
        out.append(entry)
    out.sort(
        key=lambda e: (
            -SEVERITY_ORDER.get(e["severity"] or "", 0),
            e["kind"],
            e["namespace"],
            e["id"],
        )
    )
    return out


# --- whole-job why-pending ---------------------------------------------------------------------


def find_job(snapshot: Snapshot, job_id: str) -> _Group:
    """The job or deployment named by a jobId (or a unique prefix of it), a run id, a PodGroup
    name, or `<endpoint>/<deployment>`; InputError (exit 2) when none or several match."""
    wanted = job_id.strip()
    groups = _collect(snapshot, [p for p in snapshot.pods if is_aml_pod(p)], None)

    def names(group: _Group) -> set[str]:
        w = group.workload
        found = {w.id}
        if w.run_id:
            found.add(w.run_id)
        if group.podgroup is not None:
            found.add(name_of(group.podgroup))
            found.add(str(labels_of(group.podgroup).get(LABEL_RUN_ID) or w.id))
        return found

    exact = [g for g in groups.values() if wanted in names(g)]
    prefixed = [g for g in groups.values() if any(n.startswith(wanted) for n in names(g))]
    matches = exact or (prefixed if len(wanted) >= 4 else [])
    if len(matches) == 1:
        return matches[0]
    known = sorted(f"{g.workload.kind} {g.workload.id}" for g in groups.values())
    if not matches:
        listing = ", ".join(known[:10]) or "none"
        raise InputError(f"no AML job or deployment {wanted!r} in the snapshot (found: {listing})")
    raise InputError(
        f"{wanted!r} matches several: {', '.join(sorted(m.workload.id for m in matches))}"
    )


def _pod_row(snap: Snapshot, pod: dict) -> dict:
    status, spec = as_dict(pod.get("status")), as_dict(pod.get("spec"))
    row = {
        "name": name_of(pod),
        "phase": status.get("phase") or "Pending",
        "node": spec.get("nodeName"),
    }
    for cs in status.get("containerStatuses") or ():
        waiting = as_dict(as_dict(as_dict(cs).get("state")).get("waiting"))
        if waiting.get("reason"):
            row["waiting"] = f"{as_dict(cs).get('name')}: {waiting['reason']}"
            break
    if (
        not spec.get("nodeName")
        and status.get("phase", "Pending") not in TERMINAL_PHASES
        and snap.nodes
    ):
        try:
            verdict = why_pending(snap, pod, node_rows=False)
        except InputError as exc:  # a pod the API would have rejected (bad quantity): say why
            row["analysis_error"] = str(exc)
        else:
            row["scheduler_message"] = verdict.get("scheduler_message")
            row["observed_message"] = verdict.get("observed_message")
    return row


def explain_job(snapshot: Snapshot, job_id: str) -> dict:
    """Why a whole AML job (or online deployment) is not running, pods or no pods.

    Keys: `job` (identity), `status` (one line), `aml_job` (`name`, `phase`, `node_count`) or
    None, `volcano_job` (`name`, `phase`) or None, `podgroup` (phase, minMember, queue,
    condition, events) or None, `pods` (per pod: `name`, `phase`, `node`, `waiting`,
    `scheduler_message`, `observed_message`), `pods_missing` (count) with `pods_missing_reason`,
    `gang_fit` (see `gang.gang_fit`) or None, `instance_type` (resolution plus `fit`: nodes
    matching / ready / fitting), and `findings` (every finding about the job, worst first).
    """
    group = find_job(snapshot, job_id)
    workload = group.workload
    capacity = Capacity(snapshot)
    report = run_rules(snapshot, namespaces=[workload.namespace])
    summary = group_by_job(snapshot, report.findings, group.pods)
    entry = next(
        (e for e in summary if e["kind"] == workload.kind and e["id"] == workload.id), None
    )
    keys = _owner_keys(snapshot, group)
    it = _instance_type(snapshot, group)
    it_name = (it or {}).get("name")
    findings = [d for f in report.findings if _belongs(d := f.to_dict(), keys, it_name)]
    cr = next((i for i in instance_types(snapshot) if i.name == it_name), None) if it_name else None
    if it and cr is not None and snapshot.nodes:
        it = {
            **it,
            "resources": cr.to_dict(),
            "fit": analyze_instance_type(snapshot, cr, capacity).to_dict(),
        }
    findings.sort(
        key=lambda f: (-SEVERITY_ORDER.get(f["severity"], 0), f["rule"], f["object"]["name"])
    )
    pg = group.podgroup
    aml_job = aml_job_for(snapshot, workload)
    vc_job = volcano_job_for(snapshot, pg) if pg is not None else None
    expected = _expected(snapshot, group)
    live = [p for p in group.pods if as_dict(p.get("status")).get("phase") not in TERMINAL_PHASES]
    result: dict = {
        "job": workload.to_dict(),
        "status": entry["summary"] if entry else f"{workload.label()}: no pods and no findings",
        "aml_job": None
        if aml_job is None
        else {
            "name": name_of(aml_job),
            "phase": as_dict(aml_job.get("status")).get("phase"),
            "node_count": node_count_of_aml_job(aml_job),
        },
        "volcano_job": None
        if vc_job is None
        else {
            "name": name_of(vc_job),
            "phase": as_dict(as_dict(vc_job.get("status")).get("state")).get("phase"),
        },
        "podgroup": podgroup_status(snapshot, pg) if pg is not None else None,
        "pods": [_pod_row(snapshot, p) for p in sorted(group.pods, key=name_of)],
        "pods_missing": max(0, expected - len(live)) if workload.kind == "job" else 0,
        "gang_fit": None,
        "instance_type": it,
        "findings": findings,
    }
    if pg is not None and snapshot.nodes:
        gang = gang_for_podgroup(snapshot, pg, capacity)
        result["gang_fit"] = gang if gang["needed"] else None  # None: nothing left to place
    if result["pods_missing"]:
        status = result["podgroup"] or {}
        said = why_text(status) if pg is not None else ""
        result["pods_missing_reason"] = (
            "Volcano creates the pods only after the PodGroup is enqueued "
            f"(it is {status.get('phase', 'unknown')})"
            + (f"; Volcano says: {said}" if said else "")
        )
    return result
