"""Multi-term pod affinity, and the preemption dry run: victims, PDBs, the node it picks.

The same cases run against the real kube-scheduler in tests/e2e/test_scenarios_preemption.py;
here they pin the rules on fixture snapshots, with variants generated where a class of inputs
is at stake.
"""

from __future__ import annotations

import itertools

import pytest

from amldoctor.scheduling.framework import simulate
from amldoctor.snapshot import Snapshot
from amldoctor.whypending import analyze

HOST = "kubernetes.io/hostname"
ZONE = "topology.kubernetes.io/zone"
NO_VICTIMS = "No preemption victims found for incoming pod"


def node(name: str, cpu: str = "4", **labels: str) -> dict:
    alloc = {"cpu": cpu, "memory": "16Gi", "pods": "110"}
    return {
        "kind": "Node",
        "metadata": {"name": name, "labels": {HOST: name, **labels}},
        "spec": {},
        "status": {"allocatable": alloc, "capacity": dict(alloc)},
    }


def pod(
    name: str,
    node_name: str | None = None,
    cpu: str = "1",
    priority: int = 0,
    labels: dict | None = None,
    started: int | None = None,
    **spec,
) -> dict:
    p = {
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "ml", "uid": f"uid-{name}", "labels": labels or {}},
        "spec": {
            "containers": [{"name": "c", "resources": {"requests": {"cpu": cpu}}}],
            "priority": priority,
            **spec,
        },
        "status": {"phase": "Running" if node_name else "Pending"},
    }
    if node_name:
        p["spec"]["nodeName"] = node_name
    if started is not None:
        p["status"]["startTime"] = f"2026-01-01T00:{started:02d}:00Z"
    return p


def simulate_in(objects: list[dict], subject: dict):
    return simulate(Snapshot([*objects, subject]), subject)


def victims(result) -> list[str]:
    assert result.preemption is not None and result.preemption.chosen is not None, result.message
    return [v["metadata"]["name"] for v in result.preemption.chosen.victims]


def _required(kind: str, *terms: tuple[dict, str]) -> dict:
    return {
        kind: {
            "requiredDuringSchedulingIgnoredDuringExecution": [
                {"labelSelector": {"matchLabels": sel}, "topologyKey": key} for sel, key in terms
            ]
        }
    }


# --- required podAffinity with several terms ------------------------------------------------

LABEL_SETS = [{}, {"app": "a"}, {"tier": "x"}, {"app": "a", "tier": "x"}]


@pytest.mark.parametrize(
    ("first", "second", "own"), list(itertools.product(LABEL_SETS, LABEL_SETS, LABEL_SETS[::3]))
)
def test_affinity_counts_only_pods_matching_every_term(
    first: dict, second: dict, own: dict
) -> None:
    """podMatchesAllAffinityTerms: one existing pod must match app=a AND tier=x; two pods that
    each match one term do not satisfy the pod (per-term counting would say they do)."""
    affinity = _required("podAffinity", ({"app": "a"}, HOST), ({"tier": "x"}, ZONE))
    nodes = [node("n1", **{ZONE: "z1"}), node("n2", **{ZONE: "z1"})]
    existing = [
        pod("e1", node_name="n1", labels=first),
        pod("e2", node_name="n1", labels=second),
    ]
    result = simulate_in([*nodes, *existing], pod("p", labels=own, affinity=affinity))
    full = {"app": "a", "tier": "x"}
    some_pod_matches_all = full in (first, second)
    if some_pod_matches_all:
        assert result.feasible == ["n1"]  # n2 shares the zone but not the host
    elif own == full:
        assert result.feasible == ["n1", "n2"]  # first of its group: no pod matches all terms
    else:
        assert result.feasible == []
        assert {v.name: v.reasons for v in result.verdicts} == {
            "n1": ["node(s) didn't match pod affinity rules"],
            "n2": ["node(s) didn't match pod affinity rules"],
        }


# --- preemption: RemovePod updates the PreFilter state ---------------------------------------


def test_preemption_with_spread_uses_counts_after_removal() -> None:
    spread = [
        {
            "maxSkew": 1,
            "topologyKey": ZONE,
            "whenUnsatisfiable": "DoNotSchedule",
            "labelSelector": {"matchLabels": {"app": "s"}},
        }
    ]
    nodes = [node("n1", **{ZONE: "a"}), node("n2", **{ZONE: "b"})]
    existing = [
        pod("v1", "n1", cpu="2", labels={"app": "s"}, started=1),
        pod("v2", "n1", cpu="2", labels={"app": "s"}, started=2),
        pod("h1", "n2", cpu="4", priority=1000, labels={"app": "s"}),
    ]
    subject = pod("p", cpu="2", priority=100, labels={"app": "s"}, topologySpreadConstraints=spread)
    result = simulate_in([*nodes, *existing], subject)
    assert result.message == "0/2 nodes are available: 2 Insufficient cpu."
    spread_failures = [s.plugin for s in result.verdict("n1").failures]
    assert spread_failures == ["NodeResourcesFit", "PodTopologySpread"]
    assert result.preemption.chosen.node == "n1"
    assert victims(result) == ["v2"]  # v1 started earlier: it is reprieved first
    assert result.preemption.node_reasons == {"n2": [NO_VICTIMS]}


@pytest.mark.parametrize("who", ["incoming", "existing"])
def test_preemption_with_anti_affinity_removes_the_conflict(who: str) -> None:
    """Either side's required anti-affinity: removing the victim lifts it (RemovePod)."""
    anti = _required("podAntiAffinity", ({"app": "a"}, HOST))
    if who == "incoming":
        blocker = pod("blocker", "n1", labels={"app": "a"})
        subject = pod("p", priority=10, labels={"app": "b"}, affinity=anti)
    else:
        blocker = pod("blocker", "n1", labels={"app": "b"}, affinity=anti)
        subject = pod("p", priority=10, labels={"app": "a"})
    result = simulate_in([node("n1"), blocker], subject)
    assert result.message.endswith("anti-affinity rules.")
    assert victims(result) == ["blocker"]
    assert result.postfilter_msg == ""


def test_preemption_frees_a_host_port() -> None:
    def with_port(p: dict) -> dict:
        p["spec"]["containers"][0]["ports"] = [{"containerPort": 80, "hostPort": 8080}]
        return p

    blocker = with_port(pod("web", "n1"))
    filler = pod("filler", "n1")
    result = simulate_in([node("n1"), blocker, filler], with_port(pod("p", priority=5)))
    assert victims(result) == ["web"]  # filler is reprieved: it holds no port


# --- victims and PDBs; which node ----------------------------------------------------------


def pdb(name: str, labels: dict, allowed: int) -> dict:
    return {
        "kind": "PodDisruptionBudget",
        "metadata": {"name": name, "namespace": "ml"},
        "spec": {"selector": {"matchLabels": labels}},
        "status": {"disruptionsAllowed": allowed},
    }


@pytest.mark.parametrize("allowed", [0, 1])
def test_node_with_fewer_pdb_violations_is_chosen(allowed: int) -> None:
    nodes = [node("n1", cpu="2"), node("n2", cpu="2")]
    existing = [
        pod("guarded", "n1", cpu="2", priority=1, labels={"app": "db"}),
        pod("plain", "n2", cpu="2", priority=5, labels={"app": "batch"}),
    ]
    result = simulate_in(
        [*nodes, *existing, pdb("db", {"app": "db"}, allowed)], pod("p", cpu="2", priority=10)
    )
    chosen = result.preemption.chosen
    if allowed == 0:
        # n1 would violate the budget; n2's victim has a higher priority but breaks no PDB.
        assert (chosen.node, chosen.pdb_violations) == ("n2", 0)
    else:
        assert (chosen.node, chosen.pdb_violations) == ("n1", 0)  # lowest top victim priority


def test_pdb_violating_victims_are_reprieved_first() -> None:
    existing = [
        pod("guarded", "n1", cpu="2", priority=1, labels={"app": "db"}),
        pod("cheap", "n1", cpu="2", priority=1, labels={"app": "batch"}),
    ]
    result = simulate_in(
        [node("n1"), *existing, pdb("db", {"app": "db"}, 0)], pod("p", cpu="2", priority=10)
    )
    assert victims(result) == ["cheap"]
    assert result.preemption.chosen.pdb_violations == 0


def test_pick_one_node_criteria_in_order() -> None:
    nodes = [node("n1", cpu="2"), node("n2", cpu="2"), node("n3", cpu="2")]
    existing = [
        pod("a", "n1", cpu="2", priority=7),  # highest victim priority 7
        pod("b1", "n2", cpu="1", priority=3),  # top 3, sum 6 (two victims)
        pod("b2", "n2", cpu="1", priority=3),
        pod("c", "n3", cpu="2", priority=3),  # top 3, sum 3: chosen
    ]
    result = simulate_in([*nodes, *existing], pod("p", cpu="2", priority=10))
    assert result.preemption.chosen.node == "n3"
    assert result.preemption.tied == []


def test_identical_candidates_are_reported_as_a_tie() -> None:
    nodes = [node("n1", cpu="2"), node("n2", cpu="2")]
    existing = [pod("a", "n1", cpu="2", priority=3), pod("b", "n2", cpu="2", priority=3)]
    result = simulate_in([*nodes, *existing], pod("p", cpu="2", priority=10))
    assert result.preemption.tied == ["n1", "n2"]


def test_not_helpful_names_the_reason_per_node() -> None:
    nodes = [node("n1"), node("n2", cpu="8")]
    existing = [
        pod("big", "n2", cpu="8", priority=100),
        pod("small", "n1", cpu="1"),
        pod("kept", "n1", cpu="2", priority=100),
    ]
    result = simulate_in([*nodes, *existing], pod("p", cpu="3", priority=10))
    assert result.preemption.chosen is None
    assert result.postfilter_msg.endswith(
        "preemption: 0/2 nodes are available: 1 Insufficient cpu, 1 No preemption victims "
        "found for incoming pod."
    )
    assert result.preemption.node_reasons == {"n1": ["Insufficient cpu"], "n2": [NO_VICTIMS]}


def test_why_pending_document_lists_victims() -> None:
    existing = [pod("low", "n1", cpu="3", priority=1, priorityClassName="batch-low")]
    subject = pod("p", cpu="2", priority=1000, priorityClassName="serving")
    snap = Snapshot([node("n1"), *existing, subject])
    doc = analyze(snap, subject)
    assert doc["preemption"]["would_preempt"] is True
    assert doc["preemption"]["node"] == "n1"
    assert [v["name"] for v in doc["preemption"]["victims"]] == ["low"]
    assert doc["preemption"]["victims"][0]["priority_class"] == "batch-low"
    assert any("ml/low" in f["text"] for f in doc["fixes"]), doc["fixes"]


def test_scan_pending_finding_names_the_victims() -> None:
    from amldoctor.engine.runner import run_rules

    existing = [pod("low", "n1", cpu="3", priority=1)]
    subject = pod("p", cpu="2", priority=1000)
    subject["status"]["conditions"] = [
        {
            "type": "PodScheduled",
            "status": "False",
            "reason": "Unschedulable",
            "message": "0/1 nodes are available: 1 Insufficient cpu.",
        }
    ]
    report = run_rules(Snapshot([node("n1"), *existing, subject]))
    finding = next(f for f in report.findings if f.rule == "AMD101")
    assert "preemption would help" in finding.message and "ml/low" in finding.message
    assert finding.evidence["preemption"]["node"] == "n1"
    assert [v["name"] for v in finding.evidence["preemption"]["victims"]] == ["low"]
