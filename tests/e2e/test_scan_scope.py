"""A namespace's scan pays for its own question: proved from the API server's audit log.

`scan -n NS` lists the pods other namespaces bound to the nodes only when something in NS waits
for a node, and then once per other namespace and once for any namespace not listed apart, with
the field selector that leaves out unbound and finished pods (and once more, cluster-wide, for
the pods nominated to a node after preemption).
The verdict on a waiting pod is the one `scan -A` gives, and the one the real scheduler wrote.
"""

from __future__ import annotations

import re
import time
import uuid
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from cluster import Cluster, amldoctor_json, create_namespace
from harness import READER, ControlPlane
from objects import pod_manifest

from amldoctor.collect.kinds import BOUND_PODS, CLAIM_STORAGE, NOMINATED_PODS, PLACEMENT_ONLY
from amldoctor.collect.occupancy import MAX_PARTS

pytestmark = pytest.mark.e2e


def _flush_marker(plane: ControlPlane, user: str) -> int:
    """Make a request as `user` and wait until the audit log holds it; the log's length then."""
    marker = f"/api/v1/namespaces/default/pods/audit-marker-{uuid.uuid4().hex[:8]}"
    plane.client(user).can("GET", marker)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        events = plane.audit_events(user)
        if any(e["requestURI"] == marker for e in events):
            return len(events)
        time.sleep(0.2)
    raise AssertionError("the audit log lacks the marker request")


def _scan_requests(plane: ControlPlane, namespace: str) -> tuple[dict[str, Any], list[dict]]:
    """`scan -n namespace -o json` as the reader; its report and every request it made."""
    start = _flush_marker(plane, READER)
    report = amldoctor_json("scan", kubeconfig=plane.kubeconfig(READER), namespace=namespace)
    events = plane.audit_events(READER)[start : _flush_marker(plane, READER) - 1]
    ours = [e for e in events if e.get("userAgent", "").startswith("amldoctor/")]
    assert ours, "no amldoctor request in the audit log"
    return report, ours


def _scan_lists(
    plane: ControlPlane, namespace: str
) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """`scan -n namespace -o json` as the reader; its report and its LISTs of pods bound or
    nominated to nodes (path and field selector of each first page)."""
    report, ours = _scan_requests(plane, namespace)
    reads = []
    for e in ours:
        url = urlsplit(e["requestURI"])
        query = parse_qs(url.query)
        selector = query.get("fieldSelector", [""])[0]
        occupancy = selector.startswith((BOUND_PODS, NOMINATED_PODS))
        first_page = "continue" not in query
        if e["verb"] == "list" and url.path.endswith("/pods") and occupancy and first_page:
            reads.append((url.path, selector))
    return report, sorted(reads)


def _expected_occupancy_reads(plane: ControlPlane, namespace: str) -> list[tuple[str, str]]:
    """One LIST per other namespace (at most MAX_PARTS), one for the rest, one for the
    nominated pods."""
    names = sorted(n["metadata"]["name"] for n in plane.client().list("/api/v1/namespaces"))
    apart = [n for n in names if n != namespace][:MAX_PARTS]
    rest = [BOUND_PODS, *(f"metadata.namespace!={n}" for n in [*apart, namespace])]
    return sorted(
        [(f"/api/v1/namespaces/{n}/pods", BOUND_PODS) for n in apart]
        + [("/api/v1/pods", ",".join(rest)), ("/api/v1/pods", NOMINATED_PODS)]
    )


def _first_pages(events: list[dict]) -> list[str]:
    """The paths of the LISTs made (a list's later pages carry a continue token)."""
    return [
        urlsplit(e["requestURI"]).path
        for e in events
        if e["verb"] == "list" and "continue" not in parse_qs(urlsplit(e["requestURI"]).query)
    ]


def _timeless(finding: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """A finding without how long the pod has waited (the two scans run seconds apart)."""
    message = re.sub(r"Pending for [0-9a-z]+:", "Pending for (age):", finding["message"])
    evidence = {k: v for k, v in finding["evidence"].items() if not re.search("age|seconds", k)}
    return message, evidence


def _amd101(report: dict[str, Any], pod: str) -> list[dict]:
    return [f for f in report["findings"] if f["rule"] == "AMD101" and f["object"]["name"] == pod]


def test_namespace_scan_lists_other_namespaces_pods_only_for_a_waiting_pod(
    control_plane: ControlPlane, scheduling_cluster: Cluster
) -> None:
    c = scheduling_cluster
    c.node("cpu-0", cpu="4")
    other = f"{c.namespace}-other"
    create_namespace(c.kube, other)
    hog = pod_manifest("hog", node_name="cpu-0", requests={"cpu": "3"})
    c.kube.create(f"/api/v1/namespaces/{other}/pods", hog)
    try:
        c.pod("web", node_name="cpu-0", requests={"cpu": "100m"})
        c.wait_scheduler_sees(nodes=1, pods=2)

        # Nothing waits: the namespace's own lists are enough, and the report says what it left.
        report, listed = _scan_lists(control_plane, c.namespace)
        assert listed == [], listed
        skipped = [m for m in report["missing"] if m["kind"] == "Pod"]
        assert len(skipped) == 1 and skipped[0]["namespace"] is None, skipped
        assert f"nothing in namespace {c.namespace} waits for a node" in skipped[0]["reason"]

        # A pod waits, because of what the other namespace holds on the node: the node-bound
        # pods of each other namespace, once, and the verdict `scan -A` and the scheduler give.
        c.pod("trainer", requests={"cpu": "2"})
        failure = c.wait_unschedulable("trainer")
        report, listed = _scan_lists(control_plane, c.namespace)
        assert listed == _expected_occupancy_reads(control_plane, c.namespace)
        assert not [m for m in report["missing"] if m["kind"] == "Pod"]
        (finding,) = _amd101(report, "trainer")
        assert finding["evidence"]["agrees_with_scheduler"] is True, finding
        assert finding["evidence"]["scheduler_message"] == failure.condition_message
        assert "Insufficient cpu" in finding["message"]

        everything = amldoctor_json("scan", "-A", kubeconfig=control_plane.kubeconfig(READER))
        (same,) = _amd101(everything, "trainer")
        assert _timeless(same) == _timeless(finding)
    finally:
        c.kube.delete(f"/api/v1/namespaces/{other}/pods", gracePeriodSeconds=0)


def test_a_quiet_namespace_costs_27_lists_and_a_waiting_pod_adds_what_placement_reads(
    control_plane: ControlPlane, scheduling_cluster: Cluster
) -> None:
    """The request count of a namespace's scan, and that it only reads (GET and LIST).

    Nothing waits: 27 LISTs: 17 kinds of the namespace (the 20 less PodDisruptionBudgets,
    ResourceClaims and their templates), 4 cluster-scoped (nodes, namespaces, AML instance
    types, Volcano queues), and 6 for the AzureML extension (its namespace's pods, deployments,
    events, ConfigMaps; the Arc agents' deployments; the autoscaler's status). A pod waits:
    15 more (the nominated pods, every namespace's budgets and claims, the 10 placement-only
    kinds, PersistentVolumes and StorageClasses) and the bound pods: one LIST per other
    namespace (at most MAX_PARTS) and one for the rest.
    """
    c = scheduling_cluster
    c.node("cpu-0", cpu="4")
    c.pod("web", node_name="cpu-0", requests={"cpu": "100m"})
    c.wait_scheduler_sees(nodes=1, pods=1)
    placement = {r.path(c.namespace) for r in (*PLACEMENT_ONLY, *CLAIM_STORAGE)}

    _, quiet = _scan_requests(control_plane, c.namespace)
    assert {e["verb"] for e in quiet} <= {"get", "list"}, {e["verb"] for e in quiet}
    lists = _first_pages(quiet)
    assert len(lists) == 27, sorted(lists)
    assert not placement & set(lists)

    c.pod("trainer", requests={"cpu": "8"})
    c.wait_unschedulable("trainer")
    _, waiting = _scan_requests(control_plane, c.namespace)
    assert {e["verb"] for e in waiting} <= {"get", "list"}
    lists = _first_pages(waiting)
    others = len(control_plane.client().list("/api/v1/namespaces")) - 1
    assert len(lists) == 27 + 15 + min(others, MAX_PARTS) + 1, sorted(lists)
    assert placement <= set(lists)
