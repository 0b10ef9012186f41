"""Pending-pod scenarios decided by the real kube-scheduler, explained by amldoctor.

Each scenario builds a cluster, lets kube-scheduler reject a pod, then runs the amldoctor CLI
(`why-pending POD -o json` and `scan -o json`) against the API server. amldoctor's simulated
FailedScheduling message must say exactly what the scheduler wrote in the pod's PodScheduled
condition, its node-by-node reasons must add up to the scheduler's histogram, and the fixes must
name what the user has to change.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import pytest
from cluster import Cluster, amldoctor_json
from objects import pod_manifest

pytestmark = pytest.mark.e2e

TOLERATE_GPU = [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]
HISTOGRAM = re.compile(r"^0/(\d+) nodes are available: (.*?)\.(?: |$)")


def histogram(message: str) -> str:
    """The scheduler's verdict without the preemption / claim-deallocation tail."""
    return re.split(r" (?:no new claims to deallocate|preemption:)", message, maxsplit=1)[0]


def counts(message: str) -> Counter[str] | str:
    """`0/3 nodes are available: 2 Insufficient cpu, 1 ...` -> {"Insufficient cpu": 2, ...};
    a PreFilter rejection (`0/2 nodes are available: pod has unbound ...`) -> its text."""
    found = HISTOGRAM.match(message)
    assert found, f"not a FitError: {message!r}"
    out: Counter[str] = Counter()
    for part in found.group(2).split(", "):
        number, _, reason = part.partition(" ")
        if not number.isdigit():
            return found.group(2)
        out[reason] += int(number)
    return out


def explain(c: Cluster, pod: str, expected: str) -> dict[str, Any]:
    """Wait for the scheduler's verdict on `pod`, check it says `expected`, and check that
    amldoctor's why-pending and scan agree with it; return the why-pending document."""
    observed = c.wait_unschedulable(pod).condition_message
    assert expected in observed, f"scenario not reproduced: the scheduler said {observed!r}"
    kubeconfig = c.control_plane.kubeconfig()
    doc = amldoctor_json("why-pending", pod, kubeconfig=kubeconfig, namespace=c.namespace)
    simulated = doc["scheduler_message"]
    print(f"\n{pod}: kube-scheduler: {observed}\n{pod}: amldoctor:      {simulated}")
    assert doc["observed_message"] == observed
    assert histogram(simulated) == histogram(observed), (simulated, observed)
    assert simulated == observed  # the preemption tail too
    assert doc["agrees_with_scheduler"] is True, doc["differences"]
    assert doc["differences"] == []
    assert doc["status"]["state"] != "schedulable", doc["status"]
    nodes = {n["name"]: n for n in doc["nodes"]}
    assert not [n for n in nodes.values() if n["fits"]], doc["nodes"]
    expected_counts = counts(observed)
    if isinstance(expected_counts, str):  # PreFilter: one reason for every node, no counts
        assert all(n["reasons"] == [expected_counts] for n in nodes.values()), doc["nodes"]
    else:
        per_node = Counter(r for n in nodes.values() for r in n["reasons"])
        assert per_node == expected_counts, (doc["nodes"], observed)

    report = amldoctor_json("scan", kubeconfig=kubeconfig, namespace=c.namespace)
    amd101 = [f for f in report["findings"] if f["rule"] == "AMD101" and f["object"]["name"] == pod]
    assert len(amd101) == 1, report["findings"]
    assert amd101[0]["evidence"]["agrees_with_scheduler"] is True, amd101[0]
    assert amd101[0]["evidence"]["scheduler_message"] == observed
    print("\n".join(f"{pod}: fix: {f['text']}" for f in doc["fixes"]))
    return doc


def fix_text(doc: dict[str, Any]) -> str:
    return "\n".join(f["text"] for f in doc["fixes"])


def test_untolerated_gpu_taint(scheduling_cluster: Cluster) -> None:
    c = scheduling_cluster
    c.gpu_node("gpu-a100-0", gpus=4)
    c.pod("trainer", requests={"cpu": "2", "memory": "8Gi"}, gpus=1)
    doc = explain(c, "trainer", "1 node(s) had untolerated taint(s)")
    assert doc["nodes"][0]["reasons"] == ["node(s) had untolerated taint(s)"]
    assert "nvidia.com/gpu" in fix_text(doc) and "toleration" in fix_text(doc).lower()


def test_node_selector_typo_names_the_value_nodes_carry(scheduling_cluster: Cluster) -> None:
    c = scheduling_cluster
    for i in range(2):
        c.node(f"cpu-{i}", labels={"agentpool": "cpupool"})
    c.pod("trainer", requests={"cpu": "1"}, node_selector={"agentpool": "cpupol"})
    doc = explain(c, "trainer", "2 node(s) didn't match Pod's node affinity/selector")
    text = fix_text(doc)
    assert "cpupol" in text and "cpupool" in text, doc["fixes"]


def test_insufficient_gpus_names_the_pod_holding_them(scheduling_cluster: Cluster) -> None:
    c = scheduling_cluster
    c.gpu_node("gpu-a100-0", gpus=2)
    c.pod("holder", gpus=2, requests={"cpu": "1"}, tolerations=TOLERATE_GPU)
    assert c.wait_bound("holder") == "gpu-a100-0"
    c.pod("trainer", gpus=1, requests={"cpu": "1"}, tolerations=TOLERATE_GPU)
    doc = explain(c, "trainer", "1 Insufficient nvidia.com/gpu")
    assert "holder" in fix_text(doc), doc["fixes"]


def test_cordoned_node(scheduling_cluster: Cluster) -> None:
    c = scheduling_cluster
    c.node("cpu-0", unschedulable=True)
    c.pod("trainer", requests={"cpu": "1"})
    doc = explain(c, "trainer", "1 node(s) were unschedulable")
    assert "uncordon" in fix_text(doc) or "cordon" in fix_text(doc), doc["fixes"]


def test_requests_bigger_than_any_node_never_fit(scheduling_cluster: Cluster) -> None:
    c = scheduling_cluster
    c.node("cpu-0", cpu="8", memory="32Gi")
    c.node("cpu-1", cpu="16", memory="64Gi")
    c.pod("trainer", requests={"cpu": "64", "memory": "16Gi"})
    doc = explain(c, "trainer", "2 Insufficient cpu")
    text = fix_text(doc).lower()
    assert "64" in text and ("never" in text or "no node" in text or "larger" in text), doc["fixes"]


def test_missing_pvc(scheduling_cluster: Cluster) -> None:
    c = scheduling_cluster
    c.node("cpu-0")
    c.pod("trainer", requests={"cpu": "1"}, pvc="training-data")
    doc = explain(c, "trainer", 'persistentvolumeclaim "training-data" not found')
    assert "training-data" in fix_text(doc), doc["fixes"]


def test_unbound_immediate_pvc(scheduling_cluster: Cluster) -> None:
    c = scheduling_cluster
    c.node("cpu-0")
    c.node("cpu-1")
    c.storage_class("e2e-immediate", binding_mode="Immediate")
    c.pvc("training-data", storage_class="e2e-immediate")
    c.pod("trainer", requests={"cpu": "1"}, pvc="training-data")
    doc = explain(c, "trainer", "pod has unbound immediate PersistentVolumeClaims")
    assert "training-data" in fix_text(doc), doc["fixes"]


def test_pv_node_affinity_excludes_every_node(scheduling_cluster: Cluster) -> None:
    c = scheduling_cluster
    c.node("cpu-0")
    c.node("cpu-1")
    c.pvc("checkpoints", volume_name="pv-checkpoints", storage_class="")
    c.pv("pv-checkpoints", node_hostname="cpu-retired", claim="checkpoints")
    c.pod("trainer", requests={"cpu": "1"}, pvc="checkpoints")
    explain(c, "trainer", "2 node(s) didn't match PersistentVolume's node affinity")


def _with_host_port(port: int) -> list[dict[str, Any]]:
    return [
        {
            "name": "trainer",
            "image": "mcr.microsoft.com/azureml/inference:latest",
            "resources": {"requests": {"cpu": "100m"}},
            "ports": [{"containerPort": port, "hostPort": port, "protocol": "TCP"}],
        }
    ]


def test_host_port_conflict(scheduling_cluster: Cluster) -> None:
    c = scheduling_cluster
    c.node("cpu-0")
    c.pod("server-a", containers=_with_host_port(8080))
    assert c.wait_bound("server-a") == "cpu-0"
    c.pod("server-b", containers=_with_host_port(8080))
    doc = explain(c, "server-b", "1 node(s) didn't have free ports for the requested pod ports")
    assert "8080" in fix_text(doc) or "hostPort" in fix_text(doc), doc["fixes"]


def test_required_pod_anti_affinity(scheduling_cluster: Cluster) -> None:
    c = scheduling_cluster
    c.node("cpu-0")
    c.pod("worker-0", requests={"cpu": "1"}, labels={"app": "ddp"})
    assert c.wait_bound("worker-0") == "cpu-0"
    anti = {
        "podAntiAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": [
                {
                    "labelSelector": {"matchLabels": {"app": "ddp"}},
                    "topologyKey": "kubernetes.io/hostname",
                }
            ]
        }
    }
    c.pod("worker-1", requests={"cpu": "1"}, labels={"app": "ddp"}, affinity=anti)
    doc = explain(c, "worker-1", "1 node(s) didn't match pod anti-affinity rules")
    assert doc["nodes"][0]["plugin"] == "InterPodAffinity"


def test_topology_spread_do_not_schedule(scheduling_cluster: Cluster) -> None:
    c = scheduling_cluster
    zone = "topology.kubernetes.io/zone"
    c.node("cpu-z1", labels={zone: "eastus-1"})
    c.node("cpu-z2", cpu="1", labels={zone: "eastus-2"})
    c.pod(
        "shard-0", requests={"cpu": "1"}, labels={"app": "shard"}, node_selector={zone: "eastus-1"}
    )
    assert c.wait_bound("shard-0") == "cpu-z1"
    spread = {
        "maxSkew": 1,
        "topologyKey": zone,
        "whenUnsatisfiable": "DoNotSchedule",
        "labelSelector": {"matchLabels": {"app": "shard"}},
    }
    manifest = pod_manifest("shard-1", requests={"cpu": "2"}, labels={"app": "shard"})
    manifest["spec"]["topologySpreadConstraints"] = [spread]
    c.create_pod(manifest)
    doc = explain(c, "shard-1", "node(s) didn't match pod topology spread constraints")
    reasons = {n["name"]: n["reasons"] for n in doc["nodes"]}
    assert reasons == {
        "cpu-z1": ["node(s) didn't match pod topology spread constraints"],
        "cpu-z2": ["Insufficient cpu"],
    }, reasons


def test_each_node_fails_differently(scheduling_cluster: Cluster) -> None:
    c = scheduling_cluster
    pool = {"agentpool": "cpupool"}
    c.node("cpu-cordoned", labels=pool, unschedulable=True)
    c.gpu_node("gpu-tainted", gpus=1, labels=pool)
    c.node("cpu-other-pool", labels={"agentpool": "systempool"})
    c.node("cpu-small", cpu="2", labels=pool)
    c.node("cpu-full", pods="1", labels=pool)
    c.pod("filler", node_name="cpu-full", requests={"cpu": "100m"})
    c.wait_scheduler_sees(nodes=5, pods=1)
    c.pod("trainer", requests={"cpu": "4", "memory": "8Gi"}, node_selector=pool)
    doc = explain(c, "trainer", "0/5 nodes are available")
    reasons = {n["name"]: n["reasons"] for n in doc["nodes"]}
    assert reasons == {
        "cpu-cordoned": ["node(s) were unschedulable"],
        "gpu-tainted": ["node(s) had untolerated taint(s)"],
        "cpu-other-pool": ["node(s) didn't match Pod's node affinity/selector"],
        "cpu-small": ["Insufficient cpu"],
        "cpu-full": ["Too many pods"],
    }, reasons
