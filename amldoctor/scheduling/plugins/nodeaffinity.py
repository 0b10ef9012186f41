"""NodeAffinity: scheduler-enforced affinity, then the pod's nodeSelector and required affinity."""

from __future__ import annotations

import json
from collections.abc import Hashable

from amldoctor.k8s.nodeaffinity import NodeSelector, RequiredNodeAffinity, prefilter_node_names
from amldoctor.scheduling import names
from amldoctor.scheduling.cluster import NodeInfo
from amldoctor.scheduling.plugins.base import Plugin
from amldoctor.scheduling.status import SUCCESS, Code, PreFilterOutcome, Reason, Status, fail

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
        self._read = _labels_read(self.required, self.added)
        # What the verdict reads of a node (`_class_of`) -> the status every such node gets.
        self._by_class: dict[Hashable, Status | None] = {}

    def filter_key(self) -> Hashable:
        """The pod's nodeSelector and required node affinity are all this filter reads of it
        (the profile's addedAffinity is part of the shared column's key)."""
        return json.dumps(
            [self.required.node_selector, self.required.raw_required], sort_keys=True, default=repr
        )

    def _class_of(self, node: NodeInfo) -> Hashable:
        """The values of the labels the selectors read: nodes that agree on them get the same
        verdict. With matchFields the node's name is read too, and every node is its own
        class."""
        if self._read is None:
            return node.name
        labels = node.labels
        return tuple(labels.get(key) for key in self._read)

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
        key = self._class_of(node)
        if key in self._by_class:
            return self._by_class[key]
        status = self._by_class[key] = self._verdict(node)
        return status

    def _verdict(self, node: NodeInfo) -> Status | None:
        """The verdict for `node` and every node of its class (the name filled in when shown)."""
        if self.added is not None and not self.added.matches(node.node):
            return Status(
                self.name, Code.UNRESOLVABLE, (Reason(ENFORCED_MISMATCH, render=_enforced_detail),)
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
        evidence = {
            "mismatches": [
                {
                    "source": m.source,
                    "requirement": m.requirement,
                    "key": m.key,
                    "node_value": m.node_value,
                }
                for m in mismatches
            ]
        }
        text = "; ".join(parts)
        return Status(
            self.name,
            Code.UNRESOLVABLE,
            (Reason(POD_MISMATCH, "", evidence, lambda name: (f"node {name}: {text}", evidence)),),
        )


def _enforced_detail(node: str) -> tuple[str, dict]:
    return f"node {node} does not match the scheduler profile's addedAffinity", {}


def _labels_read(
    required: RequiredNodeAffinity, added: NodeSelector | None
) -> tuple[str, ...] | None:
    """Every label key the pod's selectors and the profile's addedAffinity read, sorted; None
    when a term also reads the node's name (matchFields) or a term could not be compiled."""
    keys = set((required.node_selector or {}).keys())
    for selector in (required.required, added):
        if selector is None:
            continue
        for term in selector.terms:
            if term.fields:
                return None
            keys.update(r.key for r in term.expressions)
    return tuple(sorted(keys))
