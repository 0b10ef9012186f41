"""why-pending's preemption view: who would be evicted, or why eviction would not help, and the
"preempting" state of a pod that has already been nominated.

A pod with a higher priority than pods already running can make room by evicting them; that is
how serving endpoints displace batch training on shared GPU pools. The user must hear which
pods will go (they are someone's jobs), on which node, and whether a PodDisruptionBudget is
broken; and, when eviction cannot help, why not on each node.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

from amldoctor.scheduling.cluster import ClusterView, pod_key, pod_priority
from amldoctor.scheduling.framework import SchedulingResult
from amldoctor.scheduling.preemption import (
    PreemptionOutcome,
    describe_victims,
    victim_summary,
    victims_terminating,
)

MAX_NAMED = 5


def _victim_text(victims: list[dict]) -> str:
    named = [
        f"{v['namespace']}/{v['name']} (priority {v['priority']}"
        + (f", class {v['priority_class']}" if v.get("priority_class") else "")
        + ")"
        for v in victims[:MAX_NAMED]
    ]
    more = f" and {len(victims) - MAX_NAMED} more" if len(victims) > MAX_NAMED else ""
    return ", ".join(named) + more


def section(result: SchedulingResult) -> dict | None:
    """The `preemption` object of the why-pending document (None when no dry run ran)."""
    outcome: PreemptionOutcome | None = result.preemption
    if outcome is None:
        return None
    out = outcome.to_dict(result.num_nodes)
    out["summary"] = summary(outcome, result)
    return out


def summary(outcome: PreemptionOutcome, result: SchedulingResult) -> str:
    """One sentence: what preemption would do, or why it would not help."""
    num_nodes = result.num_nodes
    if not outcome.attempted:
        return f"the pod does not preempt: {outcome.note.rstrip('.')}"
    if outcome.chosen is not None:
        victims = [victim_summary(v) for v in outcome.chosen.victims]
        text = (
            f"preemption would help: the scheduler would nominate node {outcome.chosen.node} "
            f"and evict {len(victims)} lower-priority pod(s) there: {_victim_text(victims)}"
        )
        if outcome.chosen.pdb_violations:
            text += (
                f"; {outcome.chosen.pdb_violations} of these evictions violate a "
                "PodDisruptionBudget (no node avoids it)"
            )
        if outcome.tied:
            text += (
                f"; nodes {', '.join(outcome.tied)} are equally good by every criterion the "
                "scheduler uses: it nominates whichever it evaluated first"
            )
        if outcome.partial_search:
            text += (
                "; the cluster has more candidate nodes than the scheduler tries in one attempt "
                "(it starts from a random node), so it may choose another candidate"
            )
        return text
    per_node = [f"{node}: {', '.join(r)}" for node, r in sorted(outcome.node_reasons.items())]
    rest = num_nodes - len(outcome.node_reasons)
    text = "preemption would not help"
    if per_node:
        text += (
            " (even with every lower-priority pod gone) on "
            + "; ".join(per_node[:MAX_NAMED])
            + (
                f" and {len(per_node) - MAX_NAMED} more node(s)"
                if len(per_node) > MAX_NAMED
                else ""
            )
        )
    if result.prefilter_status is not None:
        return (
            f"{text}: the scheduler turns the pod away before it looks at any node "
            f"({result.prefilter_status.message()}), and evicting pods does not change that"
        )
    if rest > 0:
        unfixable = Counter(
            reason
            for v in result.verdicts
            if v.name not in outcome.node_reasons and not v.fits
            for reason in v.reasons
        )
        named = "; ".join(f"{n} {reason}" for reason, n in unfixable.most_common(MAX_NAMED))
        text += (
            f"{';' if per_node else ':'} {rest} node(s) fail a filter that evicting pods cannot "
            "fix" + (f" ({named})" if named else "")
        )
    return text


def preempting_status(cluster: ClusterView, pod: Mapping, nominated: str) -> dict[str, Any]:
    """The `status` of a pod already nominated to a node, waiting for its victims to go."""
    ref = "/".join(pod_key(pod))
    victims = victims_terminating(cluster, nominated)
    if nominated not in cluster.node_by_name:
        text = (
            f"pod {ref} was nominated to node {nominated}, which no longer exists: the "
            "scheduler will try again on the other nodes"
        )
    elif victims:
        text = (
            f"preempting: nominated to node {nominated}, waiting for {len(victims)} victim(s) "
            f"to terminate: {describe_victims(victims[:MAX_NAMED])}"
            + (f" and {len(victims) - MAX_NAMED} more" if len(victims) > MAX_NAMED else "")
            + "; the pod is bound there once they are gone (their graceful termination can take "
            "up to terminationGracePeriodSeconds)"
        )
    else:
        text = (
            f"preempting: nominated to node {nominated}; no lower-priority pod is terminating "
            "there any more, so the scheduler should place the pod at its next attempt"
        )
    return {
        "state": "preempting",
        "summary": text,
        "nominated_node": nominated,
        "priority": pod_priority(pod),
        "victims_terminating": [victim_summary(v) for v in victims],
    }


def preempting_difference(nominated: str) -> str:
    """Why a preempting pod's message is not compared with the current cluster state."""
    return (
        f"the scheduler's message is from the attempt that nominated node {nominated}; it is "
        "not re-evaluated while the victims terminate, so it cannot be compared with the "
        "cluster now"
    )
