"""Admission variants for the random differential cases: what the API server changes (or
refuses) in the pending pod before the scheduler sees it.

`vary(case)` draws, from its own seeded stream (the base case stays as `generate` made it),
some of: a globalDefault PriorityClass the pending pod falls back to, a PriorityClass with
`preemptionPolicy: Never`, a RuntimeClass with overhead and scheduling (nodeSelector,
tolerations) or a missing one, a LimitRange whose container defaults fill requests the pending
pod leaves out, not-ready/unreachable NoExecute taints that only DefaultTolerationSeconds makes
tolerable, and a ResourceQuota sized around what the pod asks (usage written into its status,
as the quota controller would compute it from the bound pods). Each adds a feature name
(`adm-...`) so agreement is reported per feature.

`apply(cluster, setup)` creates the objects after the case's nodes and bound pods exist and
before the pending pod; `clear(cluster)` removes them (cluster-scoped ones included: a
globalDefault PriorityClass left behind would change every later pod's priority).
AMLDOCTOR_E2E_ADMISSION sets the share of cases that get variants (default 0.3).
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass, field
from typing import Any

RATE = float(os.environ.get("AMLDOCTOR_E2E_ADMISSION", "0.3"))
LABEL = "amldoctor.e2e/admission-variant"
SANDBOX = "amldoctor.e2e/sandbox"  # a node label only RuntimeClass scheduling asks for
NOT_READY = "node.kubernetes.io/not-ready"
UNREACHABLE = "node.kubernetes.io/unreachable"
PRIORITY_PATH = "/apis/scheduling.k8s.io/v1/priorityclasses"
RUNTIME_PATH = "/apis/node.k8s.io/v1/runtimeclasses"


@dataclass
class AdmissionSetup:
    """Objects to create for one case, in creation order (cluster-scoped ones first)."""

    priority_classes: list[dict[str, Any]] = field(default_factory=list)
    runtime_classes: list[dict[str, Any]] = field(default_factory=list)
    limit_ranges: list[dict[str, Any]] = field(default_factory=list)
    quotas: list[dict[str, Any]] = field(default_factory=list)  # with the status to write

    def describe(self) -> dict[str, Any]:
        return {
            "priority_classes": self.priority_classes,
            "runtime_classes": self.runtime_classes,
            "limit_ranges": self.limit_ranges,
            "quotas": self.quotas,
        }


def vary(case: Any) -> AdmissionSetup | None:
    """Add admission variants to `case` (in place) for a share of seeds; the objects to create."""
    rng = random.Random(f"admission-{case.seed}")
    if rng.random() >= RATE:
        return None
    setup = AdmissionSetup()
    spec = case.pending["spec"]
    draws = [
        (0.3, _global_default),
        (0.2, _never_preempt),
        (0.35, _runtime_class),
        (0.35, _limit_range),
        (0.3, _not_ready_taints),
        (0.35, _quota),
    ]
    for chance, variant in draws:
        if rng.random() < chance:
            variant(rng, case, setup)
    if not setup.describe() and not any(f.startswith("adm-") for f in case.features):
        _limit_range(rng, case, setup)  # every drawn case varies in at least one way
    spec.setdefault("containers", [])
    return setup


def _labels() -> dict[str, str]:
    return {LABEL: "yes"}


# --- Priority -----------------------------------------------------------------------------------


def _global_default(rng: random.Random, case: Any, setup: AdmissionSetup) -> None:
    """The pending pod names no class and gets the globalDefault one (maybe Never preempting)."""
    value = rng.choice([5, 50, 500, 5000])
    pc: dict[str, Any] = {
        "metadata": {"name": "amld-adm-default", "labels": _labels()},
        "value": value,
        "globalDefault": True,
    }
    if rng.random() < 0.3:
        pc["preemptionPolicy"] = "Never"
    setup.priority_classes.append(pc)
    case.pending["spec"].pop("priorityClassName", None)
    case.features.add("adm-priority-default")


def _never_preempt(rng: random.Random, case: Any, setup: AdmissionSetup) -> None:
    """A high class that may not preempt: the scheduler says so instead of evicting."""
    if "adm-priority-default" in case.features:
        return
    name = "amld-adm-never"
    setup.priority_classes.append(
        {
            "metadata": {"name": name, "labels": _labels()},
            "value": rng.choice([100, 1000, 100000]),
            "preemptionPolicy": "Never",
        }
    )
    case.pending["spec"]["priorityClassName"] = name
    case.features.add("adm-preempt-never")


# --- RuntimeClass -------------------------------------------------------------------------------


def _runtime_class(rng: random.Random, case: Any, setup: AdmissionSetup) -> None:
    """Overhead that can tip the fit, and scheduling that adds a selector and tolerations."""
    spec = case.pending["spec"]
    if rng.random() < 0.1:
        spec["runtimeClassName"] = "amld-adm-missing"  # refused: no such RuntimeClass
        case.features.add("adm-runtimeclass-missing")
        return
    rc: dict[str, Any] = {
        "metadata": {"name": "amld-adm-sandbox", "labels": _labels()},
        "handler": "kata",
        "overhead": {
            "podFixed": {
                "cpu": rng.choice(["250m", "1", "2500m"]),
                "memory": rng.choice(["128Mi", "1Gi", "4Gi"]),
            }
        },
    }
    scheduling: dict[str, Any] = {}
    if rng.random() < 0.5:
        value = rng.choice(["kata", "gvisor"])
        scheduling["nodeSelector"] = {SANDBOX: value}
        for node in case.nodes:
            if rng.random() < 0.6:
                node["metadata"].setdefault("labels", {})[SANDBOX] = rng.choice(["kata", "gvisor"])
        if rng.random() < 0.15:
            spec.setdefault("nodeSelector", {})[SANDBOX] = "other"  # refused: a conflict
            case.features.add("adm-runtimeclass-conflict")
    if rng.random() < 0.5:
        scheduling["tolerations"] = [
            {"key": "sku", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"},
            {"key": "nvidia.com/gpu", "operator": "Exists"},
        ]
    if scheduling:
        rc["scheduling"] = scheduling
    setup.runtime_classes.append(rc)
    spec["runtimeClassName"] = rc["metadata"]["name"]
    case.features.add("adm-runtimeclass")


# --- LimitRange ---------------------------------------------------------------------------------


def _limit_range(rng: random.Random, case: Any, setup: AdmissionSetup) -> None:
    """Container defaults for what the pending pod leaves out (dropped here on purpose)."""
    container = case.pending["spec"]["containers"][0]
    resources = container.setdefault("resources", {})
    requests = resources.setdefault("requests", {})
    dropped = [name for name in ("cpu", "memory") if name in requests and rng.random() < 0.6]
    for name in dropped:
        del requests[name]
    item: dict[str, Any] = {
        "type": "Container",
        "defaultRequest": {
            "cpu": rng.choice(["100m", "2", "6", "12"]),
            "memory": rng.choice(["256Mi", "8Gi", "48Gi"]),
        },
    }
    if rng.random() < 0.5:
        item["default"] = {"cpu": "16", "memory": "64Gi"}  # limits; requests stay the defaults
    setup.limit_ranges.append(
        {"metadata": {"name": "amld-adm-defaults", "labels": _labels()}, "spec": {"limits": [item]}}
    )
    case.features.add("adm-limitrange")


# --- DefaultTolerationSeconds -------------------------------------------------------------------


def _not_ready_taints(rng: random.Random, case: Any, setup: AdmissionSetup) -> None:
    """NoExecute not-ready/unreachable taints: tolerated only through the tolerations the
    DefaultTolerationSeconds plugin adds; a NoSchedule one is not tolerated by them."""
    for node in case.nodes:
        if rng.random() < 0.5:
            key = rng.choice([NOT_READY, UNREACHABLE])
            effect = "NoExecute" if rng.random() < 0.8 else "NoSchedule"
            node["spec"].setdefault("taints", []).append({"key": key, "effect": effect})
    case.features.add("adm-default-tolerations")


# --- ResourceQuota ------------------------------------------------------------------------------


def _quota(rng: random.Random, case: Any, setup: AdmissionSetup) -> None:
    """A quota whose `hard` sits around used + what the pod asks, so it refuses about half."""
    if case.preemptor is not None:
        return  # victims terminating would still count in the real usage: keep it exact
    used = _bound_usage(case.bound_pods)
    hard: dict[str, str] = {}
    keys = rng.sample(
        ["pods", "requests.cpu", "requests.memory", "limits.memory", "requests.nvidia.com/gpu"],
        rng.randint(1, 3),
    )
    for key in keys:
        have = used[key]
        unit = {"pods": 1, "requests.cpu": 1000, "requests.nvidia.com/gpu": 1}.get(key, 4096)
        cap = have + rng.choice([0, 0, 1, 2, 8]) * unit
        hard[key] = _text(key, cap)
    setup.quotas.append(
        {
            "metadata": {"name": "amld-adm-quota", "labels": _labels()},
            "spec": {"hard": hard},
            "status": {"hard": hard, "used": {k: _text(k, used[k]) for k in hard}},
        }
    )
    case.features.add("adm-quota")


def _bound_usage(pods: list[dict[str, Any]]) -> dict[str, int]:
    """cpu in milli, memory in Mi, GPUs and pods as counts: what the bound pods use."""
    used = {k: 0 for k in ("pods", "requests.cpu", "requests.memory", "limits.memory")}
    used["requests.nvidia.com/gpu"] = 0
    for pod in pods:
        used["pods"] += 1
        for c in pod["spec"]["containers"]:
            res = c.get("resources", {})
            req, lim = res.get("requests", {}), res.get("limits", {})
            used["requests.cpu"] += int(req.get("cpu", "0m").removesuffix("m"))
            used["requests.memory"] += int(req.get("memory", "0Mi").removesuffix("Mi"))
            used["limits.memory"] += int(lim.get("memory", "0Mi").removesuffix("Mi"))
            gpus = int(lim.get("nvidia.com/gpu", req.get("nvidia.com/gpu", "0")))
            used["requests.nvidia.com/gpu"] += gpus
    return used


def _text(key: str, amount: int) -> str:
    if key == "requests.cpu":
        return f"{amount}m"
    if key.endswith("memory"):
        return f"{amount}Mi"
    return str(amount)


# --- on the control plane -----------------------------------------------------------------------


def apply(cluster: Any, setup: AdmissionSetup) -> None:
    """Create the objects (after nodes and bound pods, before the pending pod)."""
    for pc in setup.priority_classes:
        cluster.kube.create(PRIORITY_PATH, pc)
    for rc in setup.runtime_classes:
        cluster.kube.create(RUNTIME_PATH, rc)
    for lr in setup.limit_ranges:
        cluster.kube.create(f"{cluster.ns_path}/limitranges", lr)
    for quota in setup.quotas:
        path = f"{cluster.ns_path}/resourcequotas"
        cluster.kube.create(path, {k: v for k, v in quota.items() if k != "status"})
        cluster.kube.merge_patch(
            f"{path}/{quota['metadata']['name']}/status", {"status": quota["status"]}
        )


def clear(cluster: Any) -> None:
    """Remove every variant object: the namespace's, and the cluster-scoped classes."""
    cluster.kube.delete(f"{cluster.ns_path}/limitranges")
    cluster.kube.delete(f"{cluster.ns_path}/resourcequotas")
    for path in (PRIORITY_PATH, RUNTIME_PATH):
        cluster.kube.delete(path, labelSelector=LABEL)
