"""AMD1xx: pods that are not getting a node.

AMD101 starts from what the scheduler itself said (the FailedScheduling event or the
PodScheduled condition), parsed into structured causes, which is all a user without node access
can get. When nodes are in the snapshot it adds the node-by-node verdict of the why-pending
engine: which node came closest and what exactly to change.
"""

from __future__ import annotations

from collections.abc import Iterator

from amldoctor.engine.registry import Context, rule
from amldoctor.engine.report import Finding
from amldoctor.k8s.objects import DEFAULT_SCHEDULER, meta
from amldoctor.k8s.timeutil import format_age, parse_time
from amldoctor.scheduling.message import parse_fit_error
from amldoctor.snapshot import Snapshot
from amldoctor.whypending.analysis import observed_verdict
from amldoctor.whypending.remediation import fixes_from_message
from amldoctor.whypending.state import claim_blocked


def is_waiting_for_node(pod: dict) -> bool:
    spec = pod.get("spec") or {}
    status = pod.get("status") or {}
    return status.get("phase", "Pending") == "Pending" and not spec.get("nodeName")


def _fix_text(fixes: list[dict]) -> list[str]:
    """why-pending's fixes as remediation lines, each followed by its YAML, indented."""
    lines = []
    for fix in fixes:
        text = str(fix.get("text", ""))
        if fix.get("yaml"):
            text += "\n" + "\n".join(f"  {line}" for line in str(fix["yaml"]).splitlines())
        lines.append(text)
    return lines


@rule("AMD101", "pod-unschedulable", severity="error", needs=("Pod",), explains=("AMD108",))
def pod_unschedulable(ctx: Context) -> Iterator[Finding]:
    """
    ## What it does
    Reports pods that stay Pending because the kube-scheduler found no node for them, and turns
    the scheduler's terse message ("0/12 nodes are available: 3 Insufficient nvidia.com/gpu,
    9 node(s) had untolerated taint(s)") into structured causes with node counts. When nodes
    are in the snapshot, it re-runs the scheduler's filters node by node and names the closest
    node and the change that would make the pod fit. Pods whose DRA ResourceClaims get no devices
    are explained per node (no slice, selector, devices held by other claims, count); a pod
    whose claim is missing or not generated yet is never tried by the scheduler and is reported
    with the claim's problem.

    ## Why is this bad?
    The pod will not start until something changes: a GPU training job waits forever, an
    endpoint never becomes ready. The scheduler's message names no node, no taint and no number,
    so users guess.

    ## Example
    ```yaml
    spec:
      containers:
      - name: trainer
        resources:
          limits: {nvidia.com/gpu: 1}
      # no toleration for the GPU pool's taint sku=gpu:NoSchedule
    ```

    ## How to fix
    Follow the remediation: add the toleration the GPU pool needs, correct the nodeSelector to
    a value nodes really carry, lower the request to what the largest node can hold, or scale
    the node pool; for DRA, create the missing claim or class, relax the claim's selector or
    count, or free the devices other claims hold. `amldoctor why-pending POD` shows the full
    node-by-node matrix.
    """
    snap = ctx.snapshot
    for pod in ctx.pods():
        if not is_waiting_for_node(pod) or (pod.get("spec") or {}).get("schedulingGates"):
            continue
        message, info = observed_verdict(snap, pod)
        blocked = claim_blocked(snap, pod)
        if blocked is not None:
            # The scheduler does not try it until its claims are ready: a message, if any, is
            # from an earlier attempt, and the claim is what to fix.
            held: dict = {"scheduler_error": blocked.details["scheduler_error"]}
            if message:
                held["scheduler_message"] = message
            yield ctx.finding(
                pod,
                message=blocked.summary,
                evidence=held,
                remediation=blocked.details["claim_problem"],
            )
            continue
        if not message:
            continue
        parsed = parse_fit_error(message)
        name = meta(pod).get("name")
        namespace = meta(pod).get("namespace")
        causes = [{"count": c.count, "reason": c.reason, "plugin": c.plugin} for c in parsed.causes]
        evidence: dict = {"scheduler_message": message, **info}
        if parsed.total_nodes is not None:
            evidence["nodes_total"] = parsed.total_nodes
        if causes:
            evidence["causes"] = causes
        summary = "; ".join(f"{c.count} {c.reason}" if c.count else c.reason for c in parsed.causes)
        if not summary and parsed.prefilter_msg:
            # Rejected before any node was looked at: the reason, not the scheduler's count again
            # (the whole message stays in the evidence).
            summary = f"rejected before any node was checked: {parsed.prefilter_msg}"
        age = ""
        created = meta(pod).get("creationTimestamp")
        created_at = parse_time(created)
        if created_at is not None:
            age = f" for {format_age((snap.captured_at - created_at).total_seconds())}"
        total = (
            f"0/{parsed.total_nodes} nodes fit"
            if parsed.total_nodes is not None
            else "no node fits"
        )
        text = f"pod {namespace}/{name} is Pending{age}: {total}"
        text += f" ({summary})" if summary else f" ({message})"

        fixes, standing = _simulated_fixes(snap, pod, evidence)
        if evidence.get("preemption_summary"):
            text += f"; {evidence['preemption_summary']}"
        elif standing:
            text += f"; {standing}"
        if not fixes:
            fixes = _fix_text(fixes_from_message(parsed)) or [
                f"amldoctor why-pending {name} -n {namespace} recomputes the verdict"
            ]
            if not snap.collected("Node"):
                miss = snap.missing_for("Node")
                why = miss.reason if miss else "nodes are not in the snapshot"
                evidence["node_analysis"] = f"skipped: {why}"
        remediation = "\n".join(fixes)
        remediation += f"\nnode-by-node analysis: amldoctor why-pending {name} -n {namespace}"
        yield ctx.finding(pod, message=text, evidence=evidence, remediation=remediation)


def _simulated_fixes(snap: Snapshot, pod: dict, evidence: dict) -> tuple[list[str], str]:
    """Fixes (with their YAML) and what stands in the way (the closest node's reasons, or the
    reason the scheduler turned the pod away before any node), from the why-pending engine.

    Empty when nodes are not in the snapshot: the finding then rests on the scheduler's message.
    """
    if not snap.collected("Node") or not snap.nodes:
        return [], ""
    from amldoctor.whypending import analyze

    result = analyze(snap, pod, node_rows=False)
    evidence["simulated_message"] = result.get("scheduler_message")
    if result.get("agrees_with_scheduler") is not None:
        evidence["agrees_with_scheduler"] = result["agrees_with_scheduler"]
    if result.get("funnel_line"):
        evidence["funnel"] = result["funnel_line"]
    pre = result.get("preemption") or {}
    if result["status"]["state"] == "preempting":
        evidence["preemption_summary"] = result["status"]["summary"]
        evidence["preemption"] = {
            "node": result["status"]["nominated_node"],
            "victims_terminating": result["status"]["victims_terminating"],
        }
    elif pre.get("would_preempt"):
        evidence["preemption_summary"] = pre["summary"]
        evidence["preemption"] = {
            k: pre[k] for k in ("node", "victims", "pdb_violations", "tied_nodes")
        }
    closest = result.get("closest_nodes") or []
    evidence["closest_nodes"] = [c["name"] for c in closest[:3]]
    summary = ""
    prefilter = next((f for f in result.get("fixes") or [] if f.get("kind") == "prefilter"), None)
    if prefilter is not None:
        summary = prefilter["text"]  # every node was turned away for this one reason
    elif closest and closest[0].get("details"):
        summary = f"closest: {closest[0]['details'][0]}"
    fixes = _fix_text(result.get("fixes") or [])
    return fixes, summary


@rule("AMD102", "pod-scheduling-gated", severity="warning", needs=("Pod",))
def pod_scheduling_gated(ctx: Context) -> Iterator[Finding]:
    """
    ## What it does
    Reports Pending pods held back by `spec.schedulingGates`: the scheduler does not even try
    to place them, so they get no FailedScheduling event.

    ## Why is this bad?
    The pod looks stuck with no explanation. Gates are added by a controller (a queueing system,
    a quota manager) that is expected to remove them; if it never does, the pod waits forever.

    ## Example
    ```yaml
    spec:
      schedulingGates:
      - name: example.com/quota-check
    ```

    ## How to fix
    Find the controller that owns the gate (its name usually says) and check why it has not
    released the pod; remove the gate only if that controller is gone.
    """
    for pod in ctx.pods():
        gates = [
            g.get("name", "?")
            for g in (pod.get("spec") or {}).get("schedulingGates") or ()
            if isinstance(g, dict)
        ]
        if not gates or not is_waiting_for_node(pod):
            continue
        name, namespace = meta(pod).get("name"), meta(pod).get("namespace")
        yield ctx.finding(
            pod,
            message=f"pod {namespace}/{name} is held by scheduling gate(s) {', '.join(gates)}: the "
            "scheduler will not try to place it until they are removed",
            evidence={"scheduling_gates": gates},
            remediation=f"check the controller that owns {gates[0]}; to release by hand: kubectl "
            f"edit pod {name} -n {namespace} and delete spec.schedulingGates",
        )


@rule("AMD103", "pending-without-scheduler-verdict", severity="warning", needs=("Pod", "Event"))
def pending_without_verdict(ctx: Context) -> Iterator[Finding]:
    """
    ## What it does
    Reports pods that wait for a node but carry no scheduler verdict at all: no FailedScheduling
    event and no `PodScheduled` condition.

    ## Why is this bad?
    Either the scheduler named in `spec.schedulerName` is not running (a Volcano scheduler that
    was never installed, a typo), or the pod's events have expired (the API server keeps them
    for about an hour). "No events" is not "no problem".

    ## Example
    ```yaml
    spec:
      schedulerName: volcano   # but no volcano-scheduler runs in the cluster
    ```

    ## How to fix
    Check that the scheduler named by the pod runs (`kubectl get pods -A | grep scheduler`);
    for a default-scheduler pod, run `amldoctor why-pending POD` to recompute the verdict.
    """
    snap = ctx.snapshot
    for pod in ctx.pods():
        spec = pod.get("spec") or {}
        if not is_waiting_for_node(pod) or spec.get("schedulingGates"):
            continue
        message, _ = observed_verdict(snap, pod)
        scheduled = any(
            isinstance(c, dict) and c.get("type") == "PodScheduled"
            for c in (pod.get("status") or {}).get("conditions") or ()
        )
        if message or scheduled:
            continue
        scheduler = spec.get("schedulerName") or DEFAULT_SCHEDULER
        name, namespace = meta(pod).get("name"), meta(pod).get("namespace")
        if scheduler == DEFAULT_SCHEDULER:
            why = (
                "its events may have expired (kept about an hour), or the scheduler is not running"
            )
            fix = (
                f"amldoctor why-pending {name} -n {namespace} recomputes the scheduler's verdict "
                "from the nodes"
            )
        else:
            why = f"it asks for scheduler {scheduler!r}; check that this scheduler runs"
            fix = (
                f"kubectl get pods -A | grep -i {scheduler.split('-')[0]}  # the {scheduler} "
                "scheduler must be running"
            )
        yield ctx.finding(
            pod,
            message=f"pod {namespace}/{name} is Pending with no scheduling verdict (no "
            f"FailedScheduling event, no PodScheduled condition): {why}",
            evidence={"scheduler_name": scheduler, "events_found": len(snap.events_for(pod))},
            remediation=fix,
        )
