"""Fixes for pods whose ResourceClaims get no devices (the DynamicResources plugin's verdicts).

One fix per claim request and cause, worded with the cluster's own numbers: which nodes offer no
devices at all, which selector excludes them, which claims hold them, how many the largest node
has. The per-node detail stays in the node rows; here the user reads what to change.
"""

from __future__ import annotations

from typing import Any

from amldoctor.scheduling import names
from amldoctor.scheduling.framework import SchedulingResult
from amldoctor.scheduling.plugins.dynamicresources import CANNOT_ALLOCATE, NOT_AVAILABLE


def dra_fixes(result: SchedulingResult) -> list[dict]:
    """Fixes for the DynamicResources failures of the nodes, most nodes first."""
    groups: dict[tuple, list[tuple[str, dict]]] = {}
    for v in result.verdicts:
        for s in v.failures:
            if s.plugin != names.DYNAMIC_RESOURCES or s.stage != "Filter":
                continue
            item = s.items[0]
            ev = item.evidence
            if item.text == CANNOT_ALLOCATE and ev.get("cause"):
                key: tuple = ("alloc", ev.get("claim"), ev.get("request"), ev["cause"])
            elif item.text == NOT_AVAILABLE:
                key = ("allocated", tuple(ev.get("claims") or ()))
            else:
                continue
            groups.setdefault(key, []).append((v.name, ev))
    fixes = [_fix_for(key, found) for key, found in groups.items()]
    fixes.sort(key=lambda f: (-f["nodes"], f["text"]))
    return fixes


def _nodes(found: list[tuple[str, dict]]) -> str:
    shown = sorted(n for n, _ in found)
    more = f" and {len(shown) - 5} more" if len(shown) > 5 else ""
    return f"{len(shown)} node(s) ({', '.join(shown[:5])}{more})"


def _reserved_text(claim: str, gone: list[str]) -> str:
    short = claim.split("/")[-1]
    if gone:
        return (
            f"it is still reserved for pod(s) {', '.join(gone)} that no longer exist; the "
            "resourceclaim controller of kube-controller-manager removes such reservations, "
            f"so check that it runs, or delete the claim (kubectl delete resourceclaim {short}) "
            "and let it be created again"
        )
    return (
        "pods that share the claim keep it reserved; delete them (or the claim, kubectl "
        f"delete resourceclaim {short}) so that it can be allocated again"
    )


def _fix_for(key: tuple, found: list[tuple[str, dict]]) -> dict[str, Any]:
    ev = found[0][1]
    where = _nodes(found)
    if key[0] == "allocated":
        claim = key[1][0] if key[1] else "?"
        if ev.get("node_gone"):
            text = f"claim {claim} is allocated to devices on a node that no longer exists: " + (
                "the scheduler clears that allocation by itself (no other pod reserves the "
                "claim) and allocates afresh on its next attempt"
                if ev.get("reserved_only_by_pod")
                else _reserved_text(claim, ev.get("reserved_by_gone") or [])
            )
        else:
            text = (
                f"claim {claim} is already allocated to devices that {where} cannot reach: "
                "the pod can only run where the claim's devices are; free those nodes for it "
                "or let the claim be reallocated (delete the pods that share it)"
            )
        return {"kind": "dra-allocated", "text": text, "nodes": len(found)}
    _, claim, request, cause = key
    cls, count = ev.get("device_class"), ev.get("count")
    what = f"claim {claim}, request {request} (class {cls}, count {count})"
    if cause == "no-devices":
        text = (
            f"{what}: no ResourceSlice publishes devices for {where}; check that the DRA "
            f"driver of class {cls} runs on them (kubectl get resourceslices shows which nodes "
            "have devices) or steer the pod to nodes that have them"
        )
    elif cause == "class-excludes":
        text = (
            f"{what}: the devices on {where} do not match DeviceClass {cls}'s selectors; "
            f"compare kubectl get deviceclass {cls} -o yaml with the devices' attributes"
        )
    elif cause == "selector-excludes":
        text = (
            f"{what}: the request's selector excludes every device of the class on {where}; "
            "relax the selector in the claim (or its template) to what the devices carry"
        )
    elif cause == "all-allocated":
        holders = sorted(
            {h for _, e in found for hs in (e.get("taken") or {}).values() for h in hs}
        )
        text = (
            f"{what}: every matching device on {where} is allocated to claim(s) "
            f"{', '.join(holders[:6])}; they free when the pods using them finish and the "
            "claims are deleted"
        )
    elif cause == "too-few":
        best = max(found, key=lambda f: f[1].get("free", 0))
        text = (
            f"{what}: no node has {count} free matching device(s); the most is "
            f"{best[1].get('free', 0)} on {best[0]} ({best[1].get('request_matches', 0)} "
            "matching); lower count or free devices held by other claims"
        )
    else:
        text = (
            f"the pod's claims cannot get devices together on {where}: requests compete for "
            "the same devices or a matchAttribute constraint cannot hold"
        )
    return {"kind": "dra-devices", "text": text, "nodes": len(found)}
