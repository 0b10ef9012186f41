"""DRA's structured-parameters allocator, for one node: which devices could the pod's claims get?

Mirrors what kube-scheduler v1.35 does with the default feature set (the "incubating" allocator
of dynamic-resource-allocation/structured, with PartitionableDevices, DeviceTaints,
ConsumableCapacity and binding conditions off):

- **Pools for a node.** A ResourceSlice counts for a node when its `nodeName` is the node, it
  has `allNodes`, or its `nodeSelector` matches; slices with per-device node selection or shared
  counters are skipped. Slices are grouped into pools by (driver, pool name); only the newest
  `pool.generation` counts. A pool is complete when it has `resourceSliceCount` slices of that
  generation in the cluster, incomplete otherwise (its devices are not used), obsolete when a
  newer generation exists somewhere (ignored), and invalid when two devices share a name.
- **Devices.** A device is a candidate for a request when the DeviceClass selectors and the
  request's selectors all match (CEL, see `dracel`) and no claim in the cluster has it
  allocated (unless the request asks for admin access).
- **Search.** Claims in order, requests in order, `firstAvailable` subrequests in order, and
  `count` devices per ExactCount request (`All`: every matching device, none in use, at least
  one); `matchAttribute` constraints must hold. The search is exhaustive, so the answer does not
  depend on the order in which the scheduler happens to visit pools.

Besides yes/no, `explain` counts for each request what the node offers (devices in its slices,
those matching the class, those matching the request, those taken by which claims), which is
what a user needs to fix the claim or the cluster.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from amldoctor.k8s.nodeaffinity import NodeSelector
from amldoctor.scheduling.plugins import dracel
from amldoctor.scheduling.plugins.dracel import DeviceView, Unevaluable

DeviceID = tuple[str, str, str]  # driver, pool, device
MAX_RESULTS = 32  # resourceapi.AllocationResultsMaxSize
_SEARCH_BUDGET = 200_000


def claim_ref(claim: Mapping) -> str:
    meta = claim.get("metadata") or {}
    return f"{meta.get('namespace') or 'default'}/{meta.get('name') or '?'}"


@dataclass(frozen=True)
class Device:
    id: DeviceID
    raw: Mapping = field(repr=False, compare=False)
    view: DeviceView = field(repr=False, compare=False)

    @property
    def label(self) -> str:
        return "/".join(self.id)


@dataclass
class Pool:
    driver: str
    name: str
    devices: list[Device] = field(default_factory=list)
    incomplete: bool = False
    invalid: str = ""


@dataclass(frozen=True)
class Alternative:
    """One way to satisfy a request: an `exactly` request, or one `firstAvailable` entry."""

    name: str  # "gpu" or "gpu/a100" for a subrequest
    base: str  # the request's own name (constraints and results refer to it)
    class_name: str
    selectors: tuple[str, ...]
    mode: str  # ExactCount | All
    count: int
    admin_access: bool


@dataclass(frozen=True)
class Request:
    claim: str  # ns/name
    claim_index: int
    name: str
    alternatives: tuple[Alternative, ...]


@dataclass(frozen=True)
class Constraint:
    requests: frozenset[str]  # empty: all requests of the claim
    attribute: str  # fully qualified


def requests_of(claim: Mapping, index: int) -> list[Request]:
    """The claim's requests as the allocator reads them."""
    out = []
    for req in ((claim.get("spec") or {}).get("devices") or {}).get("requests") or []:
        name = str(req.get("name") or "")
        alts: list[Alternative] = []
        if req.get("exactly"):
            alts.append(_alternative(req["exactly"], name, name))
        for sub in req.get("firstAvailable") or []:
            alts.append(_alternative(sub, f"{name}/{sub.get('name') or ''}", name))
        out.append(Request(claim_ref(claim), index, name, tuple(alts)))
    return out


def _alternative(raw: Mapping, name: str, base: str) -> Alternative:
    selectors = tuple(
        str((s.get("cel") or {}).get("expression") or "") for s in raw.get("selectors") or []
    )
    mode = str(raw.get("allocationMode") or "ExactCount")
    count = raw.get("count")
    return Alternative(
        name=name,
        base=base,
        class_name=str(raw.get("deviceClassName") or ""),
        selectors=selectors,
        mode=mode,
        count=count if isinstance(count, int) and count > 0 else 1,
        admin_access=bool(raw.get("adminAccess")),
    )


def constraints_of(claim: Mapping) -> list[Constraint]:
    out = []
    for c in ((claim.get("spec") or {}).get("devices") or {}).get("constraints") or []:
        if c.get("matchAttribute"):
            out.append(Constraint(frozenset(c.get("requests") or ()), str(c["matchAttribute"])))
    return out


class DraState:
    """The cluster's DRA objects, indexed once per snapshot: slices, classes, devices in use."""

    def __init__(
        self, slices: Sequence[Mapping], classes: Mapping[str, Mapping], claims: Sequence[Mapping]
    ) -> None:
        self.slices = [s for s in slices if isinstance(s.get("spec"), Mapping)]
        # Indexed once, so that gathering one node's pools reads its own slices and those that
        # may reach any node (`nodeSelector`, `allNodes`), not every slice of the cluster: with
        # a slice per GPU node, that would be nodes x slices. Positions keep the cluster's order.
        self._local: dict[str, list[tuple[int, Mapping]]] = {}
        self._shared: list[tuple[int, Mapping]] = []
        self._by_pool: dict[tuple[str, str], list[Mapping]] = {}
        for position, s in enumerate(self.slices):
            spec = s["spec"]
            self._by_pool.setdefault(_pool_key(spec), []).append(spec)
            if spec.get("nodeName"):
                self._local.setdefault(spec["nodeName"], []).append((position, s))
            else:
                self._shared.append((position, s))
        self.classes = classes
        self.allocated: dict[DeviceID, list[str]] = {}
        for claim in claims:
            allocation = (claim.get("status") or {}).get("allocation") or {}
            for r in (allocation.get("devices") or {}).get("results") or []:
                if r.get("adminAccess"):
                    continue
                key = (str(r.get("driver")), str(r.get("pool")), str(r.get("device")))
                self.allocated.setdefault(key, []).append(claim_ref(claim))
        self._pools: dict[str, list[Pool]] = {}
        self._match: dict[tuple[int, str], bool | Unevaluable] = {}

    def pools(self, node: Mapping) -> list[Pool]:
        """The pools whose slices reach `node`, as `GatherPools` builds them."""
        name = str((node.get("metadata") or {}).get("name") or "")
        if name not in self._pools:
            self._pools[name] = self._gather(node, name)
        return self._pools[name]

    def _gather(self, node: Mapping, name: str) -> list[Pool]:
        grouped: dict[tuple[str, str], list[Mapping]] = {}
        candidates = heapq.merge(self._local.get(name, ()), self._shared, key=lambda p: p[0])
        for _, s in candidates:
            spec = s["spec"]
            if spec.get("perDeviceNodeSelection") or spec.get("sharedCounters"):
                continue
            if not _reaches(spec, node, name):
                continue
            key = _pool_key(spec)
            have = grouped.get(key)
            gen = _generation(spec)
            if have is None or gen > _generation(have[0]["spec"]):
                grouped[key] = [s]
            elif gen == _generation(have[0]["spec"]):
                have.append(s)
        pools = []
        for (driver, pool_name), slices in sorted(grouped.items()):
            gen = _generation(slices[0]["spec"])
            wanted = (slices[0]["spec"].get("pool") or {}).get("resourceSliceCount")
            everywhere = self._by_pool[(driver, pool_name)]
            pool = Pool(driver, pool_name)
            if len(slices) != wanted:
                if any(_generation(sp) > gen for sp in everywhere):
                    continue  # obsolete: a newer generation exists elsewhere
                if sum(1 for sp in everywhere if _generation(sp) == gen) != wanted:
                    pool.incomplete = True
                    pools.append(pool)
                    continue
            seen: set[str] = set()
            for s in slices:
                for raw in s["spec"].get("devices") or []:
                    dev_name = str(raw.get("name") or "")
                    if dev_name in seen:
                        pool.invalid = f"duplicate device name {dev_name}"
                    seen.add(dev_name)
                    pool.devices.append(
                        Device((driver, pool_name, dev_name), raw, dracel.device_view(driver, raw))
                    )
            pools.append(pool)
        return pools

    def matches(self, device: Device, expression: str) -> bool:
        """Cached per device and expression: network-attached devices recur on every node.
        Raises Unevaluable."""
        key = (id(device.raw), expression)
        found = self._match.get(key)
        if found is None:
            try:
                found = dracel.matches(expression, device.view)
            except Unevaluable as exc:
                found = exc
            self._match[key] = found
        if isinstance(found, Unevaluable):
            raise found
        return found


def _pool_key(spec: Mapping) -> tuple[str, str]:
    return (str(spec.get("driver") or ""), str((spec.get("pool") or {}).get("name") or ""))


def _generation(spec: Mapping) -> int:
    gen = (spec.get("pool") or {}).get("generation")
    return gen if isinstance(gen, int) else 0


def _reaches(spec: Mapping, node: Mapping, name: str) -> bool:
    if spec.get("nodeName"):
        return spec["nodeName"] == name
    if spec.get("allNodes"):
        return True
    if spec.get("nodeSelector"):
        return NodeSelector(spec["nodeSelector"]).matches(node)
    return False


class SelectorError(Exception):
    """A selector amldoctor cannot evaluate on some device of this node."""

    def __init__(self, where: str, expression: str, device: Device, reason: str) -> None:
        self.where, self.expression, self.device, self.reason = where, expression, device, reason
        super().__init__(
            f"cannot evaluate selector {expression!r} of {where} on device {device.label}: {reason}"
        )


class AllocationError(Exception):
    """What the scheduler reports as an error for the whole attempt (not a node verdict)."""


@dataclass
class Candidates:
    """What one request alternative finds on one node."""

    alternative: Alternative
    on_node: int  # devices in complete, valid pools reaching the node
    class_match: list[Device]
    request_match: list[Device]
    free: list[Device]
    taken: dict[str, list[str]]  # device label -> claims holding it


class NodeAllocator:
    """The allocation search for one pod's unallocated claims on one node."""

    def __init__(self, state: DraState, claims: Sequence[Mapping]) -> None:
        self.state = state
        self.claims = claims
        self.requests = [r for i, c in enumerate(claims) for r in requests_of(c, i)]
        self.constraints = [constraints_of(c) for c in claims]

    def candidates(self, alt: Alternative, request: Request, pools: list[Pool]) -> Candidates:
        """Devices of the node for this alternative, filtered step by step. Raises
        SelectorError when some selector cannot be evaluated on a device."""
        cls = self.state.classes.get(alt.class_name) or {}
        class_sel = [
            str((s.get("cel") or {}).get("expression") or "")
            for s in (cls.get("spec") or {}).get("selectors") or []
        ]
        usable = [d for p in pools if not p.incomplete and not p.invalid for d in p.devices]
        class_match = [
            d for d in usable if self._all(d, class_sel, f"device class {alt.class_name}")
        ]
        request_match = [
            d
            for d in class_match
            if self._all(d, alt.selectors, f"claim {request.claim}, request {alt.name}")
        ]
        taken = {
            d.label: self.state.allocated[d.id]
            for d in request_match
            if d.id in self.state.allocated and not alt.admin_access
        }
        free = [d for d in request_match if d.label not in taken]
        return Candidates(alt, len(usable), class_match, request_match, free, taken)

    def _all(self, device: Device, selectors: Sequence[str], where: str) -> bool:
        for expr in selectors:
            try:
                if not self.state.matches(device, expr):
                    return False
            except Unevaluable as exc:
                raise SelectorError(where, expr, device, str(exc)) from exc
        return True

    def allocate(self, node: Mapping) -> bool:
        """Can every request of every claim be satisfied on `node` at once? Raises
        SelectorError or AllocationError as described on them."""
        pools = self.state.pools(node)
        table: list[list[Candidates]] = []
        for request in self.requests:
            alts = []
            for alt in request.alternatives:
                if alt.mode == "All":
                    bad = [p for p in pools if p.incomplete or p.invalid]
                    if bad:
                        what = "being updated" if bad[0].incomplete else "invalid"
                        raise AllocationError(
                            f"claim {request.claim}, request {alt.name}: asks for all devices, "
                            f"but resource pool {bad[0].driver}/{bad[0].name} is currently {what}"
                        )
                alts.append(self.candidates(alt, request, pools))
            table.append(alts)
        self._budget = _SEARCH_BUDGET
        return self._search(0, table, set(), [{} for _ in self.claims], [0] * len(self.claims))

    def _search(
        self,
        i: int,
        table: list[list[Candidates]],
        used: set[DeviceID],
        values: list[dict[int, Any]],
        sizes: list[int],
    ) -> bool:
        if i == len(self.requests):
            return True
        request = self.requests[i]
        for cands in table[i]:
            alt = cands.alternative
            if alt.mode == "All":
                if not cands.request_match or cands.taken:
                    continue
                if any(d.id in used for d in cands.request_match):
                    continue
                picks: Iterator[list[Device]] = iter([cands.request_match])
                need = len(cands.request_match)
            else:
                need = alt.count
                pool = cands.request_match if alt.admin_access else cands.free
                picks = _combinations([d for d in pool if d.id not in used], need)
            if sizes[request.claim_index] + need > MAX_RESULTS:
                continue
            for chosen in picks:
                self._budget -= 1
                if self._budget < 0:
                    raise AllocationError("the allocation search is too large to simulate")
                saved = dict(values[request.claim_index])
                if not self._constraints_hold(request, alt, chosen, values):
                    values[request.claim_index] = saved
                    continue
                used.update(d.id for d in chosen)
                sizes[request.claim_index] += need
                if self._search(i + 1, table, used, values, sizes):
                    return True
                sizes[request.claim_index] -= need
                used.difference_update(d.id for d in chosen)
                values[request.claim_index] = saved
        return False

    def _constraints_hold(
        self, request: Request, alt: Alternative, chosen: list[Device], values: list[dict]
    ) -> bool:
        mine = values[request.claim_index]
        for k, c in enumerate(self.constraints[request.claim_index]):
            if c.requests and alt.base not in c.requests and alt.name not in c.requests:
                continue
            for d in chosen:
                value = attribute_value(d, c.attribute)
                if value is None:
                    return False
                if k in mine and mine[k] != value:
                    return False
                mine[k] = value
        return True


def attribute_value(device: Device, qualified: str) -> Any:
    """A device's attribute by fully qualified name (the driver's own domain may be omitted in
    the slice), as a comparable tuple; None when the device lacks it."""
    attrs = device.raw.get("attributes") or {}
    domain, _, short = qualified.partition("/")
    raw = attrs.get(qualified)
    if raw is None and domain == device.id[0]:
        raw = attrs.get(short)
    if not isinstance(raw, Mapping) or not raw:
        return None
    kind = next(iter(raw))
    return (kind, raw[kind])


def _combinations(devices: list[Device], n: int) -> Iterator[list[Device]]:
    """Every n-subset in order; one subset is enough to know a request fits, so feasibility
    does not depend on the scheduler's pool order."""
    if n > len(devices):
        return
    if n == 1:
        for d in devices:
            yield [d]
        return
    for k in range(len(devices) - n + 1):
        for rest in _combinations(devices[k + 1 :], n - 1):
            yield [devices[k], *rest]


def slices_for_new_node(slices: Sequence[Mapping], source: str, name: str) -> list[dict]:
    """The node-local ResourceSlices a DRA driver would publish for a new node `name` shaped
    like node `source` (a DaemonSet publishes one pool per node): copies of `source`'s."""
    out = []
    for s in slices:
        spec = s.get("spec") or {}
        if spec.get("nodeName") != source:
            continue
        pool = dict(spec.get("pool") or {})
        pool["name"] = f"{pool.get('name') or source}-{name}"
        meta = {"name": f"{(s.get('metadata') or {}).get('name')}-{name}"}
        out.append({**s, "metadata": meta, "spec": {**spec, "nodeName": name, "pool": pool}})
    return out
