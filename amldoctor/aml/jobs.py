"""AML training jobs as Volcano sees them: the PodGroup's state and what its pods would need.

A queued AML job may have no pod at all: Volcano creates pods only after the PodGroup leaves
`Pending` for `Inqueue` (docs/aml-domain.md §1.5, Volcano's enqueue action). The PodGroup's
phase, its conditions and its events are then the only explanation, and the pods' resources
have to be read from the Volcano Job's task templates, or estimated from `minResources`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import replace

from amldoctor.aml.extension import extension_node_selector
from amldoctor.aml.gang import PodShape, gang_fit
from amldoctor.aml.model import (
    as_dict,
    as_list,
    name_of,
    namespace_of,
    pods_of_podgroup,
    volcano_job_for,
)
from amldoctor.aml.nodes import AML_WORKLOAD_TOLERATIONS, Capacity
from amldoctor.k8s.events import (
    event_count,
    event_last_time,
    event_message,
    event_reason,
    event_type,
)
from amldoctor.k8s.objects import TERMINAL_PHASES, meta
from amldoctor.k8s.quantity import QuantityError, parse_quantity
from amldoctor.k8s.resources import pod_requests, to_scheduler_units
from amldoctor.k8s.timeutil import format_time, parse_time
from amldoctor.snapshot import Snapshot

SYSTEM_TAINT_KEYS = ("CriticalAddonsOnly", "node.kubernetes.io/", "node-role.kubernetes.io/")


def min_member(pg: Mapping) -> int:
    value = as_dict(pg.get("spec")).get("minMember")
    return value if isinstance(value, int) and value > 0 else 1


def podgroup_phase(pg: Mapping) -> str:
    return str(as_dict(pg.get("status")).get("phase") or "")


def podgroup_status(snap: Snapshot, pg: Mapping) -> dict:
    """Phase, gang size, queue, the latest condition and the events, as JSON-ready data."""
    spec, status = as_dict(pg.get("spec")), as_dict(pg.get("status"))
    conditions = [c for c in as_list(status.get("conditions")) if isinstance(c, dict)]
    conditions.sort(key=lambda c: str(c.get("lastTransitionTime") or ""))
    latest = next((c for c in reversed(conditions) if c.get("status") == "True"), None)
    events = snap.events_for(dict(pg))
    created = parse_time(meta(pg).get("creationTimestamp"))
    data: dict = {
        "name": name_of(pg),
        "namespace": namespace_of(pg),
        "phase": podgroup_phase(pg) or "unknown",
        "minMember": min_member(pg),
        "queue": str(spec.get("queue") or "default"),
        "running": status.get("running") if isinstance(status.get("running"), int) else 0,
    }
    if created is not None:
        data["age_seconds"] = max(0, int((snap.captured_at - created).total_seconds()))
    if latest is not None:
        data["condition"] = {
            k: latest.get(k) for k in ("type", "reason", "message") if latest.get(k)
        }
    warnings = [e for e in events if event_type(e) != "Normal"] or events
    data["events"] = [
        {
            "reason": event_reason(e),
            "message": event_message(e),
            "count": event_count(e),
            "last_seen": format_time(event_last_time(e)),
        }
        for e in warnings[-3:]
    ]
    return data


def why_text(status: Mapping) -> str:
    """The PodGroup's own explanation: condition message, else the newest event, else nothing."""
    cond = as_dict(status.get("condition"))
    if cond.get("message"):
        return f"{cond.get('reason') or cond.get('type')}: {cond['message']}"
    events = status.get("events") or []
    if events:
        last = events[-1]
        return (
            f"{last['reason']}: {last['message']}" if last.get("message") else str(last["reason"])
        )
    return ""


def _is_waiting(pod: Mapping) -> bool:
    status, spec = as_dict(pod.get("status")), as_dict(pod.get("spec"))
    return status.get("phase", "Pending") not in TERMINAL_PHASES and not spec.get("nodeName")


def _shape_from_pod_spec(name: str, count: int, pod: Mapping, source: str) -> PodShape | None:
    try:
        requests = pod_requests(pod, use_status=False)
    except QuantityError:
        return None
    spec = as_dict(pod.get("spec"))
    selector = {str(k): str(v) for k, v in as_dict(spec.get("nodeSelector")).items()}
    tolerations = [t for t in as_list(spec.get("tolerations")) if isinstance(t, dict)]
    return PodShape(
        name, count, {k: v for k, v in requests.items() if v}, selector, tolerations, source
    )


def shapes_for_podgroup(
    snap: Snapshot, pg: Mapping, pods: list[dict]
) -> tuple[list[PodShape], str]:
    """What still has to be placed for the gang to start, and how sure that is.

    Pods that exist are used as they are; unbound ones are what is missing. With no pods, the
    Volcano Job's task templates say what each worker needs; without the Job, `minResources`
    divided by `minMember` is an estimate (Volcano sums the members' requests into it).
    """
    needed = min_member(pg)
    live = [p for p in pods if as_dict(p.get("status")).get("phase") not in TERMINAL_PHASES]
    if live:
        groups: dict[tuple, tuple[dict, int]] = {}
        for pod in live:
            if not _is_waiting(pod):
                continue
            spec = as_dict(pod.get("spec"))
            key = (
                repr(pod_requests_safe(pod)),
                repr(spec.get("nodeSelector")),
                repr(spec.get("tolerations")),
            )
            first, count = groups.get(key, (pod, 0))
            groups[key] = (first, count + 1)
        shapes = []
        for first, count in groups.values():
            shape = _shape_from_pod_spec(name_of(first), count, first, f"pod {name_of(first)}")
            if shape is not None:
                shapes.append(shape)
        return shapes, "the job's pending pods"
    job = volcano_job_for(snap, pg)
    if job is not None:
        shapes = []
        for task in as_list(as_dict(job.get("spec")).get("tasks")):
            if not isinstance(task, dict):
                continue
            raw_replicas = task.get("replicas")
            replicas = raw_replicas if isinstance(raw_replicas, int) else 1
            template = {"spec": as_dict(as_dict(task.get("template")).get("spec"))}
            shape = _shape_from_pod_spec(
                str(task.get("name") or "task"),
                replicas,
                template,
                f"Volcano Job {name_of(job)} task {task.get('name') or '?'}",
            )
            if shape is not None:
                shapes.append(shape)
        if len(shapes) == 1:
            shapes[0].count = needed
        if shapes:
            return shapes, f"the task templates of Volcano Job {name_of(job)}"
    per_pod = _split_min_resources(as_dict(as_dict(pg.get("spec")).get("minResources")), needed)
    selector, _ = extension_node_selector(snap)
    shape = PodShape(
        "worker",
        needed,
        per_pod,
        selector,
        [dict(t) for t in AML_WORKLOAD_TOLERATIONS],
        "PodGroup minResources / minMember (estimated)",
    )
    return [
        shape
    ], "an estimate from the PodGroup's minResources (no pods and no Volcano Job in the snapshot)"


def pod_requests_safe(pod: Mapping) -> dict[str, int]:
    try:
        return pod_requests(pod, use_status=False)
    except QuantityError:
        return {}


def _split_min_resources(min_resources: Mapping, members: int) -> dict[str, int]:
    out = {}
    for name, raw in min_resources.items():
        if str(name) == "pods":
            continue
        try:
            total = to_scheduler_units(str(name), parse_quantity(raw))
        except QuantityError:
            continue
        if total > 0:
            out[str(name)] = math.ceil(total / members)
    return out


def gang_for_podgroup(snap: Snapshot, pg: Mapping, capacity: Capacity | None = None) -> dict:
    """Gang fit of what the PodGroup still needs (see `gang.gang_fit`), plus the basis."""
    pods = pods_of_podgroup(snap, pg)
    shapes, basis = shapes_for_podgroup(snap, pg, pods)
    result = gang_fit(snap, shapes, capacity)
    result["basis"] = basis
    taints = sorted(
        {
            reason[len("taint ") :]
            for reason in result["excluded"]
            if reason.startswith("taint ") and not _system_taint(reason[len("taint ") :])
        }
    )
    if not result["fits"] and taints:
        # What the taints alone cost: the same gang with them tolerated.
        extra = [_toleration_for_text(t) for t in taints]
        tolerant = [replace(s, tolerations=[*s.tolerations, *extra]) for s in shapes]
        relaxed = gang_fit(snap, tolerant, capacity)
        result["if_tolerated"] = {
            "taints": taints,
            "placeable": relaxed["placeable"],
            "fits": relaxed["fits"],
            "summary": relaxed["summary"],
        }
    return result


def _system_taint(text: str) -> bool:
    """Taints that keep workloads off system pools or broken nodes on purpose: never worth
    tolerating."""
    return text.startswith(SYSTEM_TAINT_KEYS)


def _toleration_for_text(text: str) -> dict:
    """`sku=gpu:NoSchedule` / `key:NoSchedule` -> the toleration that matches exactly that taint."""
    body, _, effect = text.rpartition(":")
    key, sep, value = body.partition("=")
    tol = {"key": key, "operator": "Equal" if sep else "Exists", "effect": effect}
    if sep:
        tol["value"] = value
    return tol
