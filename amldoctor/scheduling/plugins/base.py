"""The plugin shape: PreFilter once per pod, Filter once per node, named as in kube-scheduler."""

from __future__ import annotations

import copy
from collections.abc import Hashable, Mapping
from typing import ClassVar

from amldoctor.scheduling.cluster import ClusterView, NodeInfo
from amldoctor.scheduling.status import SUCCESS, PreFilterOutcome, Status


class Plugin:
    """Subclasses set `name` and override `pre_filter` and/or `filter`.

    Each plugin also carries how why-pending presents it, so that adding a plugin is one file:
    `short` labels its column in the node table, `funnel` completes "N nodes that ..." in the
    funnel, which lists plugins by `funnel_rank` (the order a user narrows nodes down: which
    nodes are mine, may I land there, then room), and `advice` is the fix said when only the
    scheduler's message is known ("" when the plugin's fixes are worked out from the nodes).
    """

    name: ClassVar[str] = ""
    short: ClassVar[str] = ""
    funnel: ClassVar[str] = ""
    funnel_rank: ClassVar[int] = 0
    advice: ClassVar[str] = ""

    def __init__(self, cluster: ClusterView) -> None:
        self.cluster = cluster
        self.pod = cluster.pod
        self.spec = cluster.pod.get("spec") or {}
        self.profile = cluster.profile

    def pre_filter(self) -> PreFilterOutcome:
        return SUCCESS

    def filter(self, node: NodeInfo) -> Status | None:
        """None when the node passes."""
        return None

    def filter_nodes(self) -> list[Status | None]:
        """`filter` on each of the cluster's nodes, in order.

        The safe default asks node by node. A plugin whose verdict depends on little of the
        node (its taints, its cordon, a few labels, its free amounts) overrides it to decide
        once per class of like nodes, or in one pass over the cluster's columns, and returns
        statuses shared between nodes: their detail names the node only when shown
        (`Reason.explain`).
        """
        return [self.filter(node) for node in self.cluster.nodes]

    def add_pod(self, pod: Mapping, node: NodeInfo) -> None:
        """PreFilter extension AddPod: `pod` now counts on `node` (a nominated pod). Plugins
        whose PreFilter state counts pods across the cluster override it."""

    def remove_pod(self, pod: Mapping, node: NodeInfo) -> None:
        """PreFilter extension RemovePod: `pod` no longer counts on `node` (a preemption victim)."""

    def clone(self) -> Plugin:
        """`CycleState.Clone()`: a copy whose PreFilter state AddPod/RemovePod may change
        without touching this one (preemption tries each node on its own copy)."""
        return copy.copy(self)

    def filter_key(self) -> Hashable | None:
        """All that `filter` reads of the pod and its cycle, when that is little: simulations
        whose plugins give the same key share its per-node verdicts. None: never shared."""
        return None
