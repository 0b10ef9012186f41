"""The per-node remainder of a simulation, as columns: free amounts and pod counts per node.

NodeResourcesFit compares one pod's requests with every node's free amounts, for every distinct
question a scan asks. Calling a filter per node and reading each node's dicts costs more than
the comparison itself, so the amounts are laid out once as lists aligned with the cluster's
nodes (allocatable and requested per resource, pod counts) and every question compares its
requests against them in one pass per resource. Built once per snapshot for the shared nodes
(`cluster_nodes`), once per view when the view holds private copies of some nodes.
"""

from __future__ import annotations

from collections.abc import Sequence

from amldoctor.k8s.resources import PODS
from amldoctor.memo import memo_on
from amldoctor.scheduling.cluster import ClusterView, NodeInfo, cluster_nodes


class NodeColumns:
    """Per-node amounts, index-aligned with `nodes`; a resource's column is built on first use."""

    def __init__(self, nodes: Sequence[NodeInfo]) -> None:
        self.nodes = nodes
        self.pods: list[int] = [n.pod_count for n in nodes]
        self.allowed_pods: list[int] = [n.allocatable.get(PODS, 0) for n in nodes]
        self._amounts: dict[str, tuple[list[int], list[int]]] = {}

    def amounts(self, resource: str) -> tuple[list[int], list[int]]:
        """(allocatable, requested) of `resource` on each node, 0 where absent."""
        found = self._amounts.get(resource)
        if found is None:
            found = self._amounts[resource] = (
                [n.allocatable.get(resource, 0) for n in self.nodes],
                [n.requested.get(resource, 0) for n in self.nodes],
            )
        return found


def node_columns(cluster: ClusterView) -> NodeColumns:
    """The columns of `cluster.nodes`: the snapshot's, unless the view copied a node."""
    shared, _ = cluster_nodes(cluster.snap, cluster.profile)
    if cluster.nodes is shared:
        flag = cluster.profile.features.pod_level_resources
        return memo_on(cluster.snap, ("node-columns", flag), lambda: NodeColumns(shared))
    return memo_on(cluster, "node-columns", lambda: NodeColumns(cluster.nodes))
