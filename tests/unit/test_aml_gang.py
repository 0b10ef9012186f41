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


def _reference_place(s, order):
    """The placement as first written, node by node with a dict per node: the oracle for the
    column-wise `_place` (same rows, counts, limiting resources and tie order)."""
    from collections import Counter

    from amldoctor.aml.gang import _exclusions
    from amldoctor.aml.nodes import Capacity

    capacity = Capacity(s)
    resources = sorted({r for shape in order for r in shape.requests})
    rows, free, free_pods, placed_per_shape = {}, {}, {}, []
    for shape in order:
        remaining, placed = shape.count, 0
        for n, why in zip(s.nodes, _exclusions(s, shape), strict=True):
            if why is not None:
                continue
            name = n["metadata"]["name"]
            if name not in free:
                free[name] = capacity.free(n, resources)
                free_pods[name] = capacity.free_pods(n)
            best, limiting = free_pods[name], "pods"
            for r, need in sorted(
                shape.requests.items(),
                key=lambda kv: (
                    0 if kv[0].startswith("nvidia.com/") else 1 if kv[0] == "memory" else 2,
                    kv[0],
                ),
            ):
                if need > 0 and max(0, free[name].get(r, 0)) // need < best:
                    best, limiting = max(0, free[name].get(r, 0)) // need, r
            slots = max(0, best)
            row = rows.setdefault(name, {"name": name, "slots": 0, "limiting": limiting})
            row["slots"] += slots
            row["limiting"] = limiting
            row["free"] = {r: v for r, v in free[name].items() if r in shape.requests}
            take = min(slots, remaining)
            for r, need in shape.requests.items():
                free[name][r] = free[name].get(r, 0) - need * take
            free_pods[name] -= take
            remaining -= take
            placed += take
        placed_per_shape.append(placed)
    ranked = sorted(rows.values(), key=lambda r: (-r["slots"], r["name"]))
    limits = Counter(r["limiting"] for r in ranked)
    return placed_per_shape, ranked, limits


def test_column_placement_matches_the_node_by_node_reference():
    import random

    from amldoctor.aml.gang import NODES_SHOWN, _place
    from amldoctor.aml.nodes import Capacity

    rng = random.Random(7)
    for _ in range(150):
        nodes = [
            node(f"n{i:02d}", gpus=rng.choice([0, 4, 8]), cpu=str(rng.choice([8, 16, 96])))
            for i in range(rng.randint(1, 8))
        ]
        busy = [
            bound_pod(f"b{i}", n["metadata"]["name"], rng.randint(1, 4))
            for i, n in enumerate(nodes)
            if rng.random() < 0.4
        ]
        s = snap(*nodes, *busy)
        order = [
            PodShape(
                "big", rng.randint(1, 12), {"cpu": 4000, "nvidia.com/gpu": rng.choice([2, 4, 8])}
            ),
            PodShape(
                "small",
                rng.randint(0, 12),
                {"cpu": rng.choice([1000, 6000]), "memory": rng.choice([1, 200, 500]) * GI},
            ),
        ]
        rng.shuffle(order)
        fit = _place(s, order, Capacity(s))
        placed, ranked, limits = _reference_place(s, order)
        assert fit["placed"] == placed
        assert fit["nodes"] == ranked[:NODES_SHOWN]
        assert fit["eligible"] == len(ranked)
        # The same counts in the same order: `most_common` breaks ties by that order.
        assert list(fit["limits"].items()) == list(limits.items())
