"""Filters the vector file does not cover: volumes, topology spread, inter-pod affinity,
cordons, preemption with priorities, PreFilterResult texts by release, and the framework's
"every failing filter" view."""

from __future__ import annotations

import pytest

from amldoctor.scheduling.framework import simulate
from amldoctor.scheduling.profile import Profile
from amldoctor.snapshot import Snapshot

HOST = "kubernetes.io/hostname"


def node(
    name: str, labels: dict | None = None, cpu: str = "4", gpu: int | None = None, **spec
) -> dict:
    alloc = {"cpu": cpu, "memory": "16Gi", "pods": "110"}
    if gpu is not None:
        alloc["nvidia.com/gpu"] = str(gpu)
    return {
        "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, **(labels or {})}},
        "spec": spec,
        "status": {"allocatable": alloc, "capacity": dict(alloc)},
    }


def pod(
    name: str,
    ns: str = "ml",
    node_name: str | None = None,
    labels: dict | None = None,
    cpu: str = "1",
    **spec,
) -> dict:
    p = {
        "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "uid": f"uid-{name}", "labels": labels or {}},
        "spec": {"containers": [{"name": "c", "resources": {"requests": {"cpu": cpu}}}], **spec},
        "status": {"phase": "Running" if node_name else "Pending"},
    }
    if node_name:
        p["spec"]["nodeName"] = node_name
    return p


def run(objects: list[dict], subject: dict, version: str | None = None):
    snap = Snapshot([*objects, subject], server_version=version)
    return simulate(snap, subject)


def reasons(result) -> dict[str, list[str]]:
    return {v.name: v.reasons for v in result.verdicts}


def test_cordoned_node_reports_unschedulable_not_its_taint() -> None:
    cordoned = node(
        "n1",
        unschedulable=True,
        taints=[{"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}],
    )
    result = run([cordoned], pod("p"))
    assert reasons(result) == {"n1": ["node(s) were unschedulable"]}
    assert [s.plugin for s in result.verdict("n1").failures] == [
        "NodeUnschedulable",
        "TaintToleration",
    ]
    tolerant = pod(
        "q", tolerations=[{"key": "node.kubernetes.io/unschedulable", "operator": "Exists"}]
    )
    assert run([cordoned], tolerant).feasible == ["n1"]


def test_first_failure_decides_but_all_failures_are_kept() -> None:
    tainted_small = node(
        "n1", cpu="1", taints=[{"key": "sku", "value": "gpu", "effect": "NoSchedule"}]
    )
    result = run([tainted_small], pod("p", cpu="2"))
    verdict = result.verdict("n1")
    assert verdict.reasons == ["node(s) had untolerated taint(s)"]
    assert [s.plugin for s in verdict.failures] == ["TaintToleration", "NodeResourcesFit"]
    detail = verdict.to_dict()["all_failures"][1]["detail"]
    assert "2 cpu" in detail and "1 free" in detail


def test_mig_resources_are_scalar_resources() -> None:
    mig = node("a100", gpu=None)
    mig["status"]["allocatable"]["nvidia.com/mig-1g.10gb"] = "7"
    subject = pod("p")
    subject["spec"]["containers"][0]["resources"]["limits"] = {"nvidia.com/mig-1g.10gb": "8"}
    result = run([mig], subject)
    assert reasons(result) == {"a100": ["Insufficient nvidia.com/mig-1g.10gb"]}
    assert str(result.verdict("a100").status.code) == "UnschedulableAndUnresolvable"
    old = run([mig], subject, version="v1.33.1")
    assert str(old.verdict("a100").status.code) == "Unschedulable"


def test_bound_pending_and_terminating_pods_count_but_finished_ones_do_not() -> None:
    n = node("n1", cpu="2")
    pending_bound = pod("a", node_name="n1")
    pending_bound["status"]["phase"] = "Pending"
    terminating = pod("b", node_name="n1")
    terminating["metadata"]["deletionTimestamp"] = "2026-11-28T08:00:00Z"
    done = pod("c", node_name="n1", cpu="2")
    done["status"]["phase"] = "Succeeded"
    result = run([n, pending_bound, terminating, done], pod("p", cpu="1"))
    assert reasons(result) == {"n1": ["Insufficient cpu"]}


def test_matchfields_prefilter_result_text_by_release() -> None:
    nodes = [node("n1"), node("n2"), node("n3")]
    daemon = pod(
        "ds-x",
        affinity={
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [
                        {
                            "matchFields": [
                                {"key": "metadata.name", "operator": "In", "values": ["n1"]}
                            ]
                        }
                    ]
                }
            }
        },
        cpu="8",
    )
    newest = run(nodes, daemon, version="v1.35.0")
    assert newest.message == (
        "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) didn't satisfy plugin(s) "
        "[NodeAffinity]. no new claims to deallocate, "
        "preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."
    )
    before_uu = run(nodes, daemon, version="v1.32.0")  # a too-small node was still "Unschedulable"
    assert before_uu.message == (
        "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) didn't satisfy plugin(s) "
        "[NodeAffinity]. "
        "preemption: 0/3 nodes are available: 1 No preemption victims found for incoming pod, "
        "2 Preemption is not helpful for scheduling."
    )
    old = run(nodes, daemon, version="v1.28.3")
    assert old.message == (
        "0/3 nodes are available: 1 Insufficient cpu, 2 node is filtered out by the prefilter "
        "result. "
        "preemption: 0/3 nodes are available: 1 No preemption victims found for incoming pod, "
        "2 Preemption is not helpful for scheduling.."
    )


def test_preemption_with_lower_priority_victims() -> None:
    n = node("n1", cpu="2")
    low = pod("low", node_name="n1", cpu="2", priority=-10)
    high = pod("high", cpu="2", priority=1000)
    assert run([n, low], high).postfilter_msg == ""  # a victim exists: the pod gets nominated
    equal = pod("equal", node_name="n1", cpu="2", priority=1000)
    msg = run([n, equal], high, version="v1.33.0").postfilter_msg
    assert (
        msg
        == "preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod."
    )
    with_dra = run([n, equal], high, version="v1.35.0").postfilter_msg
    assert with_dra == f"no new claims to deallocate, {msg}"
    small = node("n2", cpu="1")
    low2 = pod("low2", node_name="n2", cpu="1", priority=-10)
    msg = run(
        [small, low2], pod("big", cpu="1500m", priority=1000), version="v1.33.0"
    ).postfilter_msg
    assert msg == "preemption: 0/1 nodes are available: 1 Insufficient cpu."
    never = pod("never", cpu="4", preemptionPolicy="Never")
    assert (
        run([n], never, version="v1.33.0").postfilter_msg
        == "preemption: not eligible due to preemptionPolicy=Never."
    )


def test_unbound_immediate_pvc_and_missing_pvc_are_prefilter_rejections() -> None:
    sc = {
        "kind": "StorageClass",
        "metadata": {"name": "std"},
        "provisioner": "disk.csi.azure.com",
        "volumeBindingMode": "Immediate",
    }
    pvc = {
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": "data", "namespace": "ml"},
        "spec": {"storageClassName": "std"},
        "status": {"phase": "Pending"},
    }
    vol = [{"name": "d", "persistentVolumeClaim": {"claimName": "data"}}]
    result = run([node("n1"), node("n2"), sc, pvc], pod("p", volumes=vol))
    assert result.message == (
        "0/2 nodes are available: pod has unbound immediate PersistentVolumeClaims. not found"
    )
    before_dra = run([node("n1"), node("n2"), sc, pvc], pod("p", volumes=vol), version="v1.33.0")
    assert before_dra.message == (
        "0/2 nodes are available: pod has unbound immediate PersistentVolumeClaims. "
        "preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling."
    )
    missing = run(
        [node("n1")],
        pod("q", volumes=[{"name": "d", "persistentVolumeClaim": {"claimName": "nope"}}]),
    )
    assert missing.message.startswith(
        '0/1 nodes are available: persistentvolumeclaim "nope" not found.'
    )


def test_bound_pv_node_affinity_and_zone() -> None:
    pv = {
        "kind": "PersistentVolume",
        "metadata": {"name": "pv1", "labels": {"topology.kubernetes.io/zone": "eastus-2"}},
        "spec": {
            "capacity": {"storage": "10Gi"},
            "nodeAffinity": {
                "required": {
                    "nodeSelectorTerms": [
                        {
                            "matchExpressions": [
                                {
                                    "key": "topology.kubernetes.io/zone",
                                    "operator": "In",
                                    "values": ["eastus-2"],
                                }
                            ]
                        }
                    ]
                }
            },
        },
    }
    pvc = {
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": "data", "namespace": "ml"},
        "spec": {"volumeName": "pv1"},
        "status": {"phase": "Bound"},
    }
    z1 = node("z1", {"topology.kubernetes.io/zone": "eastus-1"})
    z2 = node("z2", {"topology.kubernetes.io/zone": "eastus-2"})
    subject = pod("p", volumes=[{"name": "d", "persistentVolumeClaim": {"claimName": "data"}}])
    result = run([z1, z2, pv, pvc], subject)
    assert result.feasible == ["z2"]
    assert reasons(result)["z1"] == ["node(s) didn't match PersistentVolume's node affinity"]
    assert "VolumeZone" in {s.plugin for s in result.verdict("z1").failures}
    old = run([z1, z2, pv, pvc], subject, version="v1.32.0")
    assert reasons(old)["z1"] == ["node(s) had volume node affinity conflict"]


def test_wait_for_first_consumer_without_pv_or_provisioner() -> None:
    sc = {
        "kind": "StorageClass",
        "metadata": {"name": "local"},
        "provisioner": "kubernetes.io/no-provisioner",
        "volumeBindingMode": "WaitForFirstConsumer",
    }
    pvc = {
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": "scratch", "namespace": "ml"},
        "spec": {
            "storageClassName": "local",
            "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": "100Gi"}},
        },
    }
    pv = {
        "kind": "PersistentVolume",
        "metadata": {"name": "local-n2"},
        "spec": {
            "storageClassName": "local",
            "accessModes": ["ReadWriteOnce"],
            "capacity": {"storage": "200Gi"},
            "nodeAffinity": {
                "required": {
                    "nodeSelectorTerms": [
                        {
                            "matchExpressions": [
                                {
                                    "key": "kubernetes.io/hostname",
                                    "operator": "In",
                                    "values": ["n2"],
                                }
                            ]
                        }
                    ]
                }
            },
        },
        "status": {"phase": "Available"},
    }
    subject = pod("p", volumes=[{"name": "s", "persistentVolumeClaim": {"claimName": "scratch"}}])
    result = run([node("n1"), node("n2"), sc, pvc, pv], subject)
    assert result.feasible == ["n2"]
    assert reasons(result)["n1"] == ["node(s) didn't find available persistent volumes to bind"]


RWOP_CURRENT = (
    "node(s) unavailable due to PersistentVolumeClaim with ReadWriteOncePod access mode "
    "already in-use by another pod"
)
RWOP_LEGACY = (
    "node has pod using PersistentVolumeClaim with the same name and ReadWriteOncePod access mode"
)


def _rwop_objects() -> tuple[list[dict], list[dict]]:
    pvc = {
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": "ckpt", "namespace": "ml"},
        "spec": {"accessModes": ["ReadWriteOncePod"], "volumeName": "pv9"},
        "status": {"phase": "Bound"},
    }
    pv = {"kind": "PersistentVolume", "metadata": {"name": "pv9"}, "spec": {}}
    vol = [{"name": "c", "persistentVolumeClaim": {"claimName": "ckpt"}}]
    return [pvc, pv], vol


@pytest.mark.parametrize(
    ("version", "want"),
    [(None, RWOP_CURRENT), ("v1.35.4", RWOP_CURRENT), ("v1.29.0", RWOP_CURRENT),
     ("v1.28.9", RWOP_LEGACY)],
)  # fmt: skip
def test_read_write_once_pod_conflict(version: str | None, want: str) -> None:
    storage, vol = _rwop_objects()
    holder = pod("holder", node_name="n1", volumes=vol)
    result = run([node("n1"), node("n2"), *storage, holder], pod("p", volumes=vol), version)
    assert reasons(result) == {"n1": [want], "n2": [want]}


def test_read_write_once_pod_holder_of_lower_priority_is_preempted() -> None:
    """RemovePod releases the claim: preemption evicts the holder, wherever it runs."""
    storage, vol = _rwop_objects()
    holder = pod("holder", node_name="n1", volumes=vol, priority=0)
    subject = pod("p", volumes=vol, priority=100)
    result = run([node("n1"), node("n2"), *storage, holder], subject)
    assert result.message == f"0/2 nodes are available: 2 {RWOP_CURRENT}."
    assert result.preemption is not None and result.preemption.chosen is not None
    assert result.preemption.chosen.node == "n1"
    assert [v["metadata"]["name"] for v in result.preemption.chosen.victims] == ["holder"]
    assert result.preemption.node_reasons == {
        "n2": ["No preemption victims found for incoming pod"]
    }


def test_topology_spread_skew_and_missing_label() -> None:
    zone = "topology.kubernetes.io/zone"
    nodes = [node("a1", {zone: "a"}), node("b1", {zone: "b"}), node("nolabel")]
    existing = [pod(f"w{i}", node_name="a1", labels={"app": "w"}) for i in range(2)]
    subject = pod(
        "w-new",
        labels={"app": "w"},
        topologySpreadConstraints=[
            {
                "maxSkew": 1,
                "topologyKey": zone,
                "whenUnsatisfiable": "DoNotSchedule",
                "labelSelector": {"matchLabels": {"app": "w"}},
            }
        ],
    )
    result = run([*nodes, *existing], subject)
    assert result.feasible == ["b1"]
    assert reasons(result)["a1"] == ["node(s) didn't match pod topology spread constraints"]
    assert reasons(result)["nolabel"] == [
        "node(s) didn't match pod topology spread constraints (missing required label)"
    ]


def test_inter_pod_affinity_and_anti_affinity() -> None:
    host = "kubernetes.io/hostname"
    nodes = [node("n1"), node("n2")]
    db = pod("db", node_name="n1", labels={"app": "db"})
    term = {"labelSelector": {"matchLabels": {"app": "db"}}, "topologyKey": host}
    near = pod(
        "near", affinity={"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [term]}}
    )
    assert run([*nodes, db], near).feasible == ["n1"]
    away = pod(
        "away",
        affinity={"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [term]}},
    )
    result = run([*nodes, db], away)
    assert result.feasible == ["n2"]
    assert reasons(result)["n1"] == ["node(s) didn't match pod anti-affinity rules"]
    loner = pod(
        "loner",
        node_name="n2",
        labels={"app": "loner"},
        affinity={
            "podAntiAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": [
                    {"labelSelector": {"matchLabels": {"app": "web"}}, "topologyKey": host}
                ]
            }
        },
    )
    web = pod("web", labels={"app": "web"})
    result = run([*nodes, loner], web)
    assert reasons(result)["n2"] == ["node(s) didn't satisfy existing pods anti-affinity rules"]
    first = pod(
        "first",
        labels={"app": "grp"},
        affinity={
            "podAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": [
                    {"labelSelector": {"matchLabels": {"app": "grp"}}, "topologyKey": host}
                ]
            }
        },
    )
    assert sorted(run(nodes, first).feasible) == [
        "n1",
        "n2",
    ]  # the first pod of a self-affine group


def test_host_ports_from_sidecars_conflict() -> None:
    holder = pod("holder", node_name="n1")
    holder["spec"]["initContainers"] = [
        {"name": "proxy", "restartPolicy": "Always", "ports": [{"hostPort": 9090}]}
    ]
    subject = pod("p")
    subject["spec"]["containers"][0]["ports"] = [{"hostPort": 9090, "hostIP": "10.0.0.1"}]
    assert reasons(run([node("n1"), holder], subject)) == {
        "n1": ["node(s) didn't have free ports for the requested pod ports"]
    }


def test_not_modelled_signs() -> None:
    subject = pod("p", resourceClaims=[{"name": "gpu", "resourceClaimName": "gpu-claim"}])
    notes = run([node("n1")], subject).not_modelled
    assert any("DRA" in n for n in notes)


def _nominated(name: str, node_name: str, priority: int, cpu: str = "3", **spec) -> dict:
    p = pod(name, cpu=cpu, priority=priority, **spec)
    p["status"]["nominatedNodeName"] = node_name
    return p


@pytest.mark.parametrize(("other_priority", "counted"), [(50, False), (100, True), (200, True)])
def test_nominated_pods_of_equal_or_higher_priority_hold_their_room(
    other_priority: int, counted: bool
) -> None:
    """addGENominatedPods: a nominated pod counts on its node only if its priority >= ours."""
    other = _nominated("other", "n1", other_priority)
    result = run([node("n1"), other], pod("p", cpu="2", priority=100))
    if counted:
        assert reasons(result) == {"n1": ["Insufficient cpu"]}
        assert result.nominated_nodes == {"n1": ["ml/other"]}
    else:
        assert result.feasible == ["n1"]


def test_nominated_pod_of_another_scheduler_or_bound_does_not_count() -> None:
    other = _nominated("other", "n1", 100, schedulerName="volcano")
    bound = _nominated("bound", "n1", 100)
    bound["spec"]["nodeName"] = "n2"
    result = run([node("n1"), node("n2", cpu="8"), other, bound], pod("p", cpu="2", priority=100))
    assert result.feasible == ["n1", "n2"]


def test_nominated_pod_counts_for_anti_affinity_of_the_pod() -> None:
    """The nominated pod also enters the InterPodAffinity counts through AddPod."""
    anti = {
        "podAntiAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": [
                {"labelSelector": {"matchLabels": {"app": "a"}}, "topologyKey": HOST}
            ]
        }
    }
    other = _nominated("other", "n1", 100, cpu="1")
    other["metadata"]["labels"] = {"app": "a"}
    result = run([node("n1"), other], pod("p", cpu="1", priority=100, affinity=anti))
    assert reasons(result) == {"n1": ["node(s) didn't match pod anti-affinity rules"]}


def test_pod_with_affinity_to_a_nominated_pod_only_fails_the_second_pass() -> None:
    """Filters run again without the nominated pods: affinity cannot rest on them."""
    aff = {
        "podAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": [
                {"labelSelector": {"matchLabels": {"app": "a"}}, "topologyKey": HOST}
            ]
        }
    }
    other = _nominated("other", "n1", 100, cpu="1")
    other["metadata"]["labels"] = {"app": "a"}
    anchor = pod("anchor", node_name="n2", labels={"app": "a"}, cpu="1")
    result = run([node("n1"), node("n2"), other, anchor], pod("p", cpu="1", affinity=aff))
    assert reasons(result)["n1"] == ["node(s) didn't match pod affinity rules"]
    assert result.feasible == ["n2"]


def test_profile_versions() -> None:
    assert Profile.for_server("v1.30.4-gke.100").version == (1, 30)
    assert Profile.for_server(None).at_least(1, 99)
    assert not Profile.for_server("v1.28.0").features.pod_level_resources
