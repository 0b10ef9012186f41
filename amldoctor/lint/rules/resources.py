"""AMD801–AMD804, AMD810: requests, limits and GPUs in manifests, before they reach the cluster.

These compare the values a manifest writes, with exact quantities: a request the scheduler
reserves against a limit the kernel enforces, GPU counts the API server will refuse, GPU pods
that no tainted GPU pool will take.
"""

from __future__ import annotations

from collections.abc import Iterator

from amldoctor.engine.registry import rule
from amldoctor.engine.report import Finding
from amldoctor.k8s.tolerations import format_taint, toleration_for, untolerated_taints
from amldoctor.lint.engine import LintContext
from amldoctor.lint.fields import amounts, container_name, gpu_count, is_gpu_resource, snippet
from amldoctor.lint.workloads import dotted

_REQUIRED = (("requests", "cpu"), ("requests", "memory"), ("limits", "cpu"), ("limits", "memory"))
_PLACEHOLDER = {"cpu": "<cores the code uses at peak>", "memory": "<measured peak + 20%>"}

# The taints GPU pools usually carry: AKS docs recommend sku=gpu; the NVIDIA GPU Operator and many
# clusters use nvidia.com/gpu. Used when no cluster is given to check against.
USUAL_GPU_TAINTS = (
    {"key": "sku", "value": "gpu", "effect": "NoSchedule"},
    {"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"},
)


@rule("AMD801", "resources-unset", severity="warning", needs=(), scope="lint")
def resources_unset(ctx: LintContext) -> Iterator[Finding]:
    """
    ## What it does
    Reports containers that do not set all four of `requests.cpu`, `requests.memory`,
    `limits.cpu` and `limits.memory`.

    ## Why is this bad?
    Without requests the scheduler places the pod as if it needed nothing, so a training job
    lands on a node that is already full and is OOM-killed or evicted first (BestEffort QoS).
    Without a memory limit one leaking data loader can take the whole node down with it.

    ## Example
    ```yaml
    containers:
    - name: trainer
      image: myacr.azurecr.io/bert:1.4
      resources:
        limits: {memory: 16Gi}
    ```

    ## How to fix
    Set requests and limits for both CPU and memory, memory request equal to its limit:
    ```yaml
    resources:
      requests: {cpu: "4", memory: 16Gi}
      limits: {cpu: "4", memory: 16Gi}
    ```
    """
    for w in ctx.workloads:
        for path, c in w.containers():
            requests, limits = amounts(c, "requests"), amounts(c, "limits")
            # A request left out next to a limit is defaulted to the limit by the API server.
            missing = [
                f"{which}.{res}"
                for which, res in _REQUIRED
                if res not in limits and (which == "limits" or res not in requests)
            ]
            if not missing:
                continue
            name = container_name(c, path)
            fix: dict = {"requests": {}, "limits": {}}
            for res in ("cpu", "memory"):
                known = limits.get(res) or requests.get(res)
                value = known.raw if known else _PLACEHOLDER[res]
                fix["requests"][res] = (
                    requests[res].raw if res in requests and res != "memory" else value
                )
                fix["limits"][res] = value
            yield ctx.finding(
                w,
                (*path, "resources"),
                message=f"container {name} of {w.label} sets no {', '.join(missing)}: "
                + _CONSEQUENCE[missing[0]],
                evidence={"container": name, "missing": missing},
                remediation=f"in {dotted(path)} ({name}), write:\n" + snippet({"resources": fix}),
            )


_CONSEQUENCE = {
    "requests.cpu": "the scheduler reserves no CPU for it, so it lands on busy nodes and gets "
    "only leftover CPU",
    "requests.memory": "the scheduler reserves no memory for it, so it lands on nodes without room "
    "and is evicted first under memory pressure",
    "limits.cpu": "its CPU use is unbounded and throttles its neighbours when it spikes",
    "limits.memory": "nothing stops it from using the node's whole memory and taking neighbours "
    "down",
}


@rule("AMD802", "memory-request-not-limit", severity="warning", needs=(), scope="lint")
def memory_request_not_limit(ctx: LintContext) -> Iterator[Finding]:
    """
    ## What it does
    Reports containers whose memory request is lower than their memory limit.

    ## Why is this bad?
    The scheduler reserves the request; the kernel allows the limit. When several such pods
    share a node and all grow past their requests, the node runs out of memory and the kubelet
    OOM-kills or evicts them, usually hours into a training run. Memory cannot be throttled,
    unlike CPU, so the only safe overcommit is none.

    ## Example
    ```yaml
    resources:
      requests: {memory: 8Gi}
      limits: {memory: 16Gi}
    ```

    ## How to fix
    Request what the container may use: `requests.memory` equal to `limits.memory` (16Gi here),
    or lower the limit to what it really needs.
    """
    for w in ctx.workloads:
        for path, c in w.containers():
            req = amounts(c, "requests").get("memory")
            lim = amounts(c, "limits").get("memory")
            if not req or not lim or req.quantity is None or lim.quantity is None:
                continue
            if req.quantity.nanos >= lim.quantity.nanos:
                continue
            name = container_name(c, path)
            yield ctx.finding(
                w,
                (*path, "resources", "requests", "memory"),
                message=f"container {name} of {w.label} requests memory {req.raw} but limits it to "
                f"{lim.raw}: the scheduler reserves {req.raw}, the pod may use {lim.raw}",
                evidence={"container": name, "request": req.raw, "limit": lim.raw},
                remediation=f"in {dotted(path)} ({name}), request what the limit allows:\n"
                + snippet(
                    {"resources": {"requests": {"memory": lim.raw}, "limits": {"memory": lim.raw}}}
                ),
            )


@rule("AMD803", "gpu-request-not-limit", severity="error", needs=(), scope="lint")
def gpu_request_not_limit(ctx: LintContext) -> Iterator[Finding]:
    """
    ## What it does
    Reports GPU resources (`nvidia.com/gpu`, `amd.com/gpu`, MIG slices) whose request differs
    from the limit, that are requested without a limit, or that are not whole numbers.

    ## Why is this bad?
    GPUs are extended resources and cannot be overcommitted or shared by fractions: the API
    server rejects such a pod (`must be equal to nvidia.com/gpu limit`, `must be an integer`),
    so the Job or Deployment creates no pod at all and only its events say why.

    ## Example
    ```yaml
    resources:
      requests: {nvidia.com/gpu: 1}
      limits: {nvidia.com/gpu: 2}
    ```

    ## How to fix
    Set the GPU count once, as a whole number, in `limits` (the request defaults to it):
    ```yaml
    resources:
      limits: {nvidia.com/gpu: 2}
    ```
    """
    for w in ctx.workloads:
        for path, c in w.containers(init=True):
            requests, limits = amounts(c, "requests"), amounts(c, "limits")
            name = container_name(c, path)
            for res in sorted({r for r in (*requests, *limits) if is_gpu_resource(r)}):
                req, lim = requests.get(res), limits.get(res)
                problem, where = _gpu_problem(res, req, lim)
                if problem is None:
                    continue
                count = lim or req
                whole = count.quantity.value() if count and count.quantity else 1
                yield ctx.finding(
                    w,
                    (*path, "resources", where, res),
                    message=f"container {name} of {w.label} {problem}: the API server rejects the "
                    "pod",
                    evidence={
                        "container": name,
                        "resource": res,
                        "request": req.raw if req else None,
                        "limit": lim.raw if lim else None,
                    },
                    remediation=f"in {dotted(path)} ({name}), one whole number in limits:\n"
                    + snippet({"resources": {"limits": {res: max(whole, 1)}}}),
                )


def _gpu_problem(res: str, req, lim) -> tuple[str | None, str]:
    for which, amount in (("limits", lim), ("requests", req)):
        if amount is not None and not amount.is_whole:
            return f"asks for {amount.raw} {res} in {which}, not a whole number", which
    if req is not None and lim is None:
        return f"requests {req.raw} {res} but sets no limit (GPUs need one)", "requests"
    if req is not None and lim is not None and req.quantity != lim.quantity:
        return (
            f"requests {req.raw} {res} but limits it to {lim.raw} (they must be equal)",
            "requests",
        )
    return None, "limits"


@rule("AMD804", "limit-below-request", severity="error", needs=(), scope="lint")
def limit_below_request(ctx: LintContext) -> Iterator[Finding]:
    """
    ## What it does
    Reports containers whose CPU, memory or ephemeral-storage limit is below the request.

    ## Why is this bad?
    The API server rejects the pod (`must be less than or equal to cpu limit`): the controller
    retries forever and no pod appears. With AML, the deployment fails validation
    (`BadArgument`).

    ## Example
    ```yaml
    resources:
      requests: {cpu: "4"}
      limits: {cpu: 2}
    ```

    ## How to fix
    Raise the limit to at least the request, or lower the request:
    ```yaml
    resources:
      requests: {cpu: "4"}
      limits: {cpu: "4"}
    ```
    """
    for w in ctx.workloads:
        for path, c in w.containers(init=True):
            requests, limits = amounts(c, "requests"), amounts(c, "limits")
            name = container_name(c, path)
            for res in ("cpu", "memory", "ephemeral-storage"):
                req, lim = requests.get(res), limits.get(res)
                if not req or not lim or req.quantity is None or lim.quantity is None:
                    continue
                if lim.quantity.nanos >= req.quantity.nanos:
                    continue
                yield ctx.finding(
                    w,
                    (*path, "resources", "limits", res),
                    message=f"container {name} of {w.label} limits {res} to {lim.raw}, below its "
                    f"request of {req.raw}: the API server rejects the pod",
                    evidence={
                        "container": name,
                        "resource": res,
                        "request": req.raw,
                        "limit": lim.raw,
                    },
                    remediation=f"in {dotted(path)} ({name}), a limit at least the request:\n"
                    + snippet(
                        {"resources": {"requests": {res: req.raw}, "limits": {res: req.raw}}}
                    ),
                )


@rule("AMD810", "gpu-toleration-missing", severity="warning", needs=(), scope="lint")
def gpu_toleration_missing(ctx: LintContext) -> Iterator[Finding]:
    """
    ## What it does
    Reports pod templates that request GPUs but tolerate none of the taints GPU pools carry:
    with a cluster to check against (`--against`), the taints on its GPU nodes; otherwise the
    usual ones, `sku=gpu:NoSchedule` (the AKS docs' recommendation) and
    `nvidia.com/gpu=present:NoSchedule`.

    ## Why is this bad?
    GPU pools are tainted so that ordinary pods stay off expensive nodes. A GPU pod without the
    matching toleration fits nowhere and stays Pending (`node(s) had untolerated taint(s)`).
    Clusters with the ExtendedResourceToleration admission plugin add a toleration for the
    `nvidia.com/gpu` key themselves, but not for `sku=gpu`.

    ## Example
    ```yaml
    spec:
      containers:
      - name: trainer
        resources:
          limits: {nvidia.com/gpu: 1}
      # no tolerations
    ```

    ## How to fix
    Tolerate the taint the GPU pool carries (`kubectl describe node` shows it):
    ```yaml
    tolerations:
    - {key: sku, operator: Equal, value: gpu, effect: NoSchedule}
    ```
    For AML workloads, configure the toleration on the extension (`workLoadToleration`), or
    taint the pool with AML's own `ml.azure.com/amlarc-workload` key.
    """
    cluster_taints = _cluster_gpu_taints(ctx)
    for w in ctx.workloads:
        gpus = max((gpu_count(c) for _, c in w.containers()), default=0)
        if gpus <= 0:
            continue
        declared = w.spec.get("tolerations")
        tolerations = (
            [t for t in declared if isinstance(t, dict)] if isinstance(declared, list) else []
        )
        if cluster_taints is None:
            candidates = [list(USUAL_GPU_TAINTS)]
            if any(not untolerated_taints([t], tolerations) for t in USUAL_GPU_TAINTS):
                continue
            where = "tolerates none of the usual GPU pool taints"
        else:
            if not cluster_taints or any(
                not untolerated_taints(t, tolerations) for t in cluster_taints
            ):
                continue  # some GPU node takes it (or none is tainted)
            candidates = cluster_taints
            where = "every GPU node in the cluster has a taint it does not tolerate"
        untolerated = sorted(
            {
                format_taint(t)
                for taints in candidates
                for t in untolerated_taints(taints, tolerations)
            }
        )
        first = untolerated_taints(candidates[0], tolerations)[0]
        yield ctx.finding(
            w,
            w.spec_path("tolerations") if "tolerations" in w.spec else w.spec_path(),
            message=f"{w.label} requests {gpus} GPU(s) but {where} "
            f"({', '.join(untolerated)}): on a tainted GPU pool it stays Pending",
            evidence={"gpus": gpus, "untolerated_taints": untolerated},
            remediation=f"in {dotted(w.spec_path())}, tolerate the GPU pool's taint:\n"
            + snippet({"tolerations": [toleration_for(first)]}),
        )


def _cluster_gpu_taints(ctx: LintContext) -> list[list[dict]] | None:
    """Filtering taints of each node that has GPUs, or None when no cluster was given."""
    snap = ctx.snapshot
    if snap is None or not snap.collected("Node"):
        return None
    out = []
    for node in snap.nodes:
        alloc = (node.get("status") or {}).get("allocatable") or {}
        if not any(is_gpu_resource(k) and str(v) not in ("0", "") for k, v in alloc.items()):
            continue
        taints = [t for t in (node.get("spec") or {}).get("taints") or [] if isinstance(t, dict)]
        out.append([t for t in taints if t.get("effect") in ("NoSchedule", "NoExecute")])
    return out
