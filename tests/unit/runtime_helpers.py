"""Small builders for runtime-rule tests: a pod, an event, and a run of selected rules."""

from __future__ import annotations

from datetime import UTC, datetime

from amldoctor.engine.registry import REGISTRY, load_all
from amldoctor.engine.runner import run_rules
from amldoctor.snapshot import Snapshot

CAPTURED = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)


def pod(
    name: str = "p",
    namespace: str = "ml",
    *,
    containers=None,
    statuses=None,
    init=None,
    init_statuses=None,
    phase: str = "Running",
    node: str | None = "node-1",
    **spec,
) -> dict:
    body = {
        "containers": containers if containers is not None else [{"name": "c", "image": "img:1"}],
        **spec,
    }
    if init is not None:
        body["initContainers"] = init
    if node:
        body["nodeName"] = node
    status = {"phase": phase}
    if statuses is not None:
        status["containerStatuses"] = statuses
    if init_statuses is not None:
        status["initContainerStatuses"] = init_statuses
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "uid": f"uid-{namespace}-{name}"},
        "spec": body,
        "status": status,
    }


def event(
    target: dict,
    reason: str,
    message: str,
    *,
    count: int = 1,
    last: str | None = "2026-11-28T08:40:00Z",
    container: str | None = None,
    name: str | None = None,
) -> dict:
    ref = {
        "kind": target["kind"],
        "namespace": target["metadata"].get("namespace"),
        "name": target["metadata"]["name"],
        "uid": target["metadata"].get("uid"),
    }
    if container:
        ref["fieldPath"] = f"spec.containers{{{container}}}"
    ev = {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {
            "name": name or f"{target['metadata']['name']}.{reason}.{count}",
            "namespace": target["metadata"].get("namespace"),
        },
        "involvedObject": ref,
        "reason": reason,
        "message": message,
        "count": count,
    }
    if last:
        ev["lastTimestamp"] = last
    return ev


def findings(objects: list[dict], *codes: str) -> list:
    """Findings of the given rules; fails the test if any rule crashed on the input."""
    load_all()
    snap = Snapshot(objects, source="test", captured_at=CAPTURED)
    report = run_rules(snap, rules=[REGISTRY[c] for c in codes])
    crashed = [n for n in report.notes if "failed on this snapshot" in n]
    assert not crashed, crashed
    return report.findings
