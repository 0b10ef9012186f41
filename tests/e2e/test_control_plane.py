"""Smoke tests of the e2e control plane itself: what amldoctor's scenario tests rely on."""

from __future__ import annotations

import json
import subprocess
import time

import kubernetes
import pytest
from cluster import Cluster
from harness import ADMIN, NO_EVENTS, NO_NODES, NS_READER, ControlPlane, pinned_version
from objects import (
    crash_loop_status,
    create_config_error_status,
    image_pull_backoff_status,
    oom_killed_status,
)
from randomcluster import generate, schedule

pytestmark = pytest.mark.e2e


def test_apiserver_reports_the_pinned_version(control_plane: ControlPlane) -> None:
    print(f"start-up: {control_plane.startup_seconds}")
    assert control_plane.version == pinned_version()
    assert control_plane.client().get("/version")["gitVersion"] == pinned_version()


def test_kubeconfigs_work_with_the_official_client_and_kubectl(
    control_plane: ControlPlane, cluster: Cluster
) -> None:
    cluster.grant(NS_READER)
    cluster.pod("p1")
    for user in (ADMIN, NS_READER, NO_NODES, NO_EVENTS):
        api = kubernetes.client.CoreV1Api(
            kubernetes.config.new_client_from_config(str(control_plane.kubeconfig(user)))
        )
        pods = api.list_namespaced_pod(cluster.namespace)
        assert [p.metadata.name for p in pods.items] == ["p1"], user
        out = subprocess.run(
            [
                "kubectl",
                "--kubeconfig",
                str(control_plane.kubeconfig(user)),
                "get",
                "pods",
                "-n",
                cluster.namespace,
                "-o",
                "json",
            ],
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        )
        assert [p["metadata"]["name"] for p in json.loads(out.stdout)["items"]] == ["p1"], user


def test_fresh_node_has_no_not_ready_taint(cluster: Cluster) -> None:
    cluster.node("cpu-fresh")
    node = cluster.kube.get("/api/v1/nodes/cpu-fresh")
    assert node["spec"].get("taints") is None
    assert node["status"]["allocatable"]["pods"] == "110"


def test_gpu_pod_on_a_one_gpu_node_is_unschedulable(scheduling_cluster: Cluster) -> None:
    c = scheduling_cluster
    c.gpu_node("gpu-1", gpus=1)
    c.pod(
        "train",
        gpus=2,
        requests={"cpu": "1", "memory": "4Gi"},
        tolerations=[{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
    )
    failure = c.wait_unschedulable("train")
    print("PodScheduled message:", failure.condition_message)
    print("FailedScheduling event:", json.dumps(failure.event, indent=1))
    assert "Insufficient nvidia.com/gpu" in failure.condition_message
    assert failure.condition_message.startswith("0/1 nodes are available")
    assert "Insufficient nvidia.com/gpu" in failure.event_message
    ev = failure.event
    assert (ev["type"], ev["reason"]) == ("Warning", "FailedScheduling")
    assert ev["eventTime"] and ev["reportingComponent"] == "default-scheduler"
    assert ev["involvedObject"]["uid"] == c.get_pod("train")["metadata"]["uid"]

    c.gpu_node("gpu-2", gpus=2)  # a node add wakes the scheduler up
    assert c.wait_bound("train") == "gpu-2"


def test_repeated_failed_scheduling_becomes_an_event_series(scheduling_cluster: Cluster) -> None:
    """The first failure is one Event; repeats create a second Event whose series.count grows,
    while core/v1 `count` and `lastTimestamp` stay null."""
    c = scheduling_cluster
    c.gpu_node("gpu-s", gpus=1)
    c.pod("train", gpus=2, tolerations=[{"operator": "Exists"}])
    c.wait_unschedulable("train")
    deadline = time.monotonic() + 60
    series: list[dict] = []
    while time.monotonic() < deadline and not series:
        c.nudge_scheduler("gpu-s")
        time.sleep(2)
        series = [e for e in c.events_for("train", "FailedScheduling") if e.get("series")]
    events = c.events_for("train", "FailedScheduling")
    print(
        "FailedScheduling events:",
        json.dumps(
            [
                {k: e.get(k) for k in ("eventTime", "lastTimestamp", "count", "series")}
                for e in events
            ]
        ),
    )
    assert series, events
    assert series[0]["series"]["count"] >= 2 and series[0]["series"]["lastObservedTime"]
    assert all(e.get("count") is None and e["lastTimestamp"] is None for e in events)
    assert len({e["message"] for e in events}) == 1


def test_untolerated_gpu_taint_and_cordon(scheduling_cluster: Cluster) -> None:
    c = scheduling_cluster
    c.gpu_node("gpu-t", gpus=4)
    c.node("cpu-c")
    c.cordon("cpu-c")
    c.pod("infer", requests={"cpu": "1"})
    message = c.wait_unschedulable("infer").condition_message
    assert message.startswith("0/2 nodes are available"), message
    # 1.35 no longer names the taint in the summary ("untolerated taint(s)").
    assert "1 node(s) had untolerated taint" in message
    assert "node(s) were unschedulable" in message


def test_volume_scenarios(scheduling_cluster: Cluster) -> None:
    c = scheduling_cluster
    c.node("cpu-a")
    c.node("cpu-b")
    c.storage_class("e2e-immediate", binding_mode="Immediate")
    c.pvc("unbound", storage_class="e2e-immediate")
    c.pod("needs-unbound", pvc="unbound")
    message = c.wait_unschedulable("needs-unbound").condition_message
    print("unbound PVC:", message)
    assert "pod has unbound immediate PersistentVolumeClaims" in message, message

    c.pvc("pinned", volume_name="pv-a", storage_class="")
    c.pv("pv-a", node_hostname="cpu-a", claim="pinned")
    c.pod("needs-pinned", pvc="pinned", node_selector={"kubernetes.io/hostname": "cpu-b"})
    message = c.wait_unschedulable("needs-pinned").condition_message
    print("PV on another node:", message)
    assert "1 node(s) didn't match PersistentVolume's node affinity" in message, message
    c.pod("follows-pinned", pvc="pinned")
    assert c.wait_bound("follows-pinned") == "cpu-a"


def test_namespace_reader_is_confined_to_its_namespaces(
    control_plane: ControlPlane, cluster: Cluster
) -> None:
    cluster.grant(NS_READER)
    reader = control_plane.client(NS_READER)
    ns = cluster.ns_path
    assert reader.can("GET", f"{ns}/pods") == 200
    assert reader.can("GET", f"{ns}/events") == 200
    assert reader.can("GET", f"{ns}/persistentvolumeclaims") == 200
    assert reader.can("GET", f"/apis/batch/v1/namespaces/{cluster.namespace}/jobs") == 200
    assert reader.can("GET", "/api/v1/nodes") == 403
    assert reader.can("GET", "/api/v1/namespaces/default/pods") == 403
    assert reader.can("GET", "/api/v1/pods") == 403
    assert reader.can("GET", f"/api/v1/namespaces/{cluster.namespace}") == 403


def test_no_nodes_and_no_events_users(control_plane: ControlPlane, cluster: Cluster) -> None:
    no_nodes = control_plane.client(NO_NODES)
    assert no_nodes.can("GET", "/api/v1/nodes") == 403
    assert no_nodes.can("GET", "/api/v1/nodes/anything") == 403
    for path in (
        "/api/v1/pods",
        "/api/v1/events",
        "/api/v1/persistentvolumes",
        "/apis/storage.k8s.io/v1/storageclasses",
        "/apis/apps/v1/deployments",
    ):
        assert no_nodes.can("GET", path) == 200, path

    no_events = control_plane.client(NO_EVENTS)
    assert no_events.can("GET", f"{cluster.ns_path}/events") == 403
    assert no_events.can("GET", "/api/v1/events") == 403
    assert no_events.can("GET", "/apis/events.k8s.io/v1/events") == 403
    for path in ("/api/v1/pods", "/api/v1/nodes", f"{cluster.ns_path}/pods"):
        assert no_events.can("GET", path) == 200, path


def test_audit_log_records_requests_by_user(control_plane: ControlPlane, cluster: Cluster) -> None:
    cluster.grant(NS_READER)
    reader = control_plane.client(NS_READER)
    reader.can("GET", f"{cluster.ns_path}/pods")
    reader.can("GET", "/api/v1/nodes")
    deadline = time.monotonic() + 10
    seen: set[tuple[str, str, int]] = set()
    while time.monotonic() < deadline:
        seen = {
            (e["verb"], e.get("objectRef", {}).get("resource", ""), e["responseStatus"]["code"])
            for e in control_plane.audit_events(NS_READER)
        }
        if {("list", "pods", 200), ("list", "nodes", 403)} <= seen:
            break
        time.sleep(0.2)
    assert ("list", "pods", 200) in seen
    assert ("list", "nodes", 403) in seen
    assert all(e["level"] == "Metadata" for e in control_plane.audit_events(NS_READER))


def test_kubelet_side_state_round_trips_through_the_official_client(cluster: Cluster) -> None:
    cluster.node("cpu-k", node_info=False)
    cluster.gpu_node("gpu-k", gpus=8)
    writers = {
        "oom": oom_killed_status(restarts=4),
        "crash": crash_loop_status(exit_code=2),
        "pull": image_pull_backoff_status(),
        "config": create_config_error_status(),
    }
    for name, status in writers.items():
        cluster.pod(name, node_name="gpu-k", gpus=1)
        cluster.set_pod_status(
            name, [status], phase="Pending" if name in ("pull", "config") else "Running"
        )
    oom = cluster.get_pod("oom")
    cluster.event(
        oom,
        "BackOff",
        "Back-off restarting failed container trainer",
        count=12,
        field_path="spec.containers{trainer}",
    )
    cluster.event(
        oom,
        "Killing",
        "Container trainer failed liveness probe, will be restarted",
        type="Normal",
        count=2,
    )
    cluster.event(
        oom, "Unhealthy", "Liveness probe failed: HTTP probe failed with statuscode: 500", count=3
    )
    cluster.event(
        cluster.get_pod("pull"), "Failed", 'Failed to pull image "x": 401 Unauthorized', count=5
    )

    api = kubernetes.client.CoreV1Api(
        kubernetes.config.new_client_from_config(str(cluster.control_plane.kubeconfig()))
    )
    pods = {p.metadata.name: p for p in api.list_namespaced_pod(cluster.namespace).items}
    reasons = {n: (p.status.container_statuses[0].state.waiting.reason) for n, p in pods.items()}
    assert reasons == {
        "oom": "CrashLoopBackOff",
        "crash": "CrashLoopBackOff",
        "pull": "ImagePullBackOff",
        "config": "CreateContainerConfigError",
    }
    assert pods["oom"].status.container_statuses[0].last_state.terminated.reason == "OOMKilled"
    assert pods["oom"].status.container_statuses[0].restart_count == 4
    events = api.list_namespaced_event(cluster.namespace).items
    assert sorted((e.reason, e.count) for e in events) == [
        ("BackOff", 12),
        ("Failed", 5),
        ("Killing", 2),
        ("Unhealthy", 3),
    ]
    assert all(e.event_time is None and e.last_timestamp is not None for e in events)
    names = {
        n.metadata.name
        for n in api.list_node(label_selector=f"amldoctor.e2e/owner={cluster.owner}").items
    }
    assert names == {"cpu-k", "gpu-k"}


def test_random_clusters_get_a_verdict(scheduling_cluster: Cluster) -> None:
    started = time.monotonic()
    seeds = range(6)
    for seed in seeds:
        case = generate(seed)
        verdict = schedule(scheduling_cluster, case)
        names = {n["metadata"]["name"] for n in case.nodes}
        if verdict.node:
            node = next(n for n in case.nodes if n["metadata"]["name"] == verdict.node)
            assert not node["spec"].get("unschedulable"), case.describe()
        else:
            assert verdict.message.startswith(f"0/{len(names)} nodes are available"), (
                verdict.message,
                case.describe(),
            )
        print(
            f"seed {seed}: {len(case.nodes)} nodes, {len(case.bound_pods)} bound -> "
            f"{verdict.node or verdict.message}"
        )
    print(f"{len(seeds)} random cases in {time.monotonic() - started:.1f}s")


def test_random_cases_are_reproducible() -> None:
    assert generate(7).describe() == generate(7).describe()
    assert generate(7).describe() != generate(8).describe()
