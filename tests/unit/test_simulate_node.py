"""`simulate_node` (one node's verdict, the others not filtered) must say what a whole cycle
says of that node: on every node of every snapshot fixture, for every pod waiting there, and on
the template node "would a new node help?" adds to the whole cluster."""

from __future__ import annotations

from pathlib import Path

import pytest

from amldoctor.capacity.newnode import _augmented
from amldoctor.capacity.pools import nodes_by_pool
from amldoctor.k8s.quantity import QuantityError
from amldoctor.load import load_snapshot
from amldoctor.scheduling.framework import NodeVerdict, simulate, simulate_node
from amldoctor.scheduling.profile import Profile

ROOT = Path(__file__).resolve().parents[2]
SNAPSHOTS = sorted(
    [
        ROOT / "fixtures" / "demo",
        *(ROOT / "fixtures" / "rules").glob("*/*.yaml"),
        *(ROOT / "fixtures" / "whypending").glob("*.yaml"),
    ]
)


def _waiting(snap) -> list[dict]:
    return [p for p in snap.unordered("Pod") if not (p.get("spec") or {}).get("nodeName")]


def _same(one: NodeVerdict | None, whole: NodeVerdict | None) -> None:
    assert (one is None) == (whole is None)
    if one is None or whole is None:
        return
    assert one.to_dict() == whole.to_dict()
    assert one.outside_prefilter_result == whole.outside_prefilter_result


@pytest.mark.parametrize("path", SNAPSHOTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_one_node_is_judged_as_in_a_whole_cycle(path: Path) -> None:
    snap = load_snapshot(path)
    profile = Profile.for_server(snap.server_version)
    for pod in _waiting(snap):
        try:
            result = simulate(snap, pod, profile)
        except QuantityError:  # a pod the API server would refuse: both refuse it alike
            for node in snap.nodes:
                with pytest.raises(QuantityError):
                    simulate_node(snap, pod, node["metadata"]["name"], profile)
            continue
        for node in snap.nodes:
            name = node["metadata"]["name"]
            _same(simulate_node(snap, pod, name, profile), result.verdict(name))
        assert simulate_node(snap, pod, "no-such-node", profile) is None


@pytest.mark.parametrize("path", SNAPSHOTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_a_template_node_is_judged_as_in_a_whole_cycle(path: Path) -> None:
    snap = load_snapshot(path)
    profile = Profile.for_server(snap.server_version)
    for pool, nodes in sorted(nodes_by_pool(snap).items()):
        name = f"{pool}-new-node"
        augmented = _augmented(snap, nodes[0], name, True)
        for pod in _waiting(snap):
            try:
                whole = simulate(augmented, pod, profile).verdict(name)
            except QuantityError:
                continue  # refused alike (above)
            _same(simulate_node(augmented, pod, name, profile), whole)


def test_pods_nominated_to_the_node_count_as_in_a_whole_cycle() -> None:
    """A higher-priority pod nominated to a node takes its room first (addGENominatedPods)."""
    from amldoctor.snapshot import Snapshot

    def node(name: str) -> dict:
        allocatable = {"cpu": "4", "memory": "8Gi", "pods": "10"}
        return {
            "kind": "Node",
            "apiVersion": "v1",
            "metadata": {"name": name, "uid": name, "labels": {"kubernetes.io/hostname": name}},
            "status": {
                "allocatable": allocatable,
                "conditions": [{"type": "Ready", "status": "True"}],
            },
        }

    def pod(name: str, cpu: str, priority: int, nominated: str = "") -> dict:
        container = {"name": "c", "resources": {"requests": {"cpu": cpu}}}
        status: dict = {"phase": "Pending"}
        if nominated:
            status["nominatedNodeName"] = nominated
        return {
            "kind": "Pod",
            "apiVersion": "v1",
            "metadata": {"name": name, "namespace": "ns", "uid": name},
            "spec": {"containers": [container], "priority": priority},
            "status": status,
        }

    snap = Snapshot([node("n1"), node("n2"), pod("big", "3", 100, "n1"), pod("me", "2", 0)])
    me = snap.get("Pod", "ns", "me")
    result = simulate(snap, me)
    assert not result.verdict("n1").fits and result.verdict("n2").fits
    for name in ("n1", "n2"):
        _same(simulate_node(snap, me, name), result.verdict(name))
