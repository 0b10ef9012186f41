"""The one pass over a snapshot's pods (`k8s.podpass`) must give what each of its purposes
computed on its own: the snapshot's pods-by-node index, each node's requested sums
(the general path, pod by pod), the pods with required anti-affinity and the nominated pods."""

from __future__ import annotations

import copy
import random

import pytest

from amldoctor.k8s.podpass import held_by_nominator
from amldoctor.k8s.quantity import QuantityError
from amldoctor.k8s.resources import pod_requests
from amldoctor.scheduling.cluster import cluster_nodes, occupancy
from amldoctor.scheduling.profile import Features, Profile
from amldoctor.snapshot import Snapshot
from tests.unit.test_resources import _random_pod

NODES = ["n0", "n1", "n2", "n3"]


def _cluster(rng: random.Random) -> list[dict]:
    objects: list[dict] = [
        {"kind": "Node", "apiVersion": "v1", "metadata": {"name": n, "uid": f"node-{n}"}}
        for n in NODES
    ]
    blocks = [_resources(rng) for _ in range(3)]  # shared between replicas, as decoded
    for i in range(rng.randint(0, 40)):
        pod = _random_pod(rng) if rng.random() < 0.4 else _replica(rng, blocks)
        pod["apiVersion"] = "v1"
        pod["metadata"] = {"name": f"p{i}", "namespace": rng.choice(["a", "b"]), "uid": f"u{i}"}
        spec, status = pod["spec"], pod.setdefault("status", {})
        if rng.random() < 0.8:
            spec["nodeName"] = rng.choice([*NODES, "gone"])
        status["phase"] = rng.choice(["Running", "Pending", "Succeeded", "Failed", None])
        if rng.random() < 0.2:
            status["nominatedNodeName"] = rng.choice(NODES)
        if rng.random() < 0.1:
            spec["schedulerName"] = "volcano"
        if rng.random() < 0.2:
            term = {"topologyKey": "kubernetes.io/hostname", "labelSelector": {}}
            spec["affinity"] = {
                "podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [term]}
            }
        objects.append(pod)
    return objects


def _resources(rng: random.Random) -> dict:
    amounts = ["1", "500m", "2Gi", "bogus", 2]
    names = ["cpu", "memory", "nvidia.com/gpu"]
    block: dict = {}
    for part in ("requests", "limits"):
        if rng.random() < 0.7:
            block[part] = {n: rng.choice(amounts) for n in rng.sample(names, rng.randint(0, 3))}
    return block


def _replica(rng: random.Random, blocks: list[dict]) -> dict:
    """A pod of one container whose `resources` block it shares with other pods, and whose
    status reports that very block, an equal copy, another, or none (kubelets before 1.33)."""
    block = rng.choice([*blocks, None])
    container: dict = {"name": "main"}
    if block is not None:
        container["resources"] = block
    pod: dict = {"kind": "Pod", "spec": {"containers": [container]}}
    status: dict = {"name": "main" if rng.random() < 0.9 else "other"}
    draw = rng.random()
    if draw < 0.5:
        status["resources"] = block
    elif draw < 0.6:
        status["resources"] = copy.deepcopy(block)
    elif draw < 0.7:
        status["resources"] = rng.choice(blocks)
    if rng.random() < 0.05:
        status["allocatedResources"] = {"cpu": "3"}
    pod["status"] = {"containerStatuses": [status] if rng.random() < 0.9 else [status, status]}
    if rng.random() < 0.1:
        pod["status"]["resize"] = "Infeasible"
    if rng.random() < 0.05:
        pod["spec"]["initContainers"] = [{"name": "init", "resources": rng.choice(blocks)}]
    return pod


def _fresh_sum(pods: list[dict], pod_level: bool) -> dict[str, int]:
    total: dict[str, int] = {}
    for pod in pods:
        try:
            requests = pod_requests(pod, pod_level_resources=pod_level)
        except QuantityError:
            continue  # a pod already in the cluster with a malformed quantity counts as zero
        for name, value in requests.items():
            total[name] = total.get(name, 0) + value
    return total


def _uids(pods: list[dict]) -> list[str]:
    return [p["metadata"]["uid"] for p in pods]


@pytest.mark.parametrize("seed", range(60))
def test_one_pass_gives_what_each_purpose_computed_alone(seed: int) -> None:
    rng = random.Random(seed)
    objects = _cluster(rng)
    alone = Snapshot(objects)  # the snapshot's own index, built by its own pass
    fused = Snapshot(objects)
    found = occupancy(fused)
    assert fused.pods_on_node  # the snapshot adopted the pass's index
    for name in [*NODES, "gone"]:
        assert _uids(fused.pods_on_node(name, ordered=False)) == _uids(
            alone.pods_on_node(name, ordered=False)
        )
    pods = fused.unordered("Pod")
    assert found.anti_affinity == {
        id(p): p["spec"].get("nodeName") or "" for p in pods if "affinity" in p["spec"]
    }
    nominated: dict[str, list[dict]] = {}
    for p in pods:
        to = p["status"].get("nominatedNodeName")
        if to and held_by_nominator(p, p["spec"], p["status"]):
            nominated.setdefault(to, []).append(p)
    assert found.nominated == nominated
    for pod_level in (True, False):
        profile = Profile(features=Features(pod_level_resources=pod_level))
        nodes, _ = cluster_nodes(fused, profile)
        for node in nodes:
            expected = _fresh_sum(alone.pods_on_node(node.name, ordered=False), pod_level)
            assert node.pod_count == len(alone.pods_on_node(node.name))
            assert node.requested == expected


def test_a_snapshot_that_indexed_first_keeps_its_index() -> None:
    rng = random.Random(3)
    held: list[str] = []
    while not held:  # a node without pods gets a new empty list each time: not comparable
        snap = Snapshot(_cluster(rng))
        index = {n: snap.pods_on_node(n) for n in NODES}  # built (and sorted) first
        held = [n for n in NODES if index[n]]
    occupancy(snap)
    assert all(snap.pods_on_node(n) is index[n] for n in held)


@pytest.mark.parametrize("seed", range(20))
def test_intake_groups_by_kind_as_the_objects_it_keeps(seed: int) -> None:
    """Intake builds the snapshot's per-kind lists on its own pass; with duplicates (newer and
    older copies, one uid under two kinds) they must be its kept objects, grouped, in order."""
    from amldoctor.intake import take_in

    rng = random.Random(seed)
    objects = []
    for i in range(rng.randint(0, 30)):
        obj = {
            "kind": rng.choice(["Pod", "Node", "Event", "ConfigMap"]),
            "apiVersion": "v1",
            "metadata": {"name": f"o{rng.randint(0, 8)}", "namespace": rng.choice(["a", None])},
        }
        if rng.random() < 0.7:
            obj["metadata"]["uid"] = f"u{rng.randint(0, 10)}"
        if rng.random() < 0.5:
            obj["metadata"]["resourceVersion"] = str(rng.randint(1, 5))
        obj["metadata"]["labels"] = {"i": str(i)}
        objects.append(obj)
    taken = take_in(objects)
    grouped: dict[str, list[dict]] = {}
    for obj in taken.objects:
        grouped.setdefault(obj["kind"], []).append(obj)
    if taken.by_kind is not None:
        assert {k: [id(o) for o in v] for k, v in taken.by_kind.items()} == {
            k: [id(o) for o in v] for k, v in grouped.items()
        }
    snap = Snapshot(objects)
    for kind, expected in grouped.items():
        assert [o["metadata"]["labels"] for o in snap.unordered(kind)] == [
            o["metadata"]["labels"] for o in expected
        ]


@pytest.mark.parametrize("seed", range(30))
def test_a_what_if_snapshot_extends_the_pass_of_the_one_it_extends(seed: int) -> None:
    """ "Would a new node help?" extends the cluster's pass with the template node's pods
    instead of walking every pod again: the result must be a fresh pass over the same pods,
    and the cluster's own pass must not change."""
    rng = random.Random(seed)
    objects = _cluster(rng)
    snap = Snapshot(objects)
    profile = Profile()
    before = occupancy(snap)
    sums_before = {n: dict(before.requested(n, True)) for n in NODES}
    cluster_nodes(snap, profile)  # built first: the what-if snapshot reuses its nodes
    added = [{"kind": "Node", "apiVersion": "v1", "metadata": {"name": "new"}}]
    for i, pod in enumerate(_cluster(rng)[len(NODES) :]):
        pod["metadata"] = {"name": f"added{i}", "namespace": "a", "uid": f"added{i}"}
        if pod["spec"].get("nodeName"):
            pod["spec"]["nodeName"] = rng.choice(["new", *NODES])
        added.append(pod)
    extended = snap.extended(None, added)
    fresh = Snapshot([*objects, *copy.deepcopy(added)])
    got, expected = occupancy(extended), occupancy(fresh)
    for name in [*NODES, "new", "gone"]:
        assert _uids(extended.pods_on_node(name, ordered=False)) == _uids(
            fresh.pods_on_node(name, ordered=False)
        )
        assert got.requested(name, True) == expected.requested(name, True)
    assert sorted(_uids([p for ps in got.nominated.values() for p in ps])) == sorted(
        _uids([p for ps in expected.nominated.values() for p in ps])
    )
    assert len(got.anti_affinity) == len(expected.anti_affinity)
    nodes, _ = cluster_nodes(extended, profile)
    fresh_nodes, _ = cluster_nodes(fresh, profile)
    assert [(n.name, n.requested, n.pod_count) for n in nodes] == [
        (n.name, n.requested, n.pod_count) for n in fresh_nodes
    ]
    assert {n: before.requested(n, True) for n in NODES} == sums_before
    assert occupancy(snap) is before
    snap.get("Pod", "a", "p0")  # the cluster's index of pods, which the what-if one extends
    for pod in fresh.unordered("Pod"):
        key = (pod["metadata"]["namespace"], pod["metadata"]["name"])
        found = extended.get("Pod", *key)
        assert found is not None
        assert found["metadata"]["uid"] == fresh.get("Pod", *key)["metadata"]["uid"]
