"""Node pools, and which autoscaler node group is which AKS pool.

On AKS the autoscaler's node groups are the pools' virtual machine scale sets
(`aks-<pool>-<digits>-vmss`), and each node's providerID names its scale set
(`azure:///subscriptions/.../virtualMachineScaleSets/<vmss>/virtualMachines/<n>`), while its
`kubernetes.azure.com/agentpool` (or older `agentpool`) label names the pool. Reading both maps a
group to a pool even when the pool's name has changed shape; the VMSS name pattern covers pools
scaled to zero, which have no node to read.
"""

from __future__ import annotations

import re

from amldoctor.k8s.nodepools import pool_of_labels
from amldoctor.k8s.objects import meta
from amldoctor.memo import memo_on
from amldoctor.snapshot import Snapshot

_VMSS_IN_PROVIDER_ID = re.compile(r"/virtualMachineScaleSets/(?P<vmss>[^/]+)", re.I)
_AKS_VMSS_NAME = re.compile(r"^aks-(?P<pool>[a-z0-9]+)-\d+-vmss$")


def nodes_by_pool(snap: Snapshot) -> dict[str, list[dict]]:
    """Pool name -> its nodes, sorted by name; nodes without a pool label are left out.

    Worked out once per snapshot and shared: read it, never modify it.
    """

    def build() -> dict[str, list[dict]]:
        out: dict[str, list[dict]] = {}
        for node in snap.nodes:
            pool = pool_of_labels(meta(node).get("labels") or {})
            if pool:
                out.setdefault(pool, []).append(node)
        return {
            p: sorted(ns, key=lambda n: meta(n).get("name") or "") for p, ns in sorted(out.items())
        }

    return memo_on(snap, "nodes-by-pool", build)


def node_vmss(node: dict) -> str | None:
    found = _VMSS_IN_PROVIDER_ID.search(str((node.get("spec") or {}).get("providerID") or ""))
    return found.group("vmss").lower() if found else None


def group_pool(snap: Snapshot, group: str) -> str | None:
    """The pool of an autoscaler node group: through its nodes' providerIDs, else by name."""
    wanted = group.rsplit("/", 1)[-1].lower()
    for node in snap.nodes:
        if node_vmss(node) == wanted:
            return pool_of_labels(meta(node).get("labels") or {})
    found = _AKS_VMSS_NAME.match(wanted)
    return found.group("pool") if found else None


def pool_groups(snap: Snapshot, groups: list[str]) -> dict[str, str]:
    """Pool -> node group, for the groups that map to a pool."""
    out: dict[str, str] = {}
    for group in groups:
        pool = group_pool(snap, group)
        if pool:
            out.setdefault(pool, group)
    return out


_NODE_RESOURCE_GROUP = re.compile(r"/resourceGroups/(?P<rg>[^/]+)/", re.I)


def aks_cluster(snap: Snapshot) -> tuple[str, str] | None:
    """(resource group, cluster name) of an AKS cluster, from its node resource group.

    AKS names it `MC_<resource group>_<cluster>_<region>`; with an underscore inside a name the
    split is ambiguous and None is returned (the commands then keep RG/CLUSTER placeholders).
    """
    for node in snap.nodes:
        found = _NODE_RESOURCE_GROUP.search(str((node.get("spec") or {}).get("providerID") or ""))
        if found:
            parts = found.group("rg").split("_")
            if len(parts) == 4 and parts[0].upper() == "MC":
                return parts[1], parts[2]
            return None
    return None
