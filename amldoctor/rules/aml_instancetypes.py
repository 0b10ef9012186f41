"""AMD702–AMD707: AML instance types that cannot run where they point.

An instance type is a promise ("pods of this job get these resources on these nodes") that the
cluster may not be able to keep: its selector matches no Ready node, it is bigger than every
node it selects ("code 9"), it asks for GPUs its nodes do not advertise, or its nodes carry a
taint AML pods never tolerate. AML reports these late and vaguely; here they are checked
against the snapshot's nodes, one question per rule.
"""

from __future__ import annotations

from collections.abc import Iterator

from amldoctor.aml.extension import extension_node_selector
from amldoctor.aml.fit import InstanceTypeFit, analyze, gpu_advertisement, label_values
from amldoctor.aml.instancetypes import InstanceType, instance_type_yaml, parse_instance_type
from amldoctor.aml.model import AML_GROUP, api_group, labels_of, name_of
from amldoctor.aml.nodes import GPU, Capacity, is_ready, looks_like_gpu_node
from amldoctor.aml.remedy import (
    az_extension_update,
    az_nodepool_labels,
    az_nodepool_taints,
    workload_toleration_settings,
)
from amldoctor.engine.registry import Context, rule
from amldoctor.engine.report import Finding
from amldoctor.k8s.labels import format_labels
from amldoctor.k8s.nodepools import node_pool
from amldoctor.k8s.tolerations import format_taint
from amldoctor.snapshot import Snapshot

GI = 1 << 30
# Labels AKS sets and reserves: they come from the pool itself and cannot be set with --labels.
RESERVED_PREFIXES = (
    "kubernetes.azure.com/",
    "node.kubernetes.io/",
    "kubernetes.io/",
    "beta.kubernetes.io/",
)
CODE9 = (
    'AML rejects its jobs with code 9 ("Invalid instance type. The instance type defined resource '
    'requirement has exceeded the node size")'
)
DEPRECATED_LABELS = {
    "agentpool": "kubernetes.azure.com/agentpool",
    "accelerator": "kubernetes.azure.com/accelerator",
    "storageprofile": "kubernetes.azure.com/storageprofile",
    "storagetier": "kubernetes.azure.com/storagetier",
    "beta.kubernetes.io/instance-type": "node.kubernetes.io/instance-type",
    "kubernetes.io/role": "kubernetes.azure.com/mode",
}


def _checked(ctx: Context) -> Iterator[tuple[dict, InstanceType]]:
    """Instance type CRs with a usable spec, paired with their raw object."""
    for obj, it in _parsed(ctx):
        if not any("not a map" in p or "is missing" in p for p in it.problems):
            yield obj, it


def _fits(ctx: Context) -> Iterator[tuple[dict, InstanceType, InstanceTypeFit]]:
    """Each usable instance type with its fit against the nodes (extension selector included).

    Nothing when nodes are not in the snapshot: the report already says they could not be read.
    """
    snap = ctx.snapshot
    if not snap.nodes:
        return
    capacity = Capacity(snap)
    ext_selector, _ = extension_node_selector(snap)
    for obj, it in _checked(ctx):
        yield obj, it, analyze(snap, it, capacity, ext_selector)


def _parsed(ctx: Context) -> Iterator[tuple[dict, InstanceType]]:
    for obj in ctx.objects("InstanceType"):
        if api_group(obj) in ("", AML_GROUP):
            yield obj, parse_instance_type(obj)


def _it_yaml(it: InstanceType, selector: dict[str, str]) -> str:
    return instance_type_yaml(
        it.name, selector, it.raw.get("requests", {}), it.raw.get("limits", {})
    )


@rule("AMD702", "instance-type-selects-no-node", severity="error", needs=())
def instance_type_selects_no_node(ctx: Context) -> Iterator[Finding]:
    """
    ## What it does
    Checks every AML instance type's `nodeSelector`, combined with the extension-level
    `nodeSelector`, against the nodes: it reports instance types that select no Ready,
    schedulable node, with the label values the nodes really carry.

    ## Why is this bad?
    Jobs and deployments that use the instance type never start: training fails with code 9 or
    stays Pending, online deployments fail with PodUnschedulable. aml-operator validates against
    Ready nodes, so a node pool autoscaled to zero also counts as "no node".

    ## Example
    ```yaml
    kind: InstanceType
    metadata: {name: gpu-a100}
    spec:
      nodeSelector: {kubernetes.azure.com/agentpool: gpua100}   # the pool is called a100pool
    ```

    ## How to fix
    Point the selector at labels the nodes carry (the finding lists them), or give the pool the
    label with `az aks nodepool update --labels` (not `kubectl label node`, which AKS undoes).
    For a pool that scales from zero, keep `--min-count 1` or set the extension's
    `amloperator.skipResourceValidation=true`.
    """
    snap = ctx.snapshot
    if not snap.nodes:
        return  # nothing to compare with; the report already says Nodes could not be read
    capacity = Capacity(snap)
    ext_selector, ext_basis = extension_node_selector(snap)
    for obj, it in _checked(ctx):
        fit = analyze(snap, it, capacity, ext_selector)
        if fit.ready and not fit.conflicts:
            continue
        evidence: dict = {
            "node_selector": format_labels(fit.selector) or "(none)",
            "nodes_total": len(snap.nodes),
            "nodes_matching": [name_of(n) for n in fit.matching],
        }
        if ext_selector:
            evidence["extension_node_selector"] = format_labels(ext_selector)
            evidence["extension_node_selector_basis"] = ext_basis
        if fit.conflicts:
            message = (
                f"instance type {it.name} can never be placed: its nodeSelector contradicts the "
                f"extension nodeSelector ({'; '.join(fit.conflicts)})"
            )
            fix = (
                "Make the instance type's selector a subset of the extension's nodeSelector "
                f"({format_labels(ext_selector)}):\n"
                + _it_yaml(it, {**it.node_selector, **ext_selector})
            )
            yield ctx.finding(obj, message=message, evidence=evidence, remediation=fix)
            continue
        if fit.matching:
            states = {name_of(n): _node_state(n) for n in fit.matching}
            evidence["matching_node_states"] = states
            message = (
                f"instance type {it.name} selects {len(fit.matching)} node(s) but none is Ready "
                f"and schedulable ({', '.join(f'{k}: {v}' for k, v in sorted(states.items()))}): "
                "aml-operator validates against Ready nodes, so its jobs fail with code 9"
            )
            pool = node_pool(fit.matching[0])
            fix = (
                f"Bring a node of pool {pool or '<pool>'} back (uncordon, or fix the NotReady "
                "node). If the pool "
                "autoscales from zero, keep one node: az aks nodepool update --resource-group "
                "<resource-group> "
                f"--cluster-name <cluster> --name {pool or '<pool>'} --update-cluster-autoscaler "
                "--min-count 1 "
                "--max-count <max>\nor let jobs wait for scale-up instead of failing: "
                + az_extension_update(snap, {"amloperator.skipResourceValidation": "true"})
            )
            yield ctx.finding(obj, message=message, evidence=evidence, remediation=fix)
            continue
        values = label_values(snap, sorted(fit.selector))
        evidence["label_values_on_ready_nodes"] = values
        shown = "; ".join(
            f"{k}: {', '.join(v) or 'no Ready node has this label'}" for k, v in values.items()
        )
        message = (
            f"instance type {it.name} selects no node: nodeSelector {format_labels(fit.selector)} "
            f"matches 0 of {len(snap.nodes)} nodes (values on Ready nodes: {shown})"
        )
        suggested = _suggest_selector(snap, it, fit.selector, values)
        fix = (
            "Point the instance type at labels the nodes carry, then kubectl apply -f:\n"
            + _it_yaml(it, suggested)
        )
        fix += "\n" + _pool_fix(it.node_selector)
        yield ctx.finding(obj, message=message, evidence=evidence, remediation=fix)


def _pool_fix(selector: dict[str, str]) -> str:
    """Make nodes carry the selector: a pool label when users may set it, else a new pool."""
    pool = selector.get("kubernetes.azure.com/agentpool") or selector.get("agentpool")
    custom = {
        k: v
        for k, v in selector.items()
        if not k.startswith(RESERVED_PREFIXES) and k not in DEPRECATED_LABELS
    }
    if pool:
        return (
            f"or create the pool it names: az aks nodepool add --resource-group <resource-group> "
            f"--cluster-name <cluster> --name {pool} --node-vm-size <vm-size> --node-count 1"
        )
    if custom:
        return "or label a node pool (AKS keeps pool labels; `kubectl label node` is undone): " + (
            az_nodepool_labels(None, custom)
        )
    return (
        "the selected labels are set by AKS from the VM size and pool: choose a pool that has them"
    )


def _node_state(node: dict) -> str:
    return "cordoned" if is_ready(node) else "NotReady"


def _suggest_selector(
    snap: Snapshot, it: InstanceType, selector: dict[str, str], values: dict[str, list[str]]
) -> dict[str, str]:
    """Replace each unmatched value with one the nodes carry, preferring GPU nodes for GPU types."""
    suggested = dict(it.node_selector)
    for key, value in it.node_selector.items():
        options = values.get(key) or []
        if value in options or not options:
            continue
        if it.gpus:
            gpu_values = sorted(
                {
                    str(labels_of(n)[key])
                    for n in snap.nodes
                    if looks_like_gpu_node(n) and labels_of(n).get(key)
                }
            )
            options = gpu_values or options
        suggested[key] = options[0]
    return suggested


@rule("AMD703", "instance-type-exceeds-node", severity="error", needs=())
def instance_type_exceeds_node(ctx: Context) -> Iterator[Finding]:
    """
    ## What it does
    Compares each instance type's requests (and limits) with the allocatable resources of the
    Ready nodes it selects, and reports instance types that no single node can hold, naming the
    closest node and what it has.

    ## Why is this bad?
    AML fails the job with code 9 ("Invalid instance type. The instance type defined resource
    requirement has exceeded the node size"), or its pods stay Pending forever. Allocatable is
    smaller than the VM size: AKS reserves memory and CPU for the kubelet and system daemons,
    so a Standard_NC24ads_A100_v4 (220 GiB) does not hold a 220Gi request.

    ## Example
    ```yaml
    kind: InstanceType
    metadata: {name: a100-big}
    spec:
      resources:
        requests: {cpu: "24", memory: 220Gi}
        limits: {cpu: "24", memory: 220Gi, nvidia.com/gpu: 1}
    ```

    ## How to fix
    Lower the requests and limits to what the node's allocatable holds (the finding quotes it),
    or select a bigger VM size for the pool.
    """
    for obj, it, fit in _fits(ctx):
        if not fit.candidates or fit.largest is None:
            continue
        candidate_names = {name_of(n) for n in fit.candidates}
        largest = fit.largest
        where = f"{largest['name']}" + (
            f" ({largest['vm_size']})" if largest.get("vm_size") else ""
        )
        evidence = {
            "instance_type_resources": it.describe_resources(),
            "closest_node": largest["name"],
            "closest_node_allocatable": largest["allocatable"],
            "nodes_checked": sorted(candidate_names),
        }
        if not candidate_names & set(fit.fitting):
            evidence["exceeded"] = fit.exceeded
            over = ", ".join(
                f"{e['resource']} {e['asked']} > {e['allocatable']}" for e in fit.exceeded
            )
            message = (
                f"instance type {it.name} is bigger than every node it selects: on the closest "
                f"node {where} {over} allocatable; {CODE9}"
            )
            yield ctx.finding(
                obj,
                message=message,
                evidence=evidence,
                remediation=_shrink_fix(it, fit, fit.exceeded),
            )
        elif fit.limit_exceeded:
            evidence["limits_exceeded"] = fit.limit_exceeded
            over = ", ".join(
                f"limit {e['resource']} {e['limit']} > {e['allocatable']}"
                for e in fit.limit_exceeded
            )
            message = (
                f"instance type {it.name}'s limits exceed the largest node it selects ({where}: "
                f"{over} "
                "allocatable): its pods can be OOM-killed or evicted below their limit, and AML "
                "may reject it with code 9 (inferred: which values AML validates is not documented)"
            )
            yield ctx.finding(
                obj,
                message=message,
                evidence=evidence,
                severity="warning",
                remediation=_shrink_fix(it, fit, fit.limit_exceeded),
            )


def _shrink_fix(it: InstanceType, fit: InstanceTypeFit, exceeded: list[dict]) -> str:
    """The instance type cut down to 90% of the closest node's allocatable (room for DaemonSets)."""
    alloc = fit.largest_allocatable
    requests = dict(it.raw.get("requests", {}))
    limits = dict(it.raw.get("limits", {}))
    for e in exceeded:
        resource = e["resource"]
        have = alloc.get(resource, 0)
        if resource == "memory":
            value = f"{max(1, have * 9 // 10 // GI)}Gi"
        elif resource == "cpu":
            value = f"{max(100, have * 9 // 10 // 100 * 100)}m"
        else:
            value = str(have)
        if resource in requests and not resource.startswith("nvidia.com/"):
            requests[resource] = value
        if resource in limits:
            limits[resource] = value
    node = (fit.largest or {}).get("name", "?")
    return (
        f"Shrink the instance type to 90% of node {node}'s allocatable (the rest is left for "
        "DaemonSets), or select a pool with a bigger VM size, then kubectl apply -f:\n"
        + instance_type_yaml(it.name, it.node_selector, requests, limits)
    )


@rule("AMD704", "instance-type-gpu-unavailable", severity="error", needs=())
def instance_type_gpu_unavailable(ctx: Context) -> Iterator[Finding]:
    """
    ## What it does
    Reports GPU instance types (a `nvidia.com/*` limit) whose selected Ready nodes advertise no
    such resource, and says why: the NVIDIA device plugin is missing on GPU VMs, the nodes expose
    MIG slices under another name (MIG "mixed" strategy), or the selector points at CPU nodes.

    ## Why is this bad?
    Pods asking for `nvidia.com/gpu` only fit nodes whose allocatable lists it. AKS installs the
    GPU driver but not the device plugin, and AML's `installNvidiaDevicePlugin` defaults to
    False, so a fresh GPU pool advertises no GPUs at all. AML instance types can only request
    `nvidia.com/gpu`, so MIG "mixed" names (`nvidia.com/mig-1g.10gb`) are never requested.

    ## Example
    ```yaml
    kind: InstanceType
    metadata: {name: gpu-1}
    spec:
      nodeSelector: {kubernetes.azure.com/agentpool: gpupool}
      resources:
        limits: {cpu: "4", memory: 16Gi, nvidia.com/gpu: 1}
        requests: {cpu: "4", memory: 16Gi}
    ```

    ## How to fix
    Install the device plugin
    (`az k8s-extension update ... --config installNvidiaDevicePlugin=True`, the GPU Operator, or
    an AKS managed GPU pool); for MIG use the `single` strategy; or point the instance type at
    the GPU pool.
    """
    snap = ctx.snapshot
    if not snap.nodes:
        return  # nothing to compare with; the report already says Nodes could not be read
    capacity = Capacity(snap)
    ext_selector, _ = extension_node_selector(snap)
    for obj, it in _checked(ctx):
        wanted = it.gpu_resources()
        if not wanted:
            continue
        fit = analyze(snap, it, capacity, ext_selector)
        if not fit.ready or fit.gpu_ready:
            continue
        adverts = gpu_advertisement(fit.ready, capacity)
        asked = ", ".join(f"{k}: {v}" for k, v in sorted(wanted.items()))
        evidence = {"gpu_limits": asked, "selected_ready_nodes": adverts}
        mig = {n: a["mig"] for n, a in adverts.items() if a["mig"]}
        gpu_vms = [n for n, a in adverts.items() if a["gpu_labels"]]
        with_gpu = [n for n, a in adverts.items() if a[GPU] > 0]
        if mig and GPU in wanted:
            first = next(iter(mig.items()))
            message = (
                f"instance type {it.name} asks for {asked} but its {len(fit.ready)} node(s) "
                "advertise only "
                f"MIG slices ({first[0]}: {', '.join(f'{k}={v}' for k, v in first[1].items())}): "
                "the device "
                "plugin uses the MIG mixed strategy, which AML instance types cannot request"
            )
            fix = (
                "Run the NVIDIA device plugin with migStrategy=single so each MIG slice is "
                "advertised as "
                "nvidia.com/gpu (GPU Operator: `mig.strategy=single`; AKS: create the pool with "
                "`az aks nodepool add ... --gpu-instance-profile MIG1g` and the single strategy). "
                "Inferred from AKS MIG docs: verify on one node."
            )
        elif with_gpu:
            message = (
                f"instance type {it.name} asks for {asked} but its nodes advertise nvidia.com/gpu "
                "instead; AML instance types should request nvidia.com/gpu"
            )
            fix = "Request the resource the nodes advertise:\n" + instance_type_yaml(
                it.name,
                it.node_selector,
                it.raw.get("requests", {}),
                {
                    **{k: v for k, v in it.raw.get("limits", {}).items() if k not in wanted},
                    GPU: "1",
                },
            )
        elif gpu_vms:
            message = (
                f"instance type {it.name} asks for {asked} but its GPU nodes "
                f"({', '.join(gpu_vms[:3])}) "
                "advertise no nvidia.com/gpu: the NVIDIA device plugin is not running there"
            )
            fix = (
                "Install one device plugin: "
                + az_extension_update(snap, {"installNvidiaDevicePlugin": "True"})
                + "\nor the NVIDIA GPU Operator, or an AKS managed GPU pool; if a plugin DaemonSet "
                "exists, "
                "check that it tolerates the pool's taints (kubectl get ds -A | grep nvidia)"
            )
        else:
            values = label_values(snap, ["kubernetes.azure.com/agentpool"])
            gpu_pools = sorted(
                {
                    p
                    for n in snap.nodes
                    if capacity.allocatable(n).get(GPU, 0) > 0 and (p := node_pool(n))
                }
            )
            evidence["gpu_pools"] = gpu_pools
            message = (
                f"instance type {it.name} asks for {asked} but selects only CPU nodes "
                f"({', '.join(sorted(adverts)[:3])}); GPU pools: {', '.join(gpu_pools) or 'none'}"
            )
            selector = dict(it.node_selector)
            if gpu_pools:
                selector = {"kubernetes.azure.com/agentpool": gpu_pools[0]}
            fix = "Select the GPU pool:\n" + _it_yaml(it, selector)
            if not gpu_pools:
                fix = (
                    "No node advertises GPUs: add a GPU pool (az aks nodepool add --node-vm-size "
                    "Standard_NC...)"
                )
            evidence["agentpool_values"] = values.get("kubernetes.azure.com/agentpool", [])
        yield ctx.finding(obj, message=message, evidence=evidence, remediation=fix)


@rule("AMD705", "instance-type-invalid", severity="error", needs=())
def instance_type_invalid(ctx: Context) -> Iterator[Finding]:
    """
    ## What it does
    Validates each InstanceType as AML documents it: cpu and memory requests and limits are
    required and non-zero, GPUs are whole numbers and go only in `limits`, requests do not exceed
    limits, and every value is a valid Kubernetes quantity.

    ## Why is this bad?
    AML refuses jobs and deployments that use an invalid instance type, or creates pods the API
    server rejects; the error surfaces in AML studio long after the instance type was applied.

    ## Example
    ```yaml
    spec:
      resources:
        requests: {cpu: "1", memory: 4Gi, nvidia.com/gpu: 1}   # GPU belongs in limits
        limits: {cpu: "1"}                                      # memory limit missing
    ```

    ## How to fix
    Give cpu and memory in both `requests` and `limits`, move GPUs to `limits` as an integer, and
    keep each request at or below its limit.
    """
    for obj, it in _parsed(ctx):
        if not it.problems:
            continue
        yield ctx.finding(
            obj,
            message=f"instance type {it.name} is invalid: {'; '.join(it.problems)}",
            evidence={"problems": it.problems, "resources": it.raw},
            remediation="A valid instance type (adjust the values):\n"
            + instance_type_yaml(
                it.name,
                it.node_selector,
                {"cpu": "1", "memory": "4Gi"},
                {"cpu": "1", "memory": "4Gi", **({GPU: str(it.gpus)} if it.gpus else {})},
            ),
        )


@rule("AMD706", "instance-type-deprecated-node-label", severity="warning", needs=())
def instance_type_deprecated_label(ctx: Context) -> Iterator[Finding]:
    """
    ## What it does
    Reports instance types whose `nodeSelector` uses node labels AKS lists as deprecated
    (`agentpool`, `accelerator`, `beta.kubernetes.io/instance-type`, ...).

    ## Why is this bad?
    New AKS node images may stop setting these labels; the instance type then selects no node
    and every job using it fails with code 9 after a routine node-image upgrade.

    ## Example
    ```yaml
    spec:
      nodeSelector: {agentpool: gpupool}
    ```

    ## How to fix
    Use the `kubernetes.azure.com/` label with the same value, e.g.
    `kubernetes.azure.com/agentpool: gpupool`.
    """
    for obj, it in _checked(ctx):
        old = sorted(k for k in it.node_selector if k in DEPRECATED_LABELS)
        if not old:
            continue
        new_selector = {DEPRECATED_LABELS.get(k, k): v for k, v in it.node_selector.items()}
        yield ctx.finding(
            obj,
            message=(
                f"instance type {it.name} selects nodes by deprecated AKS label(s) "
                f"{', '.join(f'{k}={it.node_selector[k]}' for k in old)}; use "
                f"{', '.join(DEPRECATED_LABELS[k] for k in old)}"
            ),
            evidence={
                "deprecated_keys": old,
                "replacements": {k: DEPRECATED_LABELS[k] for k in old},
            },
            remediation=_it_yaml(it, new_selector),
        )


@rule("AMD707", "aml-untolerated-taint", severity="error", needs=())
def aml_untolerated_taint(ctx: Context) -> Iterator[Finding]:
    """
    ## What it does
    Reports instance types whose every usable node (Ready, selected, with the GPUs asked for)
    carries a NoSchedule or NoExecute taint that AML workload pods do not tolerate: anything
    other than AML's own `ml.azure.com/*` keys, such as `sku=gpu`,
    `kubernetes.azure.com/scalesetpriority=spot` or `CriticalAddonsOnly`.

    ## Why is this bad?
    AML adds only its own tolerations to workload pods and has no per-instance-type toleration
    field, so a GPU pool tainted the way the AKS GPU guide suggests (`sku=gpu:NoSchedule`), or
    any spot pool, rejects every AML job: the pods stay Pending with "untolerated taint".

    ## Example
    `az aks nodepool add --name gpupool --node-taints sku=gpu:NoSchedule ...` with an instance
    type selecting `kubernetes.azure.com/agentpool: gpupool`.

    ## How to fix
    Taint the pool with AML's key instead (`ml.azure.com/amlarc-workload=true:NoSchedule`
    keeps other pods off and lets AML workloads in), or add extension-level workload
    tolerations (`workLoadToleration[i].*`; used by public deployments but not in AML's docs).
    """
    snap = ctx.snapshot
    for obj, it, fit in _fits(ctx):
        usable = fit.candidates
        if not usable or len(fit.tainted) < len(usable):
            continue
        taints = sorted({t for ts in fit.tainted.values() for t in ts})
        pools = sorted({p for n in usable if (p := node_pool(n))})
        gpu_only = all(t.startswith("nvidia.com/gpu") for t in taints) and it.gpus > 0
        raw = _raw_taints(usable, taints)
        message = (
            f"instance type {it.name}: all {len(usable)} usable node(s) (pool "
            f"{', '.join(pools) or '?'}) carry "
            f"taint {', '.join(taints)}, which AML workload pods do not tolerate (they tolerate "
            "only ml.azure.com/*)"
        )
        severity = None
        if gpu_only:
            message += (
                "; the ExtendedResourceToleration admission plugin may add it for GPU pods "
                "(unverified on AKS)"
            )
            severity = "warning"
        new_taint = "ml.azure.com/amlarc-workload=true:NoSchedule"
        fix = (
            f"Option 1 (documented): taint the pool with AML's own key instead of {taints[0]}:\n"
            + _nodepool_retaint(pools, new_taint)
            + "\nOption 2 (extension setting seen in public deployments, not in AML's docs; verify "
            "with az k8s-extension show after applying): "
            + az_extension_update(snap, workload_toleration_settings(raw))
        )
        yield ctx.finding(
            obj,
            message=message,
            evidence={
                "untolerated_taints": fit.tainted,
                "pools": pools,
                "aml_tolerated_prefix": "ml.azure.com/",
                "confidence": "inferred",
            },
            remediation=fix,
            severity=severity,
        )


def _raw_taints(nodes: list[dict], texts: list[str]) -> list[dict]:
    out: dict[str, dict] = {}
    for node in nodes:
        for taint in (node.get("spec") or {}).get("taints") or ():
            if isinstance(taint, dict) and format_taint(taint) in texts:
                out.setdefault(format_taint(taint), taint)
    return [out[k] for k in sorted(out)]


def _nodepool_retaint(pools: list[str], taint: str) -> str:
    names: list[str | None] = list(pools) or [None]
    return "\n".join(az_nodepool_taints(p, [taint]) for p in names)
