"""Gang fit: can the cluster hold all `minMember` pods of a job at the same time?

Volcano's gang plugin binds nothing until every member of the group has a node, so a 4-worker
job needing 8 GPUs each is stuck while only three nodes have 8 free GPUs, even if the cluster
has 30 free GPUs in total. Pods do not split across nodes: each node holds
`min(free_r // request_r)` more pods (whole-node packing). For identical pods, summing those
slots over the eligible nodes is exact; for jobs with several task shapes the larger shapes are
placed first (a greedy answer, stated as such).
"""

from __future__ import annotations

import heapq
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


def _slots(
    free: list[list[int]], wanted: list[str], requests: Mapping[str, int], pods_free: list[int]
) -> tuple[list[int], list[str]]:
    """How many more pods of this shape each node holds, and the resource that stops it.

    Node by node, `free[j][k]` is what node k has of `wanted[j]`: one pass per resource, the
    scarcest first, so that a tie names the resource ML nodes run out of first.
    """
    slots = list(pods_free)
    limits = ["pods"] * len(slots)
    for resource, need in sorted(requests.items(), key=lambda kv: _scarcity(kv[0])):
        if need <= 0:
            continue
        amounts = free[wanted.index(resource)]
        for k, amount in enumerate(amounts):
            room = amount // need if amount > 0 else 0
            if room < slots[k]:
                slots[k], limits[k] = room, resource
    return [max(0, n) for n in slots], limits


def _free_row(wanted: list[str], free: list[list[int]], k: int) -> dict[str, int]:
    """Node k's free amounts of the resources its last shape requests, as the row shows them."""
    return {r: values[k] for r, values in zip(wanted, free, strict=True)}


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
        "nodes": [_shown(row) for row in fit["nodes"]],
        "excluded": dict(fit["excluded"]),
    }
    if fit["eligible"] > NODES_SHOWN:
        result["nodes_considered"] = fit["eligible"]
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
    """The placement of `order` (largest shapes first): per-shape counts and per-node rows.

    Nodes are walked in the snapshot's order with their free amounts read from columns built
    once per snapshot (`Capacity.free_column`); only nodes that receive pods get a copy of
    their amounts to draw down. Nodes with the same free amounts hold the same number of pods
    of a shape, so that number is worked out once per distinct amounts, and rows are made
    only for the nodes the evidence shows (`fit["nodes"]`; `eligible` counts them all).
    """
    resources = sorted({r for s in order for r in s.requests})
    names = [name_of(node) for node in snap.nodes]
    excluded: Counter[str] = Counter()
    slots_of: dict[str, int] = {}  # node name -> pods of every shape it holds
    limiting: dict[str, str] = {}
    shown_free: dict[str, tuple[list[str], list[list[int]], int]] = {}
    taken: dict[str, dict[str, int]] = {}  # nodes given pods -> what is left on them
    taken_pods: dict[str, int] = {}
    pods_column = capacity.free_column("pods")
    placed_per_shape = []
    for shape in order:
        exclusions = _exclusions(snap, shape)
        if shape is order[0]:  # count each node once
            excluded.update(why for why in exclusions if why is not None)
        eligible = [i for i, why in enumerate(exclusions) if why is None]
        # What is free on each eligible node as this shape starts, one list per resource.
        wanted = [r for r in resources if r in shape.requests]
        free = [[column[i] for i in eligible] for column in map(capacity.free_column, wanted)]
        pods_free = [pods_column[i] for i in eligible]
        for k, i in enumerate(eligible):
            left = taken.get(names[i])
            if left is not None:
                for values, r in zip(free, wanted, strict=True):
                    values[k] = left[r]
                pods_free[k] = taken_pods[names[i]]
        slots, limits = _slots(free, wanted, shape.requests, pods_free)
        for k, i in enumerate(eligible):
            name = names[i]
            slots_of[name] = slots_of.get(name, 0) + slots[k]
            limiting[name] = limits[k]
            shown_free[name] = (wanted, free, k)  # formatted only when shown (`_shown`)
        remaining = shape.count
        for k, i in enumerate(eligible):
            if remaining <= 0:
                break
            take = min(slots[k], remaining)
            if not take:
                continue
            name = names[i]
            left = taken.get(name)
            if left is None:
                left = taken[name] = {r: capacity.free_column(r)[i] for r in resources}
                taken_pods[name] = pods_column[i]
            for resource, need in shape.requests.items():
                left[resource] = left.get(resource, 0) - need * take
            taken_pods[name] -= take
            remaining -= take
        placed_per_shape.append(shape.count - remaining)
    needed = sum(s.count for s in order)
    placeable = sum(placed_per_shape)
    most_room = heapq.nsmallest(NODES_SHOWN, slots_of, key=lambda n: (-slots_of[n], n))
    fit = {
        "needed": needed,
        "placeable": placeable,
        "fits": placeable >= needed,
        "placed": placed_per_shape,
        "nodes": [
            {
                "name": name,
                "slots": slots_of[name],
                "limiting": limiting[name],
                "free": _free_row(*shown_free[name]),
            }
            for name in most_room
        ],
        "eligible": len(slots_of),
        "limits": _limits(limiting, slots_of),
        "excluded": dict(sorted(excluded.items())),
    }
    fit["summary"] = _summary(fit, order, snap, capacity)
    return fit


def _limits(limiting: dict[str, str], slots_of: dict[str, int]) -> Counter[str]:
    """How many eligible nodes each resource limits, counted in the order of the node rows
    (most room first, then by name): `most_common` breaks ties by that order."""
    first: dict[str, tuple[int, str]] = {}
    for name, resource in limiting.items():
        key = (-slots_of[name], name)
        if resource not in first or key < first[resource]:
            first[resource] = key
    counts = Counter(limiting.values())
    return Counter({r: counts[r] for r in sorted(first, key=first.__getitem__)})


def _summary(result: dict, shapes: Sequence[PodShape], snap: Snapshot, capacity: Capacity) -> str:
    needed, placeable = result["needed"], result["placeable"]
    if not shapes:
        return "nothing to place"
    shape = shapes[0]
    each = shape.describe() or "no resources"
    if result["fits"]:
        return f"all {needed} pods fit at once ({each} each)"
    exclusions = _exclusions(snap, shape)
    eligible = [i for i, why in enumerate(exclusions) if why is None]
    if not eligible:
        reasons = _excluded_text(result["excluded"]) or "no nodes in the snapshot"
        return f"0 of {needed} pods fit: no node is eligible ({reasons})"
    limits = result["limits"]
    resource = limits.most_common(1)[0][0] if limits else "pods"
    need = shape.requests.get(resource, 1)
    free = capacity.free_column(resource)
    holders = [i for i in eligible if free[i] >= need]
    wanted = f"{format_amount(resource, need)} free {resource}"
    if resource == "pods":
        wanted = "room for another pod"
    head = f"{placeable} of {needed} pods fit at once ({each} each)"
    excluded = result["excluded"]
    skipped = ""
    if excluded:
        skipped = f"; {sum(excluded.values())} node(s) not eligible ({_excluded_text(excluded)})"
    if not holders:
        most = max(free[i] for i in eligible)
        most_text = format_amount(resource, max(0, most))
        return f"{head}: no eligible node has {wanted} (most on one node: {most_text}){skipped}"
    return f"{head}: only {len(holders)} eligible node(s) have {wanted}{skipped}"


def _excluded_text(excluded: Mapping[str, int]) -> str:
    return ", ".join(
        f"{count} {reason}" for reason, count in sorted(excluded.items(), key=lambda kv: -kv[1])
    )
