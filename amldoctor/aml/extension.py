"""The AzureML extension's own components: where they run, what each one is for, what breaks.

Component names and roles come from `kubectl get deployments -n azureml` as documented in AML's
extension reference (docs/aml-domain.md §1.2, verified); the impact of each being down is
mapped from the documented error texts. A pod is matched to a component by the name of its
owning workload, so the map survives replica-set hashes and release-name prefixes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from amldoctor.aml.model import (
    DEFAULT_EXTENSION_NAMESPACE,
    annotations_of,
    as_dict,
    name_of,
    namespace_of,
)
from amldoctor.k8s.containers import containers
from amldoctor.k8s.owners import top_owner
from amldoctor.memo import memo_on
from amldoctor.snapshot import Snapshot

_BAD_WAITING = frozenset(
    {
        "CrashLoopBackOff",
        "ImagePullBackOff",
        "ErrImagePull",
        "CreateContainerConfigError",
        "CreateContainerError",
        "InvalidImageName",
        "RunContainerError",
    }
)


@dataclass(frozen=True)
class Component:
    name: str  # the Deployment/DaemonSet/StatefulSet name, or its stable part
    area: str  # training | inference | metrics | connectivity | gpu | logs
    breaks: str  # what users see when it is down
    arc_only: bool = False


COMPONENTS = (
    Component(
        "relayserver",
        "connectivity",
        "AML cannot reach the cluster: jobs are not received and inference calls fail with "
        "InferencingClientCallFailed",
        arc_only=True,
    ),
    Component(
        "gateway", "connectivity", "node and cluster resource information stops reaching AML"
    ),
    Component(
        "aml-operator",
        "training",
        "training jobs are never started (they stay Queued in AML studio)",
    ),
    Component(
        "volcano-scheduler",
        "training",
        "training pods are never scheduled (Pending with no scheduler events)",
    ),
    Component(
        "volcano-controllers",
        "training",
        "Volcano Jobs get no PodGroup or pods: training jobs stay Queued with no pods",
    ),
    Component(
        "volcano-admission", "training", "Volcano Jobs and PodGroups cannot be created or updated"
    ),
    Component(
        "inference-operator-controller-manager",
        "inference",
        "online endpoints and deployments are not created or updated",
    ),
    Component(
        "azureml-fe",
        "inference",
        "scoring requests fail (ScoringFeUnhealthy) and deployments are not autoscaled",
    ),
    Component(
        "azureml-ingress-nginx-controller",
        "inference",
        "the inference endpoint has no backend (ClusterServiceNotFound)",
    ),
    Component(
        "amlarc-identity-controller",
        "inference",
        "model and image tokens are not issued (model download and ACR pulls fail)",
    ),
    Component(
        "amlarc-identity-proxy",
        "inference",
        "model download init containers cannot get storage tokens (port 9999)",
    ),
    Component("metrics-controller-manager", "metrics", "job metrics stop reaching AML studio"),
    Component("prometheus", "metrics", "job metrics stop reaching AML studio"),
    Component("kube-state-metrics", "metrics", "job metrics stop reaching AML studio"),
    Component("cluster-status-reporter", "connectivity", "cluster status stops reaching AML"),
    Component(
        "nvidia-device-plugin",
        "gpu",
        "nodes stop advertising nvidia.com/gpu, so GPU instance types cannot be scheduled",
    ),
    Component("dcgm-exporter", "gpu", "GPU metrics stop reaching AML studio"),
    Component("fluent-bit", "logs", "system logs stop being uploaded"),
)


def component_for(workload_name: str) -> Component | None:
    """The component whose name appears in the workload name (longest match wins)."""
    found = [c for c in COMPONENTS if c.name in workload_name]
    return max(found, key=lambda c: len(c.name)) if found else None


def extension_namespace(snap: Snapshot) -> str:
    """Where the extension runs: the Helm release namespace on its objects, else `azureml`.

    Once per snapshot: rules quote it in remediations, and finding it may read every pod.
    """
    return memo_on(snap, "aml-extension-namespace", lambda: _extension_namespace(snap))


def _extension_namespace(snap: Snapshot) -> str:
    for kind in ("Deployment", "Pod"):
        for obj in snap.of_kind(kind):
            release_ns = annotations_of(obj).get("meta.helm.sh/release-namespace")
            if release_ns and component_for(_workload_name(snap, obj)):
                return str(release_ns)
    for pod in snap.pods:
        if name_of(pod).startswith(("aml-operator", "gateway", "relayserver", "azureml-fe")):
            return namespace_of(pod)
    return DEFAULT_EXTENSION_NAMESPACE


def owning_workload(snap: Snapshot, pod: Mapping) -> dict:
    """The Deployment/DaemonSet/StatefulSet of a pod, as an object or a stub built from names.

    Extension namespaces are often read without ReplicaSets; a ReplicaSet owner is then mapped to
    its Deployment by dropping the pod-template hash from its name.
    """
    owner = top_owner(snap, dict(pod))
    if owner.get("kind") != "ReplicaSet":
        return owner
    ns = namespace_of(pod)
    deployment_name = name_of(owner).rsplit("-", 1)[0]
    found = snap.get("Deployment", ns, deployment_name)
    return found or {"kind": "Deployment", "metadata": {"name": deployment_name, "namespace": ns}}


def _workload_name(snap: Snapshot, obj: Mapping) -> str:
    return name_of(obj) if obj.get("kind") != "Pod" else name_of(owning_workload(snap, obj))


def extension_pods(snap: Snapshot) -> list[tuple[Component, dict]]:
    """Pods of the extension namespace with their component (pods of unknown workloads skipped)."""
    ns = extension_namespace(snap)
    out = []
    for pod in snap.of_kind("Pod", ns):
        component = component_for(_workload_name(snap, pod))
        if component is not None:
            out.append((component, pod))
    return out


def extension_visible(snap: Snapshot) -> bool:
    """Was the extension namespace read (any pod or deployment in it)?"""
    ns = extension_namespace(snap)
    return bool(snap.of_kind("Pod", ns) or snap.of_kind("Deployment", ns))


def extension_node_selector(snap: Snapshot) -> tuple[dict[str, str], str]:
    """The extension-level `nodeSelector.*` setting, as far as the cluster shows it.

    The setting is applied to every extension Deployment's pods, so the selector they all share
    is the best estimate (inferred: the setting itself lives in Azure, not in the cluster).
    Returns (selector, basis).
    """
    ns = extension_namespace(snap)
    selectors = []
    for dep in snap.of_kind("Deployment", ns):
        if component_for(name_of(dep)) is None:
            continue
        pod_spec = as_dict(as_dict(as_dict(dep.get("spec")).get("template")).get("spec"))
        selectors.append({str(k): str(v) for k, v in as_dict(pod_spec.get("nodeSelector")).items()})
    if not selectors:
        return {}, "no extension Deployments in the snapshot"
    common = dict(selectors[0])
    for sel in selectors[1:]:
        common = {k: v for k, v in common.items() if sel.get(k) == v}
    common.pop("kubernetes.io/os", None)  # every chart pins the OS; it is not the user's setting
    basis = (
        f"shared by the nodeSelector of {len(selectors)} extension Deployments in {ns} (inferred)"
    )
    return common, basis


def is_arc_cluster(snap: Snapshot) -> bool:
    """Arc-connected clusters run the Arc agents in `azure-arc`."""
    return bool(snap.of_kind("Pod", "azure-arc") or snap.of_kind("Deployment", "azure-arc"))


def pod_problem(pod: dict) -> str | None:
    """'CrashLoopBackOff (14 restarts)', 'Pending', 'not ready', 'OOMKilled' or None when
    healthy."""
    status = as_dict(pod.get("status"))
    phase = status.get("phase")
    if phase == "Succeeded":
        return None
    if phase in ("Pending", "Failed", "Unknown"):
        waiting = _waiting_reason(pod)
        return f"{phase} ({waiting})" if waiting else str(phase)
    for view in containers(pod):
        if view.init:
            continue
        reason = (view.waiting or {}).get("reason")
        last = view.last_terminated or {}
        if reason in _BAD_WAITING:
            extra = f", last exit {last.get('reason') or last.get('exitCode')}" if last else ""
            return f"{reason} ({view.restart_count} restarts{extra})"
        if last.get("reason") == "OOMKilled" and view.restart_count:
            return f"OOMKilled ({view.restart_count} restarts)"
        if view.status and not view.ready:
            return "not ready"
    return None


def _waiting_reason(pod: dict) -> str | None:
    for view in containers(pod):
        reason = (view.waiting or {}).get("reason")
        if reason and reason not in ("ContainerCreating", "PodInitializing"):
            return str(reason)
    return None
