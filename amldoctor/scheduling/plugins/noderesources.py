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
from amldoctor.scheduling.plugins.base import Plugin
from amldoctor.scheduling.status import SUCCESS, Code, PreFilterOutcome, Reason, Status, fail

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
        items: list[Reason] = []
        unresolvable = False
        allowed = node.allocatable.get(PODS, 0)
        if len(node.pods) + 1 > allowed:
            items.append(
                Reason(
                    TOO_MANY_PODS,
                    f"node {node.name} already runs {len(node.pods)} pods; it allows {allowed}",
                    {"resource": PODS, "requested": 1, "used": len(node.pods), "capacity": allowed},
                )
            )
        allocatable, requested = node.allocatable, node.requested
        for resource, wanted in self._checked:
            capacity = allocatable.get(resource, 0)
            used = requested.get(resource, 0)
            if wanted <= capacity - used:
                continue
            too_small = wanted > capacity
            unresolvable |= too_small
            items.append(
                Reason(
                    insufficient(resource),
                    _detail(node.name, resource, wanted, used, capacity),
                    {
                        "resource": resource,
                        "requested": wanted,
                        "used": used,
                        "capacity": capacity,
                        "unresolvable": too_small,
                    },
                )
            )
        if items and self.profile.features.dra_extended_resource:
            # DRAExtendedResource: a resource the node does not offer at all but a DeviceClass
            # maps (spec.extendedResourceName) is the DynamicResources plugin's to judge.
            items = [
                r
                for r in items
                if not (r.evidence["capacity"] == 0 and r.evidence["resource"] in self._dra_mapped)
            ]
            unresolvable = any(r.evidence["unresolvable"] for r in items)
        if not items:
            return None
        code = (
            Code.UNRESOLVABLE
            if unresolvable and self.profile.at_least(1, 34)
            else Code.UNSCHEDULABLE
        )
        return Status(self.name, code, tuple(items))


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
