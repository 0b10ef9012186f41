"""DynamicResources: the pod's ResourceClaims against DeviceClasses and ResourceSlices (DRA).

What kube-scheduler v1.35 does with structured parameters, and its texts (every rejection of this
plugin is UnschedulableAndUnresolvable, so preemption never helps on a node it rejects):

- **PreEnqueue.** A claim the pod names that does not exist, is being deleted, or (from a
  template) has no entry in `status.resourceClaimStatuses` yet or is not controlled by the pod:
  the scheduler does not try the pod at all, writes no event and no condition. `blocked` says
  which; why-pending reports that state instead of a simulated message.
- **PreFilter.** `request R: device class C does not exist` for the first request (or
  `firstAvailable` entry, named `R/S`) whose class is missing, on claims not yet allocated.
- **Filter, per node.** An allocated claim whose `status.allocation.nodeSelector` does not match
  the node makes the claim unavailable there; then the unallocated claims go through the
  allocator (`draalloc`): no solution reads `cannot allocate all claims` (or `invalid resource
  pools were encountered` when a pool reaching the node is invalid); otherwise an unavailable
  allocated claim reads `resourceclaim not available on the node`.
- **PostFilter** (runs before preemption, reasons joined with ", "): `no new claims to
  deallocate` when the pod has no claims; `deallocation of ResourceClaim completed` when a
  claim unavailable on some filtered node is reserved by nobody else (the scheduler clears its
  allocation, and the next attempt allocates afresh); otherwise `still not schedulable`.

The verdict depends on the slices reaching each node, so it is never shared between nodes
(`filter_key` is None). A selector outside the evaluated CEL subset makes the node's verdict an
Error status "cannot evaluate selector …": amldoctor does not guess.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from amldoctor.k8s.nodeaffinity import NodeSelector
from amldoctor.memo import memo_on
from amldoctor.scheduling import names
from amldoctor.scheduling.cluster import NodeInfo
from amldoctor.scheduling.plugins.base import Plugin
from amldoctor.scheduling.plugins.draalloc import (
    AllocationError,
    Candidates,
    DraState,
    NodeAllocator,
    SelectorError,
    claim_ref,
)
from amldoctor.scheduling.status import SUCCESS, Code, PreFilterOutcome, Reason, Status

CANNOT_ALLOCATE = "cannot allocate all claims"
NOT_AVAILABLE = "resourceclaim not available on the node"
INVALID_POOLS = "invalid resource pools were encountered"
NO_CLAIMS = "no new claims to deallocate"
DEALLOCATED = "deallocation of ResourceClaim completed"
STILL_NOT = "still not schedulable"
CLAIM_KINDS = ("ResourceClaim", "DeviceClass", "ResourceSlice")


def dra_state(snap: Any) -> DraState:
    """The cluster's slices, classes and allocated devices, once per snapshot."""

    def build() -> DraState:
        classes = {
            (c.get("metadata") or {}).get("name") or "": c for c in snap.of_kind("DeviceClass")
        }
        return DraState(snap.of_kind("ResourceSlice"), classes, snap.unordered("ResourceClaim"))

    return memo_on(snap, "dra-state", build)


def pod_claims(snap: Any, pod: Mapping) -> tuple[list[tuple[str, Mapping]], tuple[str, str] | None]:
    """The pod's claims (its entry name, the ResourceClaim) in spec order, or why the scheduler
    holds the pod back before any attempt (`foreachPodResourceClaim` in PreEnqueue): the
    scheduler's own error text and amldoctor's explanation with the fix."""
    meta = pod.get("metadata") or {}
    ns, name = meta.get("namespace") or "default", meta.get("name") or ""
    statuses = {
        s.get("name"): s.get("resourceClaimName")
        for s in (pod.get("status") or {}).get("resourceClaimStatuses") or []
        if isinstance(s, Mapping)
    }
    out: list[tuple[str, Mapping]] = []
    for entry in (pod.get("spec") or {}).get("resourceClaims") or []:
        entry_name = entry.get("name") or ""
        if entry.get("resourceClaimName"):
            claim_name, from_template = entry["resourceClaimName"], False
        elif entry.get("resourceClaimTemplateName"):
            template = entry["resourceClaimTemplateName"]
            if entry_name not in statuses and not meta.get("uid"):
                # A manifest (why-pending -f, lint --against), not a pod the API server holds:
                # the resourceclaim controller would generate its claim from the template.
                generated = _from_template(snap, ns, name, entry_name, template)
                if generated is None:
                    return [], (
                        f"ResourceClaimTemplate {ns}/{template} not found",
                        f"entry {entry_name} uses ResourceClaimTemplate {template}, which does "
                        f"not exist in namespace {ns}: the resourceclaim controller cannot "
                        "create the pod's claim; create the template or fix the name",
                    )
                out.append((entry_name, generated))
                continue
            if entry_name not in statuses:
                return [], (
                    f'pod "{ns}/{name}": ResourceClaim not created yet',
                    f"entry {entry_name} uses ResourceClaimTemplate {template}, and no claim "
                    "was generated for it yet (pod status.resourceClaimStatuses has no entry): "
                    "the resourceclaim controller in kube-controller-manager creates it; check "
                    f"that template {template} exists in namespace {ns} and the controller's "
                    "events on the pod",
                )
            claim_name, from_template = statuses[entry_name], True
            if not claim_name:
                continue  # no claim needed for this entry
        else:
            text = (
                f'pod "{ns}/{name}", spec.resourceClaim "{entry_name}": none of the supported '
                "fields are set"
            )
            return [], (text, text + ": set resourceClaimName or resourceClaimTemplateName")
        claim = snap.get("ResourceClaim", ns, claim_name)
        if claim is None:
            return [], (
                f'could not find ResourceClaim "{ns}/{claim_name}"',
                f"entry {entry_name} names ResourceClaim {ns}/{claim_name}, which does not "
                f"exist: create the claim in namespace {ns} or fix spec.resourceClaims",
            )
        if (claim.get("metadata") or {}).get("deletionTimestamp"):
            return [], (
                f'resourceclaim "{claim_name}" is being deleted',
                f"ResourceClaim {ns}/{claim_name} is being deleted (finalizers: "
                f"{', '.join((claim.get('metadata') or {}).get('finalizers') or []) or 'none'}"
                "): recreate the pod once it is gone, with a new claim",
            )
        if from_template and not _controlled_by(claim, pod):
            text = (
                f"ResourceClaim {ns}/{claim_name} was not created for pod {ns}/{name} "
                "(pod is not owner)"
            )
            return [], (text, text + ": delete the pod so that its owner recreates it")
        out.append((entry_name, claim))
    return out, None


def _from_template(snap: Any, ns: str, pod_name: str, entry: str, template: str) -> dict | None:
    """The claim the resourceclaim controller would create for a pod that does not exist yet,
    or None when the template is missing."""
    found = snap.get("ResourceClaimTemplate", ns, template)
    if found is None:
        return None
    spec = (found.get("spec") or {}).get("spec") or {}
    return {
        "apiVersion": "resource.k8s.io/v1",
        "kind": "ResourceClaim",
        "metadata": {"name": f"{pod_name}-{entry}", "namespace": ns},
        "spec": spec,
    }


def _controlled_by(claim: Mapping, pod: Mapping) -> bool:
    uid = (pod.get("metadata") or {}).get("uid")
    return any(
        ref.get("controller") and ref.get("uid") == uid
        for ref in (claim.get("metadata") or {}).get("ownerReferences") or []
    )


def _reserved_only_by(claim: Mapping, pod: Mapping) -> bool:
    reserved = (claim.get("status") or {}).get("reservedFor") or []
    uid = (pod.get("metadata") or {}).get("uid")
    return not reserved or (len(reserved) == 1 and reserved[0].get("uid") == uid)


class DynamicResources(Plugin):
    name = names.DYNAMIC_RESOURCES
    short = "devices"
    funnel = "have the devices the pod's resource claims ask for"
    funnel_rank = 12  # after pod (anti-)affinity, before room
    advice = (
        "the pod's ResourceClaims cannot get devices there (kubectl get resourceclaims,"
        "resourceslices,deviceclasses shows the claims, the devices per node and the classes)"
    )

    def __init__(self, cluster) -> None:
        super().__init__(cluster)
        self.state_written = False  # PreFilter ran: the PostFilter finds its state
        self.claims: list[tuple[str, Mapping]] = []
        self.allocator: NodeAllocator | None = None
        self.selectors: dict[int, NodeSelector] = {}
        self.not_collected: list[str] = []
        self._reach: dict[int, bool] = {}

    def filter_key(self) -> None:
        """Per node, always: the verdict depends on the ResourceSlices that reach each node and
        on the devices other claims hold there, so no two nodes (or pods) share it."""
        return None

    def pre_filter(self) -> PreFilterOutcome:
        if not self.profile.features.dynamic_resources:
            return PreFilterOutcome.skip()
        self.state_written = True
        if not self.spec.get("resourceClaims"):
            return PreFilterOutcome.skip()
        snap = self.cluster.snap
        self.not_collected = [k for k in CLAIM_KINDS if not snap.collected(k)]
        if "ResourceClaim" in self.not_collected:
            return PreFilterOutcome.skip()  # cannot tell; `framework` says so in not_modelled
        claims, blocked = pod_claims(snap, self.pod)
        if blocked:
            return PreFilterOutcome.reject(self._fail(*blocked, stage="PreFilter"))
        if not claims:
            return PreFilterOutcome.skip()
        state = dra_state(snap)
        to_allocate = []
        for index, (_, claim) in enumerate(claims):
            allocation = (claim.get("status") or {}).get("allocation")
            if allocation:
                if allocation.get("nodeSelector"):
                    self.selectors[index] = NodeSelector(allocation["nodeSelector"])
                continue
            to_allocate.append(claim)
            for req in ((claim.get("spec") or {}).get("devices") or {}).get("requests") or []:
                missing = self._missing_class(req, state)
                if missing:
                    text, detail = missing
                    return PreFilterOutcome.reject(
                        self._fail(text, detail, stage="PreFilter", claim=claim_ref(claim))
                    )
        self.claims = claims
        if to_allocate:
            self.allocator = NodeAllocator(state, to_allocate)
        return SUCCESS

    def _missing_class(self, req: Mapping, state: DraState) -> tuple[str, str] | None:
        name = req.get("name") or ""
        entries = [(name, req["exactly"])] if req.get("exactly") else []
        entries += [(f"{name}/{s.get('name') or ''}", s) for s in req.get("firstAvailable") or []]
        for label, entry in entries:
            cls = entry.get("deviceClassName") or ""
            if cls and cls not in state.classes:
                return (
                    f"request {label}: device class {cls} does not exist",
                    f"request {label} names DeviceClass {cls}, which does not exist: create it "
                    f"(it normally comes with the DRA driver) or use one of "
                    f"{', '.join(sorted(state.classes)) or 'no class: none exists'}",
                )
        return None

    def _fail(
        self, text: str, detail: str, *, stage: str = "Filter", code: Code = Code.UNRESOLVABLE, **ev
    ) -> Status:
        return Status(self.name, code, (Reason(text, detail, dict(ev)),), stage)

    def filter(self, node: NodeInfo) -> Status | None:
        if not self.claims:
            return None
        unavailable = [
            i for i, sel in self.selectors.items() if not sel.matches(node.node)
        ]  # allocated claims whose devices do not reach this node
        if self.allocator is not None:
            try:
                ok = self.allocator.allocate(node.node)
            except SelectorError as exc:
                return self._fail(
                    f"cannot evaluate selector {exc.expression}",
                    f"node {node.name}: {exc}; the scheduler's verdict on this node is unknown",
                    code=Code.ERROR,
                    claim=exc.where,
                    selector=exc.expression,
                    device=exc.device.label,
                )
            except AllocationError as exc:
                return self._fail(str(exc), f"node {node.name}: {exc}", code=Code.ERROR)
            if not ok:
                return self._allocation_failure(node)
        if unavailable:
            names_ = [claim_ref(self.claims[i][1]) for i in unavailable]
            first = unavailable[0]
            where = _selector_text(self.claims[first][1])
            if not self._reachable(first):
                where += "; no node in the cluster matches it: the node it was allocated on is gone"
            return self._fail(
                NOT_AVAILABLE,
                f"claim {names_[0]} is already allocated to devices that node {node.name} "
                f"cannot reach ({where})",
                unavailable_claims=unavailable,
                claims=names_,
                node_gone=not self._reachable(first),
                reserved_only_by_pod=_reserved_only_by(self.claims[first][1], self.pod),
                reserved_by_gone=self._gone_reservations(self.claims[first][1]),
            )
        return None

    def _gone_reservations(self, claim: Mapping) -> list[str]:
        """Reservations naming pods that no longer exist (the resourceclaim controller of
        kube-controller-manager removes those; until then the claim stays reserved)."""
        snap = self.cluster.snap
        if not snap.collected("Pod"):
            return []
        return [
            f"{r.get('name')} (uid {r.get('uid')})"
            for r in (claim.get("status") or {}).get("reservedFor") or []
            if r.get("uid") and snap.by_uid(r["uid"]) is None
        ]

    def _reachable(self, index: int) -> bool:
        """Does any node of the cluster match the allocated claim's node selector?"""
        found = self._reach.get(index)
        if found is None:
            sel = self.selectors[index]
            found = self._reach[index] = any(sel.matches(n.node) for n in self.cluster.nodes)
        return found

    def _allocation_failure(self, node: NodeInfo) -> Status:
        assert self.allocator is not None
        state = self.allocator.state
        pools = state.pools(node.node)
        if any(p.invalid for p in pools):
            bad = next(p for p in pools if p.invalid)
            return self._fail(
                INVALID_POOLS,
                f"node {node.name}: resource pool {bad.driver}/{bad.name} is invalid "
                f"({bad.invalid}); the driver must publish its slices again",
            )
        detail, evidence = explain_node(self.allocator, node)
        return self._fail(CANNOT_ALLOCATE, detail, **evidence)

    def post_filter_message(self, unavailable_indexes: set[int]) -> str:
        """DynamicResources' PostFilter reason, from the claims rejected as unavailable on the
        nodes where this plugin decided."""
        if not self.claims:
            return NO_CLAIMS
        for index in sorted(unavailable_indexes):
            if _reserved_only_by(self.claims[index][1], self.pod):
                return DEALLOCATED
        return STILL_NOT


def _selector_text(claim: Mapping) -> str:
    sel = ((claim.get("status") or {}).get("allocation") or {}).get("nodeSelector") or {}
    parts = []
    for term in sel.get("nodeSelectorTerms") or []:
        for key in ("matchFields", "matchExpressions"):
            for req in term.get(key) or []:
                values = ",".join(str(v) for v in req.get("values") or [])
                parts.append(f"{req.get('key')} {req.get('operator')} [{values}]")
    return "allocation nodeSelector " + ("; ".join(parts) or "(empty)")


def explain_node(allocator: NodeAllocator, node: NodeInfo) -> tuple[str, dict]:
    """Why the claims get no devices on `node`: the first request that cannot be satisfied on
    its own, with the numbers; or, when each could, that they cannot be satisfied together."""
    pools = allocator.state.pools(node.node)
    incomplete = [f"{p.driver}/{p.name}" for p in pools if p.incomplete]
    for request in allocator.requests:
        best: Candidates | None = None
        for alt in request.alternatives:
            cands = allocator.candidates(alt, request, pools)
            need = len(cands.request_match) if alt.mode == "All" else alt.count
            if alt.mode == "All":
                enough = bool(cands.request_match) and not cands.taken
            else:
                pool = cands.request_match if alt.admin_access else cands.free
                enough = len(pool) >= need
            if enough:
                best = None
                break
            if best is None:
                best = cands
        if best is None:
            continue
        return _why(request.claim, best, node.name, incomplete)
    return (
        f"node {node.name}: each request of the pod's claims finds devices on its own, but not "
        "all together (devices shared between requests, or a matchAttribute constraint)",
        {"cause": "combination"},
    )


def _why(claim: str, c: Candidates, node: str, incomplete: list[str]) -> tuple[str, dict]:
    alt = c.alternative
    ev: dict[str, Any] = {
        "claim": claim,
        "request": alt.name,
        "device_class": alt.class_name,
        "count": alt.count if alt.mode != "All" else "All",
        "devices_on_node": c.on_node,
        "class_matches": len(c.class_match),
        "request_matches": len(c.request_match),
        "free": len(c.free),
        "taken": c.taken,
    }
    head = f"node {node}: claim {claim}, request {alt.name} (class {alt.class_name}"
    head += f", count {alt.count})" if alt.mode != "All" else ", all devices)"
    if c.on_node == 0:
        ev["cause"] = "no-devices"
        extra = f" (pool {', '.join(incomplete)} is incomplete)" if incomplete else ""
        return f"{head}: no ResourceSlice publishes devices for this node{extra}", ev
    if not c.class_match:
        ev["cause"] = "class-excludes"
        return (
            f"{head}: none of the {c.on_node} device(s) on the node match the device "
            f"class's selectors",
            ev,
        )
    if not c.request_match:
        ev["cause"] = "selector-excludes"
        sel = " && ".join(alt.selectors) or "(none)"
        return (
            f"{head}: the request's selector {sel} excludes all {len(c.class_match)} "
            f"device(s) of the class on the node",
            ev,
        )
    if c.taken and len(c.free) == 0:
        ev["cause"] = "all-allocated"
        holders = sorted({h for hs in c.taken.values() for h in hs})
        return (
            f"{head}: all {len(c.request_match)} matching device(s) are allocated to "
            f"claim(s) {', '.join(holders)}",
            ev,
        )
    ev["cause"] = "too-few"
    taken = len(c.taken)
    text = f"{head}: needs {alt.count} device(s), the node has {len(c.request_match)} matching" + (
        f", {taken} allocated to other claims, {len(c.free)} free" if taken else ""
    )
    if alt.mode == "All":
        holders = sorted({h for hs in c.taken.values() for h in hs})
        text = (
            f"{head}: asks for all {len(c.request_match)} matching device(s), "
            f"{taken} of them allocated to claim(s) {', '.join(holders)}"
        )
    return text, ev


def unavailable_claims(verdicts: Sequence[Any]) -> set[int]:
    """The claims this plugin found unavailable on the nodes where it decided (the scheduler
    runs it on a node only when every earlier filter passed)."""
    out: set[int] = set()
    for v in verdicts:
        status = v.status
        if status is not None and status.plugin == names.DYNAMIC_RESOURCES:
            for item in status.items:
                out.update(item.evidence.get("unavailable_claims") or ())
    return out


def unknown_nodes(verdicts: Sequence[Any]) -> list[str]:
    """Nodes whose verdict rests on a selector amldoctor cannot evaluate."""
    return [
        v.name
        for v in verdicts
        if v.status is not None
        and v.status.plugin == names.DYNAMIC_RESOURCES
        and v.status.code == Code.ERROR
    ]


def dra_notes(plugins: Sequence[Plugin], verdicts: Sequence[Any]) -> list[str]:
    """What the DRA simulation could not see, for `not_modelled`."""
    dra = next((p for p in plugins if isinstance(p, DynamicResources)), None)
    if dra is None or not dra.spec.get("resourceClaims"):
        return []
    notes = []
    if dra.not_collected:
        notes.append(
            f"the pod uses DRA resourceClaims, but {', '.join(dra.not_collected)} objects were "
            "not collected: "
            + (
                "the DynamicResources plugin is not simulated"
                if "ResourceClaim" in dra.not_collected
                else "its verdicts assume there are none"
            )
        )
    unknown = unknown_nodes(verdicts)
    if unknown:
        example = next(v for v in verdicts if v.name == unknown[0]).status.items[0].detail
        notes.append(
            f"DRA: the scheduler's verdict on {len(unknown)} node(s) is unknown ({example}); "
            "the simulated message is not compared"
        )
    return notes
