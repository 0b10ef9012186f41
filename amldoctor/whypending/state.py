"""Where a pod is in its life, before asking the scheduler anything.

A pod can look "stuck" for reasons that have nothing to do with the default scheduler: it is
gated, another scheduler owns it, it is already bound and the kubelet is the one waiting (image,
volume, config), or it is not Pending at all. Each state gets one key and one sentence.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from amldoctor.k8s.events import event_message, event_reason
from amldoctor.k8s.objects import DEFAULT_SCHEDULER
from amldoctor.memo import memo_on
from amldoctor.scheduling.plugins.dynamicresources import pod_claims

if TYPE_CHECKING:
    from amldoctor.snapshot import Snapshot


UNSCHEDULABLE = "unschedulable"
SCHEDULABLE = "schedulable"
GATED = "scheduling-gated"
OTHER_SCHEDULER = "other-scheduler"
BOUND = "bound-not-running"
NOT_PENDING = "not-pending"
TERMINATING = "terminating"
PREEMPTING = "preempting"
NODE_MISSING = "node-missing"
REFUSED = "admission-refused"
CLAIM_BLOCKED = "resource-claim-blocked"

# Kubelet-side event reasons that explain a bound pod that does not start.
KUBELET_REASONS = (
    "FailedMount",
    "FailedAttachVolume",
    "FailedCreatePodSandBox",
    "FailedCreatePodContainer",
    "Failed",
    "BackOff",
    "ErrImagePull",
    "OutOfcpu",
    "OutOfmemory",
    "OutOfpods",
    "OutOfnvidia.com/gpu",
    "NodeAffinity",
    "UnexpectedAdmissionError",
)


@dataclass
class PodState:
    key: str
    summary: str
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"state": self.key, "summary": self.summary, **self.details}


def _meta(obj: Mapping) -> Mapping:
    return obj.get("metadata") or {}


def pod_ref(pod: Mapping) -> str:
    m = _meta(pod)
    return f"{m.get('namespace') or 'default'}/{m.get('name') or '?'}"


def waiting_containers(pod: Mapping) -> list[dict]:
    """Containers that wait, with the kubelet's reason and message."""
    out = []
    status = pod.get("status") or {}
    for key in ("initContainerStatuses", "containerStatuses"):
        for cs in status.get(key) or []:
            waiting = (cs.get("state") or {}).get("waiting")
            if waiting:
                out.append(
                    {
                        "container": cs.get("name"),
                        "reason": waiting.get("reason", ""),
                        "message": (waiting.get("message") or "")[:300],
                    }
                )
    return out


def scheduler_pods(snap: Snapshot, scheduler: str) -> dict:
    """Signs that a scheduler named `scheduler` runs: its own pods, and pods it has placed.

    Once per snapshot and scheduler: every Pending Volcano pod of a scan asks the same.
    """
    found = memo_on(snap, ("scheduler-pods", scheduler), lambda: _scheduler_pods(snap, scheduler))
    return {k: list(v) if isinstance(v, list) else v for k, v in found.items()}


def _scheduler_pods(snap: Snapshot, scheduler: str) -> dict:
    word = scheduler.split("-")[0].lower()
    running = [
        pod_ref(p)
        for p in snap.pods
        if word in (_meta(p).get("name") or "").lower()
        and "scheduler" in (_meta(p).get("name") or "").lower()
        and (p.get("status") or {}).get("phase") == "Running"
    ]
    placed = [
        pod_ref(p)
        for p in snap.pods
        if (p.get("spec") or {}).get("schedulerName") == scheduler
        and (p.get("spec") or {}).get("nodeName")
    ]
    return {"scheduler_pods_running": sorted(running), "pods_placed_by_it": len(placed)}


def classify(snap: Snapshot, pod: Mapping, *, what_if: bool = False) -> PodState:
    """The pod's state; `what_if` pods (from -f) are always treated as waiting for a node."""
    spec = pod.get("spec") or {}
    status = pod.get("status") or {}
    phase = status.get("phase") or "Pending"
    ref = pod_ref(pod)
    missing = _missing_node(snap, spec.get("nodeName"))
    if missing and phase == "Pending" and not _meta(pod).get("deletionTimestamp"):
        return _node_missing(pod, missing, what_if=what_if)
    if what_if:
        return PodState(UNSCHEDULABLE, f"what-if: would the default scheduler place {ref} now?")
    if _meta(pod).get("deletionTimestamp"):
        return PodState(TERMINATING, f"pod {ref} is being deleted (phase {phase})")
    if phase != "Pending":
        node = spec.get("nodeName") or "no node"
        doing = {
            "Running": f"is Running on {node}",
            "Succeeded": "has completed successfully (Succeeded)",
            "Failed": f"has Failed ({status.get('reason') or 'see its container statuses'})",
        }.get(phase, f"is in phase {phase}")
        return PodState(NOT_PENDING, f"pod {ref} is not Pending: it {doing}", {"phase": phase})
    if spec.get("nodeName"):
        waiting = waiting_containers(pod)
        kubelet_events = [
            {"reason": event_reason(e), "message": event_message(e)[:300]}
            for e in snap.events_for(pod)
            if event_reason(e) in KUBELET_REASONS or event_reason(e).startswith("OutOf")
        ]
        what = (
            ", ".join(f"{w['container']}: {w['reason']}" for w in waiting)
            or "no container status yet"
        )
        return PodState(
            BOUND,
            f"pod {ref} is already bound to node {spec['nodeName']}; the scheduler is done and the "
            f"kubelet is the one waiting ({what}): look at image, volume and config findings "
            f"(amldoctor scan -n {_meta(pod).get('namespace') or 'default'})",
            {"node": spec["nodeName"], "waiting": waiting, "kubelet_events": kubelet_events[-5:]},
        )
    gates = [g.get("name", "?") for g in spec.get("schedulingGates") or []]
    if gates:
        return PodState(
            GATED,
            f"pod {ref} is held by scheduling gate(s) {', '.join(gates)}: the scheduler does not "
            "try "
            "to place it until the controller that owns the gate removes it",
            {"scheduling_gates": gates},
        )
    scheduler = spec.get("schedulerName") or DEFAULT_SCHEDULER
    if scheduler != DEFAULT_SCHEDULER:
        signs = scheduler_pods(snap, scheduler)
        if signs["scheduler_pods_running"]:
            alive = f"its scheduler pod {signs['scheduler_pods_running'][0]} is Running"
        elif signs["pods_placed_by_it"]:
            alive = f"{signs['pods_placed_by_it']} other pod(s) of this scheduler were placed"
        else:
            alive = (
                f"no pod of a {scheduler} scheduler runs in this snapshot and none of its pods "
                "were placed"
            )
        return PodState(
            OTHER_SCHEDULER,
            f"pod {ref} asks for scheduler {scheduler!r}: placing it is {scheduler}'s decision, "
            "not "
            f"the default scheduler's ({alive}); the node analysis below shows what the default "
            "filters would say",
            {"scheduler_name": scheduler, **signs},
        )
    blocked = claim_blocked(snap, pod)
    if blocked:
        return blocked
    nominated = status.get("nominatedNodeName")
    if nominated:
        # The summary names the victims; analysis fills it in (it needs the cluster view).
        return PodState(PREEMPTING, f"pod {ref} is nominated to node {nominated}")
    return PodState(UNSCHEDULABLE, f"pod {ref} is waiting for a node")


def claim_blocked(snap: Any, pod: Mapping) -> PodState | None:
    """The DynamicResources PreEnqueue check: a claim the pod needs is missing, being deleted,
    not generated yet or not the pod's own. The scheduler then never tries the pod: no
    FailedScheduling event, no PodScheduled condition, so nothing to compare with."""
    if not (pod.get("spec") or {}).get("resourceClaims") or not snap.collected("ResourceClaim"):
        return None
    _, blocked = pod_claims(snap, pod)
    if blocked is None:
        return None
    text, detail = blocked
    return PodState(
        CLAIM_BLOCKED,
        f"pod {pod_ref(pod)} is not tried by the scheduler until its ResourceClaims are "
        f"ready ({text}): {detail}",
        {"scheduler_error": text, "claim_problem": detail},
    )


def _missing_node(snap: Any, name: str | None) -> str | None:
    """`name` when the pod names a node the snapshot's complete node list does not have."""
    if not name or not snap.collected("Node") or snap.missing_for("Node") is not None:
        return None
    return None if snap.get("Node", None, name) is not None else name


def _node_missing(pod: Mapping, node: str, *, what_if: bool) -> PodState:
    """spec.nodeName names a node that does not exist: no scheduler looks at the pod (it is
    already assigned) and no kubelet will ever admit it, so it stays Pending for good."""
    ref = pod_ref(pod)
    owners = _meta(pod).get("ownerReferences") or []
    owner = f"{owners[0].get('kind')}/{owners[0].get('name')}" if owners else None
    if what_if:
        text = (
            f"what-if: {ref} sets spec.nodeName={node}, and no node {node} exists: the API server "
            "would accept the pod, no scheduler would look at it and no kubelet would run it; "
            "remove spec.nodeName (use a nodeSelector on kubernetes.io/hostname to pin a node) "
            "or name an existing node"
        )
    else:
        text = (
            f"pod {ref} is assigned to node {node} (spec.nodeName), which does not exist: no "
            "scheduler will move it and no kubelet will run it, so it stays Pending for good; "
            + (
                f"delete the pod so that its {owner} recreates it, "
                if owner
                else "delete it and create it again "
            )
            + "without spec.nodeName (pin a node with a nodeSelector on kubernetes.io/hostname "
            "instead), or bring the node back"
        )
    return PodState(NODE_MISSING, text, {"node": node, "node_exists": False})
