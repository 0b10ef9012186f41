"""What the cluster autoscaler says: its status ConfigMap and the events it writes on pods.

The autoscaler keeps `kube-system/cluster-autoscaler-status` (key `status`) up to date on every
loop and stamps it with the `cluster-autoscaler.kubernetes.io/last-updated` annotation. Since
cluster-autoscaler 1.29 the status is YAML (`autoscalerStatus`, `clusterWide`, `nodeGroups[]` with
`health.{minSize,maxSize,cloudProviderTarget,nodeCounts}` and `scaleUp.{status,backoffInfo}`);
before, it was a plain-text report ("Cluster-autoscaler status at ...:", "NodeGroups:",
"Name: ...", "Health: Healthy (ready=2 ... cloudProviderTarget=2 (minSize=0, maxSize=2))",
"ScaleUp: Backoff (...)"). Both are read into `NodeGroup`s.

On pods it records `TriggeredScaleUp` ("pod triggered scale-up: [{GROUP 1->2 (max: 4)}]") and
`NotTriggerScaleUp` ("pod didn't trigger scale-up: 2 max node group size reached, 1 node(s) had
untolerated taint {...}"), one count per node group for each reason; "max total nodes in cluster
reached" stands alone. Formats pinned from the cluster-autoscaler source (clusterstate/api,
clusterstate/utils/status.go, processors/status/eventing_scale_up_processor.go).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import yaml

from amldoctor.k8s.events import event_last_time, event_message, event_reason
from amldoctor.k8s.objects import meta
from amldoctor.k8s.timeutil import parse_time
from amldoctor.snapshot import Snapshot

STATUS_NAMESPACE = "kube-system"
STATUS_NAME = "cluster-autoscaler-status"
LAST_UPDATED = "cluster-autoscaler.kubernetes.io/last-updated"
# The autoscaler rewrites its status every scan interval (10s by default); a status minutes old
# means the autoscaler is not running, or cannot write.
STALE_AFTER_SECONDS = 300
MAX_GROUP_SIZE = "max node group size reached"
MAX_TOTAL = "max total nodes in cluster reached"
BACKED_OFF = "not ready for scale-up"

_TEXT_TIME_RE = re.compile(
    r"Cluster-autoscaler status at (?P<time>[^:]+:\d\d:\d\d[^:]*?):\s*$", re.M
)
_KV_RE = re.compile(r"(\w+)=(\d+)")
_TRIGGERED_RE = re.compile(r"\{(?P<group>\S+) (?P<old>\d+)->(?P<new>\d+) \(max: (?P<max>\d+)\)\}")
_REASON_RE = re.compile(r"(?:^|, )(?P<count>\d+) (?P<reason>.+?)(?=, \d+ |$)")


@dataclass
class NodeGroup:
    """One node group as the autoscaler reports it."""

    name: str
    min_size: int | None = None
    max_size: int | None = None
    target: int | None = None
    registered: int | None = None
    ready: int | None = None
    health: str | None = None
    scale_up: str | None = None
    backoff_code: str | None = None
    backoff_message: str | None = None

    @property
    def at_max(self) -> bool:
        return (
            self.max_size is not None and self.target is not None and self.target >= self.max_size
        )


@dataclass
class AutoscalerStatus:
    """The parsed status ConfigMap."""

    config_map: dict
    form: str  # "yaml" or "text"
    updated: datetime | None
    autoscaler_status: str | None
    groups: list[NodeGroup] = field(default_factory=list)

    def group(self, name: str) -> NodeGroup | None:
        return next((g for g in self.groups if g.name == name), None)


def status_config_map(snap: Snapshot) -> dict | None:
    return snap.get("ConfigMap", STATUS_NAMESPACE, STATUS_NAME)


def read_status(snap: Snapshot) -> AutoscalerStatus | None:
    """The autoscaler's status, or None when the snapshot has no status ConfigMap."""
    cm = status_config_map(snap)
    if cm is None:
        return None
    text = str((cm.get("data") or {}).get("status") or "")
    updated = _parse_ca_time((meta(cm).get("annotations") or {}).get(LAST_UPDATED))
    parsed: Any = None
    if not text.lstrip().startswith("Cluster-autoscaler status at"):
        try:
            parsed = yaml.safe_load(text)
        except yaml.YAMLError:
            parsed = None
    if isinstance(parsed, dict):
        groups = [_yaml_group(g) for g in parsed.get("nodeGroups") or () if isinstance(g, dict)]
        updated = updated or _parse_ca_time(parsed.get("time"))
        return AutoscalerStatus(cm, "yaml", updated, parsed.get("autoscalerStatus"), groups)
    if updated is None and (m := _TEXT_TIME_RE.search(text)):
        updated = _parse_ca_time(m.group("time"))
    return AutoscalerStatus(cm, "text", updated, _text_running(text), _text_groups(text))


def _int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def _yaml_group(data: dict) -> NodeGroup:
    health = data.get("health") or {}
    counts = (health.get("nodeCounts") or {}).get("registered") or {}
    scale_up = data.get("scaleUp") or {}
    backoff = scale_up.get("backoffInfo") or {}
    return NodeGroup(
        name=str(data.get("name") or ""),
        min_size=_int(health.get("minSize")),
        max_size=_int(health.get("maxSize")),
        target=_int(health.get("cloudProviderTarget")),
        registered=_int(counts.get("total")),
        ready=_int(counts.get("ready")),
        health=health.get("status"),
        scale_up=scale_up.get("status"),
        backoff_code=backoff.get("errorCode") or None,
        backoff_message=backoff.get("errorMessage") or None,
    )


def _text_running(text: str) -> str | None:
    # The plain-text form has no autoscalerStatus; "Initializing" is written at start-up.
    return "Initializing" if text.rstrip().endswith("Initializing") else None


def _text_groups(text: str) -> list[NodeGroup]:
    """Node groups of the plain-text form: a "Name:" line, then Health and ScaleUp lines."""
    _, found, rest = text.partition("NodeGroups:")
    if not found:
        return []
    groups: list[NodeGroup] = []
    for line in rest.splitlines():
        stripped = line.strip()
        key, _, value = stripped.partition(":")
        value = value.strip()
        if key == "Name":
            groups.append(NodeGroup(name=value))
        elif groups and key == "Health":
            kv = {k: int(v) for k, v in _KV_RE.findall(value)}
            g = groups[-1]
            g.health = value.split(" ", 1)[0]
            g.min_size, g.max_size = kv.get("minSize"), kv.get("maxSize")
            g.target, g.registered, g.ready = (
                kv.get("cloudProviderTarget"),
                kv.get("registered"),
                kv.get("ready"),
            )
        elif groups and key == "ScaleUp":
            groups[-1].scale_up = value.split(" ", 1)[0]
    return groups


def _parse_ca_time(value: object) -> datetime | None:
    """The autoscaler's Go time format ("2023-11-24 04:28:19.546750398 +0000 UTC"), or RFC 3339."""
    if not value:
        return None
    text = str(value).strip()
    m = re.match(r"(\d{4}-\d\d-\d\d)[ T](\d\d:\d\d:\d\d)(?:\.\d+)? ?([+-]\d\d):?(\d\d)", text)
    if m:
        return parse_time(f"{m.group(1)}T{m.group(2)}{m.group(3)}:{m.group(4)}")
    return parse_time(text)


def staleness_seconds(status: AutoscalerStatus, now: datetime) -> float | None:
    if status.updated is None:
        return None
    return (now - status.updated).total_seconds()


@dataclass
class PodScaleUp:
    """The autoscaler's latest word on one pod."""

    triggered: bool
    message: str
    reasons: list[tuple[int, str]]  # NotTriggerScaleUp: (node groups, reason)
    groups: list[dict]  # TriggeredScaleUp: {group, from, to, max}
    last_seen: datetime | None


def pod_scale_up(snap: Snapshot, pod: dict) -> PodScaleUp | None:
    """The newest TriggeredScaleUp / NotTriggerScaleUp event on the pod, parsed."""
    events = [
        e
        for e in snap.events_for(pod)
        if event_reason(e) in ("TriggeredScaleUp", "NotTriggerScaleUp")
    ]
    if not events:
        return None
    latest = events[-1]
    text = event_message(latest)
    if event_reason(latest) == "TriggeredScaleUp":
        groups = [
            {"group": m["group"], "from": int(m["old"]), "to": int(m["new"]), "max": int(m["max"])}
            for m in _TRIGGERED_RE.finditer(text)
        ]
        return PodScaleUp(True, text, [], groups, event_last_time(latest))
    return PodScaleUp(False, text, not_triggered_reasons(text), [], event_last_time(latest))


def not_triggered_reasons(message: str) -> list[tuple[int, str]]:
    """'pod didn't trigger scale-up: 2 max node group size reached, 1 Insufficient cpu' ->
    [(2, 'max node group size reached'), (1, 'Insufficient cpu')]."""
    _, sep, body = message.partition("scale-up")
    body = body.lstrip(":").strip() if sep else message
    if body.startswith("(it wouldn't fit if a new node is added)"):
        return [(0, "it wouldn't fit if a new node is added")]
    if body == MAX_TOTAL:
        return [(0, MAX_TOTAL)]
    return [(int(m["count"]), m["reason"].strip()) for m in _REASON_RE.finditer(body)]
