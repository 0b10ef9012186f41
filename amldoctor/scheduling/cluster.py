"""The scheduler cache, rebuilt from a snapshot: nodes, the pods counted on each, volumes.

Every Node object is a candidate (NotReady and cordoned ones too: filters reject them). Every
non-terminal pod bound to a node counts against it, Pending-but-bound and terminating ones
included (`Snapshot.pods_on_node`). One pass over the pods (`k8s.podpass`) finds them and sums
their requests per node, so an analysis over thousands of nodes touches each pod once.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from functools import cached_property
from typing import TYPE_CHECKING

from amldoctor.k8s.podpass import PodPass, safe_requests
from amldoctor.k8s.quantity import QuantityError, parse_nanos
from amldoctor.k8s.resources import PODS, is_tracked, scheduler_units
from amldoctor.memo import memo_on
from amldoctor.scheduling.profile import Profile

if TYPE_CHECKING:
    from amldoctor.snapshot import Snapshot


def pod_key(pod: Mapping) -> tuple[str, str]:
    m = pod.get("metadata") or {}
    return (m.get("namespace") or "", m.get("name") or "")


def pod_priority(pod: Mapping) -> int:
    value = (pod.get("spec") or {}).get("priority")
    return value if isinstance(value, int) else 0


def host_ports(pod: Mapping) -> list[tuple[str, str, int]]:
    """`GetHostPorts`: (hostIP, protocol, hostPort) of containers and sidecars, sanitized."""
    spec = pod.get("spec") or {}
    containers = list(spec.get("containers") or [])
    containers += [
        c for c in spec.get("initContainers") or [] if c.get("restartPolicy") == "Always"
    ]
    out = []
    for c in containers:
        for p in c.get("ports") or []:
            port = p.get("hostPort") or 0
            if isinstance(port, int) and port > 0:
                out.append((p.get("hostIP") or "0.0.0.0", p.get("protocol") or "TCP", port))
    return out


def occupancy(snap: Snapshot) -> PodPass:
    """The snapshot's one pass over its pods (`k8s.podpass`), once per snapshot; the snapshot
    adopts its index of pods by node when it has none yet. A what-if snapshot that holds
    another's pods and more (`Snapshot.extends`) extends the other's pass with the added pods:
    a pass over the cluster's pods for each pool asked "would a new node help?" cost more than
    the question. (The two snapshots then share the lists of the nodes the added pods do not
    touch; either may sort them in place, which leaves the same pods, in an order valid for
    both.)"""

    def build() -> PodPass:
        if snap.extends is not None:
            base, added = snap.extends
            pods = [obj for obj in added if obj.get("kind") == "Pod"]
            made = occupancy(base).extended(pods)
        else:
            made = PodPass().add_all(snap.unordered("Pod"))
        made.by_node = snap.adopt_pods_by_node(made.by_node)
        return made

    return memo_on(snap, "occupancy", build)


def _anti_affinity_pods(snap: Snapshot) -> list[Mapping]:
    """Counted pods that carry required pod anti-affinity (few, in real clusters), in the order
    of the nodes and of their pods.

    One pass over every pod's affinity finds them; only the nodes they name are then walked for
    the order, so a single question does not read each of the cluster's bound pods twice.
    """
    marked = occupancy(snap).anti_affinity
    if not marked:
        return []
    on_nodes = set(marked.values())
    found: list[Mapping] = []
    for node in snap.nodes:
        name = (node.get("metadata") or {}).get("name") or ""
        if name in on_nodes:
            found.extend(pod for pod in snap.pods_on_node(name) if id(pod) in marked)
    return found


class NodeInfo:
    """One node as the scheduler sees it: allocatable, requested, pods, ports."""

    def __init__(
        self,
        node: Mapping,
        pods: Sequence[Mapping],
        profile: Profile,
        *,
        ordered: bool = True,
        requested: dict[str, int] | None = None,
    ) -> None:
        self.node = node
        self._pods = pods
        self._ordered = ordered
        self._profile = profile
        if requested is not None:  # summed by the caller (`cluster_nodes`): the cached value
            self.__dict__["requested"] = requested
        meta = node.get("metadata") or {}
        self.name: str = meta.get("name") or ""
        self.labels: Mapping[str, str] = meta.get("labels") or {}
        self.taints: list[Mapping] = (node.get("spec") or {}).get("taints") or []

    @property
    def pods(self) -> Sequence[Mapping]:
        """The pods counted on the node, by namespace and name (as `Snapshot.pods_on_node`).

        The snapshot's shared nodes are built from unordered lists and sorted only when a
        filter reads the pods in order (ports, volumes, spread, preemption): counting and summing
        them, which is all most questions need of most nodes, does not sort 5,000 lists.
        """
        if not self._ordered:
            self._pods = sorted(self._pods, key=pod_key)
            self._ordered = True
        return self._pods

    @property
    def pod_count(self) -> int:
        return len(self._pods)

    @cached_property
    def taint_key(self) -> str:
        """The node's taints, whole (`timeAdded` too, which the evidence quotes): nodes of a
        pool share it, so a simulation matches the pod's tolerations and builds its verdict
        once per pool rather than once per node."""
        return repr(self.taints) if self.taints else ""

    @cached_property
    def allocatable(self) -> dict[str, int]:
        """Scheduler units; `pods` is the allowed pod count (0 when absent)."""
        out: dict[str, int] = {}
        for name, raw in ((self.node.get("status") or {}).get("allocatable") or {}).items():
            if name != PODS and not is_tracked(name):
                continue
            try:
                out[name] = scheduler_units(name, parse_nanos(raw))
            except QuantityError:
                continue
        return out

    @cached_property
    def requested(self) -> dict[str, int]:
        """Σ per-pod rounded requests of every pod counted on the node."""
        total: dict[str, int] = {}
        for pod in self._pods:
            for name, value in self.pod_requests(pod).items():
                total[name] = total.get(name, 0) + value
        return total

    def pod_requests(self, pod: Mapping) -> dict[str, int]:
        return safe_requests(pod, self._profile.features.pod_level_resources)

    @cached_property
    def used_ports(self) -> dict[tuple[str, str, int], Mapping]:
        """(ip, protocol, port) -> the pod using it."""
        out: dict[tuple[str, str, int], Mapping] = {}
        for pod in self.pods:
            for entry in host_ports(pod):
                out.setdefault(entry, pod)
        return out

    def plus(self, extra: Iterable[Mapping]) -> NodeInfo:
        """A copy with more pods counted (nominated pods added to the node for Filter)."""
        added = list(extra)
        return self._copy([*self.pods, *added], added, 1)

    def without(self, victims: Iterable[Mapping]) -> NodeInfo:
        """A copy with some pods removed (preemption dry-run)."""
        gone = {id(p) for p in victims}
        kept = [p for p in self.pods if id(p) not in gone]
        return self._copy(kept, [p for p in self.pods if id(p) in gone], -1)

    def _copy(self, pods: list[Mapping], changed: list[Mapping], sign: int) -> NodeInfo:
        """A NodeInfo of the same node with other pods; what this one worked out is carried
        over (a preemption dry run copies thousands of nodes: their sums are adjusted by the
        few pods that changed, not summed again)."""
        copy = NodeInfo(self.node, pods, self._profile)
        known = self.__dict__
        for name in ("allocatable", "taint_key"):
            if name in known:
                copy.__dict__[name] = known[name]
        if "requested" in known:
            total = dict(known["requested"])
            for pod in changed:
                for name, value in self.pod_requests(pod).items():
                    total[name] = total.get(name, 0) + sign * value
            copy.__dict__["requested"] = total
        return copy

    def free(self, resource: str) -> int:
        if resource == PODS:
            return self.allocatable.get(PODS, 0) - self.pod_count
        return self.allocatable.get(resource, 0) - self.requested.get(resource, 0)


def cluster_nodes(snap: Snapshot, profile: Profile) -> tuple[list[NodeInfo], dict[str, NodeInfo]]:
    """Every node with the pods counted on it, built once per snapshot and shared by analyses.

    Their requested sums come from the snapshot's one pass over its pods (`occupancy`); the
    rest (allocatable, host ports) is cached on first use, so analysing hundreds of Pending
    pods reads each of the 50,000 bound pods once, as the scheduler's cache does. Only
    `pod_level_resources` changes what a NodeInfo computes, so it is the key.
    """
    flag = profile.features.pod_level_resources

    def build() -> tuple[list[NodeInfo], dict[str, NodeInfo]]:
        pods = occupancy(snap)
        # A what-if snapshot keeps the nodes of the one it extends whose pods it shares, with
        # what they worked out (allocatable, ports...): only the new node is new.
        base: dict[str, NodeInfo] = {}
        base_pods: dict[str, list[dict]] = {}
        if snap.extends is not None:
            base = cluster_nodes(snap.extends[0], profile)[1]
            base_pods = occupancy(snap.extends[0]).by_node
        nodes = []
        for node in snap.nodes:
            name = (node.get("metadata") or {}).get("name") or ""
            known = base.get(name)
            on_node = pods.by_node.get(name)
            if known is not None and known.node is node and on_node is base_pods.get(name):
                nodes.append(known)
                continue
            nodes.append(
                NodeInfo(
                    node,
                    on_node if on_node is not None else [],
                    profile,
                    ordered=False,
                    requested=pods.requested(name, flag),
                )
            )
        return nodes, {n.name: n for n in nodes}

    return memo_on(snap, ("nodes", flag), build)


def anti_affinity_pods(snap: Snapshot) -> list[Mapping]:
    """Counted pods with required pod anti-affinity, once per snapshot."""
    return memo_on(snap, "anti-affinity", lambda: _anti_affinity_pods(snap))


def nominated_pods(snap: Snapshot) -> dict[str, list[Mapping]]:
    """Node name -> the pods the default scheduler's nominator holds for it, once per snapshot
    (`k8s.podpass.held_by_nominator`)."""
    return occupancy(snap).nominated


class ClusterView:
    """What the filters read, built from a Snapshot (the incoming pod excluded)."""

    def __init__(self, snap: Snapshot, pod: Mapping, profile: Profile) -> None:
        self.snap = snap
        self.profile = profile
        self.pod = pod
        self._pod_uid = (pod.get("metadata") or {}).get("uid")
        self._pod_key = pod_key(pod)

    def is_incoming(self, other: Mapping) -> bool:
        if other is self.pod:
            return True
        uid = (other.get("metadata") or {}).get("uid")
        if self._pod_uid and uid:
            return uid == self._pod_uid
        return pod_key(other) == self._pod_key

    @cached_property
    def _holding(self) -> set[str]:
        """Nodes the incoming pod (or the snapshot's copy of it) is bound to: only they hold it."""
        same_key = self.snap.get("Pod", *self._pod_key)
        # A pod read from the snapshot (or a copy of it: "would a new node help?") is found by
        # its key: intake keeps one object per uid, so no need to index every uid to find it.
        found = same_key is self.pod or (
            same_key is not None and (same_key.get("metadata") or {}).get("uid") == self._pod_uid
        )
        same_uid = same_key if found else self.snap.by_uid(self._pod_uid)
        copies = (self.pod, same_key, same_uid)
        names = {(c.get("spec") or {}).get("nodeName") for c in copies if c is not None}
        return {name for name in names if name}

    @cached_property
    def nodes(self) -> list[NodeInfo]:
        """The snapshot's shared nodes, with a private copy of those that hold the pod itself."""
        shared, by_name = cluster_nodes(self.snap, self.profile)
        if not self._holding & by_name.keys():
            return shared
        return [
            n.without([p for p in n.pods if self.is_incoming(p)]) if n.name in self._holding else n
            for n in shared
        ]

    def anti_affinity_pods(self) -> Iterator[tuple[Mapping, NodeInfo]]:
        """Counted pods with required anti-affinity, with their node."""
        for pod in anti_affinity_pods(self.snap):
            node = self.node_by_name.get((pod.get("spec") or {}).get("nodeName") or "")
            if node is not None and not self.is_incoming(pod):
                yield pod, node

    @cached_property
    def node_by_name(self) -> dict[str, NodeInfo]:
        shared, by_name = cluster_nodes(self.snap, self.profile)
        if self.nodes is shared:
            return by_name
        return {n.name: n for n in self.nodes}

    def bound_pods(self) -> Iterator[tuple[Mapping, NodeInfo]]:
        """Every counted pod with its node (for inter-pod affinity and topology spread)."""
        for node in self.nodes:
            for pod in node.pods:
                yield pod, node

    def nominated_on(self, node_name: str) -> list[Mapping]:
        """Other pods nominated to `node_name` with priority >= the pod's (`addGENominatedPods`):
        the scheduler adds them to the node before running Filter on it."""
        mine = pod_priority(self.pod)
        return [
            p
            for p in nominated_pods(self.snap).get(node_name, ())
            if pod_priority(p) >= mine and not self.is_incoming(p)
        ]

    def pvc(self, namespace: str, name: str) -> Mapping | None:
        return self.snap.get("PersistentVolumeClaim", namespace, name)

    def pv(self, name: str) -> Mapping | None:
        return self.snap.get("PersistentVolume", None, name)

    def storage_class(self, name: str) -> Mapping | None:
        return self.snap.get("StorageClass", None, name)

    def collected(self, kind: str) -> bool:
        return bool(self.snap.collected(kind))

    def namespace_labels(self, namespace: str) -> Mapping[str, str] | None:
        ns = self.snap.get("Namespace", None, namespace)
        return None if ns is None else (ns.get("metadata") or {}).get("labels") or {}

    @cached_property
    def persistent_volumes(self) -> list[Mapping]:
        return list(self.snap.of_kind("PersistentVolume"))
