"""Where a snapshot comes from: `--snapshot PATH`, or the live cluster in the kubeconfig.

Commands call `open_snapshot`; the live collector (the only module that imports the
`kubernetes` client) is imported only when no `--snapshot` is given, so offline runs stay fast.
"""

from __future__ import annotations

from dataclasses import dataclass

from amldoctor.errors import InputError
from amldoctor.snapshot import Snapshot


@dataclass
class LiveOptions:
    """How to reach the cluster and what to read; mirrors kubectl's flags."""

    kubeconfig: str | None = None
    context: str | None = None
    namespace: str | None = None
    all_namespaces: bool = False
    selector: str | None = None
    request_timeout: float | None = 5.0  # seconds; None waits forever (--request-timeout 0)
    progress: bool = False


@dataclass
class Target(LiveOptions):
    """What the user pointed us at: a snapshot path, or else the live cluster."""

    snapshot: str | None = None


def open_snapshot(target: Target, *, pod: str | None = None) -> Snapshot:
    """Load the snapshot file, or collect from the cluster (only what one pod needs, if `pod`)."""
    if target.snapshot:
        return Snapshot.load(target.snapshot)
    from amldoctor import collect

    if pod is not None:
        return collect.collect_for_pod(target, pod)
    return collect.collect(target)


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
                f"namespace {target.namespace!r} is not in snapshot {target.snapshot} (it has: {listed})"
            )
        return [target.namespace]
    if snap.namespace:
        return [snap.namespace]
    return None
