"""AMD110 pod-on-missing-node: grouping by ghost node, and scans that could not read nodes."""

from __future__ import annotations

import itertools

import pytest

from amldoctor.engine.grouping import group_findings
from amldoctor.engine.runner import run_rules
from amldoctor.snapshot import Missing, Snapshot

REAL = "aks-gpupool-17403385-vmss000001"


def node(name: str) -> dict:
    return {"kind": "Node", "metadata": {"name": name}, "status": {"allocatable": {"cpu": "8"}}}


def pod(name: str, node_name: str | None, *, phase: str = "Pending", **meta: object) -> dict:
    spec: dict = {"containers": [{"name": "c", "image": "i:1"}]}
    if node_name:
        spec["nodeName"] = node_name
    return {
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "ml", "uid": name, **meta},
        "spec": spec,
        "status": {"phase": phase},
    }


def owned(kind: str, owner: str) -> dict:
    return {"ownerReferences": [{"kind": kind, "name": owner, "uid": owner, "controller": True}]}


def amd110(snap: Snapshot):
    return run_rules(snap, only=["AMD110"])


# The pods on one deleted node differ in phase, deletion and owner; each variant must land in the
# one cause of its node, whatever it is.
VARIANTS = list(
    itertools.product(
        ["Pending", "Running", "Unknown"],
        [False, True],  # being deleted
        [None, ("ReplicaSet", "scorer-7d9f"), ("Job", "train"), ("StatefulSet", "db")],
    )
)


def _variant_pod(i: int, ghost: str, phase: str, deleting: bool, owner) -> dict:
    meta: dict = owned(*owner) if owner else {}
    if deleting:
        meta["deletionTimestamp"] = "2026-11-28T08:00:00Z"
    return pod(f"p-{ghost[-1]}-{i}", ghost, phase=phase, **meta)


def test_pods_on_deleted_nodes_of_one_pool_are_one_cause_naming_each_node():
    # Two instances of one scale set scaled away: one cause (one fix), the nodes named in it;
    # a node outside that pool is another cause.
    ghosts = ["aks-gpupool-17403385-vmss000004", "aks-gpupool-17403385-vmss000009"]
    other = "aks-cpupool-29384756-vmss000001"
    pods = [
        _variant_pod(i, ghost, *VARIANTS[i % len(VARIANTS)])
        for ghost in [*ghosts, other]
        for i in range(200)
    ]
    report = amd110(Snapshot([node(REAL), *pods, pod("fine", REAL, phase="Running")]))
    assert len(report.findings) == 600
    groups = sorted(group_findings(report.findings), key=lambda g: -g.count)
    assert [g.count for g in groups] == [400, 200]
    assert groups[0].variants() == ("missing nodes", ghosts)
    assert groups[1].example.evidence["missing_node"] == other


@pytest.mark.parametrize(("phase", "deleting", "owner"), VARIANTS)
def test_every_variant_names_node_and_fix(phase, deleting, owner):
    ghost = "gpu-node-7"
    report = amd110(Snapshot([node(REAL), _variant_pod(0, ghost, phase, deleting, owner)]))
    (finding,) = report.findings
    assert f"node {ghost}" in finding.message and "exist" in finding.message
    fix = finding.remediation
    assert "kubectl delete pod p-7-0 -n ml" in fix
    assert ("--force --grace-period=0" in fix) == deleting
    if owner:
        assert f"its {owner[0]} {owner[1]} creates a replacement" in fix
    else:
        assert "without spec.nodeName" in fix and "kubectl get pod p-7-0 -n ml -o yaml" in fix
    assert ("Terminating" in finding.message) == deleting


@pytest.mark.parametrize("phase", ["Succeeded", "Failed"])
def test_finished_pods_on_a_ghost_node_are_left_alone(phase):
    assert not amd110(Snapshot([node(REAL), pod("done", "gone", phase=phase)])).findings


def test_unbound_and_well_bound_pods_are_not_reported():
    snap = Snapshot([node(REAL), pod("a", None), pod("b", REAL, phase="Running")])
    assert not amd110(snap).findings


def test_unreadable_node_list_accuses_no_pod_and_says_so():
    """A namespace-scoped user cannot list nodes: every bound pod would look orphaned."""
    snap = Snapshot(
        [pod("a", REAL, phase="Running"), pod("b", "gone")],
        missing=[Missing("Node", 'nodes is forbidden: User "u" cannot list nodes', None, 403)],
        collected_kinds={"Pod", "Event"},
    )
    report = amd110(snap)
    assert not report.findings
    (skipped,) = [s for s in report.skipped if s.rule == "AMD110"]
    assert "Node" in skipped.reason and "forbidden" in skipped.reason


def test_pods_without_nodes_in_the_snapshot_are_not_accused():
    """`kubectl get pods -o yaml` alone: no node list, so nothing can be said."""
    report = amd110(Snapshot([pod("a", REAL, phase="Running")]))
    assert not report.findings
    assert [s.rule for s in report.skipped] == ["AMD110"]


def test_similar_node_names_are_offered_for_a_typo():
    snap = Snapshot([node(REAL), node("cpu-0"), pod("a", "aks-gpupool-17403385-vmss00001")])
    (finding,) = amd110(snap).findings
    assert finding.evidence["similar_nodes"] == [REAL]
    assert f"similar names: {REAL}" in finding.message
