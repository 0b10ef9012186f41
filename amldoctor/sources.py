"""Where a snapshot comes from: `--snapshot PATH`, or the live cluster in the kubeconfig.

Commands call `open_snapshot`; the live collector imports the `kubernetes` client only when it
connects, so offline runs with `--snapshot` never load it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from amldoctor.collect import LiveOptions
from amldoctor.errors import InputError
from amldoctor.load import load_snapshot
from amldoctor.snapshot import Snapshot


@dataclass
class Target(LiveOptions):
    """What the user pointed us at: a snapshot path, or else the live cluster."""

    snapshot: str | None = None


def open_snapshot(
    target: Target, *, pod: str | None = None, settled: threading.Event | None = None
) -> Snapshot:
    """Load the snapshot file, or collect from the cluster (only what one pod needs, if `pod`).

    `settled`, for a scan's collection, is set once every LIST it will make is known
    (`collector.collect_live`)."""
    if target.snapshot:
        return load_snapshot(target.snapshot)
    from amldoctor.collect import collector

    if pod is not None:
        return collector.collect_for_pod(target, pod)
    return collector.collect(target, settled)


class PendingSnapshot:
    """A live collection running in a background thread while the command imports its analysis.

    Why: a live scan waits on the API server (a waiting pod's scan reads every namespace's
    node-bound pods, megabytes the server encodes on the same cores), and the command's rule
    modules take a tenth of a second to import. Started first, the cluster answers while they
    are imported. A snapshot file is loaded when asked for, in the caller's thread: that is
    CPU work that no thread could overlap. `result()` raises what the collection raised.
    """

    def __init__(self, target: Target) -> None:
        self.target = target
        self._snapshot: Snapshot | None = None
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None
        self._settled = threading.Event()
        if target.snapshot:
            self._settled.set()
        else:
            self._thread = threading.Thread(target=self._collect, name="collect", daemon=True)
            self._thread.start()

    def _collect(self) -> None:
        try:
            self._snapshot = open_snapshot(self.target, settled=self._settled)
        except BaseException as exc:  # handed to the caller's thread by `result`
            self._error = exc
        finally:
            self._settled.set()

    def wait_settled(self) -> None:
        """Until the collection knows every LIST it will make.

        Work done before competes for the interpreter with the reads that decide whether a
        namespace's scan needs the other namespaces' pods, and so delays the largest read;
        done after, it fills the time the API server spends encoding those pods.
        """
        self._settled.wait()

    def result(self) -> Snapshot:
        if self._thread is None:
            return open_snapshot(self.target)
        self._thread.join()
        if self._error is not None:
            raise self._error
        assert self._snapshot is not None
        return self._snapshot


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
