"""Whether a namespace's scan needs the pods of every other namespace on the nodes.

The pods bound to nodes from all namespaces are what the scheduler counts against each node's
allocatable: a why-pending simulation (AMD101, AMD607) or a gang fit (AMD710, AMD711) of a pod
or PodGroup waiting in the namespace cannot be right without them. Everything else a namespace
scan reports is about the namespace's own objects. On a 10,000-pod cluster those other pods are
most of what a `scan -n team` would read, so they are listed only when something in scope waits
for a node: the question, not the cluster, sets the cost.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from amldoctor.k8s.objects import TERMINAL_PHASES, meta

# Volcano PodGroup phases in which the gang has not been placed yet (AMD710 and AMD711 compute
# its fit against the nodes' free room); "" is a PodGroup Volcano has not touched yet.
PODGROUP_WAITING = frozenset({"Pending", "Inqueue", ""})


def waits_for_node(pod: Mapping) -> bool:
    """An unbound pod the scheduler may still place: what a why-pending simulation explains.

    Terminating pods are left out: the scheduler never places them again.
    """
    spec = pod.get("spec") or {}
    status = pod.get("status") or {}
    if not isinstance(spec, Mapping) or not isinstance(status, Mapping):
        return False
    if spec.get("nodeName") or status.get("phase") in TERMINAL_PHASES:
        return False
    return not meta(pod).get("deletionTimestamp")


def podgroup_waits(pg: Mapping) -> bool:
    status = pg.get("status") or {}
    phase = status.get("phase") if isinstance(status, Mapping) else None
    return (phase or "") in PODGROUP_WAITING


def needs_node_occupancy(
    pods: Iterable[Mapping] | None, podgroups: Iterable[Mapping] | None
) -> str | None:
    """Why the other namespaces' bound pods must be read, or None when nothing needs them.

    `None` for a list means it could not be read: then nothing can be ruled out.
    """
    if pods is None:
        return "the namespace's pods could not be read"
    waiting = next((p for p in pods if waits_for_node(p)), None)
    if waiting is not None:
        return f"pod {meta(waiting).get('name')} waits for a node"
    if podgroups is None:
        return None  # Volcano not installed, or PodGroups not readable: no gang to fit
    group = next((g for g in podgroups if podgroup_waits(g)), None)
    if group is not None:
        return f"PodGroup {meta(group).get('name')} waits for room"
    return None


def occupancy_skipped_reason(namespace: str) -> str:
    """The `Missing` reason a scan shows when the other namespaces' pods were not listed."""
    return (
        f"pods of other namespaces not listed: nothing in namespace {namespace} waits for a "
        f"node, so no placement needs what they occupy; per-node pod counts cover namespace "
        f"{namespace} only (scan -A reads them all)"
    )
