"""DRA objects for e2e scenarios: DeviceClasses, ResourceSlices, ResourceClaims, claim pods.

No DRA driver runs: the test publishes ResourceSlices itself for a made-up driver
(`gpu.e2e.amldoctor.io`), which is all the scheduler needs to allocate devices and bind a pod
(it writes the allocation into the claim's status; no kubelet ever prepares the devices).
"""

from __future__ import annotations

from typing import Any

from cluster import force_delete
from kube import ApiError, KubeClient

DRIVER = "gpu.e2e.amldoctor.io"
API = "/apis/resource.k8s.io/v1"
GPU_CLASS = "e2e-gpu"


def device_class(name: str, selectors: list[str] | None = None) -> dict[str, Any]:
    """A class for the e2e driver's devices, plus any further CEL selectors."""
    exprs = [f'device.driver == "{DRIVER}"', *(selectors or [])]
    return {
        "apiVersion": "resource.k8s.io/v1",
        "kind": "DeviceClass",
        "metadata": {"name": name},
        "spec": {"selectors": [{"cel": {"expression": e}} for e in exprs]},
    }


def gpu_device(name: str, model: str = "A100", memory_gi: int = 80) -> dict[str, Any]:
    return {
        "name": name,
        "attributes": {"model": {"string": model}, "index": {"int": int(name.split("-")[-1])}},
        "capacity": {"memory": {"value": f"{memory_gi}Gi"}},
    }


def node_slice(
    node: str, devices: list[dict[str, Any]], *, pool: str | None = None, generation: int = 1
) -> dict[str, Any]:
    """A node-local ResourceSlice: one pool per node, one slice per pool."""
    return {
        "apiVersion": "resource.k8s.io/v1",
        "kind": "ResourceSlice",
        "metadata": {"name": f"{node}-{DRIVER.split('.')[0]}-{pool or node}"},
        "spec": {
            "driver": DRIVER,
            "pool": {"name": pool or node, "generation": generation, "resourceSliceCount": 1},
            "nodeName": node,
            "devices": devices,
        },
    }


def claim(
    name: str,
    *,
    count: int = 1,
    device_class_name: str = GPU_CLASS,
    selectors: list[str] | None = None,
    mode: str = "ExactCount",
    request: str = "gpu",
) -> dict[str, Any]:
    exactly: dict[str, Any] = {"deviceClassName": device_class_name, "allocationMode": mode}
    if mode == "ExactCount":
        exactly["count"] = count
    if selectors:
        exactly["selectors"] = [{"cel": {"expression": e}} for e in selectors]
    return {
        "apiVersion": "resource.k8s.io/v1",
        "kind": "ResourceClaim",
        "metadata": {"name": name},
        "spec": {"devices": {"requests": [{"name": request, "exactly": exactly}]}},
    }


def claim_pod(
    manifest: dict[str, Any], claims: dict[str, str], templates: dict[str, str] | None = None
) -> dict[str, Any]:
    """`manifest` with pod resourceClaims: entry name -> claim name (or -> template name)."""
    entries = [{"name": k, "resourceClaimName": v} for k, v in claims.items()]
    entries += [{"name": k, "resourceClaimTemplateName": v} for k, v in (templates or {}).items()]
    manifest["spec"]["resourceClaims"] = entries
    for c in manifest["spec"]["containers"]:
        c.setdefault("resources", {})["claims"] = [{"name": e["name"]} for e in entries]
    return manifest


def create(kube: KubeClient, obj: dict[str, Any], namespace: str | None = None) -> dict[str, Any]:
    plural = {
        "DeviceClass": "deviceclasses",
        "ResourceSlice": "resourceslices",
        "ResourceClaim": "resourceclaims",
        "ResourceClaimTemplate": "resourceclaimtemplates",
    }[obj["kind"]]
    path = f"{API}/namespaces/{namespace}/{plural}" if namespace else f"{API}/{plural}"
    return kube.create(path, obj)


def serves_dra(kube: KubeClient) -> bool:
    try:
        kube.get(f"{API}/deviceclasses")
    except ApiError:
        return False
    return True


def clear_dra(kube: KubeClient) -> None:
    """Delete every ResourceSlice, DeviceClass and ResourceClaim (claims the scheduler allocated
    carry a delete-protection finalizer that no controller removes here)."""
    for plural in ("resourceslices", "deviceclasses"):
        kube.delete(f"{API}/{plural}")
    for c in kube.list(f"{API}/resourceclaims"):
        meta = c["metadata"]
        force_delete(kube, f"{API}/namespaces/{meta['namespace']}/resourceclaims/{meta['name']}")
