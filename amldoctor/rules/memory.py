"""AMD2xx: memory and OOM.

There is no Event for a container OOM kill: the only trace is `reason: OOMKilled` in the
container's `state` or `lastState`, and the next termination overwrites it. These rules read that
trace, name the limit that was hit and where it was set, and keep the other causes of a dead
container (eviction under node pressure, a SIGKILL from a probe: `memory_kills.py`) apart from
an OOM.
"""

from __future__ import annotations

from amldoctor.engine.registry import Context, rule
from amldoctor.k8s.containers import (
    as_dict,
    containers,
    dicts,
    is_batch_pod,
    is_terminal,
    iter_terminations,
    pod_label,
)
from amldoctor.k8s.events import event_count, event_reason, involved_object
from amldoctor.k8s.objects import meta
from amldoctor.k8s.quantity import format_bytes
from amldoctor.rules._memfix import bytes_of, limit_source, memory_fix, pod_usage, suggest_limit
from amldoctor.rules._runtime import when

SYSTEM_NAMESPACES = frozenset({"kube-system", "kube-public", "kube-node-lease"})
# Small helper containers (sidecars, AML capability containers) are not what runs out of memory.
MIN_WORKLOAD_LIMIT = 1 << 30


@rule("AMD201", "container-oom-killed", severity="error", needs=("Pod",))
def container_oom_killed(ctx: Context):
    """
    ## What it does
    Finds app and init containers whose current or last termination is `OOMKilled`, and names
    the memory limit they hit, where that limit was set (container spec, LimitRange default or
    AML instance type), the request, the restart count and when it happened. It suggests a new
    limit from metrics.k8s.io usage when the snapshot has PodMetrics, and says so when it does not.

    ## Why is this bad?
    The kernel killed the process because the container's memory cgroup reached its limit. The
    code is usually fine: the limit is too small for the model, the batch size or the data
    loader workers (whose `/dev/shm` also counts). Kubernetes emits no event for this, so it is
    easy to misread as a crash.

    ## Example
    `container trainer in pod aml-compute/train-abc was OOMKilled at its memory limit 2Gi
    (request 1Gi, set by the container spec); 4 restarts, last OOM at 2026-11-28T08:41:07Z`

    ## How to fix
    Raise the limit where it was set (the pod template, the LimitRange, or the AML instance
    type), keep the request equal to it, or lower the memory the job needs (batch size,
    `num_workers`, precision).
    """
    captured = ctx.snapshot.captured_at
    node_kills = _node_oom_kills(ctx)
    for pod in ctx.pods():
        for view in containers(pod):
            oom = [
                (where, t) for where, t in iter_terminations(view) if t.get("reason") == "OOMKilled"
            ]
            if not oom:
                continue
            where, term = oom[0]
            limit = view.resource("limits", "memory")
            source = limit_source(ctx.snapshot, pod, view)
            usage = pod_usage(ctx.snapshot, pod, view.name)
            suggestion = suggest_limit(limit, usage)
            req_text = view.raw_resource("requests", "memory") or "none"
            if limit is not None:
                hit = (
                    f"at its memory limit {view.raw_resource('limits', 'memory')} (request "
                    f"{req_text}, set by {source.text})"
                )
            else:
                hit = (
                    f"with no memory limit (request {req_text}): the node ran out of memory and "
                    "the kernel picked it"
                )
            message = (
                f"{view.kind} {view.name} in pod {pod_label(pod)} was OOMKilled {hit}; "
                f"{view.restart_count} restarts, last OOM {when(term.get('finishedAt'), captured)}"
            )
            evidence = {
                "container": view.name,
                "init_container": view.init,
                "status_field": where,
                "exit_code": term.get("exitCode"),
                "memory_limit": view.raw_resource("limits", "memory"),
                "memory_limit_bytes": limit,
                "memory_request": view.raw_resource("requests", "memory"),
                "limit_source": source.kind,
                "limit_source_name": source.name,
                "restart_count": view.restart_count,
                "finished_at": term.get("finishedAt"),
                "usage_bytes": usage,
                "node_kernel_oom_kills": node_kills.get(
                    as_dict(pod.get("spec")).get("nodeName") or "", 0
                ),
            }
            remediation = (
                "Set a memory limit equal to the request so the scheduler reserves what "
                "the container uses."
            )
            if suggestion is not None:
                evidence["suggested_limit"] = format_bytes(suggestion.limit)
                evidence["suggestion_basis"] = suggestion.basis
                remediation = (
                    f"Suggested limit {format_bytes(suggestion.limit)} ({suggestion.basis}). "
                    + memory_fix(ctx.snapshot, pod, view, source, suggestion.limit)
                )
            yield ctx.finding(pod, message=message, evidence=evidence, remediation=remediation)


def _node_oom_kills(ctx: Context) -> dict[str, int]:
    """Kernel OOM kills node-problem-detector logged, per node (corroboration only)."""
    kills: dict[str, int] = {}
    for ev in ctx.snapshot.of_kind("Event"):
        ref = involved_object(ev)
        if event_reason(ev) == "OOMKilling" and ref.get("kind") == "Node" and ref.get("name"):
            kills[ref["name"]] = kills.get(ref["name"], 0) + event_count(ev)
    return kills


@rule("AMD202", "memory-request-below-limit", severity="warning", needs=("Pod",))
def memory_request_below_limit(ctx: Context):
    """
    ## What it does
    Finds app containers of batch and training pods (Jobs, Volcano and AML training pods) whose
    memory request is lower than their memory limit (limits of 1Gi and more: small sidecars are
    left alone).

    ## Why is this bad?
    The scheduler places pods by their requests. A training pod that really uses its limit lands
    on a node that only reserved the request for it; when neighbours grow, the node runs short
    and the kubelet evicts (or the kernel OOM-kills) Burstable pods first. Hours of training are
    lost. Requests equal to limits give the pod the Guaranteed QoS class.

    ## Example
    `container trainer in pod ml/train-0 requests 4Gi memory but may use up to its limit 16Gi`

    ## How to fix
    Set `resources.requests.memory` equal to `resources.limits.memory` (for AML, in the instance
    type's `requests` and `limits`).
    """
    for pod in ctx.pods():
        if is_terminal(pod) or not is_batch_pod(ctx.snapshot, pod):
            continue
        for view in containers(pod):
            limit, request = view.resource("limits", "memory"), view.resource("requests", "memory")
            if (
                view.init
                or limit is None
                or request is None
                or request >= limit
                or limit < MIN_WORKLOAD_LIMIT
            ):
                continue
            raw_req, raw_lim = (
                view.raw_resource("requests", "memory"),
                view.raw_resource("limits", "memory"),
            )
            yield ctx.finding(
                pod,
                message=(
                    f"{view.kind} {view.name} in batch pod {pod_label(pod)} requests {raw_req} "
                    "memory "
                    f"but may use up to its limit {raw_lim}: the node reserves only {raw_req}"
                ),
                evidence={
                    "container": view.name,
                    "memory_request": raw_req,
                    "memory_limit": raw_lim,
                    "unreserved_bytes": limit - request,
                },
                remediation=(
                    "Make the request equal to the limit:\nresources:\n  requests:\n    memory: "
                    f"{raw_lim}\n  limits:\n    memory: {raw_lim}"
                ),
            )


@rule("AMD203", "memory-limit-missing", severity="warning", needs=("Pod",))
def memory_limit_missing(ctx: Context):
    """
    ## What it does
    Finds containers of running or pending pods that have no memory limit (system namespaces
    `kube-system`, `kube-public` and `kube-node-lease` are skipped).

    ## Why is this bad?
    A container without a limit can take the whole node's memory. When it does, the kernel's
    node-level OOM killer or the kubelet's eviction picks victims that may be other users' jobs,
    and the failure shows up far from its cause.

    ## Example
    `container loader in pod ml/prep-7f9 has no memory limit (request 512Mi)`

    ## How to fix
    Set `resources.limits.memory` (equal to the request for training pods), or add a LimitRange
    with a default limit to the namespace.
    """
    for pod in ctx.pods():
        if is_terminal(pod) or meta(pod).get("namespace") in SYSTEM_NAMESPACES:
            continue
        for view in containers(pod):
            if not view.spec or view.resource("limits", "memory") is not None:
                continue
            request = view.raw_resource("requests", "memory")
            suggested = request or "<peak usage x 1.25>"
            yield ctx.finding(
                pod,
                message=(
                    f"{view.kind} {view.name} in pod {pod_label(pod)} has no memory limit "
                    f"(request {request or 'none'}): it can exhaust the node's memory"
                ),
                evidence={"container": view.name, "memory_request": request, "memory_limit": None},
                remediation=(
                    f"Set a memory limit on container {view.name}:\nresources:\n  requests:\n    "
                    f"memory: {suggested}\n  limits:\n    memory: {suggested}"
                ),
            )


@rule("AMD205", "memory-backed-emptydir", severity="warning", needs=("Pod",))
def memory_backed_emptydir(ctx: Context):
    """
    ## What it does
    Finds `emptyDir` volumes with `medium: Memory` (typically `/dev/shm` for PyTorch DataLoader
    workers) whose size is large relative to the memory limit of the containers that mount them,
    or that have no `sizeLimit` in a container that was OOMKilled.

    ## Why is this bad?
    A memory-backed emptyDir is tmpfs: every byte written to it is charged to the container's
    memory cgroup. An 8Gi `/dev/shm` under a 10Gi limit leaves 2Gi for the process itself, and
    the container is OOMKilled although the Python heap looks small.

    ## Example
    `emptyDir dshm (medium: Memory, sizeLimit 8Gi) in pod ml/train-0 is 80% of container
    trainer's memory limit 10Gi; tmpfs pages count against that limit`

    ## How to fix
    Raise the memory limit by the shared-memory size, or lower `sizeLimit` (and DataLoader
    `num_workers` / prefetch) so both fit.
    """
    for pod in ctx.pods():
        spec = pod.get("spec") or {}
        memory_volumes = {
            v.get("name"): v.get("emptyDir") or {}
            for v in dicts(spec.get("volumes"))
            if isinstance(v, dict) and as_dict(v.get("emptyDir")).get("medium") == "Memory"
        }
        if not memory_volumes:
            continue
        for view in containers(pod):
            limit = view.resource("limits", "memory")
            if limit is None:
                continue
            mounted = [
                m.get("name") for m in dicts(view.spec.get("volumeMounts")) if isinstance(m, dict)
            ]
            oom = any(t.get("reason") == "OOMKilled" for _, t in iter_terminations(view))
            for name in mounted:
                if name not in memory_volumes:
                    continue
                size_raw = memory_volumes[name].get("sizeLimit")
                size = bytes_of(size_raw)
                raw_limit = view.raw_resource("limits", "memory")
                if size is not None and size * 2 >= limit:
                    share = f"is {size * 100 // limit}% of"
                    message = (
                        f"emptyDir {name} (medium: Memory, sizeLimit {size_raw}) in pod "
                        f"{pod_label(pod)} "
                        f"{share} {view.kind} {view.name}'s memory limit {raw_limit}; tmpfs pages "
                        "count against that limit"
                    )
                elif size is None and oom:
                    message = (
                        f"emptyDir {name} (medium: Memory, no sizeLimit) in pod {pod_label(pod)} "
                        "can grow to "
                        f"{view.kind} {view.name}'s whole memory limit {raw_limit}, and the "
                        "container was OOMKilled"
                    )
                else:
                    continue
                if oom and size is not None:
                    message += " (the container was OOMKilled)"
                yield ctx.finding(
                    pod,
                    message=message,
                    evidence={
                        "volume": name,
                        "size_limit": size_raw,
                        "container": view.name,
                        "memory_limit": raw_limit,
                        "oom_killed": oom,
                    },
                    remediation=(
                        "Budget shared memory inside the limit: memory limit >= process peak + "
                        "sizeLimit, e.g.\n"
                        f"volumes:\n- name: {name}\n  emptyDir:\n    medium: Memory\n    "
                        f"sizeLimit: {format_bytes(max(limit // 4, 64 << 20))}\n"
                        f"or raise containers[{view.name}].resources.limits.memory by the shm size."
                    ),
                )
