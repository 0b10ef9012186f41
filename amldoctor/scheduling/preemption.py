"""DefaultPreemption's PostFilter: would evicting lower-priority pods make room, and whom?

The scheduler tries preemption only when no node fits. It follows, per node where preemption
might help (the node's status is not UnschedulableAndUnresolvable):

1. every pod with a lower priority than the pod is a potential victim; none -> "No preemption
   victims found for incoming pod";
2. remove them all, through the PreFilter extensions too (RemovePod updates the inter-pod
   affinity, topology spread and ReadWriteOncePod counts), and filter again with the node's
   nominated pods; still failing -> that filter's reasons;
3. give pods back, most important first (higher priority, then earlier start), those whose
   eviction would violate a PodDisruptionBudget before the others; a pod that no longer lets
   the preemptor fit stays a victim.

Among the nodes with victims it picks one (`pickOneNodeForPreemption`): fewest PDB violations,
then the lowest highest-priority victim, the smallest sum of priorities, the fewest victims, the
latest start time of the highest-priority victims; ties beyond that go to whichever node the
scheduler listed first, which amldoctor cannot know, so it names every tied node.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from amldoctor.k8s.labels import SelectorError, selector_matches
from amldoctor.k8s.timeutil import parse_time
from amldoctor.scheduling import message as msg
from amldoctor.scheduling.cluster import ClusterView, NodeInfo, pod_key, pod_priority
from amldoctor.scheduling.nominated import run_filters_with_nominated
from amldoctor.scheduling.plugins import Plugin
from amldoctor.scheduling.status import Code

PREEMPTION_CONDITION = "DisruptionTarget"
MAX_INT32 = 2**31 - 1
# DefaultPreemptionArgs defaults: candidates are searched until this many are found.
MIN_CANDIDATE_NODES_PERCENTAGE = 10
MIN_CANDIDATE_NODES_ABSOLUTE = 100


@dataclass
class Candidate:
    """A node where preemption would make the pod fit, and the pods it would evict there."""

    node: str
    victims: list[Mapping]  # most important first, as upstream sorts them
    pdb_violations: int

    def to_dict(self) -> dict:
        return {
            "node": self.node,
            "victims": [victim_summary(v) for v in self.victims],
            "pdb_violations": self.pdb_violations,
        }


@dataclass
class PreemptionOutcome:
    """What DefaultPreemption would do for the pod in this cluster state."""

    attempted: bool  # False: the pod is not eligible to preempt (note says why)
    note: str = ""  # "not eligible due to ..." when not attempted
    candidates: list[Candidate] = field(default_factory=list)
    chosen: Candidate | None = None
    tied: list[str] = field(default_factory=list)  # nodes equal to `chosen` by every criterion
    node_reasons: dict[str, list[str]] = field(default_factory=dict)  # where it would not help
    partial_search: bool = False  # more candidates than the scheduler evaluates in one attempt

    @property
    def helps(self) -> bool:
        return self.chosen is not None

    def message(self, num_nodes: int) -> str:
        """The `preemption: ...` PostFilter text ("" when a node is nominated)."""
        if not self.attempted:
            return msg.PREEMPTION_PREFIX + self.note
        if self.chosen is not None:
            return ""
        text = msg.fit_error_message(
            num_nodes, self.node_reasons, absent_reasons=[msg.NOT_HELPFUL], version=None
        )
        return msg.PREEMPTION_PREFIX + text

    def to_dict(self, num_nodes: int) -> dict:
        return {
            "would_preempt": self.helps,
            "not_eligible": self.note or None,
            "node": self.chosen.node if self.chosen else None,
            "tied_nodes": self.tied,
            "victims": [victim_summary(v) for v in self.chosen.victims] if self.chosen else [],
            "pdb_violations": self.chosen.pdb_violations if self.chosen else 0,
            "candidates": [c.to_dict() for c in self.candidates],
            "not_helpful": {node: reasons for node, reasons in sorted(self.node_reasons.items())},
            "not_helpful_elsewhere": max(num_nodes - len(self.node_reasons), 0)
            - len(self.candidates),
            "partial_search": self.partial_search,
        }


def victim_summary(pod: Mapping) -> dict:
    meta = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    return {
        "namespace": meta.get("namespace") or "default",
        "name": meta.get("name"),
        "priority": pod_priority(pod),
        "priority_class": spec.get("priorityClassName"),
        "node": spec.get("nodeName"),
    }


def terminating_by_preemption(pod: Mapping) -> bool:
    """Deleted by a scheduler's preemption (DisruptionTarget/PreemptionByScheduler)."""
    if not (pod.get("metadata") or {}).get("deletionTimestamp"):
        return False
    return any(
        c.get("type") == PREEMPTION_CONDITION and c.get("reason") == "PreemptionByScheduler"
        for c in (pod.get("status") or {}).get("conditions") or []
    )


def _start_time(pod: Mapping) -> float:
    """`GetPodStartTime`: status.startTime, or "now" (later than any recorded start)."""
    started = parse_time((pod.get("status") or {}).get("startTime"))
    return started.timestamp() if isinstance(started, datetime) else float("inf")


def importance_key(pod: Mapping) -> tuple[int, float]:
    """Sort key for `MoreImportantPod`: higher priority first, then the earlier start."""
    return (-pod_priority(pod), _start_time(pod))


def pdb_violating(
    victims: Sequence[Mapping], pdbs: Sequence[Mapping]
) -> tuple[list[Mapping], list[Mapping]]:
    """`filterPodsWithPDBViolation`: (violating, non-violating), each keeping the given order.

    Each PDB allows `status.disruptionsAllowed` evictions; victims use them up in order (pods
    already listed in `status.disruptedPods` do not), and a victim that finds a matching budget
    exhausted would violate it. A PDB with an empty selector matches nothing.
    """
    allowed = [int((p.get("status") or {}).get("disruptionsAllowed") or 0) for p in pdbs]
    violating: list[Mapping] = []
    fine: list[Mapping] = []
    for pod in victims:
        meta = pod.get("metadata") or {}
        labels = meta.get("labels") or {}
        violated = False
        if labels:
            for i, pdb in enumerate(pdbs):
                if (pdb.get("metadata") or {}).get("namespace") != meta.get("namespace"):
                    continue
                selector = (pdb.get("spec") or {}).get("selector")
                if not selector or not (
                    selector.get("matchLabels") or selector.get("matchExpressions")
                ):
                    continue
                try:
                    if not selector_matches(selector, labels):
                        continue
                except SelectorError:
                    continue
                if meta.get("name") in ((pdb.get("status") or {}).get("disruptedPods") or {}):
                    continue
                allowed[i] -= 1
                if allowed[i] < 0:
                    violated = True
        (violating if violated else fine).append(pod)
    return violating, fine


def select_victims_on_node(
    cluster: ClusterView,
    plugins: Sequence[Plugin],
    node: NodeInfo,
    pdbs: Sequence[Mapping],
) -> tuple[Candidate | None, list[str]]:
    """`SelectVictimsOnNode`: a candidate, or the reasons preemption does not help here."""
    priority = pod_priority(cluster.pod)
    potential = [p for p in node.pods if pod_priority(p) < priority]
    if not potential:
        return None, [msg.NO_VICTIMS]
    state = [p.clone() for p in plugins]
    for victim in potential:
        for plugin in state:
            plugin.remove_pod(victim, node)
    current = node.without(potential)
    nominated = cluster.nominated_on(node.name)
    failures = run_filters_with_nominated(state, current, nominated, every=False)
    if failures:
        return None, failures[0].reasons
    potential.sort(key=importance_key)
    violating, fine = pdb_violating(potential, pdbs)
    victims: list[Mapping] = []
    removed = list(potential)
    violations = 0
    for group, counts in ((violating, True), (fine, False)):
        for pod in group:
            # Reprieve: put the pod back; if the preemptor no longer fits, it stays a victim.
            removed.remove(pod)
            for plugin in state:
                plugin.add_pod(pod, node)
            trial = node.without(removed)
            if run_filters_with_nominated(state, trial, nominated, every=False):
                removed.append(pod)
                for plugin in state:
                    plugin.remove_pod(pod, node)
                victims.append(pod)
                violations += counts
    if violating and fine:
        victims.sort(key=importance_key)
    if not victims:
        return None, [f'expected at least one victim pod on node "{node.name}"']
    return Candidate(node.name, victims, violations), []


def _earliest_top_start(c: Candidate) -> float:
    top = pod_priority(c.victims[0])
    return min(_start_time(v) for v in c.victims if pod_priority(v) == top)


def pick_one_node(candidates: Sequence[Candidate]) -> list[Candidate]:
    """`pickOneNodeForPreemption`: the best candidates (more than one: a tie the scheduler
    breaks by its own candidate order)."""
    criteria = (
        lambda c: -c.pdb_violations,
        lambda c: -pod_priority(c.victims[0]),
        lambda c: -sum(pod_priority(v) + MAX_INT32 + 1 for v in c.victims),
        lambda c: -len(c.victims),
        _earliest_top_start,
    )
    best = list(candidates)
    for score in criteria:
        top = max(score(c) for c in best)
        best = [c for c in best if score(c) == top]
        if len(best) == 1:
            break
    return best


def num_candidates(num_nodes: int) -> int:
    """`calculateNumCandidates` with the default args."""
    n = num_nodes * MIN_CANDIDATE_NODES_PERCENTAGE // 100
    return min(max(n, MIN_CANDIDATE_NODES_ABSOLUTE), num_nodes)


def pdbs_of(snap: Any) -> list[Mapping]:
    return list(snap.of_kind("PodDisruptionBudget")) if hasattr(snap, "of_kind") else []


def dry_run(result: Any, cluster: ClusterView, plugins: Sequence[Plugin]) -> PreemptionOutcome:
    """The whole PostFilter for a pod that fits no node (`result` is its SchedulingResult)."""
    pod = cluster.pod
    if (pod.get("spec") or {}).get("preemptionPolicy") == "Never":
        return PreemptionOutcome(False, msg.NOT_ELIGIBLE_NEVER)
    priority = pod_priority(pod)
    nominated = (pod.get("status") or {}).get("nominatedNodeName")
    if nominated:
        verdict = result.verdict(nominated)
        node = cluster.node_by_name.get(nominated)
        retryable = verdict is not None and (
            verdict.status is None or verdict.status.code != Code.UNRESOLVABLE
        )
        if (
            node is not None
            and retryable
            and any(pod_priority(p) < priority and terminating_by_preemption(p) for p in node.pods)
        ):
            return PreemptionOutcome(False, msg.NOT_ELIGIBLE_TERMINATING)
    outcome = PreemptionOutcome(True)
    pdbs = pdbs_of(cluster.snap)
    potential = [
        v for v in result.verdicts if v.status is not None and v.status.code != Code.UNRESOLVABLE
    ]
    # The scheduler stops once it has this many candidates (from a random first node): which
    # nodes it tries is chance then, and so is the choice among them.
    wanted = num_candidates(len(potential))
    for i, verdict in enumerate(potential):
        if len(outcome.candidates) >= wanted:
            outcome.partial_search = i < len(potential)
            break
        node = cluster.node_by_name[verdict.name]
        candidate, reasons = select_victims_on_node(cluster, plugins, node, pdbs)
        if candidate is None:
            outcome.node_reasons[verdict.name] = reasons
        else:
            outcome.candidates.append(candidate)
    if outcome.candidates:
        best = pick_one_node(outcome.candidates)
        outcome.chosen = best[0]
        outcome.tied = sorted(c.node for c in best) if len(best) > 1 else []
    return outcome


def victims_terminating(cluster: ClusterView, node_name: str) -> list[Mapping]:
    """Pods on `node_name` with lower priority than the pod that a scheduler is evicting."""
    node = cluster.node_by_name.get(node_name)
    if node is None:
        return []
    priority = pod_priority(cluster.pod)
    return [p for p in node.pods if pod_priority(p) < priority and terminating_by_preemption(p)]


def describe_victims(victims: Sequence[Mapping]) -> str:
    return ", ".join(f"{'/'.join(pod_key(v))} (priority {pod_priority(v)})" for v in victims)
