"""DRA variants for the random clusters of `randomcluster`: devices, classes and claims.

About half the cases get DRA. Some nodes publish a ResourceSlice with 0-4 devices of the e2e
driver (model A100 or H100, 40 or 80 GiB); sometimes a network-attached pool reaches the nodes
of one agent pool through a nodeSelector. Two DeviceClasses exist: every device of the driver,
and only 80 GiB ones (a capacity selector). The pending pod asks for 1-2 claims with counts of
1-3 (sometimes `All`), sometimes with a model selector, sometimes through a
ResourceClaimTemplate (the test acts as the resourceclaim controller once the pod exists), and
sometimes a claim is pre-allocated to devices on a node for a bound pod, taking its devices.

`features` names what a case drew (dra, dra-count, dra-selector, dra-template, dra-allocated,
dra-all, dra-network, dra-capacity) so agreement is reported per feature.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from cluster import Cluster
from dra import API, DRIVER, claim, clear_dra, create, device_class, gpu_device, node_slice

CLASSES = ("e2e-gpu", "e2e-gpu-80g")
BIG = f'device.capacity["{DRIVER}"].memory.compareTo(quantity("80Gi")) >= 0'
MODELS = ("A100", "H100")


@dataclass
class DraCase:
    slices: list[dict[str, Any]] = field(default_factory=list)
    claims: list[dict[str, Any]] = field(default_factory=list)  # created before the pod
    templates: list[dict[str, Any]] = field(default_factory=list)
    generated: dict[str, str] = field(default_factory=dict)  # pod entry -> template name
    # claim name -> (node, [device names], bound pod that reserves it)
    allocations: dict[str, tuple[str, list[str], str | None]] = field(default_factory=dict)


def add_dra(seed: int, nodes: list[dict], bound: list[dict], pending: dict, features: set) -> Any:
    """Maybe give the case DRA objects; its own random stream keeps other features stable."""
    rng = random.Random(f"dra-{seed}")
    if rng.random() >= 0.5:
        return None
    features.add("dra")
    case = DraCase()
    devices: dict[str, list[dict[str, Any]]] = {}
    for node in nodes:
        name = node["metadata"]["name"]
        if rng.random() < 0.8:
            devs = [
                gpu_device(f"gpu-{i}", rng.choice(MODELS), rng.choice([40, 80]))
                for i in range(rng.choice([0, 1, 2, 2, 3, 4]))
            ]
            devices[name] = devs
            case.slices.append(node_slice(name, devs))
    if rng.random() < 0.2:
        features.add("dra-network")
        pool = rng.choice(["cpu", "gpu", "spot"])
        shared = node_slice("shared", [gpu_device(f"net-{i}", "A100", 80) for i in range(2)])
        spec = shared["spec"]
        del spec["nodeName"]
        spec["nodeSelector"] = {
            "nodeSelectorTerms": [
                {"matchExpressions": [{"key": "agentpool", "operator": "In", "values": [pool]}]}
            ]
        }
        case.slices.append(shared)

    entries: dict[str, str] = {}
    for k in range(rng.choice([1, 1, 1, 2])):
        cls = rng.choice(CLASSES)
        if cls == CLASSES[1]:
            features.add("dra-capacity")
        selectors = None
        if rng.random() < 0.3:
            features.add("dra-selector")
            selectors = [f'device.attributes["{DRIVER}"].model == "{rng.choice(MODELS)}"']
        mode = "ExactCount"
        count = rng.choice([1, 1, 1, 2, 3])
        if count > 1:
            features.add("dra-count")
        if rng.random() < 0.1:
            features.add("dra-all")
            mode = "All"
        made = claim(f"pc{k}", count=count, device_class_name=cls, selectors=selectors, mode=mode)
        if rng.random() < 0.3:
            features.add("dra-template")
            template = {
                "apiVersion": "resource.k8s.io/v1",
                "kind": "ResourceClaimTemplate",
                "metadata": {"name": f"tmpl{k}"},
                "spec": {"spec": made["spec"]},
            }
            case.templates.append(template)
            case.generated[f"e{k}"] = f"tmpl{k}"
        else:
            case.claims.append(made)
            entries[f"e{k}"] = made["metadata"]["name"]

    with_devices = [n for n, d in devices.items() if d]
    if with_devices and rng.random() < 0.35:
        features.add("dra-allocated")
        node = rng.choice(with_devices)
        taken = [d["name"] for d in devices[node][: rng.randint(1, len(devices[node]))]]
        holder = next((p["metadata"]["name"] for p in bound if p["spec"]["nodeName"] == node), None)
        held = claim("held", count=len(taken))
        case.claims.append(held)
        case.allocations["held"] = (node, taken, holder)
        if holder and rng.random() < 0.3:
            entries["shared"] = "held"  # the pending pod shares an allocated claim

    spec = pending["spec"]
    spec["resourceClaims"] = [{"name": k, "resourceClaimName": v} for k, v in entries.items()]
    spec["resourceClaims"] += [
        {"name": k, "resourceClaimTemplateName": v} for k, v in case.generated.items()
    ]
    spec["containers"][0].setdefault("resources", {})["claims"] = [
        {"name": e["name"]} for e in spec["resourceClaims"]
    ]
    return case


def apply_dra(c: Cluster, case: DraCase | None) -> None:
    """Create the case's classes, slices and claims (with pre-allocations), after its nodes and
    bound pods exist. Classes are recreated every case: `clear_dra` removes them."""
    clear_dra(c.kube)
    c.kube.delete(f"{API}/namespaces/{c.namespace}/resourceclaimtemplates")
    if case is None:
        return
    create(c.kube, device_class(CLASSES[0]))
    create(c.kube, device_class(CLASSES[1], [BIG]))
    for s in case.slices:
        create(c.kube, s)
    for t in case.templates:
        create(c.kube, t, c.namespace)
    for cl in case.claims:
        create(c.kube, cl, c.namespace)
    for name, (node, devices, holder) in case.allocations.items():
        status: dict[str, Any] = {
            "allocation": {
                "devices": {
                    "results": [
                        {"request": "gpu", "driver": DRIVER, "pool": node, "device": d}
                        for d in devices
                    ]
                },
                "nodeSelector": {
                    "nodeSelectorTerms": [
                        {
                            "matchFields": [
                                {"key": "metadata.name", "operator": "In", "values": [node]}
                            ]
                        }
                    ]
                },
            }
        }
        if holder:
            uid = c.get_pod(holder)["metadata"]["uid"]
            status["reservedFor"] = [{"resource": "pods", "name": holder, "uid": uid}]
        path = f"{API}/namespaces/{c.namespace}/resourceclaims/{name}/status"
        c.kube.merge_patch(path, {"status": status})


def after_pending_created(c: Cluster, case: DraCase | None, pod_name: str) -> None:
    """Act as the resourceclaim controller: a claim per template entry, owned by the pod, and
    the pod's status naming it (until then the scheduler does not try the pod)."""
    if case is None or not case.generated:
        return
    pod = c.get_pod(pod_name)
    owner = {
        "apiVersion": "v1",
        "kind": "Pod",
        "name": pod_name,
        "uid": pod["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }
    statuses = []
    templates = {t["metadata"]["name"]: t for t in case.templates}
    for entry, template in case.generated.items():
        name = f"{pod_name}-{entry}-gen"
        made = {
            "apiVersion": "resource.k8s.io/v1",
            "kind": "ResourceClaim",
            "metadata": {"name": name, "ownerReferences": [owner]},
            "spec": templates[template]["spec"]["spec"],
        }
        create(c.kube, made, c.namespace)
        statuses.append({"name": entry, "resourceClaimName": name})
    c.kube.merge_patch(
        f"{c.ns_path}/pods/{pod_name}/status", {"status": {"resourceClaimStatuses": statuses}}
    )
