"""Seeded random small clusters, and the real scheduler's verdict on one pending pod in each.

A case is 1-6 Nodes (labels from a small vocabulary, taints of every effect, allocatable
cpu/memory/pods/nvidia.com/gpu, some cordoned), pods already bound to them with requests, and one
pending pod with requests, a nodeSelector, required node affinity and tolerations. The vocabulary
is small on purpose, so that selectors, affinity and tolerations often hit and often miss.

On top of that, each case draws some of these features (`RandomCase.features` names them, so
agreement can be reported per feature): priorities (PriorityClasses on bound and pending pods,
hence preemption), required pod affinity with one or several terms, pod anti-affinity (the
pending pod's and bound pods'), topology spread, host ports, PodDisruptionBudgets, a
ReadWriteOncePod claim held by a bound pod, a pending pod assigned to a node that does not exist
("ghost"), and a high-priority pod that preempts first and stays nominated ("nominated").
Bound pods get distinct start times, so the scheduler's victim order is deterministic.

`schedule(cluster, case)` applies a case to the control plane and returns what kube-scheduler did,
for comparison with amldoctor's own explanation of the same pending pod:

    for seed in range(200):
        case = generate(seed)
        verdict = schedule(scheduling_cluster, case)
        ...  # run `amldoctor why-pending`, compare with verdict.node / verdict.message
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import admissionvariants
from cluster import Cluster, clear_cluster, force_delete
from kube import ApiError
from objects import node_manifest, pod_manifest, rfc3339
from randomdra import add_dra, after_pending_created, apply_dra

ZONE = "topology.kubernetes.io/zone"
POOL = "agentpool"
WORKLOAD = "amldoctor.e2e/workload"
TIER = "amldoctor.e2e/tier"  # numeric values, for Gt/Lt
LABELS: dict[str, list[str]] = {
    ZONE: ["eastus-1", "eastus-2", "eastus-3"],
    POOL: ["cpu", "gpu", "spot"],
    WORKLOAD: ["train", "infer"],
    TIER: ["1", "2", "4", "8"],
}
TAINTS: list[tuple[str, str]] = [
    ("nvidia.com/gpu", "present"),
    ("sku", "gpu"),
    ("kubernetes.azure.com/scalesetpriority", "spot"),
]
EFFECTS = ["NoSchedule", "NoExecute", "PreferNoSchedule"]
CPU_MILLI = [2000, 4000, 8000, 16000, 32000]
MEMORY_MI = [4096, 16384, 65536, 262144]
PODS = [2, 4, 110]
GPUS = [0, 0, 1, 2, 4]

PENDING = "pending"
PREEMPTOR = "preemptor"
GHOST_NODE = "ghost-node-0"
APP = "app"
ROLE = "role"
APPS = ["a", "b", "c"]
ROLES = ["x", "y"]
HOSTNAME = "kubernetes.io/hostname"
PRIORITIES = {
    0: "amld-rand-p0",
    10: "amld-rand-p10",
    100: "amld-rand-p100",
    1000: "amld-rand-p1000",
}
PORTS = [8080, 9090]
RWOP_CLAIM = "rwop-claim"
RWOP_VOLUME = "rwop-volume"
VICTIM_GRACE = 600  # bound pods stay terminating once preempted (no kubelet runs)
BASE_START = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass
class RandomCase:
    seed: int
    nodes: list[dict[str, Any]]
    bound_pods: list[dict[str, Any]]  # spec.nodeName set: the scheduler only accounts for them
    pending: dict[str, Any]  # the pod whose placement is in question, named PENDING
    features: set[str] = field(default_factory=set)
    pdbs: list[dict[str, Any]] = field(default_factory=list)  # (manifest, disruptionsAllowed)
    rwop: bool = False  # create the ReadWriteOncePod claim and its volume
    preemptor: dict[str, Any] | None = None  # created (and left to preempt) before PENDING
    admission: admissionvariants.AdmissionSetup | None = None  # objects admission applies
    dra: Any = None  # randomdra.DraCase: devices, classes and claims, when drawn

    @property
    def ghost(self) -> bool:
        return self.pending["spec"].get("nodeName") == GHOST_NODE

    def describe(self) -> dict[str, Any]:
        """The case as JSON-able data, for a failing test's message."""
        return {
            "seed": self.seed,
            "features": sorted(self.features),
            "nodes": self.nodes,
            "bound_pods": self.bound_pods,
            "pending": self.pending,
            "pdbs": self.pdbs,
            "rwop": self.rwop,
            "preemptor": self.preemptor,
            "admission": self.admission.describe() if self.admission else None,
            "dra": vars(self.dra) if self.dra else None,
        }


@dataclass
class Verdict:
    node: str | None  # where the scheduler bound the pending pod, or None
    message: str | None = None  # PodScheduled=False/Unschedulable message when it did not
    nominated: str | None = None  # the node it preempted on, when it did
    victims: frozenset[str] = frozenset()  # the pods it is evicting there
    untouched: bool = False  # no scheduler looked at the pod (assigned to a missing node)
    refused: str | None = None  # the API server's admission refused to create the pod


def generate(seed: int) -> RandomCase:
    rng = random.Random(seed)
    features: set[str] = set()
    priorities = rng.random() < 0.5
    nodes, bound = [], []
    for i in range(rng.randint(1, 6)):
        node = _random_node(rng, f"rn{i}")
        nodes.append(node)
        bound.extend(_bound_pods(rng, node, i, priorities, features))
    pending = _pending_pod(rng)
    case = RandomCase(seed, nodes, bound, pending, features)
    if priorities:
        features.add("priority")
        pending["spec"]["priorityClassName"] = PRIORITIES[rng.choice([0, 10, 100, 100, 1000])]
        if rng.random() < 0.7:
            # Often only resources (and pod relations) stand in the way: preemption territory.
            for key in ("nodeSelector", "affinity"):
                pending["spec"].pop(key, None)
            pending["spec"]["tolerations"] = [{"operator": "Exists"}]
            # Sized to a node: it fits there only if pods make room.
            node_cpu = int(rng.choice(nodes)["status"]["allocatable"]["cpu"].removesuffix("m"))
            pending["spec"]["containers"][0]["resources"] = {
                "requests": {
                    "cpu": f"{node_cpu // rng.choice([1, 1, 2])}m",
                    "memory": f"{rng.choice([512, 2048])}Mi",
                }
            }
            pending["spec"]["priorityClassName"] = PRIORITIES[rng.choice([10, 100, 1000, 1000])]
        if bound and rng.random() < 0.4:
            case.pdbs = _pdbs(rng, bound)
            features.add("pdb")
        if bound and rng.random() < 0.25:
            case.preemptor = _preemptor(rng, nodes)
            features.add("nominated")
    _pod_relations(rng, case)
    if bound and rng.random() < 0.1:
        holder = rng.choice(bound)
        _use_claim(holder)
        _use_claim(pending)
        case.rwop = True
        features.add("rwop")
    if rng.random() < 0.04:
        pending["spec"]["nodeName"] = GHOST_NODE
        features.add("ghost")
    case.dra = add_dra(seed, nodes, bound, pending, features)
    case.admission = admissionvariants.vary(case)
    if not features:
        features.add("basic")
    return case


def _use_claim(pod: dict[str, Any]) -> None:
    pod["spec"]["volumes"] = [{"name": "ckpt", "persistentVolumeClaim": {"claimName": RWOP_CLAIM}}]


def _labels(rng: random.Random) -> dict[str, str]:
    labels = {APP: rng.choice(APPS)}
    if rng.random() < 0.6:
        labels[ROLE] = rng.choice(ROLES)
    return labels


def _term(rng: random.Random) -> dict[str, Any]:
    key, values = (APP, APPS) if rng.random() < 0.6 else (ROLE, ROLES)
    return {
        "labelSelector": {"matchLabels": {key: rng.choice(values)}},
        "topologyKey": rng.choice([HOSTNAME, HOSTNAME, ZONE]),
    }


def _pod_relations(rng: random.Random, case: RandomCase) -> None:
    """Pod affinity (one or several terms), anti-affinity, spread and host ports."""
    pending = case.pending
    spec = pending["spec"]
    pending["metadata"]["labels"] = _labels(rng)
    affinity = dict(spec.get("affinity") or {})
    if rng.random() < 0.2:
        n = rng.choice([1, 2, 2, 3])
        affinity["podAffinity"] = {
            "requiredDuringSchedulingIgnoredDuringExecution": [_term(rng) for _ in range(n)]
        }
        case.features.add("pod-affinity-multi" if n > 1 else "pod-affinity")
    if rng.random() < 0.2:
        affinity["podAntiAffinity"] = {
            "requiredDuringSchedulingIgnoredDuringExecution": [_term(rng)]
        }
        case.features.add("anti-affinity")
    if affinity:
        spec["affinity"] = affinity
    if rng.random() < 0.2:
        spec["topologySpreadConstraints"] = [
            {
                "maxSkew": rng.choice([1, 1, 2]),
                "topologyKey": rng.choice([ZONE, HOSTNAME]),
                "whenUnsatisfiable": "DoNotSchedule",
                "labelSelector": {"matchLabels": {APP: rng.choice(APPS)}},
            }
        ]
        case.features.add("spread")
    if rng.random() < 0.15:
        _host_port(pending, rng.choice(PORTS))
        case.features.add("ports")
    if any(p["spec"].get("affinity") for p in case.bound_pods):
        case.features.add("anti-affinity")
    if any(_has_port(p) for p in case.bound_pods) and "ports" in case.features:
        case.features.add("ports")


def _host_port(pod: dict[str, Any], port: int) -> None:
    pod["spec"]["containers"][0]["ports"] = [
        {"containerPort": port, "hostPort": port, "protocol": "TCP"}
    ]


def _has_port(pod: dict[str, Any]) -> bool:
    return any(p.get("hostPort") for c in pod["spec"]["containers"] for p in c.get("ports", []))


def _pdbs(rng: random.Random, bound: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for i, app in enumerate(rng.sample(APPS, rng.randint(1, 2))):
        out.append(
            {
                "metadata": {"name": f"pdb-{i}"},
                "spec": {"selector": {"matchLabels": {APP: app}}, "maxUnavailable": 1},
                "allowed": rng.choice([0, 0, 1]),
            }
        )
    return out


def _preemptor(rng: random.Random, nodes: list[dict[str, Any]]) -> dict[str, Any]:
    """A top-priority pod pinned to one node, big enough that it often has to preempt there."""
    node = rng.choice(nodes)
    cpu = int(node["status"]["allocatable"]["cpu"].removesuffix("m"))
    return pod_manifest(
        PREEMPTOR,
        requests={"cpu": f"{max(cpu // rng.choice([1, 2, 4]), 100)}m", "memory": "512Mi"},
        node_selector={HOSTNAME: node["metadata"]["name"]},
        tolerations=[{"operator": "Exists"}],
        priority_class_name=PRIORITIES[1000],
        labels=_labels(rng),
    )


def _random_node(rng: random.Random, name: str) -> dict[str, Any]:
    labels = {k: rng.choice(v) for k, v in LABELS.items() if rng.random() < 0.75}
    taints = [
        {"key": k, "value": v, "effect": rng.choice(EFFECTS)}
        for k, v in rng.sample(TAINTS, rng.choice([0, 0, 0, 0, 1, 1, 2]))
    ]
    return node_manifest(
        name,
        cpu=f"{rng.choice(CPU_MILLI)}m",
        memory=f"{rng.choice(MEMORY_MI)}Mi",
        pods=str(rng.choice(PODS)),
        gpus=rng.choice(GPUS),
        labels=labels,
        taints=taints,
        unschedulable=rng.random() < 0.1,
    )


def _bound_pods(
    rng: random.Random,
    node: dict[str, Any],
    index: int,
    priorities: bool = False,
    features: set[str] | None = None,
) -> list[dict[str, Any]]:
    """0-3 pods that fit the node, as if scheduled earlier."""
    alloc = node["status"]["allocatable"]
    free = {
        "cpu": int(alloc["cpu"].removesuffix("m")),
        "memory": int(alloc["memory"][:-2]),
        "pods": int(alloc["pods"]),
        "gpu": int(alloc.get("nvidia.com/gpu", 0)),
    }
    pods = []
    for j in range(rng.randint(0, 3 if priorities else 2)):
        want = {
            "cpu": rng.choice([500, 1000, 2000, 4000]),
            "memory": rng.choice([1024, 4096]),
            "pods": 1,
            "gpu": rng.choice([0, 0, 1, 2]),
        }
        if any(want[k] > free[k] for k in want):
            continue
        for k in want:
            free[k] -= want[k]
        pod = pod_manifest(
            f"bound-{index}-{j}",
            node_name=node["metadata"]["name"],
            gpus=want["gpu"],
            requests={"cpu": f"{want['cpu']}m", "memory": f"{want['memory']}Mi"},
            tolerations=[{"operator": "Exists"}],
            labels=_labels(rng),
            priority_class_name=PRIORITIES[rng.choice([0, 0, 0, 10, 100, 1000])]
            if priorities
            else None,
        )
        pod["spec"]["terminationGracePeriodSeconds"] = VICTIM_GRACE
        # Distinct start times: the victim order (and the node choice) is then deterministic.
        pod["status"] = {"startTime": rfc3339(BASE_START + timedelta(minutes=index * 10 + j))}
        if rng.random() < 0.1:
            pod["spec"]["affinity"] = {
                "podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [_term(rng)]}
            }
        if rng.random() < 0.15:
            _host_port(pod, rng.choice(PORTS))
            if features is not None:
                features.add("ports")
        pods.append(pod)
    return pods


def _pending_pod(rng: random.Random) -> dict[str, Any]:
    selector = (
        {k: rng.choice(LABELS[k]) for k in rng.sample(sorted(LABELS), 1)}
        if rng.random() < 0.25
        else None
    )
    affinity = None
    if rng.random() < 0.4:
        terms = [
            {"matchExpressions": [_expression(rng) for _ in range(rng.choice([1, 1, 2]))]}
            for _ in range(rng.randint(1, 2))
        ]
        affinity = {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": terms}
            }
        }
    return pod_manifest(
        PENDING,
        requests={
            "cpu": f"{rng.choice([100, 250, 500, 1000, 2000, 4000, 12000])}m",
            "memory": f"{rng.choice([512, 2048, 8192, 32768])}Mi",
        },
        gpus=rng.choice([0, 0, 0, 0, 0, 1, 2, 4]),
        node_selector=selector,
        affinity=affinity,
        tolerations=_tolerations(rng),
    )


def _expression(rng: random.Random) -> dict[str, Any]:
    key = rng.choice(sorted(LABELS))
    ops = ["In", "NotIn", "Exists", "DoesNotExist"] + (["Gt", "Lt"] if key == TIER else [])
    op = rng.choice(ops)
    if op in ("Exists", "DoesNotExist"):
        return {"key": key, "operator": op}
    if op in ("Gt", "Lt"):
        return {"key": key, "operator": op, "values": [str(rng.choice([0, 1, 3, 5, 9]))]}
    return {
        "key": key,
        "operator": op,
        "values": sorted(rng.sample(LABELS[key], rng.randint(1, 2))),
    }


def _tolerations(rng: random.Random) -> list[dict[str, Any]] | None:
    if rng.random() < 0.05:
        return [{"operator": "Exists"}]
    tolerations = []
    for key, value in TAINTS:
        if rng.random() < 0.5:
            tol: dict[str, Any] = {"key": key}
            if rng.random() < 0.5:
                tol["operator"] = "Exists"
            else:
                tol |= {"operator": "Equal", "value": value if rng.random() < 0.8 else "other"}
            effect = rng.choice(["", "", *EFFECTS])
            if effect:
                tol["effect"] = effect
            tolerations.append(tol)
    return tolerations or None


def schedule(cluster: Cluster, case: RandomCase, timeout: float = 30) -> Verdict:
    """Replace the cluster's nodes and pods with `case`, let kube-scheduler decide on the
    pending pod, and return its verdict. Needs exclusive control of the node set."""
    apply_case(cluster, case)
    return decide(cluster, case, timeout)


def ensure_priority_classes(cluster: Cluster) -> None:
    """The generator's PriorityClasses (cluster-scoped, shared by every case; kept)."""
    for value, name in PRIORITIES.items():
        try:
            cluster.kube.create(
                "/apis/scheduling.k8s.io/v1/priorityclasses",
                {"metadata": {"name": name}, "value": value},
            )
        except ApiError as err:
            if err.status != 409:
                raise


def _clear_namespace(cluster: Cluster) -> None:
    """PDBs and claims of earlier cases (pods, nodes and PVs go with `clear_cluster`)."""
    pdbs = f"/apis/policy/v1/namespaces/{cluster.namespace}/poddisruptionbudgets"
    cluster.kube.delete(pdbs)
    for pvc in cluster.kube.list(f"{cluster.ns_path}/persistentvolumeclaims"):
        force_delete(
            cluster.kube, f"{cluster.ns_path}/persistentvolumeclaims/{pvc['metadata']['name']}"
        )


def apply_case(cluster: Cluster, case: RandomCase) -> None:
    """Make the cluster hold exactly the case's nodes and bound pods, as the scheduler sees it.
    A prediction made now (e.g. amldoctor's what-if) sees what the scheduler will see."""
    clear_cluster(cluster.kube)
    _clear_namespace(cluster)
    admissionvariants.clear(cluster)
    cluster.wait_scheduler_sees(nodes=0, pods=0)
    ensure_priority_classes(cluster)
    for node in case.nodes:
        cluster.create_node(node)
    if case.rwop:
        cluster.pvc(
            RWOP_CLAIM,
            volume_name=RWOP_VOLUME,
            storage_class="",
            access_modes=("ReadWriteOncePod",),
        )
        cluster.pv(RWOP_VOLUME, claim=RWOP_CLAIM, access_modes=("ReadWriteOncePod",))
        cluster._cluster_scoped.remove(f"/api/v1/persistentvolumes/{RWOP_VOLUME}")
    path = f"/apis/policy/v1/namespaces/{cluster.namespace}/poddisruptionbudgets"
    for pdb in case.pdbs:
        manifest = {k: v for k, v in pdb.items() if k != "allowed"}
        cluster.kube.create(path, manifest)
        cluster.kube.merge_patch(
            f"{path}/{pdb['metadata']['name']}/status",
            {
                "status": {
                    "disruptionsAllowed": pdb["allowed"],
                    "currentHealthy": 1,
                    "desiredHealthy": 1,
                    "expectedPods": 1,
                    "observedGeneration": 1,
                }
            },
        )
    for pod in case.bound_pods:
        manifest = {k: v for k, v in pod.items() if k != "status"}
        cluster.create_pod(manifest)
        cluster.kube.merge_patch(
            f"{cluster.ns_path}/pods/{pod['metadata']['name']}/status",
            {"status": {"phase": "Running", **pod.get("status", {})}},
        )
    apply_dra(cluster, case.dra)
    cluster.wait_scheduler_sees(nodes=len(case.nodes), pods=len(case.bound_pods))
    if case.preemptor is not None:
        _let_preemptor_act(cluster, case.preemptor)
    if case.admission is not None:
        admissionvariants.apply(cluster, case.admission)


def _let_preemptor_act(cluster: Cluster, preemptor: dict[str, Any], timeout: float = 30) -> None:
    """Create the preemptor and wait for the scheduler's verdict on it (bound, nominated with
    its victims marked, or unschedulable)."""
    cluster.create_pod(preemptor)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pod = cluster.get_pod(PREEMPTOR)
        if pod["spec"].get("nodeName"):
            return
        if pod["status"].get("nominatedNodeName"):
            time.sleep(1.0)  # victims are deleted asynchronously
            return
        if _unschedulable(pod):
            return
        time.sleep(0.1)
    raise AssertionError("scheduler gave no verdict on the preemptor")


def _unschedulable(pod: dict[str, Any]) -> dict[str, Any] | None:
    return next(
        (
            c
            for c in pod["status"].get("conditions", [])
            if (c["type"], c["status"], c.get("reason"))
            == ("PodScheduled", "False", "Unschedulable")
        ),
        None,
    )


def _victims(cluster: Cluster) -> frozenset[str]:
    pods = cluster.kube.list(f"{cluster.ns_path}/pods")
    return frozenset(
        p["metadata"]["name"]
        for p in pods
        if p["metadata"].get("deletionTimestamp")
        and any(
            c.get("type") == "DisruptionTarget" for c in p.get("status", {}).get("conditions", [])
        )
    )


def decide(cluster: Cluster, case: RandomCase, timeout: float = 30) -> Verdict:
    """Create the pending pod of an applied case and wait for the scheduler's verdict."""
    before = _victims(cluster)
    try:
        cluster.create_pod(case.pending)
    except ApiError as err:
        if err.status != 403 or case.admission is None:
            raise
        return Verdict(node=None, refused=str(err.body.get("message")))
    after_pending_created(cluster, case.dra, PENDING)
    if case.ghost:
        time.sleep(1.0)  # nothing will happen: make sure nothing did
        pod = cluster.get_pod(PENDING)
        assert not _unschedulable(pod), pod["status"]
        return Verdict(node=None, untouched=True)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pod = cluster.get_pod(PENDING)
        if pod["spec"].get("nodeName"):
            return Verdict(node=pod["spec"]["nodeName"])
        cond = _unschedulable(pod)
        if cond is not None:
            nominated = pod["status"].get("nominatedNodeName")
            victims: frozenset[str] = frozenset()
            if nominated:
                time.sleep(1.0)  # victims are deleted asynchronously
                victims = _victims(cluster) - before
            return Verdict(
                node=None, message=cond.get("message", ""), nominated=nominated, victims=victims
            )
        time.sleep(0.1)
    raise AssertionError(f"scheduler gave no verdict within {timeout}s for seed {case.seed}")
