"""Pods bound to a node that does not exist (AMD110), on the real API server.

The API server accepts a pod whose `spec.nodeName` names no node, and the real scheduler never
looks at it (it only places pods without a node): nothing but amldoctor will say why it waits.
No kubelet runs here and the controller-manager's pod garbage collector (which would delete such
pods after about a minute) is not among the harness's controllers, so the pod stays as a user
would find it.
"""

from __future__ import annotations

import time

import pytest
from cluster import Cluster, amldoctor_json, run_amldoctor
from harness import NO_NODES, ControlPlane
from objects import pod_manifest

pytestmark = pytest.mark.e2e


def _ghost_pods(c: Cluster) -> tuple[str, str]:
    real = f"node-{c.owner[-6:]}"
    ghost = f"{real}-gone"
    c.node(real)
    c.create_pod(pod_manifest("on-real", node_name=real))
    c.create_pod(pod_manifest("on-ghost-0", node_name=ghost))
    c.create_pod(pod_manifest("on-ghost-1", node_name=ghost))
    time.sleep(1.0)  # give a scheduler that would touch them the chance to
    for name in ("on-ghost-0", "on-ghost-1"):
        pod = c.get_pod(name)
        assert pod["spec"]["nodeName"] == ghost
        assert not pod["status"].get("conditions"), "no scheduler should have touched it"
    return real, ghost


def test_live_scan_reports_pods_on_a_missing_node(
    control_plane: ControlPlane, cluster: Cluster
) -> None:
    c = cluster
    _, ghost = _ghost_pods(c)
    report = amldoctor_json("scan", kubeconfig=control_plane.kubeconfig(), namespace=c.namespace)
    found = [f for f in report["findings"] if f["rule"] == "AMD110"]
    assert sorted(f["object"]["name"] for f in found) == ["on-ghost-0", "on-ghost-1"], found
    for f in found:
        assert f["evidence"]["missing_node"] == ghost
        assert f"node {ghost}" in f["message"] and "does not exist" in f["message"]
        assert f"kubectl delete pod {f['object']['name']} -n {c.namespace}" in f["remediation"]
    # One cause: both pods wait on the same missing node.
    groups = [g for g in report["groups"] if g["rule"] == "AMD110"]
    assert [g["count"] for g in groups] == [2], groups
    text = run_amldoctor("scan", kubeconfig=control_plane.kubeconfig(), namespace=c.namespace)
    assert text.returncode == 1 and "AMD110" in text.stdout, text.stdout + text.stderr


def test_scan_without_node_access_accuses_no_pod(
    control_plane: ControlPlane, cluster: Cluster
) -> None:
    c = cluster
    _ghost_pods(c)
    report = amldoctor_json(
        "scan", kubeconfig=control_plane.kubeconfig(NO_NODES), namespace=c.namespace
    )
    assert not [f for f in report["findings"] if f["rule"] == "AMD110"], report["findings"]
    (skipped,) = [s for s in report["skipped_rules"] if s["rule"] == "AMD110"]
    assert "Node" in skipped["reason"] and "forbidden" in skipped["reason"], skipped
