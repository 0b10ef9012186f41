"""Gang fit: N identical workers placed at once, whole-node packing, eligibility, shapes."""

from __future__ import annotations

from datetime import UTC, datetime

from amldoctor.aml.gang import PodShape, gang_fit
from amldoctor.aml.jobs import gang_for_podgroup, shapes_for_podgroup
from amldoctor.snapshot import Snapshot

GI = 1 << 30
T = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)


def node(
    name, gpus=8, cpu="96", memory="800Gi", taints=(), ready=True, labels=None, unschedulable=False
):
    alloc = {"cpu": cpu, "memory": memory, "pods": "110"}
    if gpus:
        alloc["nvidia.com/gpu"] = str(gpus)
    return {
        "kind": "Node",
        "metadata": {"name": name, "labels": {"pool": "gpu", **(labels or {})}},
        "spec": {"taints": list(taints), "unschedulable": unschedulable},
        "status": {
            "allocatable": alloc,
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
        },
    }


def bound_pod(name, node_name, gpus):
    return {
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "other"},
        "spec": {
            "nodeName": node_name,
            "containers": [{"name": "c", "resources": {"limits": {"nvidia.com/gpu": str(gpus)}}}],
        },
        "status": {"phase": "Running"},
    }


def snap(*objects):
    return Snapshot(list(objects), captured_at=T)


def worker(count, gpus=8, **kw):
    return PodShape("worker", count, {"cpu": 4000, "memory": 32 * GI, "nvidia.com/gpu": gpus}, **kw)


def test_whole_nodes_not_totals():
    # 3 nodes x 8 GPUs, 4 GPUs used on one: 20 free GPUs in total, yet only 2 workers of 8 fit.
    s = snap(node("a"), node("b"), node("c"), bound_pod("busy", "c", 4))
    result = gang_fit(s, [worker(4)])
    assert (result["needed"], result["placeable"], result["fits"]) == (4, 2, False)
    assert "only 2 eligible node(s) have 8 free nvidia.com/gpu" in result["summary"]
    assert {n["name"]: n["slots"] for n in result["nodes"]} == {"a": 1, "b": 1, "c": 0}


def test_several_workers_share_a_node():
    s = snap(node("a"), node("b", gpus=4))
    result = gang_fit(s, [worker(6, gpus=2)])
    assert result["placeable"] == 6 and result["fits"]
    assert gang_fit(s, [worker(7, gpus=2)])["placeable"] == 6


def test_no_node_big_enough_names_the_resource():
    s = snap(node("a", gpus=4), node("b", gpus=4))
    result = gang_fit(s, [worker(1, gpus=8)])
    assert result["placeable"] == 0
    assert "no eligible node has 8 free nvidia.com/gpu (most on one node: 4)" in result["summary"]


def test_pod_count_limits_slots():
    n = node("a", gpus=0)
    n["status"]["allocatable"]["pods"] = "2"
    s = snap(
        n,
        {
            "kind": "Pod",
            "metadata": {"name": "x", "namespace": "o"},
            "spec": {"nodeName": "a", "containers": [{"name": "c"}]},
            "status": {"phase": "Running"},
        },
    )
    shape = PodShape("w", 3, {"cpu": 100})
    assert gang_fit(s, [shape])["placeable"] == 1


def test_ineligible_nodes_are_counted_by_reason():
    s = snap(
        node("tainted", taints=[{"key": "sku", "value": "gpu", "effect": "NoSchedule"}]),
        node("down", ready=False),
        node("cordoned", unschedulable=True),
        node("other-pool", labels={"pool": "cpu"}),
        node("ok"),
    )
    result = gang_fit(s, [worker(2, node_selector={"pool": "gpu"})])
    assert result["placeable"] == 1
    assert result["excluded"] == {
        "NotReady": 1,
        "cordoned": 1,
        "nodeSelector": 1,
        "taint sku=gpu:NoSchedule": 1,
    }
    tolerated = worker(4, tolerations=[{"key": "sku", "operator": "Exists"}])
    assert gang_fit(s, [tolerated])["placeable"] == 3  # tainted, other-pool and ok


def test_prefer_no_schedule_taint_does_not_exclude():
    s = snap(node("a", taints=[{"key": "sku", "value": "gpu", "effect": "PreferNoSchedule"}]))
    assert gang_fit(s, [worker(1)])["fits"]


def test_two_shapes_share_capacity():
    s = snap(node("a"), node("b"))
    master = PodShape("master", 1, {"cpu": 1000, "nvidia.com/gpu": 4})
    result = gang_fit(s, [worker(2), master])
    # Two 8-GPU workers fill both nodes: the 4-GPU master has nowhere to go.
    assert (result["needed"], result["placeable"]) == (3, 2)


def test_no_nodes_says_so():
    result = gang_fit(snap(), [worker(2)])
    assert not result["fits"] and "no nodes in the snapshot" in result["summary"]


def _podgroup(min_member=4, min_resources=None):
    spec = {"minMember": min_member, "queue": "default"}
    if min_resources:
        spec["minResources"] = min_resources
    return {
        "apiVersion": "scheduling.volcano.sh/v1beta1",
        "kind": "PodGroup",
        "metadata": {"name": "ns-abc", "namespace": "ns", "labels": {"jobId": "abc"}},
        "spec": spec,
        "status": {"phase": "Pending"},
    }


def test_shapes_from_min_resources_without_pods_or_job():
    pg = _podgroup(
        min_member=4, min_resources={"cpu": "16", "memory": "128Gi", "nvidia.com/gpu": "32"}
    )
    shapes, basis = shapes_for_podgroup(snap(pg), pg, [])
    assert "estimate" in basis
    assert shapes[0].count == 4
    assert shapes[0].requests == {"cpu": 4000, "memory": 32 * GI, "nvidia.com/gpu": 8}


def test_shapes_from_volcano_job_template():
    pg = _podgroup(min_member=2)
    job = {
        "apiVersion": "batch.volcano.sh/v1alpha1",
        "kind": "Job",
        "metadata": {"name": "ns-abc", "namespace": "ns"},
        "spec": {
            "tasks": [
                {
                    "name": "worker",
                    "replicas": 2,
                    "template": {
                        "spec": {
                            "tolerations": [{"key": "sku", "operator": "Exists"}],
                            "containers": [
                                {
                                    "name": "c",
                                    "resources": {
                                        "limits": {
                                            "cpu": "2",
                                            "memory": "8Gi",
                                            "nvidia.com/gpu": "1",
                                        }
                                    },
                                }
                            ],
                        }
                    },
                }
            ]
        },
    }
    shapes, basis = shapes_for_podgroup(snap(pg, job), pg, [])
    assert "Volcano Job ns-abc" in basis
    assert shapes[0].requests == {"cpu": 2000, "memory": 8 * GI, "nvidia.com/gpu": 1}
    assert shapes[0].tolerations == [{"key": "sku", "operator": "Exists"}]
    s = snap(
        pg, job, node("a", gpus=1, taints=[{"key": "sku", "value": "gpu", "effect": "NoSchedule"}])
    )
    assert gang_for_podgroup(s, pg)["placeable"] == 1


def test_malformed_podgroup_and_job_do_not_crash():
    pg = {
        "apiVersion": "scheduling.volcano.sh/v1beta1",
        "kind": "PodGroup",
        "metadata": {"name": "ns-x", "namespace": "ns"},
        "spec": {"minMember": "four", "minResources": {"cpu": "lots", "memory": 5}},
        "status": "odd",
    }
    job = {
        "apiVersion": "batch.volcano.sh/v1alpha1",
        "kind": "Job",
        "metadata": {"name": "ns-x", "namespace": "ns"},
        "spec": {"tasks": ["not-a-task", {"name": "w", "replicas": "2", "template": "nope"}]},
    }
    result = gang_for_podgroup(snap(pg, job, node("a")), pg)
    assert result["needed"] == 1 and result["fits"]
