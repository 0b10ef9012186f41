"""What AML needs to know about nodes: readiness, GPUs, free capacity, taints AML cannot tolerate.

Capacity comes from the scheduler cache rebuilt by `amldoctor.scheduling.cluster.NodeInfo`
(allocatable minus the requests of every non-terminal pod bound to the node), so AML's gang
arithmetic counts exactly what the scheduler counts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from amldoctor.aml.model import as_dict, as_list, labels_of, name_of
from amldoctor.k8s.tolerations import FILTER_EFFECTS, untolerated_taints
from amldoctor.memo import memo_on
from amldoctor.scheduling.cluster import NodeInfo, cluster_nodes
from amldoctor.scheduling.profile import Profile
from amldoctor.snapshot import Snapshot

GPU = "nvidia.com/gpu"
MIG_PREFIX = "nvidia.com/mig-"
# Labels that say "this VM has NVIDIA GPUs" whether or not a device plugin advertises them.
_GPU_NODE_LABELS = (
    ("kubernetes.azure.com/accelerator", "nvidia"),
    ("accelerator", "nvidia"),
    ("nvidia.com/gpu.present", "true"),
    ("feature.node.kubernetes.io/pci-10de.present", "true"),
)
# AML's own tolerations: every AML workload pod tolerates these keys (docs/aml-domain.md §1.7).
AML_WORKLOAD_TOLERATIONS = (
    {"key": "ml.azure.com/amlarc", "operator": "Exists"},
    {"key": "ml.azure.com/amlarc-workload", "operator": "Exists"},
    {"key": "ml.azure.com/resource-group", "operator": "Exists"},
    {"key": "ml.azure.com/workspace", "operator": "Exists"},
    {"key": "ml.azure.com/compute", "operator": "Exists"},
)


def is_ready(node: Mapping) -> bool:
    for cond in as_list(as_dict(node.get("status")).get("conditions")):
        if isinstance(cond, dict) and cond.get("type") == "Ready":
            return cond.get("status") == "True"
    return False


def is_schedulable(node: Mapping) -> bool:
    """Ready and not cordoned: a node AML's resource validation and the scheduler can use."""
    return is_ready(node) and not as_dict(node.get("spec")).get("unschedulable")


def selector_matches(selector: Mapping[str, str], node: Mapping) -> bool:
    labels = labels_of(node)
    return all(labels.get(k) == v for k, v in selector.items())


def mig_resources(node: Mapping) -> dict[str, str]:
    """`nvidia.com/mig-1g.5gb: "7"`-style allocatable entries (MIG mixed strategy)."""
    alloc = as_dict(as_dict(node.get("status")).get("allocatable"))
    return {str(k): str(v) for k, v in alloc.items() if str(k).startswith(MIG_PREFIX)}


def looks_like_gpu_node(node: Mapping) -> bool:
    labels = labels_of(node)
    if any(labels.get(k) == v for k, v in _GPU_NODE_LABELS):
        return True
    size = str(labels.get("node.kubernetes.io/instance-type") or "")
    return size.startswith("Standard_N")


def untolerated_by_aml(node: Mapping, tolerations: Sequence[Mapping] = ()) -> list[Mapping]:
    """NoSchedule/NoExecute taints on the node that neither AML's keys nor `tolerations` cover."""
    taints = [t for t in as_list(as_dict(node.get("spec")).get("taints")) if isinstance(t, dict)]
    return untolerated_taints(
        taints, [*AML_WORKLOAD_TOLERATIONS, *tolerations], effects=FILTER_EFFECTS
    )


class Capacity:
    """Per-node allocatable and free capacity, in scheduler units (milli-CPU, bytes, counts)."""

    def __init__(self, snap: Snapshot) -> None:
        self._profile = Profile.for_server(snap.server_version)
        self._snap = snap
        self._by_name: dict[str, NodeInfo] | None = None

    def info(self, name: str) -> NodeInfo | None:
        """The node as the scheduler sees it: the snapshot's shared NodeInfo (sums cached inside,
        shared with the scheduling simulation).

        The name index is looked up in the snapshot's memo once per Capacity, not per call: a
        gang placement asks about every node, for every distinct gang shape.
        """
        if self._by_name is None:
            self._by_name = cluster_nodes(self._snap, self._profile)[1]
        return self._by_name.get(name)

    def allocatable(self, node: Mapping) -> dict[str, int]:
        info = self.info(name_of(node))
        return dict(info.allocatable) if info else {}

    def free(self, node: Mapping, resources: Sequence[str]) -> dict[str, int]:
        info = self.info(name_of(node))
        if info is None:
            return {r: 0 for r in resources}
        return {r: info.free(r) for r in resources}

    def free_pods(self, node: Mapping) -> int:
        info = self.info(name_of(node))
        return info.free("pods") if info else 0

    def free_column(self, resource: str) -> list[int]:
        """`free` of one resource ("pods" included) for each of the snapshot's nodes, in
        order: built once per snapshot, so that every gang placement compares its requests
        with the same list instead of asking node by node."""
        flag = self._profile.features.pod_level_resources

        def build() -> list[int]:
            infos = [self.info(name_of(node)) for node in self._snap.nodes]
            return [info.free(resource) if info else 0 for info in infos]

        return memo_on(self._snap, ("free-column", flag, resource), build)
