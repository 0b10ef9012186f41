"""Gang fit: can the cluster hold all `minMember` pods of a job at the same time?

Volcano's gang plugin binds nothing until every member of the group has a node, so a 4-worker
job needing 8 GPUs each is stuck while only three nodes have 8 free GPUs, even if the cluster
has 30 free GPUs in total. Pods do not split across nodes: each node holds
`min(free_r // request_r)` more pods (whole-node packing). For identical pods, summing those
slots over the eligible nodes is exact; for jobs with several task shapes the larger shapes are
placed first (a greedy answer, stated as such).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from amldoctor.aml.model import name_of
from amldoctor.aml.nodes import Capacity, is_ready, is_schedulable, selector_matches
from amldoctor.k8s.quantity import format_amount
from amldoctor.k8s.tolerations import FILTER_EFFECTS, format_taint, untolerated_taints
from amldoctor.memo import memo_on
from amldoctor.snapshot import Snapshot


@dataclass
class PodShape:
    """`count` identical pods still to place: what they request and where they may go."""

    name: str
    count: int
    requests: dict[str, int]
    node_selector: dict[str, str] = field(default_factory=dict)
    tolerations: list[dict] = field(default_factory=list)
    source: str = ""  # where `requests` came from, for the evidence

    def describe(self) -> str:
        return ", ".join(
            f"{format_amount(r, v)} {r}" for r, v in sorted(self.requests.items()) if v
        )


def exclusion(node: Mapping, shape: PodShape) -> str | None:
    """Why a node can never take this shape, or None (resources are counted separately)."""
    if not is_ready(node):
        return "NotReady"
    if not is_schedulable(node):
        return "cordoned"
    if not selector_matches(shape.node_selector, node):
        return "nodeSelector"
    taints = [t for t in (node.get("spec") or {}).get("taints") or () if isinstance(t, dict)]
    bad = untolerated_taints(taints, shape.tolerations, effects=FILTER_EFFECTS)
    if bad:
        return f"taint {format_taint(bad[0])}"
    return None


def _slots(free: Mapping[str, int], requests: Mapping[str, int], free_pods: int) -> tuple[int, str]:
    """How many more pods of this shape a node holds, and the resource that stops it."""
    best, limiting = free_pods, "pods"
    for resource, need in sorted(requests.items(), key=lambda kv: _scarcity(kv[0])):
        if need <= 0:
            continue
        room = max(0, free.get(resource, 0)) // need
        if room < best:
            best, limiting = room, resource
    return max(0, best), limiting


def _scarcity(resource: str) -> tuple[int, str]:
    """GPUs, then memory, then CPU: on ties, name the resource ML nodes run out of first."""
    order = 0 if resource.startswith("nvidia.com/") else 1 if resource == "memory" else 2
    return (order, resource)


# Eligible nodes kept in a result's `nodes`, most room first: the evidence names where the gang
# could go without holding a row for each of thousands of nodes.
NODES_SHOWN = 10


def gang_fit(snap: Snapshot, shapes: Sequence[PodShape], capacity: Capacity | None = None) -> dict:
    """Place every shape's pods at once on the snapshot's nodes; JSON-ready result.

    Keys: `needed`, `placeable`, `fits`, `shapes` (per shape: name, count, placeable, requests,
    source), `nodes` (the NODES_SHOWN eligible nodes with most room: name, slots, free,
    limiting; with `nodes_considered`, how many were eligible, when more were), `excluded`
    (reason -> node count) and `summary` (one line for messages).

    Gangs of one job size ask the same question: the placement is memoized per snapshot on what
    it reads of the shapes (counts, requests, selector, tolerations), not on their names.
    """
    order = sorted(
        shapes, key=lambda s: sorted(s.requests.items(), key=lambda kv: -kv[1]), reverse=True
    )
    key = json.dumps(
        [[s.count, s.requests, s.node_selector, s.tolerations] for s in order],
        sort_keys=True,
        default=repr,
    )
    fit = memo_on(snap, ("gang-fit", key), lambda: _place(snap, order, capacity or Capacity(snap)))
    shape_rows = [
        {
            "name": shape.name,
            "count": shape.count,
            "placeable": placed,
            "requests": {r: format_amount(r, v) for r, v in sorted(shape.requests.items())},
            "source": shape.source,
        }
        for shape, placed in zip(order, fit["placed"], strict=True)
    ]
    result = {
        "needed": fit["needed"],
        "placeable": fit["placeable"],
        "fits": fit["fits"],
        "shapes": shape_rows,
        "nodes": [_shown(row) for row in fit["nodes"][:NODES_SHOWN]],
        "excluded": dict(fit["excluded"]),
    }
    if len(fit["nodes"]) > NODES_SHOWN:
        result["nodes_considered"] = len(fit["nodes"])
    result["summary"] = fit["summary"]
    return result


def _shown(row: dict) -> dict:
    """A node row for the evidence, its free amounts formatted (only for the nodes shown)."""
    return {**row, "free": {r: format_amount(r, v) for r, v in row["free"].items()}}


def _exclusions(snap: Snapshot, shape: PodShape) -> list[str | None]:
    """`exclusion` for each of the snapshot's nodes, once per selector and tolerations."""
    key = json.dumps([shape.node_selector, shape.tolerations], sort_keys=True, default=repr)
    return memo_on(
        snap, ("gang-exclusions", key), lambda: [exclusion(n, shape) for n in snap.nodes]
    )


def _place(snap: Snapshot, order: Sequence[PodShape], capacity: Capacity) -> dict:
    """The placement of `order` (largest shapes first): per-shape counts and per-node rows."""
    resources = sorted({r for s in order for r in s.requests})
    excluded: Counter[str] = Counter()
    node_rows: dict[str, dict] = {}
    free: dict[str, dict[str, int]] = {}
    free_pods: dict[str, int] = {}
    placed_per_shape = []
    for shape in order:
        remaining = shape.count
        placed = 0
        for node, why in zip(snap.nodes, _exclusions(snap, shape), strict=True):
            if why is not None:
                if shape is order[0]:  # count each node once
                    excluded[why] += 1
                continue
            name = name_of(node)
            if name not in free:
                free[name] = capacity.free(node, resources)
                free_pods[name] = capacity.free_pods(node)
            slots, limiting = _slots(free[name], shape.requests, free_pods[name])
            row = node_rows.setdefault(name, {"name": name, "slots": 0, "limiting": limiting})
            row["slots"] += slots
            row["limiting"] = limiting
            # Raw amounts: formatted only for the rows the evidence shows (`_shown`).
            row["free"] = {r: v for r, v in free[name].items() if r in shape.requests}
            take = min(slots, remaining)
            for resource, need in shape.requests.items():
                free[name][resource] = free[name].get(resource, 0) - need * take
            free_pods[name] -= take
            remaining -= take
            placed += take
        placed_per_shape.append(placed)
    needed = sum(s.count for s in order)
    placeable = sum(placed_per_shape)
    fit = {
        "needed": needed,
        "placeable": placeable,
        "fits": placeable >= needed,
        "placed": placed_per_shape,
        "nodes": sorted(node_rows.values(), key=lambda r: (-r["slots"], r["name"])),
        "excluded": dict(sorted(excluded.items())),
    }
    fit["summary"] = _summary(fit, order, snap, capacity)
    return fit


def _summary(result: dict, shapes: Sequence[PodShape], snap: Snapshot, capacity: Capacity) -> str:
    needed, placeable = result["needed"], result["placeable"]
    if not shapes:
        return "nothing to place"
    shape = shapes[0]
    each = shape.describe() or "no resources"
    if result["fits"]:
        return f"all {needed} pods fit at once ({each} each)"
    exclusions = _exclusions(snap, shape)
    eligible = [n for n, why in zip(snap.nodes, exclusions, strict=True) if why is None]
    if not eligible:
        reasons = _excluded_text(result["excluded"]) or "no nodes in the snapshot"
        return f"0 of {needed} pods fit: no node is eligible ({reasons})"
    limits = Counter(r["limiting"] for r in result["nodes"])
    resource = limits.most_common(1)[0][0] if limits else "pods"
    need = shape.requests.get(resource, 1)
    holders = [n for n in eligible if capacity.free(n, [resource])[resource] >= need]
    wanted = f"{format_amount(resource, need)} free {resource}"
    if resource == "pods":
        wanted = "room for another pod"
    head = f"{placeable} of {needed} pods fit at once ({each} each)"
    excluded = result["excluded"]
    skipped = ""
    if excluded:
        skipped = f"; {sum(excluded.values())} node(s) not eligible ({_excluded_text(excluded)})"
    if not holders:
        most = max(capacity.free(n, [resource])[resource] for n in eligible)
        most_text = format_amount(resource, max(0, most))
        return f"{head}: no eligible node has {wanted} (most on one node: {most_text}){skipped}"
    return f"{head}: only {len(holders)} eligible node(s) have {wanted}{skipped}"


def _excluded_text(excluded: Mapping[str, int]) -> str:
    return ", ".join(
        f"{count} {reason}" for reason, count in sorted(excluded.items(), key=lambda kv: -kv[1])
    )
