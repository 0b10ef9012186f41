"""AMD6xx: node health: readiness, pressure conditions, GPU health conditions, cordons.

Condition polarity matters: `Ready=True` is good, while `MemoryPressure`, `DiskPressure`,
`PIDPressure`, `NetworkUnavailable` and the GPU problem conditions that node-problem-detector
sets on AKS GPU nodes are bad when True. Unknown custom conditions are left alone rather than
guessed at. GPU inventory rules live in `nodes_gpu.py`.
"""

from __future__ import annotations

import re

from amldoctor.engine.registry import Context, rule
from amldoctor.engine.report import Finding
from amldoctor.k8s.containers import as_dict, dicts
from amldoctor.k8s.nodepools import node_pool
from amldoctor.k8s.objects import meta
from amldoctor.k8s.timeutil import parse_time
from amldoctor.rules._runtime import when

PRESSURE = ("MemoryPressure", "DiskPressure", "PIDPressure", "NetworkUnavailable")
# node-problem-detector GPU conditions on AKS (True = problem); names ending in Ready/Healthy are
# positive conditions and are never treated as problems.
_GPU_PROBLEM = re.compile(r"gpu|nvidia|xid|nvlink|infiniband|dcgm", re.I)
_AKS_VMSS_NODE = re.compile(r"^(aks-[a-z0-9]+-\d+-vmss)([0-9a-z]{6})$")


def conditions(node: dict) -> dict[str, dict]:
    return {
        str(c.get("type")): c
        for c in dicts(as_dict(node.get("status")).get("conditions"))
        if isinstance(c, dict) and c.get("type")
    }


def _detail(cond: dict) -> str:
    """'KubeletNotReady: PLEG is not healthy' from a condition's reason and message."""
    return ": ".join(
        x for x in (str(cond.get("reason") or ""), str(cond.get("message") or "").strip()) if x
    )


def _pods(n: int) -> str:
    return f"{n} pod{'' if n == 1 else 's'}"


def _condition_finding(ctx: Context, node: dict, kind: str, cond: dict, fix: str) -> Finding:
    """A node condition that is True: since when, the kubelet's reason, and the pods it affects."""
    name = meta(node).get("name", "")
    detail = _detail(cond)
    pods = ctx.snapshot.pods_on_node(name)
    since = when(cond.get("lastTransitionTime"), ctx.snapshot.captured_at).removeprefix("at ")
    return ctx.finding(
        node,
        message=(
            f"node {name} has {kind}{f' ({detail})' if detail else ''} since {since}; "
            f"{_pods(len(pods))} on it"
        ),
        evidence={
            "node": name,
            "condition": kind,
            "reason": cond.get("reason"),
            "message": cond.get("message"),
            "pods": len(pods),
        },
        remediation=fix,
    )


def _restart_hint(name: str, node: dict) -> str:
    """A concrete command for AKS VMSS nodes, else the generic kubectl steps."""
    match = _AKS_VMSS_NODE.match(name)
    if match:
        instance = int(match.group(2), 36)
        return (
            f"`kubectl describe node {name}`; if it does not recover, reimage it: "
            f"`az vmss reimage -g <node-resource-group> -n {match.group(1)} --instance-ids "
            f"{instance}` "
            f"(or `az aks nodepool delete-machines` / scale the pool {node_pool(node) or ''})."
        ).replace(" )", ")")
    return (
        f"`kubectl describe node {name}`, then check the kubelet and container runtime on the "
        "machine."
    )


@rule("AMD601", "node-not-ready", severity="error", needs=("Node",))
def node_not_ready(ctx: Context):
    """
    ## What it does
    Finds nodes whose `Ready` condition is `False` or `Unknown`, with the reason, since when,
    and the pods still bound to them.

    ## Why is this bad?
    A NotReady node accepts no new pods; after about five minutes its pods are evicted
    (`node.kubernetes.io/not-ready` / `unreachable` taints). `Unknown` means the kubelet stopped
    reporting: the machine is down, partitioned or overloaded. GPU capacity on it is lost.

    ## Example
    `node aks-gpu-12345678-vmss000002 is NotReady (KubeletNotReady: PLEG is not healthy) since
    2026-11-28T07:10:00Z; 3 pods are bound to it`

    ## How to fix
    Look at `kubectl describe node`; restart or reimage the VM (on AKS through the VM scale set),
    or remove it from the pool.
    """
    captured = ctx.snapshot.captured_at
    for node in ctx.snapshot.nodes:
        ready = conditions(node).get("Ready")
        if ready is None or ready.get("status") == "True":
            continue
        name = meta(node).get("name", "")
        status = str(ready.get("status") or "Unknown")
        state = "NotReady" if status == "False" else "Unknown"
        detail = _detail(ready)
        pods = [
            f"{meta(p).get('namespace')}/{meta(p).get('name')}"
            for p in ctx.snapshot.pods_on_node(name)
        ]
        since = when(ready.get("lastTransitionTime"), captured)
        yield ctx.finding(
            node,
            message=(
                f"node {name} is {state} since {since.removeprefix('at ')}"
                f"{': the kubelet stopped reporting' if status != 'False' else ''}"
                f"{f' ({detail})' if detail else ''}; "
                f"{_pods(len(pods))} bound to it"
            ),
            evidence={
                "node": name,
                "ready": status,
                "reason": ready.get("reason"),
                "message": ready.get("message"),
                "since": ready.get("lastTransitionTime"),
                "pods": pods,
                "pool": node_pool(node),
            },
            remediation=_restart_hint(name, node),
        )


@rule("AMD602", "node-pressure", severity="warning", needs=("Node",))
def node_pressure(ctx: Context):
    """
    ## What it does
    Finds nodes with `MemoryPressure`, `DiskPressure`, `PIDPressure` or `NetworkUnavailable`
    set to True, and names the reason the kubelet gives.

    ## Why is this bad?
    Under pressure the kubelet evicts pods (BestEffort and Burstable pods using more than they
    requested first) and the scheduler stops placing pods there. An eviction here is not a
    container OOM: the fix is requests that match real use, or a bigger node.

    ## Example
    `node aks-gpu-1 has MemoryPressure (KubeletHasInsufficientMemory: kubelet has insufficient
    memory available) since 2026-11-28T08:30:00Z; 4 pods on it`

    ## How to fix
    Memory: set requests equal to real use and limits on every container. Disk: clean images or
    move scratch data to volumes, set ephemeral-storage limits. Then check `kubectl describe node`.
    """
    for node in ctx.snapshot.nodes:
        name = meta(node).get("name", "")
        for kind in PRESSURE:
            cond = conditions(node).get(kind)
            if not cond or cond.get("status") != "True":
                continue
            fix = {
                "MemoryPressure": "Set memory requests to real use (requests = limits for "
                "training) and limits on every container; the kubelet evicts pods above their "
                "requests first.",
                "DiskPressure": "Free node disk: set ephemeral-storage requests/limits, write "
                "datasets to volumes, and prune unused images; or use a larger OS disk for the "
                "pool.",
                "PIDPressure": "A container forks too many processes (DataLoader workers, shells): "
                "lower the worker count or set a pod PID limit.",
                "NetworkUnavailable": "The node's network (CNI routes) is not configured: check "
                "the CNI pods on the node.",
            }[kind]
            yield _condition_finding(
                ctx, node, kind, cond, f"{fix} `kubectl describe node {name}`."
            )


@rule("AMD603", "gpu-health-condition", severity="error", needs=("Node",))
def gpu_health_condition(ctx: Context):
    """
    ## What it does
    Finds GPU health conditions set to True by node-problem-detector on AKS GPU nodes (GPU
    missing, XID errors, NVLink or InfiniBand problems, `UnhealthyNvidiaDevicePlugin`,
    `UnhealthyNvidiaDCGMServices`).

    ## Why is this bad?
    The GPU hardware, driver or device plugin on that node is broken: jobs fail with CUDA
    errors, hang in NCCL, or the GPUs disappear from allocatable.

    ## Example
    `node aks-nd96-1 reports GPU problem UnhealthyNvidiaDevicePlugin (DevicePluginUnhealthy)
    since 2026-11-28T08:00:00Z`

    ## How to fix
    Cordon and drain the node (`kubectl cordon` / `kubectl drain`), then reimage or replace it
    through its node pool.
    """
    captured = ctx.snapshot.captured_at
    for node in ctx.snapshot.nodes:
        name = meta(node).get("name", "")
        for kind, cond in sorted(conditions(node).items()):
            if kind in PRESSURE or kind == "Ready" or not _GPU_PROBLEM.search(kind):
                continue
            if (
                kind.endswith(("Ready", "OK"))
                or kind.startswith("Healthy")
                or cond.get("status") != "True"
            ):
                continue
            detail = _detail(cond)
            yield ctx.finding(
                node,
                message=(
                    f"node {name} reports GPU problem {kind}{f' ({detail})' if detail else ''} "
                    f"since {when(cond.get('lastTransitionTime'), captured).removeprefix('at ')}"
                ),
                evidence={
                    "node": name,
                    "condition": kind,
                    "reason": cond.get("reason"),
                    "message": cond.get("message"),
                },
                remediation=f"`kubectl cordon {name}` and `kubectl drain {name} "
                f"--ignore-daemonsets`, then {_restart_hint(name, node)}",
            )


@rule("AMD604", "node-cordoned", severity="info", needs=("Node",))
def node_cordoned(ctx: Context):
    """
    ## What it does
    Lists nodes marked unschedulable (`kubectl cordon`, or a drain in progress), since when, and
    how many pods still run on them; warns when the node holds GPUs.

    ## Why is this bad?
    A cordoned node takes no new pods. A forgotten cordon on a GPU node silently removes
    capacity, and pending GPU pods report "Insufficient nvidia.com/gpu".

    ## Example
    `node aks-gpu-1 is cordoned (spec.unschedulable) since 2026-11-27T18:00:00Z; 8 nvidia.com/gpu
    withheld, 0 pods still on it`

    ## How to fix
    `kubectl uncordon <node>` when the maintenance is done, or remove the node from the pool.
    """
    captured = ctx.snapshot.captured_at
    for node in ctx.snapshot.nodes:
        if not as_dict(node.get("spec")).get("unschedulable"):
            continue
        name = meta(node).get("name", "")
        taint = next(
            (
                t
                for t in dicts(as_dict(node.get("spec")).get("taints"))
                if isinstance(t, dict) and t.get("key") == "node.kubernetes.io/unschedulable"
            ),
            {},
        )
        since = (
            f" since {when(taint.get('timeAdded'), captured).removeprefix('at ')}"
            if parse_time(taint.get("timeAdded"))
            else ""
        )
        gpus = as_dict(as_dict(node.get("status")).get("allocatable")).get("nvidia.com/gpu")
        gpu_text = f"; {gpus} nvidia.com/gpu withheld" if gpus not in (None, "0", 0) else ""
        pods = ctx.snapshot.pods_on_node(name)
        yield ctx.finding(
            node,
            message=f"node {name} is cordoned (spec.unschedulable){since}{gpu_text}; "
            f"{_pods(len(pods))} still on it",
            evidence={
                "node": name,
                "gpus": gpus,
                "pods": len(pods),
                "since": taint.get("timeAdded"),
            },
            remediation=f"`kubectl uncordon {name}` once maintenance is over (or remove the node "
            "from its pool).",
            severity="warning" if gpu_text else None,
        )


# node-problem-detector conditions (AKS enables them): True means the problem is present.
NPD_PROBLEMS = {
    "KernelDeadlock": "a kernel task is hung (often storage or driver); reboot or reimage the node",
    "ReadonlyFilesystem": "the node's filesystem went read-only; reimage the node",
    "FilesystemCorruptionProblem": "filesystem corruption was detected; reimage the node",
    "KubeletProblem": "the kubelet is unhealthy; check its logs or restart the node",
    "ContainerRuntimeProblem": "containerd is unhealthy; check its logs or restart the node",
    "FrequentKubeletRestart": "the kubelet keeps restarting; check memory on the node and its logs",
    "FrequentContainerdRestart": "containerd keeps restarting; check its logs",
    "FrequentDockerRestart": "the container runtime keeps restarting; check its logs",
    "VMEventScheduled": "Azure scheduled maintenance (reboot, redeploy or preemption) for this VM",
}


@rule("AMD608", "node-problem-condition", severity="warning", needs=("Node",))
def node_problem_condition(ctx: Context):
    """
    ## What it does
    Reports node-problem-detector conditions that are True on a node (AKS sets them): kernel
    deadlock, read-only or corrupted filesystem, unhealthy kubelet or containerd, frequent
    restarts of either, and Azure scheduled VM events.

    ## Why is this bad?
    The node still says Ready, but pods on it fail in odd ways (stuck in ContainerCreating,
    unexplained restarts), and a scheduled VM event will restart or take away the machine
    in the middle of a training run.

    ## Example
    `node aks-gpu-2 has VMEventScheduled (Azure scheduled maintenance ...) since
    2026-11-28T08:40:00Z; 2 pods on it`

    ## How to fix
    Cordon and drain the node, then reimage or replace it; for scheduled events, checkpoint and
    move long training runs before the event.
    """
    for node in ctx.snapshot.nodes:
        name = meta(node).get("name", "")
        for kind, cond in sorted(conditions(node).items()):
            if kind not in NPD_PROBLEMS or cond.get("status") != "True":
                continue
            yield _condition_finding(ctx, node, kind, cond, _npd_fix(kind, name, node))


def _npd_fix(kind: str, name: str, node: dict) -> str:
    drain = f"`kubectl cordon {name}` and `kubectl drain {name} --ignore-daemonsets`"
    if kind == "VMEventScheduled":
        return (
            f"{NPD_PROBLEMS[kind]}: checkpoint long-running training on it, then {drain} before "
            "the event."
        )
    return (
        f"{NPD_PROBLEMS[kind][0].upper()}{NPD_PROBLEMS[kind][1:]}: {drain} first. "
        f"{_restart_hint(name, node)}"
    )
