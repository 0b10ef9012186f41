"""NodeUnschedulable, NodeName, TaintToleration: per-node checks with no PreFilter state."""

from __future__ import annotations

import json
from collections.abc import Hashable, Mapping

from amldoctor.k8s.tolerations import (
    UNSCHEDULABLE_TAINT,
    format_taint,
    tolerated_by_any,
    untolerated_taints,
)
from amldoctor.scheduling import names
from amldoctor.scheduling.cluster import NodeInfo
from amldoctor.scheduling.plugins.base import Plugin
from amldoctor.scheduling.profile import Profile
from amldoctor.scheduling.status import Code, Status, fail

UNSCHEDULABLE = "node(s) were unschedulable"
UNKNOWN_CONDITION = "node(s) had unknown conditions"
NODE_NAME = "node(s) didn't match the requested node name"
TAINT_CURRENT = "node(s) had untolerated taint(s)"


def taint_reason(taint: Mapping, profile: Profile) -> str:
    """The TaintToleration reason as the cluster's release prints it."""
    if profile.at_least(1, 34):
        return TAINT_CURRENT
    # Go formats it as "{%s: %s}": an empty value still prints the ": ".
    pair = "{" + f"{taint.get('key') or ''}: {taint.get('value') or ''}" + "}"
    if profile.at_least(1, 25):
        return f"node(s) had untolerated taint {pair}"
    return f"node(s) had taint {pair}, that the pod didn't tolerate"


class NodeUnschedulable(Plugin):
    name = names.NODE_UNSCHEDULABLE
    short = "cordon"
    funnel = "are not cordoned"
    funnel_rank = 4
    advice = "nodes are cordoned: wait for the drain/upgrade or `kubectl uncordon NODE`"

    def filter(self, node: NodeInfo) -> Status | None:
        if not (node.node.get("spec") or {}).get("unschedulable"):
            return None
        if tolerated_by_any(UNSCHEDULABLE_TAINT, self.spec.get("tolerations") or []):
            return None
        return fail(
            self.name,
            Code.UNRESOLVABLE,
            UNSCHEDULABLE,
            f"node {node.name} is cordoned (spec.unschedulable=true)",
            node=node.name,
        )


class NodeName(Plugin):
    name = names.NODE_NAME
    short = "nodeName"
    funnel = "match spec.nodeName"
    funnel_rank = 2
    advice = "spec.nodeName pins the pod to another node"

    def filter(self, node: NodeInfo) -> Status | None:
        wanted = self.spec.get("nodeName") or ""
        if not wanted or wanted == node.name:
            return None
        return fail(
            self.name,
            Code.UNRESOLVABLE,
            NODE_NAME,
            f"pod sets spec.nodeName={wanted}, not {node.name}",
            wanted=wanted,
        )


class TaintToleration(Plugin):
    name = names.TAINT_TOLERATION
    short = "taints"
    funnel = "tolerate their taints"
    funnel_rank = 3
    advice = (
        "nodes carry a taint the pod does not tolerate (kubectl describe node "
        "shows Taints): add a matching toleration"
    )

    def __init__(self, cluster) -> None:
        super().__init__(cluster)
        # NodeInfo.taint_key -> (indexes of the untolerated taints, their formatted texts)
        self._untolerated: dict[tuple, tuple[list[int], list[str]]] = {}

    def filter_key(self) -> Hashable:
        return json.dumps(self.spec.get("tolerations") or [], sort_keys=True, default=repr)

    def filter(self, node: NodeInfo) -> Status | None:
        if not node.taints:
            return None
        known = self._untolerated.get(node.taint_key)
        if known is None:
            found = untolerated_taints(
                node.taints,
                self.spec.get("tolerations") or [],
                comparison_operators=self.profile.features.taint_comparison_operators,
            )
            chosen = {id(t) for t in found}
            indexes = [i for i, t in enumerate(node.taints) if id(t) in chosen]
            known = self._untolerated[node.taint_key] = (indexes, [format_taint(t) for t in found])
        indexes, texts = known
        if not indexes:
            return None
        bad = [node.taints[i] for i in indexes]
        return fail(
            self.name,
            Code.UNRESOLVABLE,
            taint_reason(bad[0], self.profile),
            f"node {node.name} has taint {', '.join(texts)}; the pod does not tolerate "
            + ("it" if len(bad) == 1 else "them"),
            taints=list(texts),
            taint_objects=[dict(t) for t in bad],
        )
