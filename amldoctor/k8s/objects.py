"""What every Kubernetes object has: metadata, a key, and an index to look others up in.

The helpers in `k8s/` read plain API objects (dicts) and never import the Snapshot: those that
follow references (owners) take anything shaped like `ObjectIndex`, which a Snapshot is.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

# Pod phases after which a pod holds nothing on its node (the scheduler no longer counts it).
TERMINAL_PHASES = frozenset({"Succeeded", "Failed"})
# The scheduler a pod without `spec.schedulerName` is placed by.
DEFAULT_SCHEDULER = "default-scheduler"


def meta(obj: Mapping) -> dict:
    """`metadata` of an object, {} when it is absent or not an object."""
    m = obj.get("metadata")
    return m if isinstance(m, dict) else {}


def obj_key(obj: Mapping) -> tuple[str, str, str]:
    m = meta(obj)
    return (str(obj.get("kind", "")), m.get("namespace") or "", m.get("name") or "")


class ObjectIndex(Protocol):
    """Objects looked up by key or uid: what owner references need (a Snapshot is one)."""

    def get(self, kind: str, namespace: str | None, name: str) -> dict | None: ...

    def by_uid(self, uid: str | None) -> dict | None: ...
