"""Verdicts shared by classes of like nodes: what they share, and what keeps nodes apart.

A status decided once for a class (the same taints, cordon, labels the selectors read, or
free amounts) must still read, node by node, exactly as if it had been decided for that node:
its detail names the node it is shown for. And a node that differs in what a filter reads
(its hostname, when a selector reads it) must not borrow another node's verdict.
"""

from __future__ import annotations

from amldoctor.scheduling.cluster import ClusterView
from amldoctor.scheduling.framework import simulate
from amldoctor.scheduling.plugins import DEFAULT_FILTERS, Plugin
from amldoctor.scheduling.profile import Profile
from amldoctor.snapshot import Snapshot
from tests.unit.test_scheduling_plugins import node, pod

GPU_TAINT = {"key": "sku", "value": "gpu", "effect": "NoSchedule"}


def _details(result, name: str) -> list[str]:
    return [f["detail"] for f in result.verdict(name).to_dict()["all_failures"]]


def test_nodes_of_one_pool_share_a_status_and_each_is_named_in_its_detail() -> None:
    nodes = [node(f"gpu-{i}", {"pool": "gpu"}, gpu=1, taints=[GPU_TAINT]) for i in range(3)]
    subject = pod("p", cpu="8")
    result = simulate(Snapshot([*nodes, subject]), subject)

    statuses = {id(result.verdict(f"gpu-{i}").failures[0]) for i in range(3)}
    assert len(statuses) == 1  # one taint verdict for the whole pool
    for i in range(3):
        assert _details(result, f"gpu-{i}") == [
            f"node gpu-{i} has taint sku=gpu:NoSchedule; the pod does not tolerate it",
            f"pod requests 8 cpu; node gpu-{i} has 4 free (0 of 4 allocatable already requested)",
        ]
    assert result.verdict("gpu-1").to_dict()["all_failures"][1]["evidence"] == {
        "resource": "cpu",
        "requested": 8000,
        "used": 0,
        "capacity": 4000,
        "unresolvable": True,
    }


def test_cordoned_nodes_share_a_status_whose_evidence_names_each_node() -> None:
    nodes = [node(f"n{i}", unschedulable=True) for i in range(2)]
    subject = pod("p")
    result = simulate(Snapshot([*nodes, subject]), subject)
    assert result.verdict("n0").status is result.verdict("n1").status
    assert [result.verdict(n).to_dict()["all_failures"][0]["evidence"] for n in ("n0", "n1")] == [
        {"node": "n0"},
        {"node": "n1"},
    ]


def test_a_selector_on_the_hostname_keeps_nodes_apart() -> None:
    nodes = [node("a"), node("b")]
    subject = pod("p", nodeSelector={"kubernetes.io/hostname": "b"})
    result = simulate(Snapshot([*nodes, subject]), subject)
    assert result.verdict("b").fits
    assert _details(result, "a") == [
        "node a: nodeSelector wants kubernetes.io/hostname=b, node has kubernetes.io/hostname=a"
    ]


def test_match_fields_on_the_name_are_judged_per_node() -> None:
    nodes = [node("a"), node("b"), node("c")]
    term = {"matchFields": [{"key": "metadata.name", "operator": "NotIn", "values": ["a"]}]}
    affinity = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {}}}
    affinity["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"] = {
        "nodeSelectorTerms": [term]
    }
    subject = pod("p", affinity=affinity)
    result = simulate(Snapshot([*nodes, subject]), subject)
    assert [v.fits for v in result.verdicts] == [False, True, True]


def test_resource_columns_agree_with_asking_each_node() -> None:
    """The one-pass comparison over the cluster's columns gives every node the verdict (and
    the detail) its own `filter` gives, pods held by the nodes included."""
    nodes = [node(f"n{i}", cpu=str(2 + i % 3), gpu=i % 2) for i in range(12)]
    bound = [pod(f"b{i}", node_name=f"n{i}", cpu=f"{300 * i}m") for i in range(12)]
    subject = pod("p", cpu="2500m")
    subject["spec"]["containers"][0]["resources"]["requests"]["nvidia.com/gpu"] = "1"
    snap = Snapshot([*nodes, *bound, subject])
    cluster = ClusterView(snap, subject, Profile.for_server(None))
    fit = next(cls for cls in DEFAULT_FILTERS if cls.name == "NodeResourcesFit")(cluster)
    column = fit.filter_nodes()
    one_by_one = [fit.filter(n) for n in cluster.nodes]
    assert sum(s is not None for s in column) > 6
    for info, together, alone in zip(cluster.nodes, column, one_by_one, strict=True):
        assert (together is None) == (alone is None)
        if together is not None and alone is not None:
            assert together.failures(info.name) == alone.failures(info.name)
            assert together.code == alone.code


def test_a_plugin_that_does_not_override_filter_nodes_is_asked_node_by_node() -> None:
    asked: list[str] = []

    class Probe(Plugin):
        name = "Probe"

        def filter(self, node):
            asked.append(node.name)
            return None

    nodes = [node("a"), node("b")]
    subject = pod("p")
    cluster = ClusterView(Snapshot([*nodes, subject]), subject, Profile.for_server(None))
    assert Probe(cluster).filter_nodes() == [None, None]
    assert asked == ["a", "b"]
