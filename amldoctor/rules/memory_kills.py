"""AMD2xx, continued: containers that died without an OOM kill of their own.

Evictions (the node ran short, not the container) and exit code 137 without `OOMKilled` (a
SIGKILL from someone else) are the two things most often mistaken for a container OOM. Split from
`memory.py` to keep each module readable.
"""

from __future__ import annotations

import re

from amldoctor.engine.registry import Context, rule
from amldoctor.k8s.containers import (
    as_dict,
    containers,
    describe_exit,
    iter_terminations,
    pod_label,
)
from amldoctor.rules._runtime import sigkill_cause, when

_EVICTION = re.compile(r"low on resource: ([A-Za-z0-9-]+)")
_THRESHOLD = re.compile(r"Threshold quantity: ([^,]+), available: ([^.]+?)\.")
_USAGE = re.compile(r"Container ([\w.-]+) was using ([^,]+), request is ([^,]+),")


@rule("AMD204", "pod-evicted", severity="error", needs=("Pod",))
def pod_evicted(ctx: Context):
    """
    ## What it does
    Finds pods the kubelet evicted (`status.reason: Evicted`) and says which node resource ran
    low (memory, ephemeral storage, PIDs), the threshold, and which container used more than it
    requested, from the eviction message.

    ## Why is this bad?
    An eviction is not a container OOM: the node as a whole ran short, and the kubelet stopped
    the pods using the most above their requests. Raising the container's limit does not help;
    the request has to reflect real use (or the node needs more room).

    ## Example
    `pod ml/train-2 was evicted from node aks-gpu-1 because the node was low on memory
    (threshold 100Mi, available 80Mi); container trainer used 6Gi against a request of 2Gi`

    ## How to fix
    Set memory requests to the real use (requests = limits for training), set
    `ephemeral-storage` requests and limits or move scratch data to a volume for disk
    evictions, and check the node's MemoryPressure/DiskPressure condition.
    """
    for pod in ctx.pods():
        status = pod.get("status") or {}
        if status.get("reason") != "Evicted":
            continue
        text = " ".join(str(status.get("message") or "").split())
        node = as_dict(pod.get("spec")).get("nodeName") or "?"
        resource_match = _EVICTION.search(text)
        resource = resource_match.group(1) if resource_match else None
        if resource is None and "ephemeral" in text:
            resource = "ephemeral-storage"
        threshold = _THRESHOLD.search(text)
        usage = _USAGE.findall(text)
        parts = [f"pod {pod_label(pod)} was evicted from node {node}"]
        if resource_match:
            parts.append(f"because the node was low on {resource}")
        if threshold:
            parts.append(
                f"(threshold {threshold.group(1).strip()}, available {threshold.group(2).strip()})"
            )
        message = " ".join(parts)
        if usage:
            name, used, requested = usage[0]
            message += (
                f"; container {name} used {used.strip()} against a request of {requested.strip()}"
            )
        elif text and not threshold:
            message += f": {text}"
        if resource == "memory":
            message += "; this is node memory pressure, not a container OOM"
        if resource == "ephemeral-storage":
            fix = (
                "Set ephemeral-storage requests and limits on the containers, and write datasets "
                "and checkpoints to a volume (PVC or a sized emptyDir) instead of the container "
                "filesystem."
            )
        else:
            fix = (
                "Set each container's memory request to its real use (requests = limits gives "
                "Guaranteed QoS, evicted last); check the node's MemoryPressure condition and "
                f"`kubectl describe node {node}`."
            )
        yield ctx.finding(
            pod,
            message=message,
            evidence={
                "node": node,
                "resource": resource,
                "threshold": threshold.group(1).strip() if threshold else None,
                "available": threshold.group(2).strip() if threshold else None,
                "containers_over_request": [
                    {"container": n, "usage": u.strip(), "request": r.strip()} for n, u, r in usage
                ],
                "status_message": text or None,
            },
            remediation=fix,
        )


@rule("AMD206", "exit-137-not-oom", severity="error", needs=("Pod",))
def exit_137_not_oom(ctx: Context):
    """
    ## What it does
    Finds containers that ended with exit code 137 (SIGKILL) without the `OOMKilled` reason, and
    attributes the kill: preemption, node shutdown, a deletion whose grace period ran out, a
    container whose status was lost with its node, or an external SIGKILL. Liveness and startup
    probe kills are explained by AMD302/AMD303 and evictions by AMD204, so they are not repeated
    here.

    ## Why is this bad?
    "137 means OOM" is a common misreading: 137 only says SIGKILL. Raising the memory limit
    does nothing when the kill came from a probe, the scheduler or a supervisor process.

    ## Example
    `container worker in pod ml/train-1 exited 137 (SIGKILL) at 2026-11-28T08:40:00Z, not an
    OOM kill: the pod was preempted: Preempted by pod ml/urgent on node gpu-2`

    ## How to fix
    Depends on the cause: a PriorityClass for preemption, a longer
    `terminationGracePeriodSeconds` or SIGTERM handling for deletions, and for an unexplained
    SIGKILL the container's supervisor or the node's kernel log (`dmesg`).
    """
    captured = ctx.snapshot.captured_at
    for pod in ctx.pods():
        for view in containers(pod):
            kills = [(w, t) for w, t in iter_terminations(view) if t.get("exitCode") == 137]
            if not kills or any(t.get("reason") == "OOMKilled" for _, t in iter_terminations(view)):
                continue
            where, term = kills[0]
            cause = sigkill_cause(ctx.snapshot, pod, view)
            if cause.cause in ("liveness", "startup", "eviction"):
                continue
            fix = {
                "preemption": "Give the workload a higher PriorityClass, or run it where nothing "
                "can preempt it.",
                "node-shutdown": "Node shut down (scale-in, upgrade or spot reclaim): checkpoint "
                "training and let the job retry.",
                "grace-period": "Handle SIGTERM in the process (save and exit) or raise "
                "spec.terminationGracePeriodSeconds.",
                "status-unknown": "Check what happened to the node the pod ran on (`kubectl get "
                "events -A "
                "--field-selector involvedObject.kind=Node`); the controller recreates the pod "
                "elsewhere.",
            }.get(cause.cause, "")
            if cause.cause == "external":
                fix = (
                    "Find the sender: the container's supervisor or entrypoint script, a sidecar, "
                    "or the node's kernel log (`kubectl debug "
                    f"node/{(pod.get('spec') or {}).get('nodeName') or '<node>'} "
                    "-it --image=busybox -- dmesg | grep -i kill`)."
                )
                if view.name == "training-identity-sidecar":
                    fix = (
                        "The AML identity sidecar dies with 137 behind an HTTP proxy: add "
                        "127.0.0.1 to the "
                        "proxy skip range (`az connectedk8s connect --proxy-skip-range "
                        "127.0.0.1,...`) or NO_PROXY."
                    )
            yield ctx.finding(
                pod,
                message=(
                    f"{view.kind} {view.name} in pod {pod_label(pod)} exited {describe_exit(137)} "
                    f"{when(term.get('finishedAt'), captured)}, not an OOM kill: {cause.detail}"
                ),
                evidence={
                    "container": view.name,
                    "status_field": where,
                    "exit_code": 137,
                    "reason": term.get("reason"),
                    "cause": cause.cause,
                    "restart_count": view.restart_count,
                },
                remediation=fix,
                severity="warning"
                if (pod.get("status") or {}).get("phase") == "Succeeded"
                else None,
            )
