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
from amldoctor.scheduling.status import Code, Reason, Render, Status, fail

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

    def __init__(self, cluster) -> None:
        super().__init__(cluster)
        tolerations = self.spec.get("tolerations") or []
        self._tolerated = tolerated_by_any(UNSCHEDULABLE_TAINT, tolerations)
        # One status for every cordoned node: only its name differs, filled in when shown.
        self._cordoned = Status(
            self.name,
            Code.UNRESOLVABLE,
            (Reason(UNSCHEDULABLE, render=_cordoned_detail),),
        )

    def filter_key(self) -> Hashable:
        return self._tolerated

    def filter(self, node: NodeInfo) -> Status | None:
        if self._tolerated or not (node.node.get("spec") or {}).get("unschedulable"):
            return None
        return self._cordoned


def _cordoned_detail(node: str) -> tuple[str, dict]:
    return f"node {node} is cordoned (spec.unschedulable=true)", {"node": node}


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
        # NodeInfo.taint_key -> the status every node with those taints gets (None: tolerated)
        self._by_taints: dict[str, Status | None] = {}

    def filter_key(self) -> Hashable:
        return json.dumps(self.spec.get("tolerations") or [], sort_keys=True, default=repr)

    def filter(self, node: NodeInfo) -> Status | None:
        """Nodes with the same taints (a pool) share one status: the tolerations are matched
        once per set of taints, and the node is named only when the detail is shown."""
        if not node.taints:
            return None
        key = node.taint_key
        if key in self._by_taints:
            return self._by_taints[key]
        found = untolerated_taints(
            node.taints,
            self.spec.get("tolerations") or [],
            comparison_operators=self.profile.features.taint_comparison_operators,
        )
        status = None
        if found:
            texts = [format_taint(t) for t in found]
            evidence = {"taints": texts, "taint_objects": [dict(t) for t in found]}
            status = Status(
                self.name,
                Code.UNRESOLVABLE,
                (
                    Reason(
                        taint_reason(found[0], self.profile), "", evidence, _taint_detail(evidence)
                    ),
                ),
            )
        self._by_taints[key] = status
        return status


def _taint_detail(evidence: dict) -> Render:
    texts = evidence["taints"]

    def render(node: str) -> tuple[str, dict]:
        detail = f"node {node} has taint {', '.join(texts)}; the pod does not tolerate " + (
            "it" if len(texts) == 1 else "them"
        )
        return detail, evidence

    return render
