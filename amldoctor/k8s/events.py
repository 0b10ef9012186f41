"""Both shapes of Kubernetes events, read the same way.

Kubelets write core/v1 events (`firstTimestamp`/`lastTimestamp`/`count`, `source`); the
kube-scheduler writes through events.k8s.io/v1, so its FailedScheduling events have `eventTime`
and optionally `series` while `lastTimestamp` and `count` are null. Every rule that orders events
or counts repeats must go through these helpers.
"""

from __future__ import annotations

from datetime import datetime

from amldoctor.k8s.timeutil import parse_time


def event_last_time(ev: dict) -> datetime | None:
    """When the event was last seen: series.lastObservedTime, lastTimestamp, eventTime, creation."""
    series = ev.get("series") or {}
    for value in (
        series.get("lastObservedTime"),
        ev.get("lastTimestamp"),
        ev.get("deprecatedLastTimestamp"),
        ev.get("eventTime"),
        (ev.get("metadata") or {}).get("creationTimestamp"),
    ):
        parsed = parse_time(value)
        if parsed is not None:
            return parsed
    return None


def event_count(ev: dict) -> int:
    """How many times it happened: `series.count`, else `count`, else 1."""
    series = ev.get("series") or {}
    for value in (series.get("count"), ev.get("count"), ev.get("deprecatedCount")):
        if isinstance(value, int) and value > 0:
            return value
    return 1


def event_message(ev: dict) -> str:
    """The human text: `message` (core/v1) or `note` (events.k8s.io/v1)."""
    return str(ev.get("message") or ev.get("note") or "").strip()


def event_reason(ev: dict) -> str:
    return str(ev.get("reason") or "")


def event_type(ev: dict) -> str:
    return str(ev.get("type") or "")


def involved_object(ev: dict) -> dict:
    """The object an event is about: `involvedObject` (core/v1) or `regarding`
    (events.k8s.io/v1)."""
    return ev.get("involvedObject") or ev.get("regarding") or {}


def event_sort_key(ev: dict) -> tuple:
    """Oldest first; events without any timestamp sort first, then by name for determinism."""
    last = event_last_time(ev)
    return (
        last is not None,
        last.timestamp() if last else 0.0,
        (ev.get("metadata") or {}).get("name", ""),
    )
