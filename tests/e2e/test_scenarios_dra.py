"""Dynamic Resource Allocation decided by the real kube-scheduler, explained by amldoctor.

The test publishes ResourceSlices for a made-up driver (no driver or kubelet runs: the scheduler
allocates devices from the slices and binds), creates DeviceClasses and ResourceClaims, and
compares amldoctor's prediction and explanation with what the scheduler did: the node it bound
to, or its PodScheduled message character for character.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from cluster import Cluster, amldoctor_json
from dra import (
    GPU_CLASS,
    claim,
    claim_pod,
    clear_dra,
    create,
    device_class,
    gpu_device,
    node_slice,
    serves_dra,
)
from objects import pod_manifest
from test_scenarios_scheduling import explain, fix_text
from test_why_pending_agreement import feasible, why_pending

pytestmark = pytest.mark.e2e


@pytest.fixture
def dra_cluster(scheduling_cluster: Cluster) -> Any:
    c = scheduling_cluster
    assert serves_dra(c.kube), "the harness's kube-apiserver does not serve resource.k8s.io/v1"
    clear_dra(c.kube)
    yield c
    c.kube.delete(f"{c.ns_path}/pods", gracePeriodSeconds=0)
    clear_dra(c.kube)


def gpu_nodes(c: Cluster, devices: dict[str, int], model: str = "A100") -> None:
    """Nodes named after `devices`, each with that many devices of the e2e driver."""
    for name, n in devices.items():
        c.node(name, cpu="8")
        if n:
            devs = [gpu_device(f"gpu-{i}", model=model) for i in range(n)]
            create(c.kube, node_slice(name, devs))
    create(c.kube, device_class(GPU_CLASS))
    c.wait_scheduler_sees(nodes=len(devices), pods=0)


def dra_pod(c: Cluster, name: str, claims: dict[str, str], create_it: bool = True) -> dict:
    manifest = claim_pod(pod_manifest(name, requests={"cpu": "100m"}), claims)
    if create_it:
        c.create_pod(manifest)
    return manifest


def allocation_node(c: Cluster, name: str) -> list[str]:
    got = c.kube.get(f"/apis/resource.k8s.io/v1/namespaces/{c.namespace}/resourceclaims/{name}")
    sel = ((got.get("status") or {}).get("allocation") or {}).get("nodeSelector") or {}
    return [
        v
        for t in sel.get("nodeSelectorTerms") or []
        for f in t.get("matchFields") or []
        for v in f.get("values") or []
    ]


def test_claim_fits_the_one_node_with_enough_devices(dra_cluster: Cluster) -> None:
    c = dra_cluster
    gpu_nodes(c, {"dra-a": 1, "dra-b": 2, "dra-c": 0})
    create(c.kube, claim("two-gpus", count=2), c.namespace)
    manifest = dra_pod(c, "trainer", {"gpu": "two-gpus"}, create_it=False)
    predicted = why_pending(c.control_plane, c.namespace, "-f", "-", stdin=json.dumps(manifest))
    assert feasible(predicted) == {"dra-b"}, predicted["nodes"]
    rows = {n["name"]: n for n in predicted["nodes"]}
    assert rows["dra-a"]["reasons"] == ["cannot allocate all claims"]
    assert rows["dra-c"]["reasons"] == ["cannot allocate all claims"]
    c.create_pod(manifest)
    assert c.wait_bound("trainer") == "dra-b"
    assert allocation_node(c, "two-gpus") == ["dra-b"]


def test_claim_that_no_node_can_satisfy(dra_cluster: Cluster) -> None:
    c = dra_cluster
    gpu_nodes(c, {"dra-a": 1, "dra-b": 2, "dra-c": 0})
    create(c.kube, claim("four-gpus", count=4), c.namespace)
    dra_pod(c, "trainer", {"gpu": "four-gpus"})
    doc = explain(c, "trainer", "3 cannot allocate all claims")
    text = fix_text(doc)
    assert f"claim {c.namespace}/four-gpus, request gpu (class {GPU_CLASS}, count 4)" in text
    assert "no node has 4 free matching device(s); the most is 2 on dra-b" in text
    assert "no ResourceSlice publishes devices for 1 node(s) (dra-c)" in text


def test_devices_already_allocated_to_another_claim(dra_cluster: Cluster) -> None:
    c = dra_cluster
    gpu_nodes(c, {"dra-a": 0, "dra-b": 2})
    create(c.kube, claim("first", count=2), c.namespace)
    dra_pod(c, "holder", {"gpu": "first"})
    assert c.wait_bound("holder") == "dra-b"
    create(c.kube, claim("second", count=1), c.namespace)
    dra_pod(c, "waiter", {"gpu": "second"})
    doc = explain(c, "waiter", "2 cannot allocate all claims")
    rows = {n["name"]: n for n in doc["nodes"]}
    detail = rows["dra-b"]["all_failures"][0]["detail"]
    assert f"all 2 matching device(s) are allocated to claim(s) {c.namespace}/first" in detail
    assert f"allocated to claim(s) {c.namespace}/first" in fix_text(doc)


def test_selector_that_excludes_every_device(dra_cluster: Cluster) -> None:
    c = dra_cluster
    gpu_nodes(c, {"dra-a": 2, "dra-b": 2})
    wanted = 'device.attributes["gpu.e2e.amldoctor.io"].model == "H100"'
    create(c.kube, claim("h100", selectors=[wanted]), c.namespace)
    dra_pod(c, "trainer", {"gpu": "h100"})
    doc = explain(c, "trainer", "2 cannot allocate all claims")
    assert "the request's selector excludes every device of the class" in fix_text(doc)
    rows = {n["name"]: n for n in doc["nodes"]}
    assert wanted in rows["dra-a"]["all_failures"][0]["detail"]


def test_missing_device_class_is_a_prefilter_rejection(dra_cluster: Cluster) -> None:
    c = dra_cluster
    gpu_nodes(c, {"dra-a": 1, "dra-b": 1})
    create(c.kube, claim("classless", device_class_name="no-such-class"), c.namespace)
    dra_pod(c, "trainer", {"gpu": "classless"})
    doc = explain(c, "trainer", "request gpu: device class no-such-class does not exist")
    assert "DeviceClass no-such-class, which does not exist" in fix_text(doc)


def test_missing_claim_holds_the_pod_before_any_attempt(dra_cluster: Cluster) -> None:
    c = dra_cluster
    gpu_nodes(c, {"dra-a": 1})
    create(c.kube, claim("present"), c.namespace)  # claims are collected: one exists
    dra_pod(c, "trainer", {"gpu": "absent"})
    time.sleep(2.0)  # the scheduler never tries it: no condition, no event
    pod = c.get_pod("trainer")
    assert not pod["spec"].get("nodeName")
    assert not [x for x in pod["status"].get("conditions", []) if x["type"] == "PodScheduled"]
    assert not c.events_for("trainer", "FailedScheduling")
    kubeconfig = c.control_plane.kubeconfig()
    doc = amldoctor_json("why-pending", "trainer", kubeconfig=kubeconfig, namespace=c.namespace)
    assert doc["status"]["state"] == "resource-claim-blocked", doc["status"]
    assert doc["scheduler_message"] is None and doc["agrees_with_scheduler"] is None
    assert f'could not find ResourceClaim "{c.namespace}/absent"' in doc["status"]["summary"]
    report = amldoctor_json("scan", kubeconfig=kubeconfig, namespace=c.namespace)
    found = [f for f in report["findings"] if f["rule"] == "AMD101"]
    assert len(found) == 1 and "ResourceClaim" in found[0]["message"], report["findings"]
    assert f"create the claim in namespace {c.namespace}" in found[0]["remediation"]


def test_claim_allocated_on_a_node_that_is_gone(dra_cluster: Cluster) -> None:
    """The claim's allocation names a deleted node and another pod still reserves it: every
    node reads 'resourceclaim not available on the node' and the PostFilter cannot help."""
    c = dra_cluster
    gpu_nodes(c, {"dra-a": 1, "dra-b": 1})
    create(c.kube, claim("shared"), c.namespace)
    dra_pod(c, "holder", {"gpu": "shared"})
    first = c.wait_bound("holder")
    c.kube.delete(f"/api/v1/nodes/{first}")
    # The holder goes too, but its reservation stays (no resourceclaim controller runs).
    c.kube.delete(f"{c.ns_path}/pods/holder", gracePeriodSeconds=0)
    c.wait_scheduler_sees(nodes=1, pods=0)
    dra_pod(c, "second", {"gpu": "shared"})
    doc = explain(c, "second", "1 resourceclaim not available on the node")
    assert "still not schedulable" in doc["scheduler_message"]
    assert "on a node that no longer exists" in fix_text(doc)
    assert "still reserved for pod(s) holder (uid" in fix_text(doc)
