"""Builders for the objects e2e scenarios write: Nodes with status, Pods, container statuses.

They return plain dicts so a scenario can adjust any field before creating it. Everything a
kubelet would report is written by the test, since no kubelet runs.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

E2E_LABEL = "amldoctor.e2e/owner"
DEFAULT_IMAGE = "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04:latest"
GPU_TAINT = {"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}


def rfc3339(when: datetime | None = None) -> str:
    return (when or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")


def node_manifest(
    name: str,
    *,
    cpu: str = "8",
    memory: str = "32Gi",
    pods: str = "110",
    gpus: int = 0,
    gpu_product: str | None = None,
    labels: dict[str, str] | None = None,
    taints: list[dict[str, str]] | None = None,
    unschedulable: bool = False,
    ready: bool = True,
    node_info: bool = True,
    kubelet_version: str = "v1.35.4",
    owner: str | None = None,
) -> dict[str, Any]:
    """A Node as a kubelet registers it: status is allowed on create for Nodes only.

    `allocatable.pods` is always set (without it every pod gets "Too many pods"); `nodeInfo` is
    either complete or absent, because the official Python client rejects a partial one.
    """
    now = rfc3339()
    resources = {"cpu": cpu, "memory": memory, "pods": pods, "ephemeral-storage": "100Gi"}
    if gpus:
        resources["nvidia.com/gpu"] = str(gpus)
    all_labels = {
        "kubernetes.io/hostname": name,
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        **({"nvidia.com/gpu.product": gpu_product} if gpu_product else {}),
        **({E2E_LABEL: owner} if owner else {}),
        **(labels or {}),
    }

    def condition(kind: str, status: str, reason: str, message: str) -> dict[str, str]:
        return {
            "type": kind,
            "status": status,
            "reason": reason,
            "message": message,
            "lastHeartbeatTime": now,
            "lastTransitionTime": now,
        }

    status: dict[str, Any] = {
        "capacity": dict(resources),
        "allocatable": dict(resources),
        "conditions": [
            condition(
                "MemoryPressure",
                "False",
                "KubeletHasSufficientMemory",
                "kubelet has sufficient memory available",
            ),
            condition(
                "DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"
            ),
            condition(
                "PIDPressure",
                "False",
                "KubeletHasSufficientPID",
                "kubelet has sufficient PID available",
            ),
            condition("Ready", "True", "KubeletReady", "kubelet is posting ready status")
            if ready
            else condition(
                "Ready", "Unknown", "NodeStatusUnknown", "Kubelet stopped posting node status."
            ),
        ],
        "addresses": [{"type": "Hostname", "address": name}],
        "phase": "Running",
    }
    if node_info:
        # IDs derived from the name keep generated clusters reproducible from their seed.
        node_id = uuid.uuid5(uuid.NAMESPACE_DNS, name)
        status["nodeInfo"] = {
            "architecture": "amd64",
            "bootID": str(node_id),
            "containerRuntimeVersion": "containerd://1.7.27",
            "kernelVersion": "5.15.0-1089-azure",
            "kubeProxyVersion": "",
            "kubeletVersion": kubelet_version,
            "machineID": node_id.hex,
            "operatingSystem": "linux",
            "osImage": "Ubuntu 22.04.5 LTS",
            "systemUUID": str(node_id),
        }
    spec: dict[str, Any] = {}
    if taints:
        spec["taints"] = taints
    if unschedulable:
        spec["unschedulable"] = True
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": all_labels},
        "spec": spec,
        "status": status,
    }


def pod_manifest(
    name: str,
    *,
    containers: list[dict[str, Any]] | None = None,
    requests: dict[str, str] | None = None,
    limits: dict[str, str] | None = None,
    gpus: int = 0,
    node_name: str | None = None,
    node_selector: dict[str, str] | None = None,
    affinity: dict[str, Any] | None = None,
    tolerations: list[dict[str, Any]] | None = None,
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
    pvc: str | None = None,
    owner: dict[str, Any] | None = None,
    priority_class_name: str | None = None,
    service_account: str | None = None,
    image: str = DEFAULT_IMAGE,
) -> dict[str, Any]:
    """A Pod with one container named `trainer` unless `containers` is given.

    `gpus` goes into limits (requests default to limits for extended resources). `pvc` mounts a
    claim as volume `data`. `owner` is an ownerReference dict (kind, name, uid, apiVersion).
    """
    if containers is None:
        resources: dict[str, Any] = {}
        lim = dict(limits or {})
        if gpus:
            lim["nvidia.com/gpu"] = str(gpus)
        if requests:
            resources["requests"] = dict(requests)
        if lim:
            resources["limits"] = lim
        container: dict[str, Any] = {"name": "trainer", "image": image, "resources": resources}
        if pvc:
            container["volumeMounts"] = [{"name": "data", "mountPath": "/data"}]
        containers = [container]
    spec: dict[str, Any] = {
        "containers": containers,
        "restartPolicy": "Always",
        "terminationGracePeriodSeconds": 0,
    }
    for key, value in (
        ("nodeName", node_name),
        ("nodeSelector", node_selector),
        ("affinity", affinity),
        ("tolerations", tolerations),
        ("priorityClassName", priority_class_name),
        ("serviceAccountName", service_account),
    ):
        if value:
            spec[key] = value
    if pvc:
        spec["volumes"] = [{"name": "data", "persistentVolumeClaim": {"claimName": pvc}}]
    meta: dict[str, Any] = {"name": name, "labels": labels or {}}
    if annotations:
        meta["annotations"] = annotations
    if owner:
        meta["ownerReferences"] = [{"controller": True, "blockOwnerDeletion": True, **owner}]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}


# -- container statuses, as the kubelet would write them --------------------------------------


def _status(
    name: str,
    image: str,
    *,
    state: dict[str, Any],
    last_state: dict[str, Any] | None,
    restarts: int,
    ready: bool = False,
) -> dict[str, Any]:
    return {
        "name": name,
        "image": image,
        "imageID": "",
        "ready": ready,
        "started": ready,
        "restartCount": restarts,
        "state": state,
        "lastState": last_state or {},
    }


def _terminated(reason: str, exit_code: int, finished: datetime, ran: timedelta) -> dict[str, Any]:
    return {
        "terminated": {
            "reason": reason,
            "exitCode": exit_code,
            "startedAt": rfc3339(finished - ran),
            "finishedAt": rfc3339(finished),
        }
    }


def running_status(
    name: str = "trainer",
    image: str = DEFAULT_IMAGE,
    *,
    restarts: int = 0,
    since: datetime | None = None,
) -> dict[str, Any]:
    return _status(
        name,
        image,
        state={"running": {"startedAt": rfc3339(since)}},
        last_state=None,
        restarts=restarts,
        ready=True,
    )


def oom_killed_status(
    name: str = "trainer",
    image: str = DEFAULT_IMAGE,
    *,
    restarts: int = 3,
    crash_looping: bool = True,
    when: datetime | None = None,
) -> dict[str, Any]:
    """Last run ended OOMKilled (exit 137); now waiting in CrashLoopBackOff (or running again)."""
    finished = when or datetime.now(UTC) - timedelta(seconds=30)
    last = _terminated("OOMKilled", 137, finished, timedelta(minutes=4))
    state = (
        {
            "waiting": {
                "reason": "CrashLoopBackOff",
                "message": f"back-off 2m40s restarting failed container={name} "
                f"pod=_({uuid.uuid4()})",
            }
        }
        if crash_looping
        else {"running": {"startedAt": rfc3339(finished)}}
    )
    return _status(name, image, state=state, last_state=last, restarts=restarts)


def crash_loop_status(
    name: str = "trainer",
    image: str = DEFAULT_IMAGE,
    *,
    restarts: int = 5,
    exit_code: int = 1,
    reason: str = "Error",
    when: datetime | None = None,
) -> dict[str, Any]:
    """Waiting in CrashLoopBackOff after a non-OOM exit."""
    finished = when or datetime.now(UTC) - timedelta(seconds=20)
    return _status(
        name,
        image,
        state={
            "waiting": {
                "reason": "CrashLoopBackOff",
                "message": f"back-off 5m0s restarting failed container={name}",
            }
        },
        last_state=_terminated(reason, exit_code, finished, timedelta(seconds=12)),
        restarts=restarts,
    )


def image_pull_backoff_status(
    name: str = "trainer", image: str = DEFAULT_IMAGE, *, message: str | None = None
) -> dict[str, Any]:
    message = message or (
        f'Back-off pulling image "{image}": ErrImagePull: failed to pull and '
        f'unpack image "{image}": 401 Unauthorized'
    )
    return _status(
        name,
        image,
        state={"waiting": {"reason": "ImagePullBackOff", "message": message}},
        last_state=None,
        restarts=0,
    )


def create_config_error_status(
    name: str = "trainer",
    image: str = DEFAULT_IMAGE,
    *,
    message: str = 'secret "azureml-secrets" not found',
) -> dict[str, Any]:
    return _status(
        name,
        image,
        state={"waiting": {"reason": "CreateContainerConfigError", "message": message}},
        last_state=None,
        restarts=0,
    )
