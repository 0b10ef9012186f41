"""Node auto-provisioning (Karpenter; AKS node auto-provisioning runs it): NodePools, NodeClaims.

Karpenter has no node groups: for a Pending pod it creates a NodeClaim from a NodePool whose
requirements, taints and limits allow it. What blocks it shows as a NodePool condition that is
not True (Ready, ValidDefinition, NodeClassReady), a NodePool whose `status.resources` reached
its `spec.limits`, a NodeClaim whose Launched/Registered/Initialized condition is False with the
cloud's message, and Karpenter's own events on the pod (source `karpenter`).
"""

from __future__ import annotations

from amldoctor.k8s.events import event_message, event_reason
from amldoctor.k8s.objects import meta
from amldoctor.k8s.quantity import QuantityError, parse_quantity
from amldoctor.snapshot import Snapshot

NODEPOOL_CONDITIONS = ("Ready", "ValidDefinition", "NodeClassReady")
NODECLAIM_CONDITIONS = ("Launched", "Registered", "Initialized")


def _false_conditions(obj: dict, types: tuple[str, ...]) -> list[str]:
    out = []
    for c in (obj.get("status") or {}).get("conditions") or ():
        if c.get("type") in types and c.get("status") == "False":
            why = c.get("message") or c.get("reason") or ""
            out.append(f"{c.get('type')}=False" + (f" ({why})" if why else ""))
    return out


def _at_limits(pool: dict) -> list[str]:
    limits = (pool.get("spec") or {}).get("limits") or {}
    used = (pool.get("status") or {}).get("resources") or {}
    out = []
    for name in sorted(limits):
        try:
            if parse_quantity(used.get(name, "0")).exact >= parse_quantity(limits[name]).exact:
                out.append(f"{name} {used.get(name, '0')} of limit {limits[name]}")
        except QuantityError:
            continue
    return out


def provisioning_notes(snap: Snapshot, pod: dict | None = None) -> list[str]:
    """One line per NodePool or NodeClaim that cannot provision, and Karpenter's word on the pod."""
    notes = []
    for pool in snap.of_kind("NodePool"):
        name = meta(pool).get("name")
        bad = _false_conditions(pool, NODEPOOL_CONDITIONS)
        if bad:
            notes.append(f"NodePool {name}: " + ", ".join(bad))
        full = _at_limits(pool)
        if full:
            notes.append(f"NodePool {name} is at its limits: " + ", ".join(full))
    for claim in snap.of_kind("NodeClaim"):
        bad = _false_conditions(claim, NODECLAIM_CONDITIONS)
        if bad:
            notes.append(f"NodeClaim {meta(claim).get('name')}: " + ", ".join(bad))
    if pod is not None:
        said = [
            e
            for e in snap.events_for(pod)
            if ((e.get("source") or {}).get("component") == "karpenter"
                or e.get("reportingComponent") == "karpenter")
        ]  # fmt: skip
        if said:
            notes.append(
                f"karpenter on the pod ({event_reason(said[-1])}): {event_message(said[-1])}"
            )
    return notes
