"""Would a new node help? An empty node of each pool, run through the scheduler simulation.

This is the question the cluster autoscaler asks before it scales a node group up: it builds a
node from the group's template and runs the scheduler's filters on it. Here the template is an
existing node of the pool (its labels, taints and allocatable), renamed, with the conditions and
taints of a node's life (not-ready, unschedulable, being deleted by the autoscaler) removed and
the pods every node of the pool carries (DaemonSet and static pods) kept. The verdict is the
scheduler simulation's on the snapshot plus that node (`scheduling.simulate_node`: PreFilter
over the whole cluster, Filter on that node), so inter-pod affinity and topology spread see the
rest of the cluster as the autoscaler's simulation does.

A pool scaled to zero has no node to copy: its VM size, labels and taints are not in the cluster,
and the answer says so rather than guessing.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from amldoctor.capacity import autoscaler
from amldoctor.capacity.pools import aks_cluster, nodes_by_pool, pool_groups
from amldoctor.k8s.objects import meta
from amldoctor.k8s.owners import controller_ref
from amldoctor.k8s.quantity import QuantityError, format_amount
from amldoctor.k8s.resources import pod_requests
from amldoctor.memo import memo_on
from amldoctor.scheduling.cluster import NodeInfo, anti_affinity_pods
from amldoctor.scheduling.framework import simulate_node
from amldoctor.scheduling.plugins.draalloc import slices_for_new_node
from amldoctor.scheduling.profile import Profile
from amldoctor.snapshot import Snapshot

# Taints a node carries for a while of its life, which a fresh node of the pool would not.
_LIFECYCLE_TAINT_PREFIXES = ("node.kubernetes.io/", "node.cloudprovider.kubernetes.io/")
_AUTOSCALER_TAINTS = frozenset(
    {"ToBeDeletedByClusterAutoscaler", "DeletionCandidateOfClusterAutoscaler"}
)
MIRROR_ANNOTATION = "kubernetes.io/config.mirror"


@dataclass
class PoolAnswer:
    """Whether an empty node of one pool would fit the pod, and what the autoscaler can do."""

    pool: str
    template_node: str | None
    fits: bool | None  # None: unknown (no node of the pool to copy)
    reasons: list[str] = field(default_factory=list)
    failures: list[dict] = field(default_factory=list)
    node_group: str | None = None
    min_size: int | None = None
    max_size: int | None = None
    target: int | None = None
    at_max: bool = False
    backoff: str | None = None
    text: str = ""
    fix: str | None = None  # the command that would let the autoscaler add the node

    def to_dict(self) -> dict[str, Any]:
        return {
            "pool": self.pool,
            "template_node": self.template_node,
            "fits": self.fits,
            "reasons": self.reasons,
            "failures": self.failures,
            "node_group": self.node_group,
            "min_size": self.min_size,
            "max_size": self.max_size,
            "target": self.target,
            "at_max": self.at_max,
            "backoff": self.backoff,
            "text": self.text,
            "fix": self.fix,
        }


def _is_node_pod(pod: Mapping) -> bool:
    """Pods every node of the pool gets: DaemonSet pods and static (mirror) pods."""
    ref = controller_ref(dict(pod))
    if ref and ref.get("kind") == "DaemonSet":
        return True
    return MIRROR_ANNOTATION in (meta(dict(pod)).get("annotations") or {})


def template_node(snap: Snapshot, source: dict, name: str) -> tuple[dict, list[dict]]:
    """A fresh node shaped like `source`, and copies of the per-node pods it would run."""
    node = copy.deepcopy(source)
    m = node.setdefault("metadata", {})
    old = m.get("name") or ""
    m["name"] = name
    m.pop("uid", None)
    labels = m.setdefault("labels", {})
    if "kubernetes.io/hostname" in labels:
        labels["kubernetes.io/hostname"] = name
    spec = node.setdefault("spec", {})
    spec.pop("unschedulable", None)
    spec.pop("providerID", None)
    taints = [
        t
        for t in spec.get("taints") or ()
        if not str(t.get("key", "")).startswith(_LIFECYCLE_TAINT_PREFIXES)
        and t.get("key") not in _AUTOSCALER_TAINTS
    ]
    if taints:
        spec["taints"] = taints
    else:
        spec.pop("taints", None)
    pods = []
    for pod in snap.pods_on_node(old):
        if _is_node_pod(pod):
            clone = copy.deepcopy(pod)
            cm = clone.setdefault("metadata", {})
            cm["name"] = f"{cm.get('name')}-{name}"
            cm.pop("uid", None)
            clone.setdefault("spec", {})["nodeName"] = name
            pods.append(clone)
    return node, pods


# What the filters read besides nodes and pods (volume binding, namespace selectors).
_CONTEXT_KINDS = (
    "Namespace",
    "PersistentVolumeClaim",
    "PersistentVolume",
    "StorageClass",
    "CSINode",
    # DRA: the pod's claims, their classes, and the devices (network-attached pools too)
    "ResourceClaim",
    "ResourceClaimTemplate",
    "DeviceClass",
    "ResourceSlice",
)


def _needs_whole_cluster(snap: Snapshot, pod: dict) -> bool:
    """Whether the template node's verdict depends on the other nodes' pods.

    Only inter-pod affinity and topology spread look beyond the node itself (the pod's own
    (anti-)affinity and spread constraints, or another pod's required anti-affinity), and, for a
    pod with claims, the volume filters that know which other pods use a claim (ReadWriteOncePod).
    Without them, the template node alone (plus volumes and namespaces) gives the same verdict at
    a fraction of the cost on a large cluster.
    """
    spec = pod.get("spec") or {}
    if any((v or {}).get("persistentVolumeClaim") for v in spec.get("volumes") or ()):
        return True
    affinity = spec.get("affinity") or {}
    if affinity.get("podAffinity") or affinity.get("podAntiAffinity"):
        return True
    if spec.get("topologySpreadConstraints"):
        return True
    return bool(anti_affinity_pods(snap))


def _augmented(snap: Snapshot, source: dict, name: str, whole: bool) -> Snapshot:
    node, pods = template_node(snap, source, name)
    source_name = (source.get("metadata") or {}).get("name") or ""
    slices = slices_for_new_node(snap.of_kind("ResourceSlice"), source_name, name)
    return snap.extended(None if whole else _CONTEXT_KINDS, [node, *pods, *slices])


def _nodes_with_slices(snap: Snapshot) -> set[str]:
    return {
        str((s.get("spec") or {}).get("nodeName"))
        for s in snap.of_kind("ResourceSlice")
        if (s.get("spec") or {}).get("nodeName")
    }


def _ready(node: dict) -> bool:
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in (node.get("status") or {}).get("conditions") or ()
    )


def new_node_answers(snap: Snapshot, pod: dict, profile: Profile | None = None) -> list[PoolAnswer]:
    """One answer per pool (pools with nodes, and autoscaler groups mapped to pools), by name."""
    pools = nodes_by_pool(snap)
    status = autoscaler.read_status(snap)
    groups = pool_groups(snap, [g.name for g in status.groups]) if status else {}
    answers = []
    for pool in sorted(set(pools) | set(groups)):
        answer = PoolAnswer(pool, None, None)
        group = status.group(groups[pool]) if status and pool in groups else None
        if group is not None:
            answer.node_group = group.name
            answer.min_size, answer.max_size, answer.target = (
                group.min_size,
                group.max_size,
                group.target,
            )
            answer.at_max = group.at_max
            if group.scale_up == "Backoff":
                answer.backoff = group.backoff_message or group.backoff_code or "backing off"
        nodes = pools.get(pool) or []
        if nodes:
            # A node the DRA driver publishes devices for, when the pool has one: a new node
            # gets the driver too, and nodes without it say nothing about the pool's devices.
            sliced = _nodes_with_slices(snap)
            ranked = sorted(nodes, key=lambda n: (not _ready(n), meta(n).get("name") not in sliced))
            source = ranked[0]  # ready first, then served by a DRA driver; stable otherwise
            name = f"{pool}-new-node"
            answer.template_node = meta(source).get("name")
            # One augmented snapshot per pool, shared by every pod asked about: the template
            # node's verdict is memoized on it per scheduling signature.
            whole = _needs_whole_cluster(snap, pod)
            augmented = memo_on(
                snap,
                ("new-node", pool, whole),
                partial(_augmented, snap, source, name, whole),
            )
            verdict = simulate_node(augmented, pod, name, profile)
            if verdict is not None:
                answer.fits = verdict.fits
                answer.reasons = verdict.reasons
                answer.failures = [f for s in verdict.failures for f in s.failures(verdict.name)]
        answer.text = _answer_text(answer)
        if answer.fits and answer.at_max and answer.max_size is not None:
            rg, cluster = aks_cluster(snap) or ("RG", "CLUSTER")
            answer.fix = (
                f"az aks nodepool update --resource-group {rg} --cluster-name {cluster} "
                f"--name {pool} --update-cluster-autoscaler --min-count {answer.min_size or 0} "
                f"--max-count {answer.max_size + 1}"
            )
        answers.append(answer)
    return answers


def _answer_text(a: PoolAnswer) -> str:
    if a.fits is None:
        where = f" (node group {a.node_group})" if a.node_group else ""
        return (
            f"pool {a.pool}{where} has no node to copy (scaled to zero): its VM size, labels and "
            "taints are not in the cluster, so whether a new node would fit is unknown; "
            f"compare the pod with `az aks nodepool show --name {a.pool} ...`"
        )
    size = f" {a.target}/{a.max_size}" if a.target is not None and a.max_size is not None else ""
    if not a.fits:
        return (
            f"a new node of pool {a.pool} would not fit either (like {a.template_node}): "
            + ", ".join(a.reasons)
        )
    if a.at_max:
        return f"a new node of pool {a.pool} would fit, but the pool is at its maximum{size}"
    if a.backoff:
        return (
            f"a new node of pool {a.pool} would fit, but the autoscaler is backing off scale-ups "
            f"of {a.node_group}: {a.backoff}"
        )
    if a.node_group:
        return (
            f"a new node of pool {a.pool} would fit, and the autoscaler may add one "
            f"(node group {a.node_group}{size.replace('/', ' of max ') if size else ''})"
        )
    return (
        f"a new node of pool {a.pool} would fit; the snapshot shows no autoscaler for it, "
        f"so scale it: `az aks nodepool scale --name {a.pool} --node-count N ...`"
    )


def largest_shortfall(
    snap: Snapshot, pod: dict, profile: Profile | None, answers: list[PoolAnswer]
) -> str:
    """When no pool's new node fits for lack of a resource: the request against the largest node.

    "the pod asks for 8 nvidia.com/gpu and the largest node (pool gpupool) has 4".
    """
    if not answers or any(a.fits for a in answers) or all(a.fits is None for a in answers):
        return ""
    profile = profile or Profile.for_server(snap.server_version)
    try:
        wanted = pod_requests(pod)
    except QuantityError:
        return ""
    pools = nodes_by_pool(snap)
    parts = []
    for resource, amount in sorted(wanted.items()):
        if not amount or resource == "pods":
            continue
        best, best_pool = -1, ""
        for a in answers:
            for node in pools.get(a.pool, [])[:1]:
                have = NodeInfo(node, [], profile).allocatable.get(resource, 0)
                if have > best:
                    best, best_pool = have, a.pool
        if 0 <= best < amount:
            parts.append(
                f"the pod asks for {format_amount(resource, amount)} {resource} and the largest "
                f"node (pool {best_pool}) has {format_amount(resource, best)} allocatable"
            )
    return "; ".join(parts)


def summary(answers: list[PoolAnswer], shortfall: str) -> str:
    """One line over all pools."""
    if not answers:
        return "no node pools found (nodes carry no agentpool label and no autoscaler status)"
    fitting = [a for a in answers if a.fits]
    if not fitting:
        known = [a for a in answers if a.fits is not None]
        line = "no pool's new node fits"
        if shortfall:
            line += f": {shortfall}"
        elif known:
            line += ": " + "; ".join(f"{a.pool}: {', '.join(a.reasons)}" for a in known)
        unknown = [a.pool for a in answers if a.fits is None]
        if unknown:
            line += f" (unknown for pools scaled to zero: {', '.join(unknown)})"
        return line
    return "; ".join(a.text for a in fitting)


def new_node_section(
    snap: Snapshot, pod: dict, profile: Profile | None = None, *, rejected_before_nodes: str = ""
) -> dict[str, Any]:
    """why-pending's `new_nodes`: per pool, would an empty node fit, and what scales it.

    `summary` is one line; `pools` one entry per pool; `autoscaler` what its status and its
    latest event on the pod say; `provisioning` NodePool/NodeClaim notes (Karpenter).
    `rejected_before_nodes`: the scheduler's PreFilter rejection, when it turned the pod away
    before looking at any node; then no new node can help, and no pool is asked.
    """
    from amldoctor.capacity.karpenter import provisioning_notes

    answers = [] if rejected_before_nodes else new_node_answers(snap, pod, profile)
    status = autoscaler.read_status(snap)
    said = autoscaler.pod_scale_up(snap, pod)
    auto: dict[str, Any] = {"status_config_map": status is not None}
    if status is not None:
        auto["form"] = status.form
        auto["last_updated"] = status.updated.isoformat() if status.updated else None
        age = autoscaler.staleness_seconds(status, snap.captured_at)
        auto["stale"] = age is not None and age > autoscaler.STALE_AFTER_SECONDS
    if said is not None:
        auto["latest_event"] = said.message
    return {
        "summary": (
            f"no: the scheduler turns the pod away before it looks at any node "
            f"({rejected_before_nodes}); a new node changes nothing until that is fixed"
        )
        if rejected_before_nodes
        else summary(answers, largest_shortfall(snap, pod, profile, answers)),
        "pools": [a.to_dict() for a in answers],
        "autoscaler": auto,
        "provisioning": provisioning_notes(snap, pod),
    }
