"""AMD71x: AML training jobs stuck in Volcano: queued with no pods, gangs that cannot fit, no
scheduler.

AML's training pods are gang-scheduled by Volcano: nothing runs until all `minMember` workers
have a node, and Volcano does not even create the pods until the PodGroup is enqueued. These are
the "job Queued in AML studio, nothing happens" cases that no pod-centric check can see.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

from amldoctor.aml.extension import extension_namespace, extension_visible
from amldoctor.aml.jobs import (
    gang_for_podgroup,
    min_member,
    podgroup_phase,
    podgroup_status,
    why_text,
)
from amldoctor.aml.model import (
    VOLCANO_SCHEDULER_NAME,
    as_dict,
    name_of,
    namespace_of,
    podgroup_of_pod,
    podgroups,
    pods_of_podgroup,
    volcano_job_for,
    workload_of,
    workload_of_podgroup,
)
from amldoctor.aml.nodes import Capacity
from amldoctor.aml.remedy import az_extension_update
from amldoctor.engine.registry import Context, rule
from amldoctor.engine.report import Finding
from amldoctor.k8s.events import event_message, event_reason, event_type
from amldoctor.k8s.objects import TERMINAL_PHASES
from amldoctor.k8s.quantity import QuantityError, format_amount, parse_quantity
from amldoctor.k8s.resources import to_scheduler_units
from amldoctor.k8s.timeutil import format_age
from amldoctor.snapshot import Snapshot

WAITING = ("Pending", "Inqueue", "")
GRACE_SECONDS = 120  # Volcano enqueues within a scheduling cycle or two; younger groups are normal


def _job_label(pg: dict) -> str:
    workload = workload_of_podgroup(pg)
    return f"AML job {workload.id}" if workload else f"Volcano job {name_of(pg)}"


def _identity(pg: dict) -> dict:
    workload = workload_of_podgroup(pg)
    return (
        workload.to_dict() if workload else {"podgroup": name_of(pg), "namespace": namespace_of(pg)}
    )


def _if_tolerated(gang: dict) -> str:
    relaxed = gang.get("if_tolerated")
    if not relaxed:
        return ""
    return (
        f"; with {', '.join(relaxed['taints'])} tolerated, {relaxed['placeable']} of "
        f"{gang['needed']} would fit"
    )


def _capacity_fix(snap: Snapshot, gang: dict) -> str:
    shape = (gang.get("shapes") or [{}])[0]
    per_pod = ", ".join(f"{k}={v}" for k, v in shape.get("requests", {}).items())
    relaxed = set((gang.get("if_tolerated") or {}).get("taints") or ())
    tainted = {
        k[len("taint ") :]: v
        for k, v in gang.get("excluded", {}).items()
        if k[len("taint ") :] in relaxed
    }
    prefix = ""
    if tainted:
        taints = ", ".join(f"{t} ({n} nodes)" for t, n in sorted(tainted.items()))
        prefix = (
            f"Nodes with taint {taints} are closed to these pods: if they are the pool the job "
            "needs, taint that pool with ml.azure.com/amlarc-workload=true:NoSchedule instead, or "
            "tolerate the taint at extension level (see AMD707 for the commands).\n"
        )
    return prefix + (
        "Make the gang fit: fewer workers (`instance_count` in the job's `resources`), or a "
        "smaller "
        f"instance type per worker (each asks {per_pod or 'the listed resources'}); or add nodes "
        "to the "
        "pool: az aks nodepool update --resource-group <resource-group> --cluster-name <cluster> "
        "--name <pool> --update-cluster-autoscaler --min-count <n> --max-count <m>.\n"
        "A gang with no pods never triggers the cluster autoscaler; for pools that scale from zero "
        "AML documents a scheduler config without the gang plugin: "
        + az_extension_update(
            snap,
            {
                "volcanoScheduler.schedulerConfigMap": "<configmap-without-gang>",
                "amloperator.skipResourceValidation": "true",
            },
        )
    )


@rule("AMD710", "aml-job-queued-without-pods", severity="error", needs=())
def aml_job_queued_without_pods(ctx: Context) -> Iterator[Finding]:
    """
    ## What it does
    Finds Volcano PodGroups (one per AML training job) that are `Pending` or `Inqueue` with no
    pod at all, quotes Volcano's own reason from the PodGroup's conditions and events, and
    computes whether the cluster could hold all `minMember` workers at once.

    ## Why is this bad?
    The job shows "Queued" in AML studio and nothing happens: Volcano creates the worker pods
    only after the PodGroup is enqueued, which needs room for the whole gang. With no pod there
    is no FailedScheduling event, nothing for `kubectl describe pod`, and nothing that makes the
    cluster autoscaler add nodes.

    ## Example
    A 4-worker job with an instance type of 8 GPUs per worker, on a pool of three 8-GPU nodes:
    PodGroup `aml-compute-3f2a…` stays Pending with `minMember: 4` and no pods.

    ## How to fix
    Shrink the gang (fewer workers or fewer GPUs per worker) or add nodes. If the gang fits,
    check the Volcano queue (`kubectl get queue default -o yaml`) and the other enqueued jobs
    holding the capacity; if it is `Inqueue` with no pods, check `volcano-controllers`.
    """
    snap = ctx.snapshot
    capacity = Capacity(snap)
    for pg in podgroups(snap):
        if not ctx.in_scope(pg) or podgroup_phase(pg) not in WAITING:
            continue
        if pods_of_podgroup(snap, pg):
            continue
        status = podgroup_status(snap, pg)
        age = status.get("age_seconds")
        if age is not None and age < GRACE_SECONDS:
            continue
        gang = gang_for_podgroup(snap, pg, capacity) if snap.nodes else None
        job = volcano_job_for(snap, pg)
        job_events = [e for e in snap.events_for(job) if event_type(e) != "Normal"] if job else []
        why = why_text(status) or (
            f"{event_reason(job_events[-1])}: {event_message(job_events[-1])}" if job_events else ""
        )
        since = f" for {format_age(age)}" if age is not None else ""
        message = (
            f"{_job_label(pg)} is queued{since} with no pods: PodGroup {name_of(pg)} is "
            f"{status['phase']} (minMember {status['minMember']}, queue {status['queue']})"
        )
        evidence: dict = {**_identity(pg), "podgroup": status}
        severity = None
        if gang is not None:
            evidence["gang_fit"] = gang
            message += f"; {gang['summary']}" + _if_tolerated(gang)
            if gang["fits"]:
                severity = "warning"
        else:
            evidence["gang_fit"] = "not computed: no nodes in the snapshot"
        if why:
            message += f"; Volcano: {why}"
        if gang is not None and not gang["fits"]:
            fix = _capacity_fix(snap, gang)
        elif status["phase"] == "Inqueue":
            fix = (
                "The gang was admitted but no pods were created: check the Volcano job controller "
                f"(kubectl get pods -n {extension_namespace(snap)} | grep volcano-controllers; "
                f"kubectl describe jobs.batch.volcano.sh {name_of(job) if job else name_of(pg)} -n "
                f"{namespace_of(pg)})"
            )
        else:
            fix = (
                "The nodes could hold the gang, so the queue or other jobs hold it back: kubectl "
                "get queue "
                f"{status['queue']} -o yaml (state Open? capability?); kubectl get podgroups -A | "
                "grep -v Completed (enqueued jobs reserve capacity); kubectl logs -n "
                f"{extension_namespace(snap)} deploy/volcano-scheduler"
            )
        yield ctx.finding(
            pg, message=message, evidence=evidence, remediation=fix, severity=severity
        )


@rule("AMD711", "aml-gang-does-not-fit", severity="error", needs=())
def aml_gang_does_not_fit(ctx: Context) -> Iterator[Finding]:
    """
    ## What it does
    For AML training jobs whose worker pods exist but some are still Pending, computes whether
    the cluster can hold every missing worker at the same time (N pods × their CPU, memory and
    GPUs, with whole-node packing), and if not, how many fit and what stops the rest.

    ## Why is this bad?
    Volcano's gang scheduling binds nothing (or keeps the job waiting) until every worker has a
    node. Totals mislead: 16 free GPUs spread as 4 per node do not hold two 8-GPU workers. Some
    workers may even hold nodes while the rest wait.

    ## Example
    `job 3f2a…: 3/4 workers Running, 1 Pending: 0 of 1 pods fit at once: no node has 8 free
    nvidia.com/gpu`.

    ## How to fix
    Reduce the workers (`instance_count`) or the GPUs per worker (the instance type), free the
    nodes held by other jobs, or add nodes to the pool (`az aks nodepool update --max-count`).
    """
    snap = ctx.snapshot
    if not snap.nodes:
        return
    capacity = Capacity(snap)
    for pg in podgroups(snap):
        if not ctx.in_scope(pg):
            continue
        pods = [
            p
            for p in pods_of_podgroup(snap, pg)
            if as_dict(p.get("status")).get("phase") not in TERMINAL_PHASES
        ]
        pending = [p for p in pods if not as_dict(p.get("spec")).get("nodeName")]
        if not pods or not pending:
            continue
        gang = gang_for_podgroup(snap, pg, capacity)
        if gang["fits"]:
            continue
        running = len(pods) - len(pending)
        total = max(min_member(pg), len(pods))
        status = podgroup_status(snap, pg)
        why = why_text(status)
        message = (
            f"{_job_label(pg)}: {running}/{total} workers Running, {len(pending)} Pending: "
            f"{gang['summary']}" + _if_tolerated(gang) + (f"; Volcano: {why}" if why else "")
        )
        yield ctx.finding(
            pg,
            message=message,
            evidence={
                **_identity(pg),
                "podgroup": status,
                "gang_fit": gang,
                "pending_pods": sorted(name_of(p) for p in pending),
            },
            remediation=_capacity_fix(snap, gang),
        )


def _volcano_scheduler_pods(snap: Snapshot) -> list[dict]:
    return [
        p
        for p in snap.pods
        if "volcano-scheduler" in name_of(p)
        or as_dict((p.get("metadata") or {}).get("labels")).get("app") == "volcano-scheduler"
    ]


def _running_and_ready(pod: dict) -> bool:
    status = as_dict(pod.get("status"))
    statuses = [c for c in status.get("containerStatuses") or () if isinstance(c, dict)]
    return (
        status.get("phase") == "Running"
        and bool(statuses)
        and all(c.get("ready") for c in statuses)
    )


@rule(
    "AMD712",
    "volcano-scheduler-not-running",
    severity="error",
    needs=("Pod",),
    supersedes=("AMD103",),
)
def volcano_scheduler_not_running(ctx: Context) -> Iterator[Finding]:
    """
    ## What it does
    Reports pods that wait for `schedulerName: volcano` (every AML training pod) when no
    Volcano scheduler pod is running and ready in the cluster. It only speaks when the
    extension's namespace is in the snapshot, so "not seen" is not mistaken for "not running".

    ## Why is this bad?
    Only the named scheduler binds a pod. Without it the pods stay Pending forever with no
    FailedScheduling event at all, and the AML job looks merely slow.

    ## Example
    The extension was installed with `installVolcano=false` and no other Volcano exists, or the
    `volcano-scheduler` pod is in CrashLoopBackOff.

    ## How to fix
    Let the extension install Volcano (`az k8s-extension update ... --config installVolcano=true`)
    or fix the Volcano installation the cluster already has.
    """
    snap = ctx.snapshot
    waiting = [
        p
        for p in ctx.pods()
        if as_dict(p.get("spec")).get("schedulerName") == VOLCANO_SCHEDULER_NAME
        and not as_dict(p.get("spec")).get("nodeName")
        and as_dict(p.get("status")).get("phase", "Pending") == "Pending"
    ]
    if not waiting:
        return
    schedulers = _volcano_scheduler_pods(snap)
    if any(_running_and_ready(p) for p in schedulers):
        return
    if not schedulers and not extension_visible(snap):
        return  # the namespaces where Volcano would run were not read: AMD103 covers the pods
    by_job: dict[tuple, list[dict]] = defaultdict(list)
    for pod in waiting:
        workload = workload_of(pod)
        by_job[workload.key if workload else ("pod", namespace_of(pod), name_of(pod))].append(pod)
    state = "no volcano-scheduler pod exists"
    if schedulers:
        states = ", ".join(f"{name_of(p)} {_pod_state(p)}" for p in schedulers)
        state = f"volcano-scheduler is not ready: {states}"
    for pods in by_job.values():
        first = pods[0]
        workload = workload_of(first)
        pg = podgroup_of_pod(snap, first)
        what = (
            f"AML job {workload.id}"
            if workload and workload.kind == "job"
            else f"pod {name_of(first)}"
        )
        yield ctx.finding(
            pg or first,
            message=f"{what}: {len(pods)} pod(s) wait for scheduler 'volcano' but {state}; they "
            "will never be scheduled",
            evidence={
                **(workload.to_dict() if workload else {}),
                "pods": sorted(name_of(p) for p in pods),
                "volcano_scheduler_pods": {name_of(p): _pod_state(p) for p in schedulers},
                "extension_namespace": extension_namespace(snap),
            },
            remediation=(
                "Install Volcano with the extension: "
                + az_extension_update(snap, {"installVolcano": "true"})
                + "\nor, if it exists but is failing: kubectl describe pod -n "
                f"{extension_namespace(snap)} "
                "-l app=volcano-scheduler; kubectl logs -n <namespace> deploy/volcano-scheduler"
            ),
        )


def _pod_state(pod: dict) -> str:
    status = as_dict(pod.get("status"))
    for cs in status.get("containerStatuses") or ():
        waiting = as_dict(as_dict(cs).get("state")).get("waiting")
        if isinstance(waiting, dict) and waiting.get("reason"):
            return str(waiting["reason"])
    return str(status.get("phase") or "unknown")


def _min_resources(pg: dict) -> dict[str, int]:
    out = {}
    for name, raw in as_dict(as_dict(pg.get("spec")).get("minResources")).items():
        try:
            out[str(name)] = to_scheduler_units(str(name), parse_quantity(raw))
        except QuantityError:
            continue
    return out


@rule("AMD713", "volcano-queue-blocks-job", severity="error", needs=())
def volcano_queue_blocks_job(ctx: Context) -> Iterator[Finding]:
    """
    ## What it does
    Checks the Volcano queue of each waiting PodGroup: the queue must exist, be `Open`, and have
    a `capability` at least the gang's `minResources`.

    ## Why is this bad?
    Volcano's enqueue action admits a job only into an open queue with room for its whole gang.
    A missing or closed queue, or a capability smaller than one job, keeps the job Pending
    forever however many nodes are free.

    ## Example
    ```yaml
    kind: Queue
    metadata: {name: default}
    spec: {capability: {nvidia.com/gpu: 4}}    # the job needs 8 GPUs
    ```

    ## How to fix
    Open the queue (`vcctl queue operate --name default --action open`), raise or remove its
    `capability`, or submit the job to a queue that can hold it.
    """
    snap = ctx.snapshot
    if not snap.collected("Queue"):
        return  # without the queues, a missing queue cannot be told from an unread one
    for pg in podgroups(snap):
        if not ctx.in_scope(pg) or podgroup_phase(pg) not in ("Pending", ""):
            continue
        queue_name = str(as_dict(pg.get("spec")).get("queue") or "default")
        queue = snap.get("Queue", None, queue_name)
        label = _job_label(pg)
        evidence: dict = {**_identity(pg), "queue": queue_name}
        if queue is None:
            message = f"{label} waits in Volcano queue {queue_name}, which does not exist"
            fix = (
                "Create the queue or resubmit to an existing one: kubectl get queues; vcctl "
                f"queue create --name {queue_name}"
            )
            yield ctx.finding(pg, message=message, evidence=evidence, remediation=fix)
            continue
        state = str(as_dict(queue.get("status")).get("state") or "Open")
        if state != "Open":
            evidence["queue_state"] = state
            yield ctx.finding(
                pg,
                message=f"{label} waits in Volcano queue {queue_name}, which is {state}",
                evidence=evidence,
                remediation=f"vcctl queue operate --name {queue_name} --action open",
            )
            continue
        capability = {}
        for name, raw in as_dict(as_dict(queue.get("spec")).get("capability")).items():
            try:
                capability[str(name)] = to_scheduler_units(str(name), parse_quantity(raw))
            except QuantityError:
                continue
        over = {
            r: (format_amount(r, v), format_amount(r, capability[r]))
            for r, v in sorted(_min_resources(pg).items())
            if r in capability and v > capability[r]
        }
        if not over:
            continue
        text = ", ".join(f"{r} {need} > capability {cap}" for r, (need, cap) in over.items())
        evidence["exceeds_capability"] = {
            r: {"needed": need, "capability": cap} for r, (need, cap) in over.items()
        }
        yield ctx.finding(
            pg,
            message=f"{label} can never be enqueued: its gang needs more than queue {queue_name} "
            f"allows ({text})",
            evidence=evidence,
            remediation=f"Raise the queue's capability (kubectl edit queue {queue_name}: "
            "spec.capability) or shrink the job",
        )
