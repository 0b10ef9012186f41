"""Fixes at the layer AML users control: the extension's settings and the AKS node pool.

AKS reconciles node labels and taints from the node pool, so `kubectl label node` is undone at
the next upgrade or scale-out; the extension's Helm values are owned by `az k8s-extension`.
Commands name the real extension and pool when the snapshot shows them, placeholders otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from amldoctor.aml.extension import component_for, extension_namespace, is_arc_cluster
from amldoctor.aml.model import annotations_of, name_of
from amldoctor.snapshot import Snapshot


def extension_name(snap: Snapshot) -> str:
    """The extension (= Helm release) name from the chart's ownership annotations."""
    ns = extension_namespace(snap)
    for kind in ("Deployment", "Pod", "DaemonSet"):
        for obj in snap.of_kind(kind, ns):
            release = annotations_of(obj).get("meta.helm.sh/release-name")
            if release and component_for(name_of(obj)):
                return str(release)
    return "<extension-name>"


def az_extension_update(snap: Snapshot, settings: Mapping[str, str]) -> str:
    """`az k8s-extension update ... --config k=v ...` for this cluster type (AKS or Arc)."""
    cluster_type = "connectedClusters" if is_arc_cluster(snap) else "managedClusters"
    command = (
        f"az k8s-extension update --name {extension_name(snap)} --cluster-type {cluster_type} "
        f"--cluster-name <cluster> --resource-group <resource-group>"
    )
    if settings:
        command += " --config " + " ".join(f"{k}={v}" for k, v in settings.items())
    return command


def az_nodepool_labels(pool: str | None, labels: Mapping[str, str]) -> str:
    text = " ".join(f"{k}={v}" for k, v in sorted(labels.items()))
    return (
        f"az aks nodepool update --resource-group <resource-group> --cluster-name <cluster> "
        f"--name {pool or '<pool>'} --labels {text}"
    )


def az_nodepool_taints(pool: str | None, taints: list[str]) -> str:
    return (
        f"az aks nodepool update --resource-group <resource-group> --cluster-name <cluster> "
        f"--name {pool or '<pool>'} --node-taints {','.join(taints)}"
    )


def workload_toleration_settings(taints: Sequence[Mapping]) -> dict[str, str]:
    """`workLoadToleration[i].*` settings tolerating the given taints (observed in IaC,
    undocumented)."""
    settings: dict[str, str] = {}
    for i, taint in enumerate(taints):
        settings[f"workLoadToleration[{i}].key"] = str(taint.get("key") or "")
        if taint.get("value"):
            settings[f"workLoadToleration[{i}].operator"] = "Equal"
            settings[f"workLoadToleration[{i}].value"] = str(taint["value"])
        else:
            settings[f"workLoadToleration[{i}].operator"] = "Exists"
        settings[f"workLoadToleration[{i}].effect"] = str(taint.get("effect") or "NoSchedule")
    return settings
