"""Where a snapshot comes from: `--snapshot PATH`, or the live cluster in the kubeconfig.

Commands call `open_snapshot`; the live collector imports the `kubernetes` client only when it
connects, so offline runs with `--snapshot` never load it.
"""

from __future__ import annotations

from dataclasses import dataclass

from amldoctor.collect import LiveOptions
from amldoctor.errors import InputError
from amldoctor.load import load_snapshot
from amldoctor.snapshot import Snapshot


@dataclass
class Target(LiveOptions):
    """What the user pointed us at: a snapshot path, or else the live cluster."""

    snapshot: str | None = None


def open_snapshot(target: Target, *, pod: str | None = None) -> Snapshot:
    """Load the snapshot file, or collect from the cluster (only what one pod needs, if `pod`)."""
    if target.snapshot:
        return load_snapshot(target.snapshot)
    from amldoctor.collect import collector

    if pod is not None:
        return collector.collect_for_pod(target, pod)
    return collector.collect(target)


def resolve_namespaces(snap: Snapshot, target: Target) -> list[str] | None:
    """The namespaces a command is about; None means every namespace in the snapshot.

    `-A` means all; `-n` must name a namespace the snapshot knows; otherwise the namespace the
    snapshot was captured for (manifest or live context), else all of them.
    """
    if target.all_namespaces:
        return None
    known = snap.namespaces()
    if target.namespace:
        namespace_objects = {o.get("metadata", {}).get("name") for o in snap.of_kind("Namespace")}
        unknown = target.namespace not in known and target.namespace not in namespace_objects
        if unknown and target.snapshot:
            listed = ", ".join(known) or "none"
            raise InputError(
                f"namespace {target.namespace!r} is not in snapshot {target.snapshot} (it has: "
                f"{listed})"
            )
        return [target.namespace]
    if snap.namespace:
        return [snap.namespace]
    return None
