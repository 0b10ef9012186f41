"""The extension's component map, its namespace, and the nodeSelector it imposes on workloads."""

from __future__ import annotations

from datetime import UTC, datetime

from amldoctor.aml.extension import (
    component_for,
    extension_namespace,
    extension_node_selector,
    owning_workload,
    pod_problem,
)
from amldoctor.aml.remedy import az_extension_update, extension_name
from amldoctor.snapshot import Snapshot

T = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)


def deployment(name, ns="ml-ext", selector=None):
    spec = {"containers": [{"name": "c"}]}
    if selector is not None:
        spec["nodeSelector"] = selector
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": name,
            "namespace": ns,
            "annotations": {
                "meta.helm.sh/release-name": "amlext",
                "meta.helm.sh/release-namespace": ns,
            },
        },
        "spec": {"template": {"spec": spec}},
    }


def pod(name, rs, ns="ml-ext", status=None):
    return {
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": ns,
            "ownerReferences": [
                {"kind": "ReplicaSet", "name": rs, "uid": f"uid-{rs}", "controller": True}
            ],
        },
        "spec": {"containers": [{"name": "c"}]},
        "status": status
        or {
            "phase": "Running",
            "containerStatuses": [
                {"name": "c", "ready": True, "restartCount": 0, "state": {"running": {}}}
            ],
        },
    }


def test_component_map_prefers_the_longest_name():
    assert component_for("volcano-scheduler").area == "training"
    assert component_for("azureml-fe-v2").name == "azureml-fe"
    assert component_for("amlarc-identity-proxy").name == "amlarc-identity-proxy"
    assert component_for("relayserver").arc_only
    assert component_for("my-app") is None


def test_namespace_release_and_selector_come_from_the_chart():
    zone = {"agentpool": "system", "kubernetes.io/os": "linux"}
    snap = Snapshot(
        [
            deployment("aml-operator", selector=zone),
            deployment("gateway", selector={**zone, "x": "y"}),
            deployment("unrelated", selector={"other": "1"}),
        ],
        captured_at=T,
    )
    assert extension_namespace(snap) == "ml-ext"
    assert extension_name(snap) == "amlext"
    selector, basis = extension_node_selector(snap)
    assert selector == {"agentpool": "system"}  # shared by both components; the OS pin is dropped
    assert "2 extension Deployments in ml-ext (inferred)" in basis
    assert "--config installVolcano=true" in az_extension_update(snap, {"installVolcano": "true"})
    assert "--config" not in az_extension_update(snap, {})


def test_defaults_without_extension_objects():
    snap = Snapshot([], captured_at=T)
    assert extension_namespace(snap) == "azureml"
    assert extension_node_selector(snap) == ({}, "no extension Deployments in the snapshot")
    assert extension_name(snap) == "<extension-name>"


def test_replicaset_owner_maps_to_its_deployment():
    snap = Snapshot(
        [deployment("aml-operator"), pod("aml-operator-7d9f8b6c5-x2k4p", "aml-operator-7d9f8b6c5")],
        captured_at=T,
    )
    owner = owning_workload(snap, snap.pods[0])
    assert (owner["kind"], owner["metadata"]["name"]) == ("Deployment", "aml-operator")


def test_pod_problem_reads_states():
    assert pod_problem(pod("p", "rs")) is None
    crash = {
        "phase": "Running",
        "containerStatuses": [
            {
                "name": "c",
                "ready": False,
                "restartCount": 7,
                "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                "lastState": {"terminated": {"reason": "OOMKilled"}},
            }
        ],
    }
    assert (
        pod_problem(pod("p", "rs", status=crash))
        == "CrashLoopBackOff (7 restarts, last exit OOMKilled)"
    )
    assert pod_problem(pod("p", "rs", status={"phase": "Pending"})) == "Pending"
    assert pod_problem(pod("p", "rs", status={"phase": "Succeeded"})) is None
    unready = {
        "phase": "Running",
        "containerStatuses": [{"name": "c", "ready": False, "state": {"running": {}}}],
    }
    assert pod_problem(pod("p", "rs", status=unready)) == "not ready"
