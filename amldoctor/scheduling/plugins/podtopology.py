"""PodTopologySpread (DoNotSchedule constraints) and InterPodAffinity (required terms).

Both count matching pods per topology domain once, in PreFilter, so that Filter is a lookup per
node; that is what the scheduler does too, and it keeps 5,000-node clusters fast.
"""

from __future__ import annotations

import copy
from collections import defaultdict
from collections.abc import Mapping

from amldoctor.k8s.labels import SelectorError, selector_matches
from amldoctor.k8s.nodeaffinity import RequiredNodeAffinity
from amldoctor.k8s.tolerations import untolerated_taints
from amldoctor.scheduling import names
from amldoctor.scheduling.cluster import NodeInfo, pod_key
from amldoctor.scheduling.plugins.base import Plugin
from amldoctor.scheduling.status import SUCCESS, Code, PreFilterOutcome, Status, fail

SPREAD_SKEW = "node(s) didn't match pod topology spread constraints"
SPREAD_MISSING_LABEL = (
    "node(s) didn't match pod topology spread constraints (missing required label)"
)
AFFINITY = "node(s) didn't match pod affinity rules"
ANTI_AFFINITY = "node(s) didn't match pod anti-affinity rules"
EXISTING_ANTI_AFFINITY = "node(s) didn't satisfy existing pods anti-affinity rules"


def _labels(pod: Mapping) -> Mapping[str, str]:
    return (pod.get("metadata") or {}).get("labels") or {}


def _with_label_keys(
    selector: Mapping | None, pod: Mapping, match: list, mismatch: list
) -> Mapping | None:
    """Add matchLabelKeys (In) / mismatchLabelKeys (NotIn) from the pod's own labels."""
    if selector is None or not (match or mismatch):
        return selector
    labels = _labels(pod)
    exprs = list(selector.get("matchExpressions") or [])
    exprs += [{"key": k, "operator": "In", "values": [labels[k]]} for k in match if k in labels]
    exprs += [
        {"key": k, "operator": "NotIn", "values": [labels[k]]} for k in mismatch if k in labels
    ]
    return {**selector, "matchExpressions": exprs}


def _safe_match(selector: Mapping | None, labels: Mapping[str, str]) -> bool:
    try:
        return selector_matches(selector, labels)
    except SelectorError:
        return False


class PodTopologySpread(Plugin):
    """Counts per constraint and domain; AddPod/RemovePod keep them current when preemption
    removes victims or nominated pods are added (upstream `updateWithPod`)."""

    name = names.POD_TOPOLOGY_SPREAD
    short = "spread"
    funnel = "satisfy topology spread"
    funnel_rank = 10
    advice = (
        "topologySpreadConstraints cannot be met: relax maxSkew or use "
        "whenUnsatisfiable: ScheduleAnyway, or add nodes in the emptier domains"
    )

    def __init__(self, cluster) -> None:
        super().__init__(cluster)
        self.constraints = [
            c
            for c in self.spec.get("topologySpreadConstraints") or []
            if c.get("whenUnsatisfiable", "DoNotSchedule") == "DoNotSchedule"
        ]
        self.counts: list[dict[str, int]] = []
        self.minimum: list[int] = []
        self.self_match: list[int] = []
        self._keys = [c.get("topologyKey", "") for c in self.constraints]
        self._selectors = [self._selector(c) for c in self.constraints]
        self._affinity = RequiredNodeAffinity(self.pod)
        self._ns = pod_key(self.pod)[0]

    def _selector(self, c: Mapping) -> Mapping | None:
        return _with_label_keys(c.get("labelSelector"), self.pod, c.get("matchLabelKeys") or [], [])

    def _included(self, i: int, node: NodeInfo) -> bool:
        """`matchNodeInclusionPolicies`: does constraint i count pods on this node at all?"""
        c = self.constraints[i]
        if c.get("nodeAffinityPolicy", "Honor") == "Honor" and not self._affinity.matches(
            node.node
        ):
            return False
        return not (
            c.get("nodeTaintsPolicy", "Ignore") == "Honor"
            and untolerated_taints(node.taints, self.spec.get("tolerations") or [])
        )

    def pre_filter(self) -> PreFilterOutcome:
        if not self.constraints:
            return PreFilterOutcome.skip()
        self.counts = [defaultdict(int) for _ in self.constraints]
        for node in self.cluster.nodes:
            if not all(k in node.labels for k in self._keys):
                continue
            for i in range(len(self.constraints)):
                if not self._included(i, node):
                    continue
                matching = sum(
                    1
                    for p in node.pods
                    if pod_key(p)[0] == self._ns
                    and not (p.get("metadata") or {}).get("deletionTimestamp")
                    and _safe_match(self._selectors[i], _labels(p))
                )
                self.counts[i][node.labels[self._keys[i]]] += matching
        self._update_minimum()
        self.self_match = [
            1 if _safe_match(sel, _labels(self.pod)) else 0 for sel in self._selectors
        ]
        return SUCCESS

    def _update_minimum(self) -> None:
        self.minimum = []
        for i, c in enumerate(self.constraints):
            values = self.counts[i].values()
            min_domains = c.get("minDomains") or 1
            self.minimum.append(0 if not values or len(values) < min_domains else min(values))

    def _update_with_pod(self, pod: Mapping, node: NodeInfo, delta: int) -> None:
        if not self.constraints or not self.counts or pod_key(pod)[0] != self._ns:
            return
        if not all(k in node.labels for k in self._keys):
            return
        for i in range(len(self.constraints)):
            if not _safe_match(self._selectors[i], _labels(pod)) or not self._included(i, node):
                continue
            self.counts[i][node.labels[self._keys[i]]] += delta
        self._update_minimum()

    def add_pod(self, pod: Mapping, node: NodeInfo) -> None:
        self._update_with_pod(pod, node, 1)

    def remove_pod(self, pod: Mapping, node: NodeInfo) -> None:
        self._update_with_pod(pod, node, -1)

    def clone(self) -> PodTopologySpread:
        twin = copy.copy(self)
        twin.counts = [defaultdict(int, c) for c in self.counts]
        twin.minimum = list(self.minimum)
        return twin

    def filter(self, node: NodeInfo) -> Status | None:
        for i, c in enumerate(self.constraints):
            key = c.get("topologyKey", "")
            if key not in node.labels:
                return fail(
                    self.name,
                    Code.UNRESOLVABLE,
                    SPREAD_MISSING_LABEL,
                    f"node {node.name} has no label {key} (topologySpreadConstraints[{i}])",
                    topology_key=key,
                )
            value = node.labels[key]
            skew = self.counts[i].get(value, 0) + self.self_match[i] - self.minimum[i]
            max_skew = c.get("maxSkew", 1)
            if skew > max_skew:
                return fail(
                    self.name,
                    Code.UNSCHEDULABLE,
                    SPREAD_SKEW,
                    f"placing the pod in {key}={value} gives skew {skew} > maxSkew {max_skew} "
                    f"({self.counts[i].get(value, 0)} matching pods there, minimum "
                    f"{self.minimum[i]} elsewhere)",
                    topology_key=key,
                    domain=value,
                    skew=skew,
                    max_skew=max_skew,
                )
        return None


class _Term:
    """A required pod (anti-)affinity term, resolved relative to the pod that declares it."""

    def __init__(self, raw: Mapping, owner: Mapping, cluster) -> None:
        self.key = raw.get("topologyKey", "")
        self.selector = _with_label_keys(
            raw.get("labelSelector"),
            owner,
            raw.get("matchLabelKeys") or [],
            raw.get("mismatchLabelKeys") or [],
        )
        self.namespaces = set(raw.get("namespaces") or [])
        self.ns_selector = raw.get("namespaceSelector")
        if not self.namespaces and self.ns_selector is None:
            self.namespaces = {pod_key(owner)[0]}
        self._cluster = cluster

    def matches(self, pod: Mapping) -> bool:
        ns = pod_key(pod)[0]
        in_ns = ns in self.namespaces
        if not in_ns and self.ns_selector is not None:
            ns_labels = self._cluster.namespace_labels(ns)
            in_ns = _safe_match(self.ns_selector, ns_labels if ns_labels is not None else {})
        return in_ns and _safe_match(self.selector, _labels(pod))


def _required(pod: Mapping, kind: str) -> list[Mapping]:
    aff = ((pod.get("spec") or {}).get("affinity") or {}).get(kind) or {}
    return aff.get("requiredDuringSchedulingIgnoredDuringExecution") or []


def _bump(counts: dict[tuple[str, str], int], pair: tuple[str, str], delta: int) -> None:
    """Add `delta`; an entry that drops to zero is deleted, as upstream does (the "first pod of
    its group" rule asks whether any entry is left)."""
    value = counts.get(pair, 0) + delta
    if value:
        counts[pair] = value
    else:
        counts.pop(pair, None)


class InterPodAffinity(Plugin):
    """Required pod affinity and anti-affinity, the pod's own and existing pods'.

    An existing pod counts for the pod's affinity only when it matches *all* the required
    affinity terms (upstream `podMatchesAllAffinityTerms`), and then once per term's topology
    pair; anti-affinity terms count one by one. AddPod/RemovePod update the same counts.
    """

    name = names.INTER_POD_AFFINITY
    short = "pod-affinity"
    funnel = "satisfy pod (anti-)affinity"
    funnel_rank = 11
    advice = "the pod's (anti-)affinity rules exclude those nodes"

    def __init__(self, cluster) -> None:
        super().__init__(cluster)
        self.affinity = [_Term(t, self.pod, cluster) for t in _required(self.pod, "podAffinity")]
        self.anti = [_Term(t, self.pod, cluster) for t in _required(self.pod, "podAntiAffinity")]
        self.affinity_counts: dict[tuple[str, str], int] = {}
        self.anti_counts: dict[tuple[str, str], int] = {}
        # topology pair -> the existing pods whose required anti-affinity excludes this pod there
        self.existing_anti: dict[tuple[str, str], list[str]] = {}

    def _matches_all_affinity(self, other: Mapping) -> bool:
        return bool(self.affinity) and all(t.matches(other) for t in self.affinity)

    def _update_with_pod(self, other: Mapping, node: NodeInfo, delta: int) -> None:
        """Upstream `updateWithPod`: `other` starts (+1) or stops (-1) counting on `node`."""
        holder = "/".join(pod_key(other))
        for raw in _required(other, "podAntiAffinity"):
            term = _Term(raw, other, self.cluster)
            if term.key in node.labels and term.matches(self.pod):
                pair = (term.key, node.labels[term.key])
                holders = self.existing_anti.setdefault(pair, [])
                if delta > 0:
                    holders.append(holder)
                elif holder in holders:
                    holders.remove(holder)
                if not holders:
                    del self.existing_anti[pair]
        if self._matches_all_affinity(other):
            for term in self.affinity:
                if term.key in node.labels:
                    _bump(self.affinity_counts, (term.key, node.labels[term.key]), delta)
        for term in self.anti:
            if term.key in node.labels and term.matches(other):
                _bump(self.anti_counts, (term.key, node.labels[term.key]), delta)

    def pre_filter(self) -> PreFilterOutcome:
        has_existing = False
        for other, node in self.cluster.anti_affinity_pods():
            has_existing = True
            holder = "/".join(pod_key(other))
            for raw in _required(other, "podAntiAffinity"):
                term = _Term(raw, other, self.cluster)
                if term.key in node.labels and term.matches(self.pod):
                    pair = (term.key, node.labels[term.key])
                    self.existing_anti.setdefault(pair, []).append(holder)
        if self.affinity or self.anti:
            for other, node in self.cluster.bound_pods():
                if self._matches_all_affinity(other):
                    for term in self.affinity:
                        if term.key in node.labels:
                            _bump(self.affinity_counts, (term.key, node.labels[term.key]), 1)
                for term in self.anti:
                    if term.key in node.labels and term.matches(other):
                        _bump(self.anti_counts, (term.key, node.labels[term.key]), 1)
        if not self.affinity and not self.anti and not has_existing:
            return PreFilterOutcome.skip()
        return SUCCESS

    def add_pod(self, pod: Mapping, node: NodeInfo) -> None:
        self._update_with_pod(pod, node, 1)

    def remove_pod(self, pod: Mapping, node: NodeInfo) -> None:
        self._update_with_pod(pod, node, -1)

    def clone(self) -> InterPodAffinity:
        twin = copy.copy(self)
        twin.affinity_counts = dict(self.affinity_counts)
        twin.anti_counts = dict(self.anti_counts)
        twin.existing_anti = {k: list(v) for k, v in self.existing_anti.items()}
        return twin

    def _affinity_ok(self, node: NodeInfo) -> bool:
        pods_exist = True
        for term in self.affinity:
            if term.key not in node.labels:
                return False
            if self.affinity_counts.get((term.key, node.labels[term.key]), 0) <= 0:
                pods_exist = False
        if pods_exist:
            return True
        # No pod anywhere matches yet: a pod matching its own terms may start the group.
        return not self.affinity_counts and all(t.matches(self.pod) for t in self.affinity)

    def filter(self, node: NodeInfo) -> Status | None:
        if self.affinity and not self._affinity_ok(node):
            return fail(
                self.name,
                Code.UNRESOLVABLE,
                AFFINITY,
                f"no pod matching the pod's required podAffinity runs in the same topology "
                f"domain as node {node.name} ("
                + ", ".join(f"{t.key}={node.labels.get(t.key, '<unset>')}" for t in self.affinity)
                + ")",
            )
        for term in self.anti:
            value = node.labels.get(term.key)
            if value is not None and self.anti_counts.get((term.key, value), 0) > 0:
                return fail(
                    self.name,
                    Code.UNSCHEDULABLE,
                    ANTI_AFFINITY,
                    f"a pod matching the pod's required podAntiAffinity already runs in "
                    f"{term.key}={value} (node {node.name})",
                    topology_key=term.key,
                    domain=value,
                )
        for (key, value), holders in self.existing_anti.items():
            if node.labels.get(key) == value:
                return fail(
                    self.name,
                    Code.UNSCHEDULABLE,
                    EXISTING_ANTI_AFFINITY,
                    f"pod {', '.join(sorted(holders))} has a required podAntiAffinity that "
                    "excludes "
                    f"this pod from {key}={value} (node {node.name})",
                    topology_key=key,
                    domain=value,
                    holders=sorted(holders),
                )
        return None
