"""Controllers that want pods and cannot make them: FailedCreate events, ReplicaFailure conditions.

A refusal is current when the controller still wants pods (it is not finished and has fewer than
it asks for) and its latest FailedCreate is newer than its latest SuccessfulCreate; an old
refusal that a later creation superseded is history, not a cause.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from amldoctor.capacity.admission import Refusal, classify
from amldoctor.k8s.events import event_count, event_last_time, event_message, event_reason
from amldoctor.k8s.objects import meta
from amldoctor.k8s.timeutil import parse_time
from amldoctor.snapshot import Snapshot

CONTROLLER_KINDS = ("ReplicaSet", "Job", "StatefulSet", "DaemonSet")


@dataclass
class CreateFailure:
    """A controller whose pods are refused: the refusal, how often and when, and the numbers."""

    controller: dict
    refusal: Refusal
    source: str  # "event" or "condition"
    count: int
    last_seen: datetime | None
    wanted: int | None
    existing: int | None


def _int(value: object) -> int | None:
    return value if isinstance(value, int) else None


def wanted_and_existing(obj: dict) -> tuple[int | None, int | None]:
    """How many pods the controller asks for and how many it has (None: cannot tell)."""
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    kind = obj.get("kind")
    if kind in ("ReplicaSet", "StatefulSet"):
        wanted = _int(spec.get("replicas"))
        return (1 if wanted is None else wanted), _int(status.get("replicas")) or 0
    if kind == "DaemonSet":
        return _int(status.get("desiredNumberScheduled")), _int(
            status.get("currentNumberScheduled")
        )
    if kind == "Job":
        # The Job controller runs min(parallelism, completions still to go) pods at a time.
        parallelism = _int(spec.get("parallelism"))
        wanted = 1 if parallelism is None else parallelism
        completions = _int(spec.get("completions"))
        if completions is not None:
            wanted = min(wanted, max(completions - (_int(status.get("succeeded")) or 0), 0))
        return wanted, _int(status.get("active")) or 0
    return None, None


def _finished(obj: dict) -> bool:
    """A Job that completed or failed wants no more pods; nor does a suspended one."""
    if obj.get("kind") != "Job":
        return False
    if (obj.get("spec") or {}).get("suspend"):
        return True
    return any(
        c.get("type") in ("Complete", "Failed") and c.get("status") == "True"
        for c in (obj.get("status") or {}).get("conditions") or ()
    )


def create_failure(snap: Snapshot, obj: dict) -> CreateFailure | None:
    """The controller's current refusal, or None when it creates its pods (or wants none)."""
    if _finished(obj):
        return None
    wanted, existing = wanted_and_existing(obj)
    if wanted is not None and existing is not None and existing >= wanted:
        return None
    events = snap.events_for(obj)
    failed = [e for e in events if event_reason(e) == "FailedCreate"]
    created = [e for e in events if event_reason(e) == "SuccessfulCreate"]
    condition = next(
        (
            c
            for c in (obj.get("status") or {}).get("conditions") or ()
            if c.get("type") == "ReplicaFailure" and c.get("status") == "True"
        ),
        None,
    )
    if failed:
        latest = failed[-1]
        last = event_last_time(latest)
        newest_created = event_last_time(created[-1]) if created else None
        if last and newest_created and newest_created > last:
            return None
        return CreateFailure(
            obj,
            classify(event_message(latest)),
            "event",
            sum(event_count(e) for e in failed),
            last,
            wanted,
            existing,
        )
    if condition and condition.get("message"):
        return CreateFailure(
            obj,
            classify(str(condition["message"])),
            "condition",
            1,
            parse_time(condition.get("lastTransitionTime")),
            wanted,
            existing,
        )
    return None


def create_failures(snap: Snapshot, objects: list[dict]) -> list[CreateFailure]:
    """Current refusals of the given controllers, in snapshot order (sorted by kind/ns/name)."""
    found = []
    for obj in objects:
        if obj.get("kind") in CONTROLLER_KINDS:
            failure = create_failure(snap, obj)
            if failure is not None:
                found.append(failure)
    return found


def describe(obj: dict) -> str:
    m = meta(obj)
    return f"{obj.get('kind')} {m.get('namespace')}/{m.get('name')}"
