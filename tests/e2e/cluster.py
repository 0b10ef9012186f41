"""Per-test view of the shared control plane: one namespace, the Nodes and cluster-scoped
objects the test created, and helpers to write what kubelets and controllers would write.

Nodes are cluster-scoped and the scheduler sees all of them, so every Node a test creates carries
the `amldoctor.e2e/owner` label and is deleted when the test ends; scheduling scenarios take the
`scheduling_cluster` fixture, which also removes every other Node and pod first.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from harness import ControlPlane
from kube import ApiError, KubeClient
from objects import E2E_LABEL, GPU_TAINT, node_manifest, pod_manifest, rfc3339

RBAC = "/apis/rbac.authorization.k8s.io/v1"
# The installed CLI exactly as users run it: `main()` turns errors into one line and an exit code.
AMLDOCTOR = (sys.executable, "-c", "from amldoctor.cli import main; main()")
SYSTEM_NAMESPACES = {"default", "kube-system", "kube-public", "kube-node-lease"}


def run_amldoctor(
    *args: str,
    kubeconfig: Path | str | None = None,
    namespace: str | None = None,
    timeout: float = 120,
) -> subprocess.CompletedProcess:
    """Run the amldoctor CLI in a subprocess (`--kubeconfig`/`-n` go after the subcommand)."""
    command, *rest = args
    conn = [
        *(["--kubeconfig", str(kubeconfig)] if kubeconfig else []),
        *(["-n", namespace] if namespace else []),
    ]
    return subprocess.run(
        [*AMLDOCTOR, command, *conn, *rest], capture_output=True, text=True, timeout=timeout
    )


def amldoctor_json(*args: str, **kwargs: Any) -> dict:
    """Run amldoctor with `-o json` and parse stdout; exit 0 or 1 (findings), nothing else."""
    proc = run_amldoctor(*args, "-o", "json", **kwargs)
    assert proc.returncode in (0, 1), f"exit {proc.returncode}: {proc.stderr}"
    assert "Traceback" not in proc.stderr, proc.stderr
    return json.loads(proc.stdout)


def what_if(c: Cluster, manifest: dict[str, Any]) -> dict[str, Any]:
    """`why-pending -f -` on a manifest, against the cluster as the scheduler sees it now."""
    proc = subprocess.run(
        [
            *AMLDOCTOR,
            "why-pending",
            "--kubeconfig",
            str(c.control_plane.kubeconfig()),
            "-n",
            c.namespace,
            "-f",
            "-",
            "-o",
            "json",
            "--fail-on",
            "never",
        ],
        input=json.dumps(manifest),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


@dataclass
class SchedulingFailure:
    """What the real scheduler said about a pod it could not place."""

    condition_message: str  # status.conditions[PodScheduled].message
    event_message: str  # the FailedScheduling event's message
    event: dict[str, Any]  # the FailedScheduling event as core/v1 returns it


@dataclass
class Cluster:
    control_plane: ControlPlane
    namespace: str
    owner: str  # value of the amldoctor.e2e/owner label on cluster-scoped objects
    kube: KubeClient = field(init=False)
    _cluster_scoped: list[str] = field(default_factory=list)  # API paths to delete at the end

    def __post_init__(self) -> None:
        self.kube = self.control_plane.client()

    @property
    def ns_path(self) -> str:
        return f"/api/v1/namespaces/{self.namespace}"

    # -- nodes ---------------------------------------------------------------------------------

    def node(self, name: str, **kwargs: Any) -> dict[str, Any]:
        """Create a Node; keyword arguments as `objects.node_manifest` (cpu, memory, pods, gpus,
        gpu_product, labels, taints, unschedulable, ready, node_info)."""
        kwargs.setdefault("kubelet_version", self.control_plane.version or "v1.35.4")
        return self.create_node(node_manifest(name, owner=self.owner, **kwargs))

    def gpu_node(
        self,
        name: str,
        gpus: int = 1,
        *,
        product: str = "NVIDIA-A100-SXM4-80GB",
        tainted: bool = True,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """A GPU node as AKS GPU pools look: `nvidia.com/gpu` allocatable and usually tainted."""
        kwargs.setdefault("cpu", "24")
        kwargs.setdefault("memory", "220Gi")
        taints = [*kwargs.pop("taints", []), *([GPU_TAINT] if tainted else [])]
        return self.node(name, gpus=gpus, gpu_product=product, taints=taints, **kwargs)

    def create_node(self, manifest: dict[str, Any]) -> dict[str, Any]:
        """Create a Node from a full manifest, labelled as this test's."""
        meta = manifest["metadata"]
        labels = {**meta.get("labels", {}), E2E_LABEL: self.owner}
        manifest = {**manifest, "metadata": {**meta, "labels": labels}}
        created = self.kube.create("/api/v1/nodes", manifest)
        self._cluster_scoped.append(f"/api/v1/nodes/{manifest['metadata']['name']}")
        return created

    def cordon(self, name: str) -> dict[str, Any]:
        return self.kube.merge_patch(f"/api/v1/nodes/{name}", {"spec": {"unschedulable": True}})

    def patch_node_status(self, name: str, status: dict[str, Any]) -> dict[str, Any]:
        """Change conditions/allocatable later; a plain update would drop status changes."""
        return self.kube.merge_patch(f"/api/v1/nodes/{name}/status", {"status": status})

    # -- pods ----------------------------------------------------------------------------------

    def pod(self, name: str, **kwargs: Any) -> dict[str, Any]:
        """Create a Pod in this namespace; keyword arguments as `objects.pod_manifest`
        (requests, limits, gpus, node_name to pre-bind it, node_selector, affinity, ...)."""
        return self.create_pod(pod_manifest(name, **kwargs))

    def create_pod(self, manifest: dict[str, Any]) -> dict[str, Any]:
        return self.kube.create(f"{self.ns_path}/pods", manifest)

    def get_pod(self, name: str) -> dict[str, Any]:
        return self.kube.get(f"{self.ns_path}/pods/{name}")

    def set_pod_status(
        self,
        name: str,
        container_statuses: list[dict[str, Any]],
        *,
        phase: str = "Running",
        init_container_statuses: list[dict[str, Any]] | None = None,
        reason: str | None = None,
        message: str | None = None,
    ) -> dict[str, Any]:
        """Write status as a kubelet would (through the status subresource).

        Use the builders in `objects` (oom_killed_status, crash_loop_status, ...); container
        names must match the spec.
        """
        now = rfc3339()
        ready = all(c.get("ready") for c in container_statuses)
        status: dict[str, Any] = {
            "phase": phase,
            "startTime": rfc3339(datetime.now(UTC) - timedelta(minutes=10)),
            "hostIP": "10.1.0.4",
            "podIP": "10.244.1.17",
            "conditions": [
                {"type": "PodScheduled", "status": "True", "lastTransitionTime": now},
                {"type": "Initialized", "status": "True", "lastTransitionTime": now},
                {
                    "type": "ContainersReady",
                    "status": str(ready),
                    "lastTransitionTime": now,
                    **({} if ready else {"reason": "ContainersNotReady"}),
                },
                {
                    "type": "Ready",
                    "status": str(ready),
                    "lastTransitionTime": now,
                    **({} if ready else {"reason": "ContainersNotReady"}),
                },
            ],
            "containerStatuses": container_statuses,
        }
        if init_container_statuses is not None:
            status["initContainerStatuses"] = init_container_statuses
        if reason:
            status["reason"] = reason
        if message:
            status["message"] = message
        return self.kube.merge_patch(f"{self.ns_path}/pods/{name}/status", {"status": status})

    def delete_pod(self, name: str) -> None:
        self.kube.delete(f"{self.ns_path}/pods/{name}", gracePeriodSeconds=0)

    # -- events --------------------------------------------------------------------------------

    def event(
        self,
        obj: dict[str, Any],
        reason: str,
        message: str,
        *,
        type: str = "Warning",
        count: int = 1,
        first: datetime | None = None,
        last: datetime | None = None,
        component: str = "kubelet",
        host: str | None = None,
        field_path: str | None = None,
    ) -> dict[str, Any]:
        """A core/v1 Event as the kubelet's legacy recorder writes it: firstTimestamp,
        lastTimestamp and count set, eventTime null (the scheduler's events look the opposite)."""
        last = last or datetime.now(UTC)
        first = first or last - timedelta(seconds=30 * max(count - 1, 0))
        meta = obj["metadata"]
        host = host or obj.get("spec", {}).get("nodeName")
        involved = {
            "kind": obj.get("kind", "Pod"),
            "name": meta["name"],
            "uid": meta["uid"],
            "apiVersion": obj.get("apiVersion", "v1"),
            "resourceVersion": meta.get("resourceVersion", ""),
        }
        if meta.get("namespace"):
            involved["namespace"] = meta["namespace"]
        if field_path:
            involved["fieldPath"] = field_path
        namespace = meta.get("namespace") or "default"
        body = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": f"{meta['name']}.{uuid.uuid4().hex[:16]}", "namespace": namespace},
            "involvedObject": involved,
            "reason": reason,
            "message": message,
            "type": type,
            "count": count,
            "firstTimestamp": rfc3339(first),
            "lastTimestamp": rfc3339(last),
            "source": {"component": component, **({"host": host} if host else {})},
            "reportingComponent": component,
            "reportingInstance": host or "",
        }
        return self.kube.create(f"/api/v1/namespaces/{namespace}/events", body)

    def events_for(
        self, name: str, reason: str | None = None, kind: str = "Pod"
    ) -> list[dict[str, Any]]:
        selector = f"involvedObject.kind={kind},involvedObject.name={name}"
        if reason:
            selector += f",reason={reason}"
        return self.kube.list(f"{self.ns_path}/events", fieldSelector=selector)

    # -- storage -------------------------------------------------------------------------------

    def storage_class(
        self,
        name: str,
        *,
        provisioner: str = "disk.csi.azure.com",
        binding_mode: str = "WaitForFirstConsumer",
    ) -> dict[str, Any]:
        created = self.kube.create(
            "/apis/storage.k8s.io/v1/storageclasses",
            {
                "metadata": {"name": name, "labels": {E2E_LABEL: self.owner}},
                "provisioner": provisioner,
                "volumeBindingMode": binding_mode,
                "reclaimPolicy": "Delete",
            },
        )
        self._cluster_scoped.append(f"/apis/storage.k8s.io/v1/storageclasses/{name}")
        return created

    def pv(
        self,
        name: str,
        *,
        size: str = "100Gi",
        storage_class: str = "",
        node_hostname: str | None = None,
        claim: str | None = None,
        access_modes: tuple[str, ...] = ("ReadWriteOnce",),
    ) -> dict[str, Any]:
        """A PersistentVolume, optionally pinned to one node (node affinity on the hostname)
        and bound to a claim in this namespace (create the claim first to get its uid in)."""
        spec: dict[str, Any] = {
            "capacity": {"storage": size},
            "accessModes": list(access_modes),
            "storageClassName": storage_class,
            "persistentVolumeReclaimPolicy": "Retain",
            "csi": {"driver": "disk.csi.azure.com", "volumeHandle": name},
        }
        if node_hostname:
            spec["nodeAffinity"] = {
                "required": {
                    "nodeSelectorTerms": [
                        {
                            "matchExpressions": [
                                {
                                    "key": "kubernetes.io/hostname",
                                    "operator": "In",
                                    "values": [node_hostname],
                                }
                            ]
                        }
                    ]
                }
            }
        if claim:
            spec["claimRef"] = {
                "kind": "PersistentVolumeClaim",
                "namespace": self.namespace,
                "name": claim,
            }
            try:
                pvc = self.kube.get(f"{self.ns_path}/persistentvolumeclaims/{claim}")
                spec["claimRef"]["uid"] = pvc["metadata"]["uid"]
            except ApiError as err:
                if err.status != 404:
                    raise
        created = self.kube.create(
            "/api/v1/persistentvolumes",
            {"metadata": {"name": name, "labels": {E2E_LABEL: self.owner}}, "spec": spec},
        )
        self._cluster_scoped.append(f"/api/v1/persistentvolumes/{name}")
        if claim:
            self.kube.merge_patch(
                f"/api/v1/persistentvolumes/{name}/status", {"status": {"phase": "Bound"}}
            )
        return created

    def pvc(
        self,
        name: str,
        *,
        size: str = "100Gi",
        storage_class: str | None = None,
        volume_name: str | None = None,
        access_modes: tuple[str, ...] = ("ReadWriteOnce",),
    ) -> dict[str, Any]:
        """A claim; with `volume_name` it is marked Bound as the PV controller would (phase and
        the bind-completed annotation, which the scheduler's VolumeBinding plugin checks)."""
        spec: dict[str, Any] = {
            "accessModes": list(access_modes),
            "resources": {"requests": {"storage": size}},
        }
        meta: dict[str, Any] = {"name": name}
        if storage_class is not None:
            spec["storageClassName"] = storage_class
        if volume_name:
            spec["volumeName"] = volume_name
            meta["annotations"] = {
                "pv.kubernetes.io/bind-completed": "yes",
                "pv.kubernetes.io/bound-by-controller": "yes",
            }
        created = self.kube.create(
            f"{self.ns_path}/persistentvolumeclaims", {"metadata": meta, "spec": spec}
        )
        if volume_name:
            created = self.kube.merge_patch(
                f"{self.ns_path}/persistentvolumeclaims/{name}/status",
                {
                    "status": {
                        "phase": "Bound",
                        "accessModes": list(access_modes),
                        "capacity": {"storage": size},
                    }
                },
            )
        return created

    # -- scheduler -----------------------------------------------------------------------------

    def wait_unschedulable(self, name: str, timeout: float = 30) -> SchedulingFailure:
        """Wait until the scheduler marks the pod PodScheduled=False/Unschedulable and has
        written its FailedScheduling event; return both messages."""
        deadline = time.monotonic() + timeout
        condition = None
        while time.monotonic() < deadline:
            pod = self.get_pod(name)
            if pod["spec"].get("nodeName"):
                raise AssertionError(f"pod {name} was bound to {pod['spec']['nodeName']}")
            condition = next(
                (
                    c
                    for c in pod["status"].get("conditions", [])
                    if c["type"] == "PodScheduled"
                    and c["status"] == "False"
                    and c.get("reason") == "Unschedulable"
                ),
                None,
            )
            events = self.events_for(name, "FailedScheduling")
            if condition and events:
                event = max(
                    events, key=lambda e: e.get("eventTime") or e.get("lastTimestamp") or ""
                )
                return SchedulingFailure(
                    condition.get("message", ""), event.get("message", ""), event
                )
            time.sleep(0.2)
        raise AssertionError(
            f"pod {name} not marked Unschedulable within {timeout}s (condition: {condition})"
        )

    def wait_bound(self, name: str, timeout: float = 30) -> str:
        """Wait until the scheduler binds the pod; return the node name."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            node = self.get_pod(name)["spec"].get("nodeName")
            if node:
                return node
            time.sleep(0.2)
        raise AssertionError(f"pod {name} not bound within {timeout}s")

    def nudge_scheduler(self, node_name: str) -> None:
        """Make the scheduler retry its unschedulable pods: it requeues them when a pod bound to
        a node is deleted (adding a node that cannot help does not, thanks to queueing hints)."""
        name = f"nudge-{uuid.uuid4().hex[:8]}"
        self.pod(name, node_name=node_name, requests={"cpu": "1m"})
        self.delete_pod(name)

    def wait_scheduler_sees(self, nodes: int, pods: int, timeout: float = 15) -> None:
        """Wait until the scheduler's cache holds exactly this many nodes and bound pods, so a
        pod created next is judged against the cluster the test built (the cache metric is
        refreshed about once a second)."""
        deadline = time.monotonic() + timeout
        sizes: dict[str, float] = {}
        while time.monotonic() < deadline:
            sizes = self.control_plane.scheduler_cache()
            if sizes.get("nodes") == nodes and sizes.get("pods") == pods:
                return
            time.sleep(0.2)
        raise AssertionError(f"scheduler cache {sizes}, expected {nodes} nodes and {pods} pods")

    # -- RBAC ----------------------------------------------------------------------------------

    def grant(self, user: str, rules: list[dict[str, Any]] | None = None) -> None:
        """Let `user` read this namespace (the namespace-reader role), or give it `rules` here."""
        if rules is None:
            self.control_plane.grant_namespace(user, self.namespace)
        else:
            self.control_plane.grant(user, rules, namespace=self.namespace)

    # -- cleanup -------------------------------------------------------------------------------

    def cleanup(self) -> None:
        """Delete this test's pods and cluster-scoped objects (namespaces cannot be deleted:
        no namespace controller runs)."""
        self.kube.delete(f"{self.ns_path}/pods", gracePeriodSeconds=0)
        for path in reversed(self._cluster_scoped):
            force_delete(self.kube, path)


def force_delete(kube: KubeClient, path: str) -> None:
    """Delete an object, dropping finalizers first: the StorageObjectInUseProtection admission
    plugin puts protection finalizers on PVs and PVCs, and no controller runs to remove them."""
    try:
        kube.merge_patch(path, {"metadata": {"finalizers": None}})
    except ApiError as err:
        if err.status != 404:
            raise
    kube.delete(path)


def create_namespace(kube: KubeClient, name: str) -> None:
    kube.create("/api/v1/namespaces", {"metadata": {"name": name, "labels": {E2E_LABEL: name}}})


def clear_cluster(kube: KubeClient) -> None:
    """Delete every Node, PV and every pod outside the system namespaces, so a scheduling
    scenario controls the whole node set and no leftover pending pod can take its capacity."""
    kube.delete("/api/v1/nodes")
    for pv in kube.list("/api/v1/persistentvolumes"):
        force_delete(kube, f"/api/v1/persistentvolumes/{pv['metadata']['name']}")
    for ns in kube.list("/api/v1/namespaces"):
        name = ns["metadata"]["name"]
        if name not in SYSTEM_NAMESPACES:
            try:
                kube.delete(f"/api/v1/namespaces/{name}/pods", gracePeriodSeconds=0)
            except ApiError as err:
                if err.status != 404:
                    raise
