"""A pod's effective resource requests, computed the way the kube-scheduler computes them.

This is `resource.PodRequests` (component-helpers) followed by `Resource.SetMaxResource`:
regular containers are summed, restartable init containers (sidecars) are added to that sum and
to every later init container, the pod needs the larger of the sum and the largest init step,
pod-level requests override cpu/memory/hugepages, and the RuntimeClass overhead is added last.
Quantities are summed exactly and rounded once per pod: milli-CPU for cpu, `Value()` for the rest.

Names the scheduler does not track (`pods`, bare names such as `storage`) are ignored. A request
that is absent while a limit is set defaults to the limit, as the API server does on create; raw
manifests read from disk need that, API objects already have it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache

from amldoctor.k8s.labels import is_qualified_name
from amldoctor.k8s.quantity import (
    NANO,
    QUANTITY_CACHE,
    Quantity,
    QuantityError,
    ceil_div,
    parse_nanos,
)

CPU = "cpu"
MEMORY = "memory"
EPHEMERAL_STORAGE = "ephemeral-storage"
PODS = "pods"
_NATIVE = (CPU, MEMORY, EPHEMERAL_STORAGE)
_POD_LEVEL_KEYS = (CPU, MEMORY)
_MILLI = NANO // 1000


@cache
def is_extended_resource(name: str) -> bool:
    """`IsExtendedResourceName`: a domain-prefixed name outside kubernetes.io (nvidia.com/gpu)."""
    if "/" not in name or "kubernetes.io/" in name or name.startswith("requests."):
        return False
    return is_qualified_name("requests." + name)


def is_scalar_resource(name: str) -> bool:
    """`IsScalarResourceName`: extended, hugepages-*, *kubernetes.io/* or attachable-volumes-*."""
    return (
        is_extended_resource(name)
        or name.startswith("hugepages-")
        or "kubernetes.io/" in name
        or name.startswith("attachable-volumes-")
    )


@cache
def is_tracked(name: str) -> bool:
    """Does NodeResourcesFit look at this resource name at all?"""
    return name in _NATIVE or is_scalar_resource(name)


def to_scheduler_units(name: str, q: Quantity) -> int:
    """cpu -> MilliValue(), everything else -> Value()."""
    return scheduler_units(name, q.nanos)


def _parse_list(values: Mapping | None, where: str) -> dict[str, int]:
    """Tracked resources of a ResourceList, in nano-units."""
    out: dict[str, int] = {}
    if not values:
        return out
    for name, raw in values.items():
        if not is_tracked(name):
            continue
        try:
            out[name] = parse_nanos(raw)
        except QuantityError as exc:
            raise QuantityError(
                raw, f"in {where}.{name} is not a valid Kubernetes quantity"
            ) from exc
    return out


def _requests_with_defaults(resources: Mapping | None, where: str) -> dict[str, int]:
    if not resources:
        return {}
    requests = _parse_list(resources.get("requests"), f"{where}.requests")
    limits = resources.get("limits")
    if limits:  # only the limits that stand in for a missing request are read (`_sum_plain`)
        missing = {k: v for k, v in limits.items() if k not in requests}
        for name, n in _parse_list(missing, f"{where}.limits").items():
            requests[name] = n
    return requests


def _add(into: dict[str, int], other: Mapping[str, int]) -> None:
    for name, n in other.items():
        into[name] = into.get(name, 0) + n


def _max(into: dict[str, int], other: Mapping[str, int]) -> None:
    for name, n in other.items():
        prev = into.get(name)
        if prev is None or n > prev:
            into[name] = n


def _container_where(kind: str, index: int, container: Mapping) -> str:
    return f"spec.{kind}[{container.get('name') or index}].resources"


def _resize_infeasible(pod: Mapping) -> bool:
    status = pod.get("status") or {}
    if status.get("resize") == "Infeasible":
        return True
    return any(
        c.get("type") == "PodResizePending" and c.get("reason") == "Infeasible"
        for c in status.get("conditions") or []
    )


def _status_requests(cstatus: Mapping, where: str) -> dict[str, int]:
    """What the kubelet reports it runs the container with (in-place resize)."""
    actual = _parse_list((cstatus.get("resources") or {}).get("requests"), f"{where}.status")
    _max(actual, _parse_list(cstatus.get("allocatedResources"), f"{where}.allocated"))
    return actual


def _sum_plain(total: dict[str, int], containers: list, kind: str) -> None:
    """Add containers' requests (limit-defaulted) to `total`: the hot path over every bound pod."""
    cache = QUANTITY_CACHE
    for i, c in enumerate(containers):
        res = c.get("resources")
        if not res:
            continue
        req = res.get("requests")
        lim = res.get("limits")
        if req:
            for name, raw in req.items():
                if is_tracked(name):
                    n = cache.get(raw) if type(raw) is str else None
                    if n is None:
                        n = _nanos(raw, kind, i, c, "requests", name)
                    total[name] = total.get(name, 0) + n
        if lim:
            for name, raw in lim.items():
                if (not req or name not in req) and is_tracked(name):
                    total[name] = total.get(name, 0) + _nanos(raw, kind, i, c, "limits", name)


def _nanos(raw: object, kind: str, index: int, container: Mapping, field: str, name: str) -> int:
    try:
        return parse_nanos(raw)
    except QuantityError as exc:
        where = _container_where(kind, index, container)
        raise QuantityError(
            raw, f"in {where}.{field}.{name} is not a valid Kubernetes quantity"
        ) from exc


def _regular_containers(pod: Mapping, spec: Mapping, use_status: bool) -> dict[str, int]:
    total: dict[str, int] = {}
    containers = spec.get("containers") or []
    statuses = (pod.get("status") or {}).get("containerStatuses") if use_status else None
    # `type(s) is dict` first: an isinstance check against the Mapping ABC costs more than the
    # rest of this line, and this runs for every bound pod of the cluster.
    by_name = {
        s.get("name"): s
        for s in statuses or []
        if (type(s) is dict or isinstance(s, Mapping))
        and (s.get("resources") or s.get("allocatedResources"))
    }
    if not by_name:
        _sum_plain(total, containers, "containers")
        return total
    infeasible = _resize_infeasible(pod)
    for i, c in enumerate(containers):
        where = _container_where("containers", i, c)
        reqs = _requests_with_defaults(c.get("resources"), where)
        cstatus = by_name.get(c.get("name"))
        if cstatus:
            actual = _status_requests(cstatus, where)
            if actual:
                if not infeasible:
                    _max(actual, reqs)
                reqs = actual
        _add(total, reqs)
    return total


def pod_request_nanos(
    pod: Mapping, *, pod_level_resources: bool = True, use_status: bool = True
) -> dict[str, int]:
    """Exact (unrounded) effective requests of a pod in nano-units; see the module docstring."""
    spec = pod.get("spec") or {}
    total = _regular_containers(pod, spec, use_status)
    inits = spec.get("initContainers")
    if inits:
        init_max: dict[str, int] = {}
        sidecars: dict[str, int] = {}
        for i, c in enumerate(inits):
            reqs = _requests_with_defaults(
                c.get("resources"), _container_where("initContainers", i, c)
            )
            if c.get("restartPolicy") == "Always":
                _add(total, reqs)
                _add(sidecars, reqs)
                step = dict(sidecars)
            else:
                step = dict(reqs)
                _add(step, sidecars)
            _max(init_max, step)
        _max(total, init_max)
    if pod_level_resources and spec.get("resources"):
        pod_level = _requests_with_defaults(spec.get("resources"), "spec.resources")
        for name, n in pod_level.items():
            if name in _POD_LEVEL_KEYS or name.startswith("hugepages-"):
                total[name] = n
    if spec.get("overhead"):
        _add(total, _parse_list(spec.get("overhead"), "spec.overhead"))
    return total


def pod_requests(
    pod: Mapping, *, pod_level_resources: bool = True, use_status: bool = True
) -> dict[str, int]:
    """Effective requests in scheduler units (milli-CPU, bytes, counts), keyed by resource name.

    Zero-valued entries are kept: NodeResourcesFit distinguishes "requests 0 of a scalar
    resource" from "does not mention it".
    """
    containers = plain_containers(pod)
    if containers is not None:  # the common case, without the general path's other steps
        exact: dict[str, int] = {}
        _sum_plain(exact, containers, "containers")
    else:
        exact = pod_request_nanos(
            pod, pod_level_resources=pod_level_resources, use_status=use_status
        )
    # Requests are never negative (the API server rejects them), so ceil is -(-n // step).
    return {name: -(-n // (_MILLI if name == CPU else NANO)) for name, n in exact.items()}


def plain_containers(pod: Mapping) -> list | None:
    """The containers of a plain pod, whose requests are its containers' alone; else None.

    Plain: regular containers only, no overhead, no pod-level resources, and no resources
    reported by the kubelet that could change the sum (in-place resize): a container status
    may report resources only when they are its container's own, with a request for each
    limit (then the larger of spec and status, or the status alone when a resize is
    infeasible, is the spec). Since 1.33 the kubelet reports the resources of every running
    container, mostly its spec's; nearly every pod bound to a large cluster is plain, and its
    requests can be summed (or shared between replicas) without the general path.
    """
    spec = pod.get("spec")
    if type(spec) is not dict or spec.get("initContainers") or spec.get("overhead"):
        return None
    if spec.get("resources"):
        return None
    containers = spec.get("containers") or []
    if type(containers) is not list:
        return None
    status = pod.get("status")
    if status:
        if type(status) is not dict:
            return None
        for cstatus in status.get("containerStatuses") or ():
            if type(cstatus) is not dict or cstatus.get("allocatedResources"):
                return None
            reported = cstatus.get("resources")
            if reported and not _reports_spec(reported, cstatus.get("name"), containers):
                return None
    return containers


def _reports_spec(reported: object, name: object, containers: list) -> bool:
    """Does a container status report exactly its container's resources, limits requested?
    (A status that names no container is not read.) The decoder shares equal resources, so
    the status usually holds its container's very dict."""
    if len(containers) == 1:  # the common case, without a generator
        only = containers[0]
        if type(only) is dict and only.get("name") != name:
            return True
        return _same_resources(reported, only)
    return all(
        _same_resources(reported, c)
        for c in containers
        if type(c) is not dict or c.get("name") == name
    )


def _same_resources(reported: object, container: object) -> bool:
    if type(container) is not dict:
        return False
    own = container.get("resources")
    return (own is reported or reported == own) and type(own) is dict and limits_requested(own)


def limits_requested(resources: Mapping) -> bool:
    """Does every limit have a request? (Then the limits default nothing.)"""
    limits = resources.get("limits")
    if not limits:
        return True
    requests = resources.get("requests") or {}
    return type(limits) is dict and type(requests) is dict and limits.keys() <= requests.keys()


def scheduler_units(name: str, nanos: int) -> int:
    """Scheduler units from nano-units: ceil to milli for cpu, ceil to whole units otherwise."""
    return ceil_div(nanos, _MILLI if name == CPU else NANO)


def has_sidecars(pod: Mapping) -> bool:
    """Does the pod have restartable init containers (`restartPolicy: Always`)?"""
    inits = (pod.get("spec") or {}).get("initContainers") or []
    return any(c.get("restartPolicy") == "Always" for c in inits)


@dataclass(frozen=True)
class ContainerResources:
    """One container's requests and limits in scheduler units, for explanations."""

    name: str
    kind: str  # "container", "init" or "sidecar"
    requests: dict[str, int] = field(default_factory=dict)
    limits: dict[str, int] = field(default_factory=dict)


def container_limits(container: Mapping, where: str = "container.resources") -> dict[str, int]:
    """A container's limits in scheduler units (memory limit in bytes, cpu in milli-CPU)."""
    limits = _parse_list((container.get("resources") or {}).get("limits"), f"{where}.limits")
    return {name: scheduler_units(name, n) for name, n in limits.items()}


def container_breakdown(pod: Mapping) -> list[ContainerResources]:
    """Per-container requests (limit-defaulted) and limits, in pod order, init containers first."""
    spec = pod.get("spec") or {}
    out: list[ContainerResources] = []
    for key, default_kind in (("initContainers", "init"), ("containers", "container")):
        for i, c in enumerate(spec.get(key) or []):
            where = _container_where(key, i, c)
            kind = (
                "sidecar"
                if key == "initContainers" and c.get("restartPolicy") == "Always"
                else default_kind
            )
            reqs = _requests_with_defaults(c.get("resources"), where)
            out.append(
                ContainerResources(
                    name=str(c.get("name") or f"{key}[{i}]"),
                    kind=kind,
                    requests={name: scheduler_units(name, n) for name, n in reqs.items()},
                    limits=container_limits(c, where),
                )
            )
    return out
