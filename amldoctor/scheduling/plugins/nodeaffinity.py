"""NodeAffinity: scheduler-enforced affinity, then the pod's nodeSelector and required affinity."""

from __future__ import annotations

from amldoctor.k8s.nodeaffinity import NodeSelector, RequiredNodeAffinity, prefilter_node_names
from amldoctor.scheduling import names
from amldoctor.scheduling.cluster import NodeInfo
from amldoctor.scheduling.plugins.base import Plugin
from amldoctor.scheduling.status import SUCCESS, Code, PreFilterOutcome, Status, fail

POD_MISMATCH = "node(s) didn't match Pod's node affinity/selector"
ENFORCED_MISMATCH = "node(s) didn't match scheduler-enforced node affinity"
TERMS_CONFLICT = "pod affinity terms conflict"


class NodeAffinity(Plugin):
    name = names.NODE_AFFINITY
    short = "selector"
    funnel = "match nodeSelector/affinity"
    funnel_rank = 1
    advice = (
        "compare spec.nodeSelector / nodeAffinity with the labels nodes really carry "
        "(kubectl get nodes -L <key>)"
    )

    def __init__(self, cluster) -> None:
        super().__init__(cluster)
        self.required = RequiredNodeAffinity(self.pod)
        added = (self.profile.added_affinity or {}).get(
            "requiredDuringSchedulingIgnoredDuringExecution"
        )
        self.added = NodeSelector(added) if added is not None else None

    def pre_filter(self) -> PreFilterOutcome:
        if self.required.is_empty and self.added is None:
            return PreFilterOutcome.skip()
        if self.required.raw_required is None:
            return SUCCESS
        node_names = prefilter_node_names(self.required.raw_required)
        if node_names is None:
            return SUCCESS
        if not node_names:
            status = fail(
                self.name,
                Code.UNRESOLVABLE,
                TERMS_CONFLICT,
                "every nodeSelectorTerm pins metadata.name to sets that do not intersect",
            )
            return PreFilterOutcome.reject(
                Status(status.plugin, status.code, status.items, "PreFilter")
            )
        return PreFilterOutcome(node_names=frozenset(node_names))

    def filter(self, node: NodeInfo) -> Status | None:
        if self.added is not None and not self.added.matches(node.node):
            return fail(
                self.name,
                Code.UNRESOLVABLE,
                ENFORCED_MISMATCH,
                f"node {node.name} does not match the scheduler profile's addedAffinity",
            )
        if self.required.matches(node.node):
            return None
        mismatches = self.required.explain(node.node)
        parts = []
        for m in mismatches:
            if not m.key:
                parts.append(f"{m.source}: {m.requirement}")
            elif m.node_value is None:
                parts.append(f"{m.source} wants {m.requirement}, node has no label {m.key}")
            else:
                parts.append(f"{m.source} wants {m.requirement}, node has {m.key}={m.node_value}")
        return fail(
            self.name,
            Code.UNRESOLVABLE,
            POD_MISMATCH,
            f"node {node.name}: " + "; ".join(parts),
            mismatches=[
                {
                    "source": m.source,
                    "requirement": m.requirement,
                    "key": m.key,
                    "node_value": m.node_value,
                }
                for m in mismatches
            ],
        )
