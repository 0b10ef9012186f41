"""Priorities, preemption, nominated pods, multi-term affinity, ReadWriteOncePod and pods bound
to a node that does not exist, decided by the real kube-scheduler and explained by amldoctor.

Preemption scenarios first ask amldoctor what-if (`why-pending -f`, the cluster exactly as the
scheduler will see it) which node the scheduler would nominate and which pods it would evict,
then let the scheduler act and compare: the nominated node and the pods it deleted must be
amldoctor's. Victims get a termination grace period and no kubelet runs, so they stay
terminating and the pod stays nominated: the window amldoctor calls "preempting".
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cluster import Cluster, amldoctor_json, what_if
from objects import pod_manifest, rfc3339
from test_scenarios_scheduling import explain

pytestmark = pytest.mark.e2e

HOST = "kubernetes.io/hostname"
ZONE = "topology.kubernetes.io/zone"
GRACE = 600  # victims stay terminating for the whole test (no kubelet confirms the kill)


def priority_class(c: Cluster, value: int) -> str:
    """A PriorityClass with this value, owned by the test (the Priority admission plugin sets
    spec.priority from it)."""
    name = f"{c.owner}-p{value}"
    c.kube.create(
        "/apis/scheduling.k8s.io/v1/priorityclasses",
        {"metadata": {"name": name}, "value": value, "preemptionPolicy": "PreemptLowerPriority"},
    )
    c._cluster_scoped.append(f"/apis/scheduling.k8s.io/v1/priorityclasses/{name}")
    return name


def bound(
    c: Cluster, name: str, node: str, cpu: str, priority: str, minutes_ago: int, **kwargs: Any
) -> None:
    """A running pod on `node`, started `minutes_ago` (the victim order reads start times)."""
    manifest = pod_manifest(
        name, node_name=node, requests={"cpu": cpu}, priority_class_name=priority, **kwargs
    )
    manifest["spec"]["terminationGracePeriodSeconds"] = GRACE
    c.create_pod(manifest)
    started = rfc3339(datetime.now(UTC) - timedelta(minutes=minutes_ago))
    c.kube.merge_patch(
        f"{c.ns_path}/pods/{name}/status", {"status": {"phase": "Running", "startTime": started}}
    )


def wait_nominated(c: Cluster, name: str, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pod = c.get_pod(name)
        assert not pod["spec"].get("nodeName"), f"{name} bound to {pod['spec']['nodeName']}"
        nominated = pod.get("status", {}).get("nominatedNodeName")
        if nominated:
            return nominated
        time.sleep(0.2)
    raise AssertionError(f"{name} not nominated within {timeout}s: {c.get_pod(name)['status']}")


def terminating(c: Cluster) -> set[str]:
    """Pods of the namespace that the scheduler is evicting."""
    deadline = time.monotonic() + 10
    found: set[str] = set()
    while time.monotonic() < deadline:
        pods = c.kube.list(f"{c.ns_path}/pods")
        found = {p["metadata"]["name"] for p in pods if p["metadata"].get("deletionTimestamp")}
        if found:
            time.sleep(0.5)  # async preemption deletes victims one by one
            pods = c.kube.list(f"{c.ns_path}/pods")
            return {p["metadata"]["name"] for p in pods if p["metadata"].get("deletionTimestamp")}
        time.sleep(0.2)
    return found


def predicted(doc: dict[str, Any]) -> tuple[str | None, set[str]]:
    pre = doc["preemption"] or {}
    assert pre.get("would_preempt"), doc
    return pre["node"], {v["name"] for v in pre["victims"]}


def check_preempting(c: Cluster, pod: str, node: str, victims: set[str]) -> dict[str, Any]:
    """Live why-pending on the nominated pod: the preempting state, its victims, no claim of
    agreement with a message the scheduler wrote before the victims began to terminate."""
    doc = amldoctor_json(
        "why-pending", pod, kubeconfig=c.control_plane.kubeconfig(), namespace=c.namespace
    )
    status = doc["status"]
    print(f"\n{pod}: {status['summary']}")
    assert status["state"] == "preempting", status
    assert status["nominated_node"] == node
    assert {v["name"] for v in status["victims_terminating"]} == victims
    assert status["summary"].startswith(f"preempting: nominated to node {node}, waiting for")
    assert all(v in status["summary"] for v in victims)
    assert doc["agrees_with_scheduler"] is None
    return doc


def preempt_and_compare(c: Cluster, manifest: dict[str, Any]) -> tuple[str, set[str]]:
    """amldoctor predicts, the scheduler preempts, the two must name the same node and pods."""
    name = manifest["metadata"]["name"]
    forecast = what_if(c, manifest)
    node, victims = predicted(forecast)
    print(f"\n{name}: amldoctor: {forecast['preemption']['summary']}")
    c.create_pod(manifest)
    nominated = wait_nominated(c, name)
    evicted = terminating(c)
    print(f"{name}: kube-scheduler nominated {nominated}, evicting {sorted(evicted)}")
    assert (nominated, evicted) == (node, victims)
    check_preempting(c, name, nominated, evicted)
    return nominated, evicted


def _terms(kind: str, *terms: tuple[dict[str, str], str]) -> dict[str, Any]:
    return {
        kind: {
            "requiredDuringSchedulingIgnoredDuringExecution": [
                {"labelSelector": {"matchLabels": sel}, "topologyKey": key} for sel, key in terms
            ]
        }
    }


# --- the five defects -----------------------------------------------------------------------


def test_multi_term_pod_affinity_needs_one_pod_matching_all_terms(
    scheduling_cluster: Cluster,
) -> None:
    c = scheduling_cluster
    c.node("cpu-0", labels={ZONE: "z1"})
    c.pod("web", node_name="cpu-0", requests={"cpu": "100m"}, labels={"app": "web"})
    c.pod("cache", node_name="cpu-0", requests={"cpu": "100m"}, labels={"tier": "cache"})
    c.wait_scheduler_sees(nodes=1, pods=2)
    affinity = _terms("podAffinity", ({"app": "web"}, HOST), ({"tier": "cache"}, ZONE))
    c.pod("worker", requests={"cpu": "100m"}, affinity=affinity)
    doc = explain(c, "worker", "1 node(s) didn't match pod affinity rules")
    assert doc["nodes"][0]["plugin"] == "InterPodAffinity"


def test_preemption_with_topology_spread_counts_after_removing_victims(
    scheduling_cluster: Cluster,
) -> None:
    c = scheduling_cluster
    low, high, mid = priority_class(c, 0), priority_class(c, 1000), priority_class(c, 100)
    c.node("zone-a", cpu="4", labels={ZONE: "a"})
    c.node("zone-b", cpu="4", labels={ZONE: "b"})
    shard = {"app": "shard"}
    bound(c, "old", "zone-a", "2", low, 30, labels=shard)
    bound(c, "new", "zone-a", "2", low, 5, labels=shard)
    bound(c, "pinned", "zone-b", "4", high, 30, labels=shard)
    c.wait_scheduler_sees(nodes=2, pods=3)
    manifest = pod_manifest("shard-x", requests={"cpu": "2"}, labels=shard, priority_class_name=mid)
    manifest["spec"]["topologySpreadConstraints"] = [
        {
            "maxSkew": 1,
            "topologyKey": ZONE,
            "whenUnsatisfiable": "DoNotSchedule",
            "labelSelector": {"matchLabels": shard},
        }
    ]
    assert preempt_and_compare(c, manifest) == ("zone-a", {"new"})


@pytest.mark.parametrize("side", ["incoming", "existing"])
def test_preemption_lifts_pod_anti_affinity(scheduling_cluster: Cluster, side: str) -> None:
    c = scheduling_cluster
    low, mid = priority_class(c, 0), priority_class(c, 100)
    c.node("cpu-0")
    anti = _terms("podAntiAffinity", ({"app": "a"}, HOST))
    if side == "incoming":
        bound(c, "blocker", "cpu-0", "100m", low, 10, labels={"app": "a"})
        kwargs: dict[str, Any] = {"labels": {"app": "b"}, "affinity": anti}
    else:
        bound(c, "blocker", "cpu-0", "100m", low, 10, labels={"app": "b"}, affinity=anti)
        kwargs = {"labels": {"app": "a"}}
    bound(c, "bystander", "cpu-0", "100m", low, 10, labels={"app": "c"})
    c.wait_scheduler_sees(nodes=1, pods=2)
    manifest = pod_manifest("svc", requests={"cpu": "100m"}, priority_class_name=mid, **kwargs)
    assert preempt_and_compare(c, manifest) == ("cpu-0", {"blocker"})


def test_read_write_once_pod_wording(scheduling_cluster: Cluster) -> None:
    c = scheduling_cluster
    c.node("cpu-0")
    c.node("cpu-1")
    c.pvc("ckpt", volume_name="pv-ckpt", storage_class="", access_modes=("ReadWriteOncePod",))
    c.pv("pv-ckpt", claim="ckpt", access_modes=("ReadWriteOncePod",))
    c.pod("holder", node_name="cpu-0", requests={"cpu": "100m"}, pvc="ckpt")
    c.wait_scheduler_sees(nodes=2, pods=1)
    c.pod("trainer", requests={"cpu": "100m"}, pvc="ckpt")
    explain(
        c,
        "trainer",
        "2 node(s) unavailable due to PersistentVolumeClaim with ReadWriteOncePod access mode "
        "already in-use by another pod",
    )


def test_pod_assigned_to_a_missing_node(scheduling_cluster: Cluster) -> None:
    c = scheduling_cluster
    c.node("cpu-0")
    c.pod("orphan", node_name="aks-gone-7", requests={"cpu": "100m"})
    time.sleep(2)  # the scheduler never looks at an assigned pod: no condition, no event
    pod = c.get_pod("orphan")
    assert not [x for x in pod["status"].get("conditions", []) if x["type"] == "PodScheduled"]
    assert not c.events_for("orphan", "FailedScheduling")
    doc = amldoctor_json(
        "why-pending", "orphan", kubeconfig=c.control_plane.kubeconfig(), namespace=c.namespace
    )
    status = doc["status"]
    assert status["state"] == "node-missing", status
    assert doc["scheduler_message"] is None and doc["nodes"] == []
    assert "node aks-gone-7" in status["summary"] and "does not exist" in status["summary"]
    assert "spec.nodeName" in status["summary"]


@pytest.mark.parametrize("second", [50, 100, 1000])
def test_nominated_pod_holds_its_room_for_lower_or_equal_priority(
    scheduling_cluster: Cluster, second: int
) -> None:
    """addGENominatedPods: the preemptor (priority 100) keeps its room on its node against pods
    of equal or lower priority; a higher-priority pod does not see it."""
    c = scheduling_cluster
    low, first = priority_class(c, 0), priority_class(c, 100)
    other = first if second == 100 else priority_class(c, second)
    c.node("cpu-0", cpu="6")
    bound(c, "batch", "cpu-0", "3", low, 10)
    c.wait_scheduler_sees(nodes=1, pods=1)
    preempt_and_compare(
        c, pod_manifest("serving", requests={"cpu": "4"}, priority_class_name=first)
    )
    small = pod_manifest("sidecar-job", requests={"cpu": "500m"}, priority_class_name=other)
    forecast = what_if(c, small)
    fits = {n["name"] for n in forecast["nodes"] if n["fits"]}
    print(
        f"\nsidecar-job (priority {second}): amldoctor: feasible {sorted(fits)}, "
        f"{forecast['scheduler_message']}; {(forecast['preemption'] or {}).get('summary')}"
    )
    c.create_pod(small)
    if second > 100:
        assert fits == {"cpu-0"}
        assert c.wait_bound("sidecar-job") == "cpu-0"
        return
    failure = c.wait_unschedulable("sidecar-job")
    pod = c.get_pod("sidecar-job")
    nominated = pod["status"].get("nominatedNodeName")
    print(f"sidecar-job: kube-scheduler: {failure.condition_message}; nominated {nominated}")
    assert fits == set(), forecast["nodes"]
    assert forecast["scheduler_message"] == failure.condition_message
    # The room is held by the nominated pod: evicting the (already terminating) batch pod
    # again is what makes it fit, so the scheduler nominates it there too.
    assert (forecast["preemption"] or {}).get("node") == nominated
    assert {v["name"] for v in forecast["preemption"]["victims"]} == {"batch"}


# --- PodDisruptionBudgets -------------------------------------------------------------------


def pdb(c: Cluster, name: str, labels: dict[str, str], allowed: int) -> None:
    """A PDB whose status says how many disruptions it allows (no disruption controller runs,
    so the status is what this test writes)."""
    path = f"/apis/policy/v1/namespaces/{c.namespace}/poddisruptionbudgets"
    c.kube.create(
        path,
        {
            "metadata": {"name": name},
            "spec": {"selector": {"matchLabels": labels}, "maxUnavailable": 1},
        },
    )
    c.kube.merge_patch(
        f"{path}/{name}/status",
        {
            "status": {
                "disruptionsAllowed": allowed,
                "currentHealthy": 1,
                "desiredHealthy": 1,
                "expectedPods": 1,
                "observedGeneration": 1,
            }
        },
    )


@pytest.mark.parametrize("allowed", [0, 1])
def test_preemption_prefers_the_node_without_pdb_violation(
    scheduling_cluster: Cluster, allowed: int
) -> None:
    c = scheduling_cluster
    p1, p5, p10 = priority_class(c, 1), priority_class(c, 5), priority_class(c, 10)
    c.node("cpu-0", cpu="2")
    c.node("cpu-1", cpu="2")
    bound(c, "db", "cpu-0", "2", p1, 10, labels={"app": "db"})
    bound(c, "batch", "cpu-1", "2", p5, 10, labels={"app": "batch"})
    pdb(c, "db", {"app": "db"}, allowed)
    c.wait_scheduler_sees(nodes=2, pods=2)
    manifest = pod_manifest("svc", requests={"cpu": "2"}, priority_class_name=p10)
    expected = ("cpu-1", {"batch"}) if allowed == 0 else ("cpu-0", {"db"})
    assert preempt_and_compare(c, manifest) == expected
