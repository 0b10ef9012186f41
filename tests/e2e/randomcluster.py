"""Seeded random small clusters, and the real scheduler's verdict on one pending pod in each.

A case is 1-6 Nodes (labels from a small vocabulary, taints of every effect, allocatable
cpu/memory/pods/nvidia.com/gpu, some cordoned), pods already bound to them with requests, and one
pending pod with requests, a nodeSelector, required node affinity and tolerations. The vocabulary
is small on purpose, so that selectors, affinity and tolerations often hit and often miss.

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
from dataclasses import dataclass
from typing import Any

from cluster import Cluster, clear_cluster
from objects import node_manifest, pod_manifest

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


@dataclass
class RandomCase:
    seed: int
    nodes: list[dict[str, Any]]
    bound_pods: list[dict[str, Any]]  # spec.nodeName set: the scheduler only accounts for them
    pending: dict[str, Any]  # the pod whose placement is in question, named PENDING

    def describe(self) -> dict[str, Any]:
        """The case as JSON-able data, for a failing test's message."""
        return {
            "seed": self.seed,
            "nodes": self.nodes,
            "bound_pods": self.bound_pods,
            "pending": self.pending,
        }


@dataclass
class Verdict:
    node: str | None  # where the scheduler bound the pending pod, or None
    message: str | None = None  # PodScheduled=False/Unschedulable message when it did not


def generate(seed: int) -> RandomCase:
    rng = random.Random(seed)
    nodes, bound = [], []
    for i in range(rng.randint(1, 6)):
        node = _random_node(rng, f"rn{i}")
        nodes.append(node)
        bound.extend(_bound_pods(rng, node, i))
    return RandomCase(seed, nodes, bound, _pending_pod(rng))


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


def _bound_pods(rng: random.Random, node: dict[str, Any], index: int) -> list[dict[str, Any]]:
    """0-2 pods that fit the node, as if scheduled earlier."""
    alloc = node["status"]["allocatable"]
    free = {
        "cpu": int(alloc["cpu"].removesuffix("m")),
        "memory": int(alloc["memory"][:-2]),
        "pods": int(alloc["pods"]),
        "gpu": int(alloc.get("nvidia.com/gpu", 0)),
    }
    pods = []
    for j in range(rng.randint(0, 2)):
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
        pods.append(
            pod_manifest(
                f"bound-{index}-{j}",
                node_name=node["metadata"]["name"],
                gpus=want["gpu"],
                requests={"cpu": f"{want['cpu']}m", "memory": f"{want['memory']}Mi"},
                tolerations=[{"operator": "Exists"}],
            )
        )
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


def apply_case(cluster: Cluster, case: RandomCase) -> None:
    """Make the cluster hold exactly the case's nodes and bound pods, as the scheduler sees it.
    A prediction made now (e.g. amldoctor's what-if) sees what the scheduler will see."""
    clear_cluster(cluster.kube)
    cluster.wait_scheduler_sees(nodes=0, pods=0)
    for node in case.nodes:
        cluster.create_node(node)
    for pod in case.bound_pods:
        cluster.create_pod(pod)
    cluster.wait_scheduler_sees(nodes=len(case.nodes), pods=len(case.bound_pods))


def decide(cluster: Cluster, case: RandomCase, timeout: float = 30) -> Verdict:
    """Create the pending pod of an applied case and wait for the scheduler's verdict."""
    cluster.create_pod(case.pending)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pod = cluster.get_pod(PENDING)
        if pod["spec"].get("nodeName"):
            return Verdict(node=pod["spec"]["nodeName"])
        for cond in pod["status"].get("conditions", []):
            if (cond["type"], cond["status"], cond.get("reason")) == (
                "PodScheduled",
                "False",
                "Unschedulable",
            ):
                return Verdict(node=None, message=cond.get("message", ""))
        time.sleep(0.1)
    raise AssertionError(f"scheduler gave no verdict within {timeout}s for seed {case.seed}")
