"""NodeResourcesFit: pod count, cpu, memory, ephemeral storage and every scalar resource.

Requests are compared with `allocatable - Σ requests of the pods on the node`, with `>` on
integers (milli-CPU, bytes, units). Scalar reasons come out of a Go map, so their order is
unspecified; amldoctor sorts them. Capacity is never used, and live usage never matters.
"""

from __future__ import annotations

from collections.abc import Hashable
from functools import cached_property

from amldoctor.k8s.quantity import format_amount
from amldoctor.k8s.resources import (
    CPU,
    EPHEMERAL_STORAGE,
    MEMORY,
    PODS,
    has_sidecars,
    is_extended_resource,
    pod_requests,
)
from amldoctor.scheduling import names
from amldoctor.scheduling.cluster import NodeInfo
from amldoctor.scheduling.columns import node_columns
from amldoctor.scheduling.plugins.base import Plugin
from amldoctor.scheduling.status import (
    SUCCESS,
    Code,
    PreFilterOutcome,
    Reason,
    Status,
    fail,
)

TOO_MANY_PODS = "Too many pods"
SIDECARS_DISABLED = (
    "Pod has a restartable init container and the SidecarContainers feature is disabled"
)
_NATIVE = (CPU, MEMORY, EPHEMERAL_STORAGE)


def insufficient(resource: str) -> str:
    return f"Insufficient {resource}"


class NodeResourcesFit(Plugin):
    name = names.NODE_RESOURCES_FIT
    short = "resources"
    funnel = "have room for the requests"
    funnel_rank = 13

    def __init__(self, cluster) -> None:
        super().__init__(cluster)
        # The caller validates the incoming pod's quantities (and reports bad ones as input errors).
        self.request = pod_requests(
            self.pod,
            pod_level_resources=self.profile.features.pod_level_resources,
            use_status=False,
        )
        # The resources to compare, in the order reasons are listed (native first, then scalar
        # resources sorted): the same for every node, so worked out once.
        req = self.request
        self._statuses: dict[tuple[Fact, ...], Status | None] = {}
        # A request larger than the node's allocatable cannot be solved by preemption (1.34+).
        self._too_small_code = (
            Code.UNRESOLVABLE if self.profile.at_least(1, 34) else Code.UNSCHEDULABLE
        )
        self._checked = [
            (resource, req[resource])
            for resource in (*_NATIVE, *sorted(r for r in req if r not in _NATIVE))
            if req.get(resource, 0) > 0 and (resource in _NATIVE or not self._ignored(resource))
        ]

    def filter_key(self) -> Hashable:
        return tuple(self._checked)  # the profile is part of the shared table's key

    @cached_property
    def _dra_mapped(self) -> frozenset[str]:
        """Extended resource names DeviceClasses provide: their `spec.extendedResourceName`
        and the implicit `deviceclass.resource.kubernetes.io/<class>`."""
        names = set()
        for dc in self.cluster.snap.of_kind("DeviceClass"):
            spec = dc.get("spec") or {}
            if spec.get("extendedResourceName"):
                names.add(spec["extendedResourceName"])
            names.add(
                f"deviceclass.resource.kubernetes.io/{(dc.get('metadata') or {}).get('name')}"
            )
        return frozenset(names)

    def pre_filter(self) -> PreFilterOutcome:
        if not self.profile.features.sidecar_containers and has_sidecars(self.pod):
            status = fail(
                self.name,
                Code.UNRESOLVABLE,
                SIDECARS_DISABLED,
                "the pod has an init container with restartPolicy: Always, which this release "
                "does not support",
            )
            return PreFilterOutcome.reject(
                Status(status.plugin, status.code, status.items, "PreFilter")
            )
        return SUCCESS

    def _ignored(self, resource: str) -> bool:
        if not is_extended_resource(resource):
            return False
        group = resource.split("/", 1)[0]
        return (
            resource in self.profile.ignored_resources
            or group in self.profile.ignored_resource_groups
        )

    def filter(self, node: NodeInfo) -> Status | None:
        allocatable, requested = node.allocatable, node.requested
        facts: list[Fact] = []
        allowed = allocatable.get(PODS, 0)
        if node.pod_count + 1 > allowed:
            facts.append((TOO_MANY_PODS, 1, node.pod_count, allowed))
        for resource, wanted in self._checked:
            capacity = allocatable.get(resource, 0)
            used = requested.get(resource, 0)
            if wanted > capacity - used:
                facts.append((resource, wanted, used, capacity))
        return self._status(tuple(facts)) if facts else None

    def filter_nodes(self) -> list[Status | None]:
        """`filter` on every node at once, from the cluster's columns: one pass per resource
        compares the request with every node's free amount, and nodes with the same amounts
        share one status (its detail names the node only when shown)."""
        columns = node_columns(self.cluster)
        facts: dict[int, list[Fact]] = {}
        pods, allowed = columns.pods, columns.allowed_pods
        for i in [i for i, (n, a) in enumerate(zip(pods, allowed, strict=True)) if n + 1 > a]:
            facts[i] = [(TOO_MANY_PODS, 1, pods[i], allowed[i])]
        for resource, wanted in self._checked:
            capacity, used = columns.amounts(resource)
            short = [
                i for i, (c, u) in enumerate(zip(capacity, used, strict=True)) if wanted > c - u
            ]
            for i in short:
                fact = (resource, wanted, used[i], capacity[i])
                if i in facts:
                    facts[i].append(fact)
                else:
                    facts[i] = [fact]
        out: list[Status | None] = [None] * len(pods)
        for i, found in facts.items():
            out[i] = self._status(tuple(found))
        return out

    def _status(self, facts: tuple[Fact, ...]) -> Status | None:
        """The status for a node short of `facts` (one per reason, in order), shared by every
        node short of the same amounts; None when DRA takes every reason away."""
        known = self._statuses.get(facts, _UNSET)
        if known is not _UNSET:
            return known  # type: ignore[return-value]
        items: list[Reason] = []
        unresolvable = False
        for resource, wanted, used, capacity in facts:
            if resource == TOO_MANY_PODS:
                evidence: dict = {
                    "resource": PODS,
                    "requested": 1,
                    "used": used,
                    "capacity": capacity,
                }
                items.append(_TooManyPods(TOO_MANY_PODS, "", evidence))
                continue
            too_small = wanted > capacity
            unresolvable |= too_small
            evidence = {
                "resource": resource,
                "requested": wanted,
                "used": used,
                "capacity": capacity,
                "unresolvable": too_small,
            }
            items.append(_ShortOf(insufficient(resource), "", evidence))
        if items and self.profile.features.dra_extended_resource:
            # DRAExtendedResource: a resource the node does not offer at all but a DeviceClass
            # maps (spec.extendedResourceName) is the DynamicResources plugin's to judge.
            items = [
                r
                for r in items
                if not (r.evidence["capacity"] == 0 and r.evidence["resource"] in self._dra_mapped)
            ]
            unresolvable = any(r.evidence.get("unresolvable") for r in items)
        status = None
        if items:
            code = self._too_small_code if unresolvable else Code.UNSCHEDULABLE
            status = Status(self.name, code, tuple(items))
        self._statuses[facts] = status
        return status


# One reason's facts: (resource, requested, used, allocatable); TOO_MANY_PODS for the pod count.
Fact = tuple[str, int, int, int]
_UNSET = object()


class _TooManyPods(Reason):
    """The pod-count reason; its detail names the node only when shown."""

    __slots__ = ()

    def explain(self, node: str) -> tuple[str, dict]:
        e = self.evidence
        return f"node {node} already runs {e['used']} pods; it allows {e['capacity']}", e


class _ShortOf(Reason):
    """An `Insufficient <resource>` reason; the amounts are formatted only when shown."""

    __slots__ = ()

    def explain(self, node: str) -> tuple[str, dict]:
        e = self.evidence
        return _detail(node, e["resource"], e["requested"], e["used"], e["capacity"]), e


def _detail(node: str, resource: str, wanted: int, used: int, capacity: int) -> str:
    want = format_amount(resource, wanted)
    if capacity == 0:
        return f"pod requests {want} {resource}; node {node} has none allocatable"
    free = max(capacity - used, 0)
    return (
        f"pod requests {want} {resource}; node {node} has {format_amount(resource, free)} free "
        f"({format_amount(resource, used)} of {format_amount(resource, capacity)} allocatable "
        "already requested)"
    )
