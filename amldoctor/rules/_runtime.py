"""Evidence shared by the runtime-failure rules: container events, probe failures, kill causes.

Not a rule module (the leading underscore keeps `load_all` from importing it as one). Memory,
probe and crash rules all need to answer "who killed this container": an exit code 137 without
`OOMKilled` is a SIGKILL from somebody else, and the answer decides which rule explains it.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from amldoctor.k8s.containers import (
    ContainerView,
    as_dict,
    container_from_field_path,
    containers,
    iter_terminations,
)
from amldoctor.k8s.events import (
    event_count,
    event_last_time,
    event_message,
    event_reason,
    involved_object,
)
from amldoctor.k8s.objects import meta
from amldoctor.k8s.owners import owner_chain
from amldoctor.k8s.timeutil import format_age, format_time, parse_time
from amldoctor.snapshot import Snapshot

EVENTS_EXPIRE = (
    "no events were found for this pod: events expire (about an hour by default), so this rests "
    "on the container status alone"
)
_PROBE_EVENT = re.compile(
    r"^(Liveness|Readiness|Startup) probe (failed|errored)\s*:?\s*(.*)$", re.S
)
_KILL_EVENT = re.compile(r"failed (liveness|startup) probe", re.I)


def container_events(snap: Snapshot, pod: dict, container: str, reasons: set[str]) -> list[dict]:
    """Events with one of `reasons` about one container of the pod, oldest first.

    Kubelet events name the container in `involvedObject.fieldPath`; an event without one is
    credited to the pod's only container, or to the container its message names.
    """
    events = [ev for ev in snap.events_for(pod) if event_reason(ev) in reasons]
    if not events:  # most pods, for most reasons: no need for their containers
        return []
    names = [c.name for c in containers(pod)]
    found = []
    for ev in events:
        named = container_from_field_path(involved_object(ev).get("fieldPath"))
        if named is None:
            message = event_message(ev)
            if len(names) == 1 or re.search(rf"\b{re.escape(container)}\b", message):
                named = container
        if named == container:
            found.append(ev)
    return found


@dataclass
class ProbeFailures:
    """All `Unhealthy` events of one probe of one container."""

    container: str
    probe: str  # liveness | readiness | startup
    count: int = 0
    last_time: datetime | None = None
    last_text: str = ""
    causes: dict[str, int] = field(default_factory=dict)


def probe_failures(snap: Snapshot, pod: dict) -> dict[tuple[str, str], ProbeFailures]:
    """Unhealthy events grouped by (container, probe kind), counting repeats."""
    grouped: dict[tuple[str, str], ProbeFailures] = {}
    for view in containers(pod):
        for ev in container_events(snap, pod, view.name, {"Unhealthy"}):
            match = _PROBE_EVENT.match(event_message(ev))
            if match is None:
                continue
            probe = match.group(1).lower()
            entry = grouped.setdefault((view.name, probe), ProbeFailures(view.name, probe))
            count = event_count(ev)
            entry.count += count
            cause = classify_probe_failure(match.group(3))
            entry.causes[cause] = entry.causes.get(cause, 0) + count
            last = event_last_time(ev)
            if last is None or entry.last_time is None or last >= entry.last_time:
                entry.last_time = last or entry.last_time
                entry.last_text = " ".join(match.group(3).split())
    return grouped


def classify_probe_failure(text: str) -> str:
    """'HTTP 503', 'connection refused', 'timeout', 'exec exit code 1', ... from the probe
    output."""
    status = re.search(r"statuscode: (\d{3})", text)
    if status:
        return f"HTTP {status.group(1)}"
    lowered = text.lower()
    for needle, label in (
        ("connection refused", "connection refused"),
        ("deadline exceeded", "timeout"),
        ("timeout", "timeout"),
        ("timed out", "timeout"),
        ("connection reset", "connection reset"),
        ("no route to host", "no route to host"),
    ):
        if needle in lowered:
            return label
    code = re.search(r"exit code (\d+)|command .* exited with (\d+)", text)
    if code:
        return f"exec exit code {code.group(1) or code.group(2)}"
    return "other"


def probe_kills(
    snap: Snapshot, pod: dict, container: str
) -> dict[str, tuple[int, datetime | None]]:
    """`Killing` events caused by a probe, by probe kind: {'liveness': (count, last time)}."""
    kills: dict[str, list] = defaultdict(lambda: [0, None])
    for ev in container_events(snap, pod, container, {"Killing"}):
        match = _KILL_EVENT.search(event_message(ev))
        if match is None:
            continue
        entry = kills[match.group(1).lower()]
        entry[0] += event_count(ev)
        last = event_last_time(ev)
        if last is not None and (entry[1] is None or last > entry[1]):
            entry[1] = last
    return {k: (v[0], v[1]) for k, v in kills.items()}


@dataclass(frozen=True)
class KillCause:
    """Who sent the SIGKILL behind an exit code 137 that is not an OOM kill."""

    # liveness | startup | status-unknown | eviction | preemption | node-shutdown | grace-period |
    # external
    cause: str
    detail: str


def sigkill_cause(snap: Snapshot, pod: dict, view: ContainerView) -> KillCause:
    """Attribute a non-OOM exit 137 from the events and the pod status, most specific first."""
    status = pod.get("status") or {}
    kills = probe_kills(snap, pod, view.name)
    for probe in ("liveness", "startup"):
        if probe in kills:
            count, last = kills[probe]
            when = f", last at {format_time(last)}" if last else ""
            return KillCause(
                probe,
                f"the kubelet killed it after its {probe} probe failed ({count} Killing "
                f"events{when})",
            )
    failures = probe_failures(snap, pod)
    for probe in ("liveness", "startup"):
        entry = failures.get((view.name, probe))
        if entry and view.probe(probe):
            return KillCause(
                probe,
                f"its {probe} probe failed {entry.count} times ({entry.last_text or 'no detail'})",
            )
    if any(t.get("reason") == "ContainerStatusUnknown" for _, t in iter_terminations(view)):
        return KillCause(
            "status-unknown",
            "the kubelet lost track of the container (its node went away, or the pod was deleted "
            "before the "
            "kubelet reported): 137 is a placeholder code here, not a signal",
        )
    pod_reason = str(status.get("reason") or "")
    events = snap.events_for(pod)
    if not events and view.probe("liveness") and view.restart_count:
        return KillCause("liveness", f"probably its liveness probe (it has one); {EVENTS_EXPIRE}")
    if pod_reason == "Evicted" or any(event_reason(e) == "Evicted" for e in events):
        return KillCause(
            "eviction", f"the pod was evicted: {status.get('message') or 'see the Evicted event'}"
        )
    preempted = [e for e in events if event_reason(e) in ("Preempted", "Preempting")]
    if preempted:
        return KillCause("preemption", f"the pod was preempted: {event_message(preempted[-1])}")
    if (
        pod_reason in ("Terminated", "Shutdown", "NodeShutdown")
        or "shutdown" in str(status.get("message") or "").lower()
    ):
        return KillCause(
            "node-shutdown", f"the node shut down: {status.get('message') or pod_reason}"
        )
    if meta(pod).get("deletionTimestamp"):
        grace = as_dict(pod.get("spec")).get("terminationGracePeriodSeconds", 30)
        return KillCause(
            "grace-period",
            "the pod is being deleted and the process ignored SIGTERM for "
            f"terminationGracePeriodSeconds ({grace}s)",
        )
    return KillCause(
        "external",
        "no probe, eviction, preemption or deletion explains it: something sent SIGKILL "
        "(a supervisor or sidecar in the pod, `kill -9`, or a node-level kill the runtime did not "
        "label)",
    )


def when(value: object, captured: datetime) -> str:
    """'at 2026-11-28T08:41:07Z (12m before capture)', or 'at an unknown time'."""
    t = parse_time(value) if not isinstance(value, datetime) else value
    if t is None:
        return "at an unknown time"
    age = (captured - t).total_seconds()
    suffix = f" ({format_age(age)} before capture)" if age >= 0 else ""
    return f"at {format_time(t)}{suffix}"


def owner_kind_name(snap: Snapshot, pod: dict) -> tuple[str, str] | None:
    """The managing workload (Deployment, StatefulSet, Job...) for `kubectl set` commands."""
    chain = owner_chain(snap, pod)
    if not chain:
        return None
    top = chain[-1]
    return str(top.get("kind", "")), str(meta(top).get("name", ""))
