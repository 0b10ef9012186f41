"""AMD6xx, continued: GPU inventory per node and GPU resource mismatches.

`nvidia.com/gpu` exists on a node only when a device plugin advertises it: AKS installs the
driver on GPU SKUs but not the plugin. Capacity above allocatable means the plugin withdrew
unhealthy GPUs. With MIG in the "mixed" strategy the node advertises `nvidia.com/mig-*`
resources instead, which a pod asking for `nvidia.com/gpu` can never use.
"""

from __future__ import annotations

import re

from amldoctor.engine.registry import Context, rule
from amldoctor.k8s.containers import as_dict, is_terminal, pod_label
from amldoctor.k8s.nodepools import node_pool
from amldoctor.k8s.objects import meta
from amldoctor.k8s.quantity import QuantityError, parse_quantity
from amldoctor.k8s.resources import pod_requests

GPU = "nvidia.com/gpu"
_GPU_LABELS = (
    ("kubernetes.azure.com/accelerator", "nvidia"),
    ("accelerator", "nvidia"),
    ("nvidia.com/gpu.present", "true"),
)
# Azure N-series VM sizes carry GPUs, except NP (FPGA).
_GPU_SKU = re.compile(r"^Standard_N(C|D|G|V)", re.I)


def _count(resources: dict, name: str) -> int | None:
    raw = (resources or {}).get(name)
    if raw is None:
        return None
    try:
        return parse_quantity(raw).value()
    except QuantityError:
        return None


def gpu_resources(node: dict, field: str = "allocatable") -> dict[str, int]:
    """nvidia.com/gpu and nvidia.com/mig-* amounts of a node's capacity or allocatable."""
    values = as_dict(as_dict(node.get("status")).get(field))
    out = {}
    for name in values:
        if name == GPU or str(name).startswith("nvidia.com/mig-"):
            n = _count(values, name)
            if n is not None:
                out[str(name)] = n
    return out


def looks_like_gpu_node(node: dict) -> str | None:
    """Why the node should have GPUs (a label or its VM size), or None."""
    labels = meta(node).get("labels") or {}
    for key, value in _GPU_LABELS:
        if str(labels.get(key, "")).lower() == value:
            return f"label {key}={labels[key]}"
    sku = (
        labels.get("node.kubernetes.io/instance-type")
        or labels.get("beta.kubernetes.io/instance-type")
        or ""
    )
    if _GPU_SKU.match(str(sku)):
        return f"VM size {sku}"
    return None


def _pod_gpu_requests(pod: dict) -> dict[str, int]:
    try:
        requests = pod_requests(pod)
    except (QuantityError, ValueError, TypeError, AttributeError):
        return {}  # malformed resources: `pod_requests` expects API-shaped objects
    return {
        k: v for k, v in requests.items() if (k == GPU or k.startswith("nvidia.com/mig-")) and v > 0
    }


@rule("AMD605", "gpu-inventory", severity="info", needs=("Node",))
def gpu_inventory(ctx: Context):
    """
    ## What it does
    For every node with GPUs: capacity and allocatable `nvidia.com/gpu` (and MIG resources),
    the GPUs requested by each pod bound there, and the GPUs left free. Capacity above
    allocatable (GPUs the device plugin withdrew as unhealthy) raises it to a warning.

    ## Why is this bad?
    "Insufficient nvidia.com/gpu" does not say who holds the GPUs. This inventory does: a
    finished-but-kept pod, an idle notebook, or GPUs lost to hardware faults.

    ## Example
    `node gpu-1 (pool gpu, Standard_NC24ads_A100_v4): nvidia.com/gpu capacity 4, allocatable 3
    (1 withdrawn as unhealthy), requested 3 by ml/train-0 (2), ml/nb-1 (1), free 0`

    ## How to fix
    Delete pods that hold GPUs without using them; for withdrawn GPUs, drain and reimage the
    node (the device plugin marks them unhealthy after XID errors).
    """
    for node in ctx.snapshot.nodes:
        capacity, allocatable = gpu_resources(node, "capacity"), gpu_resources(node, "allocatable")
        if not capacity and not allocatable:
            continue
        name = meta(node).get("name", "")
        labels = meta(node).get("labels") or {}
        sku = labels.get("node.kubernetes.io/instance-type")
        holders: dict[str, dict[str, int]] = {}
        for pod in ctx.snapshot.pods_on_node(name):
            requested = _pod_gpu_requests(pod)
            if requested:
                holders[pod_label(pod)] = requested
        parts = []
        withdrawn_total = 0
        # A namespace's live scan may not have read the other namespaces' pods on the node.
        complete = ctx.snapshot.all_pods_on_nodes_read()
        for resource in sorted(set(capacity) | set(allocatable)):
            cap, alloc = capacity.get(resource, 0), allocatable.get(resource, 0)
            used = sum(r.get(resource, 0) for r in holders.values())
            withdrawn = max(0, cap - alloc)
            withdrawn_total += withdrawn
            by = ", ".join(
                f"{p} ({r[resource]})" for p, r in sorted(holders.items()) if resource in r
            )
            parts.append(
                f"{resource} capacity {cap}, allocatable {alloc}"
                + (f" ({withdrawn} withdrawn as unhealthy)" if withdrawn else "")
                + f", requested {used}{f' by {by}' if by else ''}"
                + (
                    f", free {max(0, alloc - used)}"
                    if complete
                    else " in the namespaces read (other namespaces' pods not read: free unknown)"
                )
            )
        where = ", ".join(
            x for x in (f"pool {node_pool(node)}" if node_pool(node) else "", sku or "") if x
        )
        yield ctx.finding(
            node,
            message=f"node {name}{f' ({where})' if where else ''}: " + "; ".join(parts),
            evidence={
                "node": name,
                "capacity": capacity,
                "allocatable": allocatable,
                "requested_by": holders,
                "withdrawn": withdrawn_total,
                "unschedulable": bool(as_dict(node.get("spec")).get("unschedulable")),
            },
            remediation=(
                f"{withdrawn_total} GPU(s) were withdrawn by the device plugin: `kubectl cordon "
                f"{name}`, drain it and reimage or replace the node."
                if withdrawn_total
                else "No action needed unless GPU pods wait: then scale down idle GPU workloads "
                "(finished notebooks, idle endpoints) or add nodes to the pool."
            ),
            severity="warning" if withdrawn_total else None,
        )


@rule("AMD606", "gpu-device-plugin-missing", severity="error", needs=("Node",))
def gpu_device_plugin_missing(ctx: Context):
    """
    ## What it does
    Finds nodes that look like GPU nodes (`kubernetes.azure.com/accelerator=nvidia`,
    `nvidia.com/gpu.present=true`, or an N-series VM size) but advertise no `nvidia.com/gpu` and
    no MIG resource: the NVIDIA device plugin is missing or not running there.

    ## Why is this bad?
    Without the device plugin the scheduler sees zero GPUs on the node; GPU pods stay Pending
    with "Insufficient nvidia.com/gpu" although the hardware is there. This is easy to misread
    as a GPU shortage.

    ## Example
    `node aks-gpu-1 is a GPU node (label kubernetes.azure.com/accelerator=nvidia) but advertises
    no nvidia.com/gpu: the NVIDIA device plugin is not running there`

    ## How to fix
    Install the device plugin: AKS managed GPU pools, the NVIDIA GPU Operator, the
    `nvidia-device-plugin` DaemonSet (tolerating the pool's taints), or the AzureML extension
    with `installNvidiaDevicePlugin=True`. Check its pod on the node.
    """
    for node in ctx.snapshot.nodes:
        why = looks_like_gpu_node(node)
        if why is None:
            continue
        if gpu_resources(node, "capacity") or gpu_resources(node, "allocatable"):
            continue
        name = meta(node).get("name", "")
        plugin = next(
            (
                p
                for p in ctx.snapshot.pods_on_node(name)
                if "nvidia-device-plugin" in meta(p).get("name", "")
            ),
            None,
        )
        if plugin is not None:
            plugin_name = f"{meta(plugin).get('namespace')}/{meta(plugin).get('name')}"
            state = (
                f"its device-plugin pod {plugin_name} is "
                f"{(plugin.get('status') or {}).get('phase') or 'present'} but registered no GPU"
            )
            fix = (
                f"Read the plugin's log (`kubectl logs -n {meta(plugin).get('namespace')} "
                f"{meta(plugin).get('name')}`) "
                "for `failed to initialize NVML` (driver missing or broken on this node; the "
                "plugin hides it when "
                "FAIL_ON_INIT_ERROR=false); reimage the node or fix the driver, then delete the "
                "plugin pod to re-register."
            )
        else:
            plugin_name = None
            state = (
                "no NVIDIA device-plugin pod runs there"
                if ctx.snapshot.all_pods_on_nodes_read()
                else "no NVIDIA device-plugin pod was seen there "
                "(the pods of other namespaces were not read)"
            )
            fix = (
                "Install the NVIDIA device plugin for this pool: for AzureML `az k8s-extension "
                "update --name <ext> "
                "--cluster-type managedClusters --cluster-name <cluster> -g <rg> --config "
                "installNvidiaDevicePlugin=True`, "
                "or the NVIDIA GPU Operator, or the nvidia-device-plugin DaemonSet; it must "
                "tolerate the pool's taints (e.g. sku=gpu)."
            )
        yield ctx.finding(
            node,
            message=f"node {name} is a GPU node ({why}) but advertises no {GPU}: {state}",
            evidence={
                "node": name,
                "evidence": why,
                "pool": node_pool(node),
                "device_plugin_pod": plugin_name,
            },
            remediation=fix,
        )


@rule(
    "AMD607",
    "gpu-resource-unavailable",
    severity="error",
    needs=("Pod", "Node"),
    explains=("AMD101",),
)
def gpu_resource_unavailable(ctx: Context):
    """
    ## What it does
    Finds Pending pods that request a GPU resource no node advertises at all: `nvidia.com/gpu`
    when nodes offer only MIG slices (`nvidia.com/mig-1g.10gb`, mixed strategy) or the
    reverse, or any GPU when no node has GPUs and none is labelled as a GPU node (a GPU pool
    scaled to zero or not created).

    ## Why is this bad?
    The pod can never be scheduled on the current nodes; only the resource name or the node
    pool is wrong, not the amount.

    ## Example
    `pod ml/train-0 requests nvidia.com/gpu: 1, but nodes advertise only nvidia.com/mig-1g.10gb
    (MIG mixed strategy)`

    ## How to fix
    Request the resource the nodes advertise, or switch the device plugin's MIG strategy
    (`single` advertises slices as `nvidia.com/gpu`, which AML instance types need); for an empty
    pool, scale it up (`az aks nodepool scale`) or enable its autoscaler with a minimum above 0.
    """
    advertised: set[str] = set()
    for node in ctx.snapshot.nodes:
        advertised |= {k for k, v in gpu_resources(node).items() if v > 0}
    gpu_nodes = [meta(n).get("name") for n in ctx.snapshot.nodes if looks_like_gpu_node(n)]
    for pod in ctx.pods():
        if is_terminal(pod) or as_dict(pod.get("spec")).get("nodeName"):
            continue
        wanted = _pod_gpu_requests(pod)
        missing = {k: v for k, v in wanted.items() if k not in advertised}
        if not missing:
            continue
        asks = ", ".join(f"{k}: {v}" for k, v in sorted(missing.items()))
        offered = sorted(advertised)
        if offered:
            mig_only = all(r.startswith("nvidia.com/mig-") for r in offered)
            detail = f"nodes advertise only {', '.join(offered)}" + (
                " (MIG mixed strategy)" if mig_only else ""
            )
            fix = (
                f"Request one of {', '.join(offered)} in resources.limits, or set the device "
                "plugin's MIG strategy "
                "to single so MIG slices appear as nvidia.com/gpu (AML instance types can only "
                "request nvidia.com/gpu)."
            )
        elif gpu_nodes:
            continue  # GPU nodes exist but advertise nothing: AMD606 explains it per node
        else:
            detail = (
                "no node in the cluster has GPUs or a GPU label (GPU pool scaled to zero or "
                "not created)"
            )
            fix = (
                "Scale the GPU pool up (`az aks nodepool scale -g <rg> --cluster-name <cluster> -n "
                "<gpu-pool> "
                "--node-count 1`), or enable its autoscaler (`az aks nodepool update ... "
                "--enable-cluster-autoscaler "
                "--min-count 0 --max-count N`) and check it can scale (quota, max count)."
            )
        yield ctx.finding(
            pod,
            message=f"pod {pod_label(pod)} requests {asks}, but {detail}",
            evidence={
                "requested": missing,
                "advertised": offered,
                "gpu_labelled_nodes": sorted(gpu_nodes),
            },
            remediation=fix,
        )
