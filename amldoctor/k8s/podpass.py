"""One pass over a cluster's pods for what every placement question reads of them.

The pods counted on each node (bound and not finished: what the scheduler counts), the sum of
their requests per node, and the few pods a simulation treats specially (required pod
anti-affinity; pods the default scheduler's nominator holds for a node). A question about one
pod on a 5,000-node cluster reads each of 50,000 pods: once for every purpose here, rather than
once per purpose. (Made while the loader decodes each pod, it cost as much as made after: the
cost is Python's work per pod, not memory, so it is made when a question first needs it.)

The sums do not depend on the scheduler being imitated: a plain pod's requests are its
containers' (`plain_containers`), and the other pods (init containers, overhead, pod-level
resources, a resize in progress) are kept per node for `requested` to add with the profile's
rules.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TypeVar

from amldoctor.k8s.objects import DEFAULT_SCHEDULER, TERMINAL_PHASES
from amldoctor.k8s.quantity import QuantityError
from amldoctor.k8s.resources import limits_requested, plain_containers, pod_requests

_EMPTY: Mapping = {}
T = TypeVar("T")


class PodPass:
    """Per-node pods and sums, built by `add` one pod at a time (see the module docstring)."""

    def __init__(self) -> None:
        self.by_node: dict[str, list[dict]] = {}  # node -> its counted pods, in order
        self.plain_sums: dict[str, dict[str, int]] = {}  # node -> Σ requests of plain pods
        self.not_plain: dict[str, list[Mapping]] = {}  # node -> its other counted pods
        self.anti_affinity: dict[int, str] = {}  # id(pod) -> its node: required anti-affinity
        self.nominated: dict[str, list[Mapping]] = {}  # node -> pods the nominator holds there
        # The decoder builds a repeated `resources` block once and shares it between the
        # replicas that carry it (and the statuses that report it): a plain pod's requests are
        # worked out once per combination of its containers' blocks, found by their
        # identities. Each entry holds what it was worked out from, so no identity is reused
        # by another block while the pass lives.
        self._by_blocks: dict[tuple[int, ...], tuple[dict[str, int], list]] = {}
        self._by_block: dict[int, _Block] = {}  # one container's block: `_one_container`

    def add_all(self, pods: Iterable[dict]) -> PodPass:
        for pod in pods:
            self.add(pod)
        return self

    def extended(self, pods: list[dict]) -> PodPass:
        """This pass with `pods` added after its own, for a what-if snapshot that holds this
        one's pods and more ("would a new node help?" with the whole cluster: a template node
        and its DaemonSet pods). Nothing of this pass is changed: what the added pods touch is
        copied first, the rest is shared (read-only, as everything here)."""
        other = PodPass()
        other._by_blocks, other._by_block = self._by_blocks, self._by_block  # caches
        other.anti_affinity = dict(self.anti_affinity)
        touched: set[str] = set()
        for pod in pods:
            touched.add((pod.get("spec") or _EMPTY).get("nodeName") or "")
            touched.add((pod.get("status") or _EMPTY).get("nominatedNodeName") or "")
        other.by_node = _copied(self.by_node, touched, list)
        other.not_plain = _copied(self.not_plain, touched, list)
        other.nominated = _copied(self.nominated, touched, list)
        other.plain_sums = _copied(self.plain_sums, touched, dict)
        return other.add_all(pods)

    def add(self, pod: dict) -> None:
        spec = pod.get("spec") or _EMPTY
        status = pod.get("status") or _EMPTY
        affinity = spec.get("affinity")
        if affinity:
            anti = affinity.get("podAntiAffinity") or _EMPTY
            if anti.get("requiredDuringSchedulingIgnoredDuringExecution"):
                self.anti_affinity[id(pod)] = spec.get("nodeName") or ""
        nominated_to = status.get("nominatedNodeName")
        if nominated_to and held_by_nominator(pod, spec, status):
            self.nominated.setdefault(nominated_to, []).append(pod)
        node = spec.get("nodeName")
        if not node or status.get("phase") in TERMINAL_PHASES:
            return
        on_node = self.by_node.get(node)
        if on_node is None:
            self.by_node[node] = [pod]
            total = self.plain_sums[node] = {}
        else:
            on_node.append(pod)
            total = self.plain_sums[node]
        requests = self._one_container(pod, spec, status)
        if requests is None:
            requests = self._plain_requests(pod)
        if requests is None:
            self.not_plain.setdefault(node, []).append(pod)
            return
        for name, value in requests.items():
            total[name] = total.get(name, 0) + value

    def _one_container(self, pod: Mapping, spec: Mapping, status: Mapping) -> dict[str, int] | None:
        """The requests of a plain pod of one container whose status, if any, reports its
        container's very `resources` (as decoded) or none; None when this cannot tell (then
        `_plain_requests` decides, the general way). Most pods of a cluster are this, and
        their plainness is then a few identity tests: what `plain_containers` checks of a
        status (its resources are its container's, a request for each limit) is a property
        of the shared block, worked out once per block."""
        containers = spec.get("containers")
        if type(containers) is not list or len(containers) != 1:
            return None
        if spec.get("initContainers") or spec.get("overhead") or spec.get("resources"):
            return None
        container = containers[0]
        if type(container) is not dict:
            return None
        resources = container.get("resources")
        statuses = status.get("containerStatuses")
        reports = False
        if statuses:
            if type(statuses) is not list or len(statuses) != 1:
                return None
            cstatus = statuses[0]
            if type(cstatus) is not dict or cstatus.get("allocatedResources"):
                return None
            reported = cstatus.get("resources")
            if reported:
                if reported is not resources:
                    return None
                reports = True
        block = self._by_block.get(id(resources))
        if block is None:
            block = self._by_block[id(resources)] = _Block(container, resources)
        if reports and not block.limits_requested:
            return None
        return block.requests

    def _plain_requests(self, pod: Mapping) -> dict[str, int] | None:
        """A plain pod's requests (shared between replicas: read them, never modify them);
        None for a pod that is not plain."""
        containers = plain_containers(pod)
        if containers is None:
            return None
        key = tuple([id(c.get("resources")) for c in containers])
        found = self._by_blocks.get(key)
        if found is None:
            found = self._by_blocks[key] = (safe_requests(pod, True), containers)
        return found[0]

    def requested(self, node: str, pod_level_resources: bool) -> dict[str, int]:
        """Σ per-pod rounded requests of every pod counted on the node: read it, never modify
        it (the nodes of two profiles may share it)."""
        plain = self.plain_sums.get(node)
        others = self.not_plain.get(node)
        if not others:
            return plain if plain is not None else {}
        total = dict(plain or _EMPTY)
        for pod in others:
            for name, value in safe_requests(pod, pod_level_resources).items():
                total[name] = total.get(name, 0) + value
        return total


def _copied(per_node: dict[str, T], touched: set[str], copy: Callable[[T], T]) -> dict[str, T]:
    """`per_node` with the entries of `touched` nodes copied, the others shared."""
    out = dict(per_node)
    for node in touched & per_node.keys():
        out[node] = copy(per_node[node])
    return out


def held_by_nominator(pod: Mapping, spec: Mapping, status: Mapping) -> bool:
    """The nominator knows the unbound pods in the default scheduler's own queue that carry
    `status.nominatedNodeName` (set when they preempted there): pods of other schedulers and
    pods being deleted are not in that queue."""
    if spec.get("nodeName") or (pod.get("metadata") or _EMPTY).get("deletionTimestamp"):
        return False
    if (spec.get("schedulerName") or DEFAULT_SCHEDULER) != DEFAULT_SCHEDULER:
        return False
    return status.get("phase") in (None, "Pending")


def safe_requests(pod: Mapping, pod_level_resources: bool) -> dict[str, int]:
    """Requests of a pod already in the cluster; a malformed one counts as zero."""
    try:
        return pod_requests(pod, pod_level_resources=pod_level_resources)
    except QuantityError:
        return {}


class _Block:
    """One container's `resources`, shared by the replicas of a workload: the requests of a
    plain pod of that one container, and whether a status reporting the block leaves it plain."""

    __slots__ = ("limits_requested", "requests", "resources")

    def __init__(self, container: Mapping, resources: object) -> None:
        self.resources = resources  # held, so that its identity is not reused
        # A plain pod's requests are its container's alone, whatever else the pod holds.
        self.requests = safe_requests({"spec": {"containers": [container]}}, True)
        self.limits_requested = type(resources) is dict and limits_requested(resources)
