"""Synthetic snapshots of a large AKS cluster running Azure ML, for amldoctor's benchmarks.

The default scale is the size of the largest AKS clusters amldoctor is used on: 5,000 nodes in
several pools (system, CPU, memory-optimised, spot, and three tainted GPU pools, one of them
MIG-partitioned), 50,000 pods across namespaces (DaemonSet pods on every node, AML training jobs
on the GPU pools, inference and team workloads on the CPU pools), about 1% of them Pending for
varied reasons, some OOMKilled and crash-looping, 100,000 events and about 1,250 PVCs.

Objects have the shape and size of what `kubectl get -o json` prints for a real cluster, so that
parsing cost is representative, and they are consistent the way a real cluster is: every bound
pod fits its node (requests, pod count, taints, selectors), and every Pending pod the default
scheduler has seen carries the FailedScheduling event and PodScheduled condition the
kube-scheduler would write for this very cluster state. The same seed and scale give the same
bytes, so figures can be reproduced anywhere.

    python benchmarks/gen_cluster.py /tmp/cluster            # a bundle directory
    python benchmarks/gen_cluster.py /tmp/cluster.tar.gz --scale 0.25
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import random
import sys
import tarfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from amldoctor.bundle import bundle_files
from amldoctor.snapshot import Snapshot

CAPTURED_AT = datetime(2026, 11, 28, 9, 0, 0, tzinfo=UTC)
SERVER_VERSION = "v1.35.2"
REGION = "westeurope"
SUBSCRIPTION = "6f1c4a52-0d3e-4b8a-9a61-2f7d3c5e8b10"
CLUSTER = "aks-mlprod"
NODE_RG = f"MC_rg-mlprod_{CLUSTER}_{REGION}"
BIG_NAMESPACE = "aml-compute"
# PostFilter messages before preemption's: DynamicResources runs first (DRA is on by default).
POST_FILTER = "no new claims to deallocate, "  # the namespace `scan -n` is measured on
GIB = 1024**3
MIB = 1024**2


# -- node pools ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pool:
    name: str
    vm_size: str
    share: float  # fraction of the cluster's nodes
    cores: int
    memory_gib: int
    gpus: int = 0
    mig: dict[str, int] = field(default_factory=dict)  # MIG profile -> slices per node
    taint: tuple[str, str, str] | None = None  # key, value, effect
    mode: str = "user"
    spot: bool = False

    @property
    def gpu_resource(self) -> str | None:
        if self.mig:
            return next(iter(self.mig))
        return "nvidia.com/gpu" if self.gpus else None


POOLS = (
    Pool(
        "system",
        "Standard_D8ds_v5",
        0.02,
        8,
        32,
        taint=("CriticalAddonsOnly", "true", "NoSchedule"),
        mode="system",
    ),
    Pool("cpu", "Standard_D16ds_v5", 0.50, 16, 64),
    Pool("highmem", "Standard_E32ds_v5", 0.22, 32, 256),
    Pool(
        "spot",
        "Standard_D16ds_v5",
        0.08,
        16,
        64,
        taint=("kubernetes.azure.com/scalesetpriority", "spot", "NoSchedule"),
        spot=True,
    ),
    Pool(
        "gpua100", "Standard_ND96asr_v4", 0.06, 96, 900, gpus=8, taint=("sku", "gpu", "NoSchedule")
    ),
    Pool(
        "gput4",
        "Standard_NC16as_T4_v3",
        0.08,
        16,
        110,
        gpus=1,
        taint=("nvidia.com/gpu", "present", "NoSchedule"),
    ),
    Pool(
        "gpumig",
        "Standard_NC24ads_A100_v4",
        0.04,
        24,
        220,
        mig={"nvidia.com/mig-1g.10gb": 7},
        taint=("sku", "gpu", "NoSchedule"),
    ),
)
GPU_TOLERATIONS = [
    {"key": "sku", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"},
    {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"},
]
DEFAULT_TOLERATIONS = [
    {
        "key": "node.kubernetes.io/not-ready",
        "operator": "Exists",
        "effect": "NoExecute",
        "tolerationSeconds": 300,
    },
    {
        "key": "node.kubernetes.io/unreachable",
        "operator": "Exists",
        "effect": "NoExecute",
        "tolerationSeconds": 300,
    },
]
NODE_IMAGES = (
    "mcr.microsoft.com/oss/kubernetes/kube-proxy:v1.35.2-hotfix.20261010",
    "mcr.microsoft.com/containernetworking/azure-cns:v1.6.21",
    "mcr.microsoft.com/oss/kubernetes/azure-cloud-node-manager:v1.35.1",
    "mcr.microsoft.com/oss/kubernetes-csi/azuredisk-csi:v1.31.5",
    "mcr.microsoft.com/oss/kubernetes-csi/azurefile-csi:v1.31.3",
    "mcr.microsoft.com/azuremonitor/containerinsights/ciprod:3.1.25",
    "mcr.microsoft.com/oss/kubernetes-csi/csi-node-driver-registrar:v2.12.0",
    "mcr.microsoft.com/oss/kubernetes-csi/livenessprobe:v2.14.0",
    "mcr.microsoft.com/oss/kubernetes/pause:3.6",
    "mcr.microsoft.com/azureml/amlarc/docker/fluent-bit:1.9.10",
    "mcr.microsoft.com/oss/nvidia/k8s-device-plugin:v0.17.0",
    "mcr.microsoft.com/azureml/openmpi4.1.0-cuda11.8-cudnn8-ubuntu22.04:20261101.v1",
    "mcr.microsoft.com/azureml/amlarc/docker/training-identity-sidecar:1.1.70",
    "mcr.microsoft.com/azureml/amlarc/docker/init-container:1.1.70",
    "mlprodacr.azurecr.io/scoring/fraud-model:2026.11.3",
    "mlprodacr.azurecr.io/train/llm-finetune:0.9.2",
    "mlprodacr.azurecr.io/apps/feature-service:4.2.0",
    "docker.io/library/nginx:1.27.2",
    "docker.io/bitnami/redis:7.4.1",
    "quay.io/prometheus/node-exporter:v1.8.2",
)


# -- workloads -------------------------------------------------------------------------------


@dataclass(frozen=True)
class DaemonSet:
    name: str
    namespace: str
    image: str
    cpu_m: int
    memory_mi: int
    gpu_only: bool = False


DAEMONSETS = (
    DaemonSet("kube-proxy", "kube-system", NODE_IMAGES[0], 100, 0),
    DaemonSet("azure-cns", "kube-system", NODE_IMAGES[1], 40, 250),
    DaemonSet("cloud-node-manager", "kube-system", NODE_IMAGES[2], 50, 50),
    DaemonSet("csi-azuredisk-node", "kube-system", NODE_IMAGES[3], 30, 60),
    DaemonSet("csi-azurefile-node", "kube-system", NODE_IMAGES[4], 30, 60),
    DaemonSet("ama-logs", "kube-system", NODE_IMAGES[5], 150, 550),
    DaemonSet(
        "nvidia-device-plugin-daemonset", "gpu-resources", NODE_IMAGES[10], 50, 100, gpu_only=True
    ),
)
# Containers aml-operator adds to every training worker: (name, image, cpu milli, memory MiB).
AML_SIDECARS = (
    ("training-identity-sidecar", NODE_IMAGES[12], 50, 64),
    ("{run}-lifecycler", NODE_IMAGES[13], 100, 256),
)
AML_NAMESPACES = (BIG_NAMESPACE, "aml-research", "aml-inference")
TEAM_NAMESPACES = tuple(f"team-{i:02d}" for i in range(24))


@dataclass(frozen=True)
class Shape:
    """A workload's resources and placement: which pools, what it asks for."""

    pools: tuple[str, ...]
    cpu_m: int
    memory_mi: int
    gpus: int = 0
    gpu_resource: str = "nvidia.com/gpu"
    gpu_tolerations: bool = False
    aml: bool = False  # an AML training pod: the extension adds its sidecars' requests
    node_selector: dict[str, str] | None = None


@dataclass(frozen=True)
class PendingCase:
    """A way a pod stays Pending; `shape` is what the pod asks for."""

    name: str
    share: float
    shape: Shape
    scheduler: str = "default-scheduler"
    gated: bool = False
    pvc: bool = False


PENDING_CASES = (
    # GPU job that forgot the GPU pool's toleration (AML does not add it per instance type).
    PendingCase("no-toleration", 0.25, Shape(("gpua100",), 12000, 96 * 1024, gpus=8, aml=True)),
    # More GPUs than any node has: waits forever, the autoscaler cannot help.
    PendingCase(
        "too-many-gpus",
        0.15,
        Shape(("gpua100",), 12000, 96 * 1024, gpus=16, gpu_tolerations=True, aml=True),
    ),
    # Instance type still selecting the deprecated `agentpool=gpunp` label of a pool long gone.
    PendingCase(
        "stale-selector",
        0.15,
        Shape(
            ("gput4",),
            4000,
            16 * 1024,
            gpus=1,
            gpu_tolerations=True,
            node_selector={"agentpool": "gpunp"},
            aml=True,
        ),
    ),
    # Memory-hungry preprocessing larger than the biggest CPU node.
    PendingCase("too-much-memory", 0.15, Shape(("highmem",), 8000, 400 * 1024)),
    # A MIG profile the MIG pool is not partitioned into.
    PendingCase(
        "wrong-mig-profile",
        0.10,
        Shape(
            ("gpumig",),
            4000,
            32 * 1024,
            gpus=1,
            gpu_resource="nvidia.com/mig-3g.40gb",
            gpu_tolerations=True,
            aml=True,
        ),
    ),
    # A claim deleted (or never created) while the job still mounts it.
    PendingCase("missing-pvc", 0.08, Shape(("cpu",), 1000, 4096), pvc=True),
    # Volcano gang waiting for the rest of the job: no default-scheduler verdict at all.
    PendingCase(
        "volcano-gang",
        0.07,
        Shape(("gpua100",), 12000, 96 * 1024, gpus=8, gpu_tolerations=True, aml=True),
        scheduler="volcano",
    ),
    # Held by a queueing controller's scheduling gate.
    PendingCase("gated", 0.05, Shape(("cpu",), 2000, 8192), gated=True),
)


@dataclass
class Scale:
    nodes: int = 5000
    pods: int = 50000
    events: int = 100000
    pending_share: float = 0.01
    crash_share: float = 0.006
    oom_share: float = 0.004
    # Running pods whose readiness probe fails now and then: the noise that buries real causes.
    readiness_noise_share: float = 0.08

    def scaled(self, factor: float) -> Scale:
        return Scale(
            nodes=max(len(POOLS) * 2, round(self.nodes * factor)),
            pods=max(200, round(self.pods * factor)),
            events=max(400, round(self.events * factor)),
            pending_share=self.pending_share,
            crash_share=self.crash_share,
            oom_share=self.oom_share,
            readiness_noise_share=self.readiness_noise_share,
        )


# -- the generator ---------------------------------------------------------------------------


@dataclass
class NodeState:
    obj: dict
    pool: Pool
    free: dict[str, int]  # cpu (milli), memory (bytes), pods, and GPU resources
    schedulable: bool


class Generator:
    """Builds the cluster object by object; all randomness comes from one seeded generator."""

    def __init__(self, scale: Scale, seed: int) -> None:
        self.scale = scale
        self.rng = random.Random(seed)
        self.objects: list[dict] = []
        self.events: list[dict] = []
        self.nodes: list[NodeState] = []
        self.pool_nodes: dict[str, list[NodeState]] = {}
        self.cursor: dict[str, int] = {}
        self.node_by_name: dict[str, NodeState] = {}
        self.lifecycle: list[dict] = []  # running pods whose start events may still be retained
        self.pending_pods: list[tuple[PendingCase, dict]] = []
        self.rv = 1000
        self.info: dict = {"big_namespace": BIG_NAMESPACE, "pending": {}}

    # -- small helpers -------------------------------------------------------------------

    def uid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def suffix(self, length: int = 5) -> str:
        return "".join(self.rng.choice("bcdfghjklmnpqrstvwxz2456789") for _ in range(length))

    def hexid(self, length: int) -> str:
        return f"{self.rng.getrandbits(4 * length):0{length}x}"

    def resource_version(self) -> str:
        self.rv += self.rng.randint(1, 40)
        return str(self.rv)

    def ago(self, low: float, high: float) -> str:
        """A timestamp between `low` and `high` seconds before capture."""
        return ts(CAPTURED_AT - timedelta(seconds=self.rng.uniform(low, high)))

    # -- nodes ---------------------------------------------------------------------------

    def build_nodes(self) -> None:
        counts = [max(2, round(p.share * self.scale.nodes)) for p in POOLS]
        counts[1] += self.scale.nodes - sum(counts)  # the CPU pool absorbs rounding
        for pool, count in zip(POOLS, counts, strict=True):
            vmss = f"{self.rng.randint(10000000, 99999999)}"
            states = [self.node(pool, vmss, i) for i in range(count)]
            self.pool_nodes[pool.name] = states
            self.cursor[pool.name] = 0
            self.nodes.extend(states)
            self.node_by_name.update((node_name(state.obj), state) for state in states)

    def node(self, pool: Pool, vmss: str, index: int) -> NodeState:
        name = f"aks-{pool.name}-{vmss}-vmss{base36(index):0>6}"
        zone = index % 3 + 1
        roll = self.rng.random()
        not_ready, cordoned = roll < 0.003, 0.003 <= roll < 0.008
        labels = {
            "agentpool": pool.name,
            "beta.kubernetes.io/arch": "amd64",
            "beta.kubernetes.io/instance-type": pool.vm_size,
            "beta.kubernetes.io/os": "linux",
            "failure-domain.beta.kubernetes.io/region": REGION,
            "failure-domain.beta.kubernetes.io/zone": f"{REGION}-{zone}",
            "kubernetes.azure.com/agentpool": pool.name,
            "kubernetes.azure.com/cluster": NODE_RG,
            "kubernetes.azure.com/consolidated-additional-properties": self.uid(),
            "kubernetes.azure.com/kubelet-identity-client-id": (
                "3b1f7c2e-8d4a-4e55-9f0b-6c2d1a7e9f31"
            ),
            "kubernetes.azure.com/mode": pool.mode,
            "kubernetes.azure.com/node-image-version": "AKSUbuntu-2204gen2containerd-202611.04.0",
            "kubernetes.azure.com/nodepool-type": "VirtualMachineScaleSets",
            "kubernetes.azure.com/os-sku": "Ubuntu",
            "kubernetes.azure.com/role": "agent",
            "kubernetes.azure.com/storageprofile": "managed",
            "kubernetes.azure.com/storagetier": "Premium_LRS",
            "kubernetes.io/arch": "amd64",
            "kubernetes.io/hostname": name,
            "kubernetes.io/os": "linux",
            "kubernetes.io/role": "agent",
            "node-role.kubernetes.io/agent": "",
            "node.kubernetes.io/instance-type": pool.vm_size,
            "storageprofile": "managed",
            "storagetier": "Premium_LRS",
            "topology.disk.csi.azure.com/zone": f"{REGION}-{zone}",
            "topology.kubernetes.io/region": REGION,
            "topology.kubernetes.io/zone": f"{REGION}-{zone}",
        }
        if pool.gpus or pool.mig:
            labels |= {"accelerator": "nvidia", "kubernetes.azure.com/accelerator": "nvidia"}
        if pool.mig:
            labels |= {"nvidia.com/mig.strategy": "mixed", "nvidia.com/mig.config": "all-1g.10gb"}
        if pool.spot:
            labels["kubernetes.azure.com/scalesetpriority"] = "spot"
        taints = (
            [dict(zip(("key", "value", "effect"), pool.taint, strict=True))] if pool.taint else []
        )
        if cordoned:
            taints.append(
                {
                    "key": "node.kubernetes.io/unschedulable",
                    "effect": "NoSchedule",
                    "timeAdded": self.ago(600, 3000),
                }
            )
        if not_ready:
            since = self.ago(300, 2400)
            taints += [
                {
                    "key": "node.kubernetes.io/unreachable",
                    "effect": "NoSchedule",
                    "timeAdded": since,
                },
                {
                    "key": "node.kubernetes.io/unreachable",
                    "effect": "NoExecute",
                    "timeAdded": since,
                },
            ]
        capacity_mem_ki = pool.memory_gib * 1024 * 1024 - self.rng.randint(500_000, 900_000)
        reserved_mem_ki = 750 * 1024 + min(pool.memory_gib, 64) * 1024 * 1024 // 20
        allocatable_cpu_m = pool.cores * 1000 - (60 + 20 * pool.cores)
        capacity = {
            "cpu": str(pool.cores),
            "ephemeral-storage": "129886128Ki",
            "hugepages-1Gi": "0",
            "hugepages-2Mi": "0",
            "memory": f"{capacity_mem_ki}Ki",
            "pods": "110",
        }
        allocatable = capacity | {
            "cpu": f"{allocatable_cpu_m}m",
            "ephemeral-storage": "119703055367",
            "memory": f"{capacity_mem_ki - reserved_mem_ki}Ki",
        }
        free = {
            "cpu": allocatable_cpu_m,
            "memory": (capacity_mem_ki - reserved_mem_ki) * 1024,
            "pods": 110,
        }
        if pool.gpus:
            capacity["nvidia.com/gpu"] = allocatable["nvidia.com/gpu"] = str(pool.gpus)
            free["nvidia.com/gpu"] = pool.gpus
        for profile, slices in pool.mig.items():
            capacity[profile] = allocatable[profile] = str(slices)
            free[profile] = slices
        ready = {
            "type": "Ready",
            "status": "Unknown" if not_ready else "True",
            "reason": "NodeStatusUnknown" if not_ready else "KubeletReady",
            "message": "Kubelet stopped posting node status."
            if not_ready
            else "kubelet is posting ready status",
            "lastHeartbeatTime": self.ago(900, 2400) if not_ready else self.ago(0, 40),
            "lastTransitionTime": self.ago(300, 2400) if not_ready else self.ago(86400, 86400 * 20),
        }
        conditions = [
            self.node_condition(
                "KernelDeadlock", "False", "KernelHasNoDeadlock", "kernel has no deadlock"
            ),
            self.node_condition(
                "FilesystemCorruptionProblem", "False", "FilesystemIsOK", "Filesystem is healthy"
            ),
            self.node_condition(
                "FrequentContainerdRestart",
                "False",
                "NoFrequentContainerdRestart",
                "containerd is functioning properly",
            ),
            self.node_condition(
                "MemoryPressure",
                "False",
                "KubeletHasSufficientMemory",
                "kubelet has sufficient memory available",
            ),
            self.node_condition(
                "DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"
            ),
            self.node_condition(
                "PIDPressure",
                "False",
                "KubeletHasSufficientPID",
                "kubelet has sufficient PID available",
            ),
            ready,
        ]
        images = [
            {
                "names": [f"{image.split(':')[0]}@sha256:{self.hexid(64)}", image],
                "sizeBytes": self.rng.randint(20, 4000) * MIB,
            }
            for image in self.rng.sample(NODE_IMAGES, 14)
        ]
        n = len(self.nodes)
        ip = f"10.{224 + n // 65536 % 32}.{n // 256 % 256}.{n % 256}"
        obj = {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "annotations": {
                    "csi.volume.kubernetes.io/nodeid": json.dumps(
                        {"disk.csi.azure.com": name, "file.csi.azure.com": name}
                    ),
                    "node.alpha.kubernetes.io/ttl": "0",
                    "volumes.kubernetes.io/controller-managed-attach-detach": "true",
                },
                "creationTimestamp": self.ago(86400 * 2, 86400 * 60),
                "labels": labels,
                "name": name,
                "resourceVersion": self.resource_version(),
                "uid": self.uid(),
            },
            "spec": {
                "providerID": f"azure:///subscriptions/{SUBSCRIPTION}/resourceGroups/{NODE_RG.lower()}/providers/Microsoft.Compute/virtualMachineScaleSets/aks-{pool.name}-{vmss}-vmss/virtualMachines/{index}",
                **({"taints": taints} if taints else {}),
                **({"unschedulable": True} if cordoned else {}),
            },
            "status": {
                "addresses": [
                    {"address": ip, "type": "InternalIP"},
                    {"address": name, "type": "Hostname"},
                ],
                "allocatable": allocatable,
                "capacity": capacity,
                "conditions": conditions,
                "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
                "images": images,
                "nodeInfo": {
                    "architecture": "amd64",
                    "bootID": self.uid(),
                    "containerRuntimeVersion": "containerd://1.7.23-1",
                    "kernelVersion": "5.15.0-1075-azure",
                    "kubeProxyVersion": "",
                    "kubeletVersion": SERVER_VERSION,
                    "machineID": self.hexid(32),
                    "operatingSystem": "linux",
                    "osImage": "Ubuntu 22.04.5 LTS",
                    "systemUUID": self.uid(),
                },
            },
        }
        self.objects.append(obj)
        if not_ready:
            self.event(
                obj,
                "NodeNotReady",
                f"Node {name} status is now: NodeNotReady",
                "Normal",
                "node-controller",
                count=1,
            )
        return NodeState(obj, pool, free, schedulable=not (cordoned or not_ready))

    def node_condition(self, kind: str, status: str, reason: str, message: str) -> dict:
        return {
            "lastHeartbeatTime": self.ago(0, 60),
            "lastTransitionTime": self.ago(86400, 86400 * 20),
            "message": message,
            "reason": reason,
            "status": status,
            "type": kind,
        }

    # -- placement -----------------------------------------------------------------------

    def place(self, shape: Shape) -> NodeState | None:
        """First schedulable node of the shape's pools with room, round-robin (spreads load)."""
        wants = requests_of(shape)
        for pool in shape.pools:
            states = self.pool_nodes[pool]
            start = self.cursor[pool]
            for step in range(min(len(states), 64)):
                state = states[(start + step) % len(states)]
                if state.schedulable and all(state.free.get(k, 0) >= v for k, v in wants.items()):
                    for k, v in wants.items():
                        state.free[k] -= v
                    self.cursor[pool] = (start + step + 1) % len(states)
                    return state
            self.cursor[pool] = (start + 64) % len(states)
        return None

    # -- workloads -----------------------------------------------------------------------

    def build_daemonsets(self) -> None:
        for ds in DAEMONSETS:
            owner = {
                "apiVersion": "apps/v1",
                "kind": "DaemonSet",
                "name": ds.name,
                "uid": self.uid(),
                "controller": True,
                "blockOwnerDeletion": True,
            }
            for state in self.nodes:
                if ds.gpu_only and not (state.pool.gpus or state.pool.mig):
                    continue
                wants = {"cpu": ds.cpu_m, "memory": ds.memory_mi * MIB, "pods": 1}
                for k, v in wants.items():
                    state.free[k] -= v
                name = node_name(state.obj)
                self.pod(
                    ds.namespace,
                    f"{ds.name}-{self.suffix()}",
                    owner,
                    ds.image,
                    ds.cpu_m,
                    ds.memory_mi,
                    node=state,
                    labels={
                        "k8s-app": ds.name,
                        "controller-revision-hash": self.hexid(10),
                        "pod-template-generation": "3",
                    },
                    tolerations=[{"operator": "Exists"}],
                    affinity={
                        "nodeAffinity": {
                            "requiredDuringSchedulingIgnoredDuringExecution": {
                                "nodeSelectorTerms": [
                                    {
                                        "matchFields": [
                                            {
                                                "key": "metadata.name",
                                                "operator": "In",
                                                "values": [name],
                                            }
                                        ]
                                    }
                                ]
                            }
                        }
                    },
                    priority=("system-node-critical", 2000001000),
                    host_network=ds.name in ("kube-proxy", "azure-cns"),
                )

    def build_system(self) -> None:
        """Add-ons and the AML extension: a few dozen pods on the system pool."""
        system = Shape(("system",), 100, 128)
        for namespace, name, replicas, image in (
            (
                "kube-system",
                "coredns",
                max(2, self.scale.nodes // 250),
                "mcr.microsoft.com/oss/kubernetes/coredns:v1.11.3",
            ),
            (
                "kube-system",
                "konnectivity-agent",
                2,
                "mcr.microsoft.com/oss/kubernetes/apiserver-network-proxy/agent:v0.30.3",
            ),
            (
                "kube-system",
                "metrics-server",
                2,
                "mcr.microsoft.com/oss/kubernetes/metrics-server:v0.7.2",
            ),
            (
                "azureml",
                "aml-operator",
                1,
                "mcr.microsoft.com/azureml/amlarc/docker/aml-operator:1.1.70",
            ),
            (
                "azureml",
                "volcano-scheduler",
                1,
                "mcr.microsoft.com/azureml/amlarc/docker/volcano-scheduler:1.1.70",
            ),
            (
                "azureml",
                "volcano-controllers",
                1,
                "mcr.microsoft.com/azureml/amlarc/docker/volcano-controller:1.1.70",
            ),
            (
                "azureml",
                "azureml-fe-v2",
                3,
                "mcr.microsoft.com/azureml/amlarc/docker/azureml-fe-v2:1.1.70",
            ),
            ("azureml", "gateway", 1, "mcr.microsoft.com/azureml/amlarc/docker/gateway:1.1.70"),
            (
                "azureml",
                "prom-operator",
                1,
                "mcr.microsoft.com/azureml/amlarc/docker/prometheus-operator:1.1.70",
            ),
        ):
            owner = self.deployment(namespace, name, replicas, image)
            for _ in range(replicas):
                state = self.place(system)
                self.pod(
                    namespace,
                    f"{name}-{owner['hash']}-{self.suffix()}",
                    owner["ref"],
                    image,
                    100,
                    128,
                    node=state,
                    labels={"app": name, "pod-template-hash": owner["hash"]},
                    tolerations=[{"key": "CriticalAddonsOnly", "operator": "Exists"}],
                    priority=("system-cluster-critical", 2000000000),
                    probes=True,
                )

    def build_workloads(self, budget: int) -> None:
        """Fill the cluster up to `budget` more pods: AML training and inference, team services."""
        pending = round(self.scale.pods * self.scale.pending_share)
        crashing = round(self.scale.pods * self.scale.crash_share)
        ooms = round(self.scale.pods * self.scale.oom_share)
        self.build_pending(pending)
        budget -= pending
        training = self.build_training(budget * 12 // 100)
        inference = budget * 18 // 100
        self.build_inference(inference)
        self.build_team_services(budget - training - inference, crashing, ooms)

    def build_training(self, count: int) -> int:
        """AML training jobs (Volcano jobs of 1-8 workers) on the GPU pools, until they are full."""
        made = misses = 0
        while made < count and misses < 20:
            namespace = BIG_NAMESPACE if self.rng.random() < 0.8 else "aml-research"
            pool = self.rng.choice(("gpua100", "gpua100", "gput4", "gpumig"))
            workers = min(
                count - made, self.rng.choice((1, 1, 2, 4, 8)) if pool == "gpua100" else 1
            )
            gpus = {"gpua100": self.rng.choice((4, 8)), "gput4": 1, "gpumig": 1}[pool]
            shape = Shape(
                (pool,),
                6000 * gpus // 4 if pool == "gpua100" else 3000,
                (48 * gpus if pool == "gpua100" else 24) * 1024,
                gpus=gpus,
                gpu_resource=self.pool_nodes[pool][0].pool.gpu_resource or "nvidia.com/gpu",
                gpu_tolerations=True,
                aml=True,
            )
            finished = self.rng.random() < 0.15
            job = self.aml_job(namespace, workers)
            for i in range(workers):
                state = (
                    self.place(shape) if not finished else self.rng.choice(self.pool_nodes[pool])
                )
                if state is None:  # this pool is full; the gang waits in Volcano, no pod yet
                    misses += 1
                    break
                self.aml_pod(
                    namespace, job, i, shape, state, phase="Succeeded" if finished else "Running"
                )
                made += 1
        return made

    def build_inference(self, count: int) -> None:
        """AML online deployments: Deployments of scoring pods on CPU and T4 pools."""
        made = 0
        while made < count:
            gpu = self.rng.random() < 0.1
            shape = (
                Shape(("gput4",), 3000, 12 * 1024, gpus=1, gpu_tolerations=True)
                if gpu
                else Shape(
                    ("cpu", "highmem"),
                    self.rng.choice((500, 1000, 2000)),
                    self.rng.choice((1024, 2048, 4096)),
                )
            )
            app = self.rng.choice(("fraud", "churn", "ranker", "embed", "ocr", "forecast"))
            name = f"{app}-{self.suffix(4)}-blue"
            replicas = min(count - made, self.rng.choice((2, 3, 5, 10, 20)))
            image = "mlprodacr.azurecr.io/scoring/fraud-model:2026.11.3"
            owner = self.deployment(
                BIG_NAMESPACE if self.rng.random() < 0.6 else "aml-inference", name, replicas, image
            )
            for _ in range(replicas):
                state = self.place(shape)
                if state is None:
                    shape = Shape(("cpu", "highmem"), 500, 1024)
                    state = self.place(shape)
                self.pod(
                    owner["namespace"],
                    f"{name}-{owner['hash']}-{self.suffix()}",
                    owner["ref"],
                    image,
                    shape.cpu_m,
                    shape.memory_mi,
                    node=state,
                    gpus=shape.gpus,
                    tolerations=GPU_TOLERATIONS if gpu else None,
                    labels={
                        "isazuremlapp": "true",
                        "azuremlappname": name,
                        "ml.azure.com/deployment-name": "blue",
                        "ml.azure.com/endpoint-name": name[:-5],
                        "pod-template-hash": owner["hash"],
                    },
                    probes=True,
                    port=5001,
                )
                made += 1

    def build_team_services(self, count: int, crashing: int, ooms: int) -> None:
        """Ordinary services and batch jobs of product teams on the CPU and spot pools."""
        made = 0
        while made < count:
            namespace = (
                BIG_NAMESPACE if self.rng.random() < 0.15 else self.rng.choice(TEAM_NAMESPACES)
            )
            spot = self.rng.random() < 0.15
            shape = Shape(
                ("spot",) if spot else ("cpu", "highmem"),
                self.rng.choice((100, 250, 500, 1000)),
                self.rng.choice((256, 512, 1024, 2048)),
            )
            image = self.rng.choice(NODE_IMAGES[14:])
            batch = self.rng.random() < 0.2
            replicas = min(count - made, self.rng.choice((1, 2, 3, 6, 12)))
            app = self.rng.choice(("api", "worker", "etl", "web", "cache", "sync", "report"))
            name = f"{app}-{self.suffix(4)}"
            owner = (
                self.job(namespace, name)
                if batch
                else self.deployment(namespace, name, replicas, image)
            )
            for _ in range(replicas):
                phase = "Succeeded" if batch and self.rng.random() < 0.6 else "Running"
                state = (
                    self.place(shape)
                    if phase == "Running"
                    else self.rng.choice(self.pool_nodes[shape.pools[0]])
                )
                if state is None:
                    shape = Shape(("cpu", "highmem", "spot"), 100, 256)
                    state = self.place(shape)
                trouble = None
                if phase == "Running" and crashing > 0 and self.rng.random() < 0.05:
                    trouble, crashing = "crash", crashing - 1
                elif phase == "Running" and ooms > 0 and self.rng.random() < 0.05:
                    trouble, ooms = "oom", ooms - 1
                suffix = self.suffix() if batch else f"{owner['hash']}-{self.suffix()}"
                self.pod(
                    namespace,
                    f"{name}-{suffix}",
                    owner["ref"],
                    image,
                    shape.cpu_m,
                    shape.memory_mi,
                    node=state,
                    phase=phase,
                    trouble=trouble,
                    tolerations=[
                        {
                            "key": "kubernetes.azure.com/scalesetpriority",
                            "operator": "Equal",
                            "value": "spot",
                            "effect": "NoSchedule",
                        }
                    ]
                    if spot
                    else None,
                    labels={
                        "app": name,
                        **(
                            {"pod-template-hash": owner["hash"]}
                            if not batch
                            else {"job-name": name}
                        ),
                    },
                    probes=not batch,
                    port=None if batch else 8080,
                )
                made += 1

    def build_pending(self, count: int) -> None:
        """Pending pods, by cause; the scheduler's verdict is computed from the final cluster."""
        self.pending_pods: list[tuple[PendingCase, dict]] = []
        for case in PENDING_CASES:
            self.info["pending"][case.name] = []
            for _ in range(max(1, round(count * case.share))):
                namespace = (
                    BIG_NAMESPACE
                    if self.rng.random() < 0.6
                    else self.rng.choice(("aml-research", *TEAM_NAMESPACES[:4]))
                )
                if case.shape.gpus:
                    job = self.aml_job(namespace, 1)
                    pod = self.aml_pod(
                        namespace,
                        job,
                        0,
                        case.shape,
                        None,
                        phase="Pending",
                        scheduler=case.scheduler,
                    )
                else:
                    name = f"{case.name}-{self.suffix(4)}"
                    owner = self.job(namespace, name)
                    claim = f"{name}-data" if case.pvc else None
                    pod = self.pod(
                        namespace,
                        f"{name}-{self.suffix()}",
                        owner["ref"],
                        NODE_IMAGES[16],
                        case.shape.cpu_m,
                        case.shape.memory_mi,
                        node=None,
                        phase="Pending",
                        claim=claim,
                        gates=["kueue.x-k8s.io/admission"] if case.gated else None,
                        labels={"job-name": name},
                    )
                self.pending_pods.append((case, pod))
                self.info["pending"][case.name].append([namespace, pod["metadata"]["name"]])

    def record_scheduler_verdicts(self) -> None:
        """FailedScheduling events and PodScheduled conditions, as the kube-scheduler writes
        them."""
        # Pods of one case share a verdict, computed once, unless something `fit_error` reads
        # from the pod itself differs (each pod of the missing-claim case names its own claim).
        verdicts: dict[str, str] = {}
        for case, pod in self.pending_pods:
            if case.gated or case.scheduler != "default-scheduler":
                continue
            key = json.dumps(
                [
                    case.name,
                    [v.get("persistentVolumeClaim") for v in pod["spec"].get("volumes") or ()],
                    pod["spec"].get("tolerations"),
                    pod["spec"].get("nodeSelector"),
                ],
                sort_keys=True,
            )
            if key not in verdicts:
                verdicts[key] = self.fit_error(pod, case)
            message = verdicts[key]
            pod["status"]["conditions"] = [
                {
                    "lastProbeTime": None,
                    "lastTransitionTime": pod["metadata"]["creationTimestamp"],
                    "message": message,
                    "reason": "Unschedulable",
                    "status": "False",
                    "type": "PodScheduled",
                }
            ]
            self.scheduler_event(pod, truncate(message))

    def fit_error(self, pod: dict, case: PendingCase) -> str:
        """The FitError text for this pod and the final cluster state (first failing filter per
        node)."""
        total = len(self.nodes)
        not_helpful = (
            f"{POST_FILTER}preemption: 0/{total} nodes are available: {total} Preemption "
            "is not helpful for scheduling."
        )
        if case.pvc:
            claim = pod["spec"]["volumes"][-1]["persistentVolumeClaim"]["claimName"]
            return (
                f'0/{total} nodes are available: persistentvolumeclaim "{claim}" not found. '
                f"{not_helpful}"
            )
        wants = requests_of(case.shape)
        tolerations = pod["spec"]["tolerations"]
        selector = pod["spec"].get("nodeSelector") or {}
        counts: dict[str, int] = {}
        unresolvable = 0
        for state in self.nodes:
            reasons = self.filter_reasons(state, wants, tolerations, selector)
            if any(not r.startswith("Insufficient") for r in reasons):
                unresolvable += 1
            for r in reasons:
                counts[r] = counts.get(r, 0) + 1
        items = sorted(f"{n} {r}" for r, n in counts.items())
        preemption = (
            [f"{total - unresolvable} No preemption victims found for incoming pod"]
            if total > unresolvable
            else []
        )
        preemption += (
            [f"{unresolvable} Preemption is not helpful for scheduling"] if unresolvable else []
        )
        return (
            f"0/{total} nodes are available: {', '.join(items)}. {POST_FILTER}preemption: "
            f"0/{total} nodes are available: {', '.join(sorted(preemption))}."
        )

    @staticmethod
    def filter_reasons(
        state: NodeState, wants: dict[str, int], tolerations: list[dict], selector: dict
    ) -> list[str]:
        """NodeUnschedulable, TaintToleration, NodeAffinity, NodeResourcesFit: the first that
        fails."""
        spec, labels = state.obj["spec"], state.obj["metadata"]["labels"]
        if spec.get("unschedulable"):  # none of these pods tolerates the cordon
            return ["node(s) were unschedulable"]
        for taint in spec.get("taints", []):
            if taint["effect"] != "PreferNoSchedule" and not any(
                tolerates(t, taint) for t in tolerations
            ):
                return ["node(s) had untolerated taint(s)"]
        if any(labels.get(k) != v for k, v in selector.items()):
            return ["node(s) didn't match Pod's node affinity/selector"]
        allocatable = state.obj["status"]["allocatable"]
        short = [
            k
            for k, v in wants.items()
            if k != "pods" and (k not in allocatable or state.free.get(k, 0) < v)
        ]
        return [f"Insufficient {k}" for k in short]

    # -- objects -------------------------------------------------------------------------

    def deployment(self, namespace: str, name: str, replicas: int, image: str) -> dict:
        template_hash = self.suffix(10)
        dep_uid, rs_uid = self.uid(), self.uid()
        created = self.ago(3600 * 6, 86400 * 30)
        labels = {"app": name}
        self.objects.append(
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {
                    "name": name,
                    "namespace": namespace,
                    "uid": dep_uid,
                    "generation": 4,
                    "labels": labels,
                    "creationTimestamp": created,
                    "resourceVersion": self.resource_version(),
                },
                "spec": {
                    "replicas": replicas,
                    "selector": {"matchLabels": labels},
                    "strategy": {"type": "RollingUpdate"},
                    "template": {
                        "metadata": {"labels": labels},
                        "spec": {"containers": [{"name": "main", "image": image}]},
                    },
                },
                "status": {
                    "replicas": replicas,
                    "readyReplicas": replicas,
                    "availableReplicas": replicas,
                    "observedGeneration": 4,
                },
            }
        )
        self.objects.append(
            {
                "apiVersion": "apps/v1",
                "kind": "ReplicaSet",
                "metadata": {
                    "name": f"{name}-{template_hash}",
                    "namespace": namespace,
                    "uid": rs_uid,
                    "labels": labels | {"pod-template-hash": template_hash},
                    "creationTimestamp": created,
                    "resourceVersion": self.resource_version(),
                    "ownerReferences": [
                        {
                            "apiVersion": "apps/v1",
                            "kind": "Deployment",
                            "name": name,
                            "uid": dep_uid,
                            "controller": True,
                            "blockOwnerDeletion": True,
                        }
                    ],
                },
                "spec": {
                    "replicas": replicas,
                    "selector": {"matchLabels": labels | {"pod-template-hash": template_hash}},
                },
                "status": {
                    "replicas": replicas,
                    "readyReplicas": replicas,
                    "availableReplicas": replicas,
                },
            }
        )
        ref = {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "name": f"{name}-{template_hash}",
            "uid": rs_uid,
            "controller": True,
            "blockOwnerDeletion": True,
        }
        return {"ref": ref, "hash": template_hash, "namespace": namespace}

    def job(self, namespace: str, name: str) -> dict:
        job_uid = self.uid()
        self.objects.append(
            {
                "apiVersion": "batch/v1",
                "kind": "Job",
                "metadata": {
                    "name": name,
                    "namespace": namespace,
                    "uid": job_uid,
                    "labels": {"job-name": name},
                    "creationTimestamp": self.ago(600, 86400),
                    "resourceVersion": self.resource_version(),
                },
                "spec": {
                    "backoffLimit": 6,
                    "completions": 1,
                    "parallelism": 1,
                    "template": {"spec": {"restartPolicy": "Never"}},
                },
                "status": {"active": 1},
            }
        )
        return {
            "ref": {
                "apiVersion": "batch/v1",
                "kind": "Job",
                "name": name,
                "uid": job_uid,
                "controller": True,
                "blockOwnerDeletion": True,
            }
        }

    def aml_job(self, namespace: str, workers: int) -> dict:
        """An AmlJob, its Volcano Job and PodGroup (the chain aml-operator creates)."""
        job_id = self.hexid(32)
        name = f"{namespace}-{job_id}"
        vc_uid = self.uid()
        created = self.ago(300, 86400 * 2)
        common = {
            "namespace": namespace,
            "creationTimestamp": created,
            "labels": {"jobId": job_id, "controller": "aml-operator"},
        }
        self.objects.append(
            {
                "apiVersion": "amlarc.azureml.com/v1alpha1",
                "kind": "AmlJob",
                "metadata": {"name": job_id, "uid": self.uid(), **common},
                "spec": {"job": {"options": {"envs": {"AZUREML_NODE_COUNT": str(workers)}}}},
            }
        )
        self.objects.append(
            {
                "apiVersion": "batch.volcano.sh/v1alpha1",
                "kind": "Job",
                "metadata": {"name": name, "uid": vc_uid, **common},
                "spec": {
                    "minAvailable": workers,
                    "queue": "default",
                    "schedulerName": "volcano",
                    "tasks": [{"name": "worker", "replicas": workers}],
                },
                "status": {"state": {"phase": "Running"}},
            }
        )
        self.objects.append(
            {
                "apiVersion": "scheduling.volcano.sh/v1beta1",
                "kind": "PodGroup",
                "metadata": {
                    "name": name,
                    "uid": self.uid(),
                    **common,
                    "annotations": {"volcano.sh/task-topology-affinity": "worker"},
                },
                "spec": {
                    "minMember": workers,
                    "minTaskMember": {"worker": workers},
                    "queue": "default",
                },
                "status": {"phase": "Running"},
            }
        )
        return {"id": job_id, "name": name, "uid": vc_uid, "workers": workers}

    def aml_pod(
        self,
        namespace: str,
        job: dict,
        index: int,
        shape: Shape,
        state: NodeState | None,
        *,
        phase: str,
        scheduler: str = "volcano",
    ) -> dict:
        run = self.hexid(8) + "-" + self.hexid(4)
        owner = {
            "apiVersion": "batch.volcano.sh/v1alpha1",
            "kind": "Job",
            "name": job["name"],
            "uid": job["uid"],
            "controller": True,
            "blockOwnerDeletion": True,
        }
        labels = {
            "controller": "aml-operator",
            "jobsource": "aml",
            "type": "job",
            "jobId": job["id"],
            "run": job["id"],
            "role": "worker",
            "jobRole": "worker",
            "jobScale": "regular",
            "gpu-request": str(shape.gpus),
            "ml.azure.com/billing-category": "azureml-training",
            "ml.azure.com/compute": "gpu-cluster",
            "ml.azure.com/workspace": "mlw-prod",
            "ml.azure.com/resource-group": "rg-mlprod",
            "ml.azure.com/run-id": f"{run}-{self.hexid(12)}",
            "volcano.sh/job-name": job["name"],
            "volcano.sh/job-namespace": namespace,
            "volcano.sh/queue-name": "default",
            "volcano.sh/task-spec": "worker",
        }
        annotations = {
            "scheduling.k8s.io/group-name": job["name"],
            "volcano.sh/job-name": job["name"],
            "volcano.sh/job-version": "0",
            "volcano.sh/queue-name": "default",
            "volcano.sh/task-spec": "worker",
        }
        sidecars = [
            (name.format(run=run), image, cpu, memory) for name, image, cpu, memory in AML_SIDECARS
        ]
        return self.pod(
            namespace,
            f"{job['name']}-worker-{index}",
            owner,
            NODE_IMAGES[11],
            shape.cpu_m,
            shape.memory_mi,
            node=state,
            phase=phase,
            gpus=shape.gpus,
            gpu_resource=shape.gpu_resource,
            labels=labels,
            annotations=annotations,
            tolerations=GPU_TOLERATIONS if shape.gpu_tolerations else None,
            node_selector=shape.node_selector,
            scheduler=scheduler,
            sidecars=sidecars,
            main=f"{run}-execution-wrapper",
            restart="Never",
            shm=True,
        )

    def pvc(self, namespace: str, name: str, *, bound: bool) -> str:
        pvc_uid = self.uid()
        storage_class = "managed-csi-premium" if bound else "premium-ssd-v2"
        size = f"{self.rng.choice((32, 128, 512, 1024))}Gi"
        claim = {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {
                "name": name,
                "namespace": namespace,
                "uid": pvc_uid,
                "creationTimestamp": self.ago(600, 86400 * 10),
                "resourceVersion": self.resource_version(),
                "finalizers": ["kubernetes.io/pvc-protection"],
                "annotations": {
                    "volume.beta.kubernetes.io/storage-provisioner": "disk.csi.azure.com",
                    "volume.kubernetes.io/storage-provisioner": "disk.csi.azure.com",
                },
            },
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": size}},
                "storageClassName": storage_class,
                "volumeMode": "Filesystem",
            },
            "status": {"phase": "Pending"},
        }
        if bound:
            pv_name = f"pvc-{pvc_uid}"
            claim["spec"]["volumeName"] = pv_name
            claim["status"] = {
                "phase": "Bound",
                "accessModes": ["ReadWriteOnce"],
                "capacity": {"storage": size},
            }
            self.objects.append(
                {
                    "apiVersion": "v1",
                    "kind": "PersistentVolume",
                    "metadata": {
                        "name": pv_name,
                        "uid": self.uid(),
                        "creationTimestamp": claim["metadata"]["creationTimestamp"],
                        "annotations": {"pv.kubernetes.io/provisioned-by": "disk.csi.azure.com"},
                    },
                    "spec": {
                        "accessModes": ["ReadWriteOnce"],
                        "capacity": {"storage": size},
                        "claimRef": {
                            "kind": "PersistentVolumeClaim",
                            "namespace": namespace,
                            "name": name,
                            "uid": pvc_uid,
                        },
                        "csi": {
                            "driver": "disk.csi.azure.com",
                            "volumeHandle": (
                                f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{NODE_RG}"
                                f"/providers/Microsoft.Compute/disks/{pv_name}"
                            ),
                        },
                        "persistentVolumeReclaimPolicy": "Delete",
                        "storageClassName": storage_class,
                        "volumeMode": "Filesystem",
                    },
                    "status": {"phase": "Bound"},
                }
            )
        else:
            self.event(
                claim,
                "ProvisioningFailed",
                f'storageclass.storage.k8s.io "{storage_class}" not found',
                "Warning",
                "persistentvolume-controller",
                count=self.rng.randint(5, 200),
            )
        self.objects.append(claim)
        return name

    def pod(
        self,
        namespace: str,
        name: str,
        owner: dict,
        image: str,
        cpu_m: int,
        memory_mi: int,
        *,
        node: NodeState | None,
        phase: str = "Running",
        gpus: int = 0,
        gpu_resource: str = "nvidia.com/gpu",
        labels: dict | None = None,
        annotations: dict | None = None,
        tolerations: list | None = None,
        node_selector: dict | None = None,
        affinity: dict | None = None,
        priority: tuple[str, int] | None = None,
        scheduler: str = "default-scheduler",
        sidecars: list | None = None,
        main: str = "main",
        restart: str = "Always",
        shm: bool = False,
        probes: bool = False,
        port: int | None = None,
        host_network: bool = False,
        trouble: str | None = None,
        claim: str | None = None,
        gates: list[str] | None = None,
    ) -> dict:
        """One pod with containers, volumes and a status consistent with its phase and node."""
        created = self.ago(120, 86400 * 7) if phase != "Pending" else self.ago(300, 3000)
        started = created if phase != "Pending" else None
        token_volume = f"kube-api-access-{self.suffix()}"
        mounts = [
            {
                "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount",
                "name": token_volume,
                "readOnly": True,
            }
        ]
        volumes: list[dict] = [
            {
                "name": token_volume,
                "projected": {
                    "defaultMode": 420,
                    "sources": [
                        {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                        {
                            "configMap": {
                                "items": [{"key": "ca.crt", "path": "ca.crt"}],
                                "name": "kube-root-ca.crt",
                            }
                        },
                        {
                            "downwardAPI": {
                                "items": [
                                    {
                                        "fieldRef": {
                                            "apiVersion": "v1",
                                            "fieldPath": "metadata.namespace",
                                        },
                                        "path": "namespace",
                                    }
                                ]
                            }
                        },
                    ],
                },
            }
        ]
        if shm:
            volumes.append({"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": "2Gi"}})
            mounts.append({"mountPath": "/dev/shm", "name": "dshm"})
        if claim:
            volumes.append({"name": "data", "persistentVolumeClaim": {"claimName": claim}})
            mounts.append({"mountPath": "/data", "name": "data"})
        requests = (
            {"cpu": f"{cpu_m}m", "memory": f"{memory_mi}Mi"} if memory_mi else {"cpu": f"{cpu_m}m"}
        )
        limits = {"memory": f"{memory_mi}Mi"} if memory_mi else {}
        if gpus:
            requests[gpu_resource] = limits[gpu_resource] = str(gpus)
        env = [
            {
                "name": "POD_NAME",
                "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"}},
            },
            {
                "name": "POD_NAMESPACE",
                "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}},
            },
            {"name": "LOG_LEVEL", "value": "info"},
            {
                "name": "OTEL_EXPORTER_OTLP_ENDPOINT",
                "value": "http://otel-collector.monitoring.svc:4317",
            },
        ]
        if gpus:
            env += [
                {"name": "NVIDIA_VISIBLE_DEVICES", "value": "all"},
                {"name": "AMLARC_NUM_GPU_PER_WORKER", "value": str(gpus)},
            ]
        container = {
            "name": main,
            "image": image,
            "imagePullPolicy": "IfNotPresent",
            "env": env,
            "resources": {"limits": limits, "requests": requests}
            if limits
            else {"requests": requests},
            "terminationMessagePath": "/dev/termination-log",
            "terminationMessagePolicy": "File",
            "volumeMounts": mounts,
        }
        if port:
            container["ports"] = [{"containerPort": port, "name": "http", "protocol": "TCP"}]
        if probes and port:
            probe = {
                "httpGet": {"path": "/", "port": port, "scheme": "HTTP"},
                "periodSeconds": 10,
                "timeoutSeconds": 2,
                "successThreshold": 1,
                "failureThreshold": 30,
                "initialDelaySeconds": 10,
            }
            container["livenessProbe"] = probe
            container["readinessProbe"] = probe | {"failureThreshold": 3}
        containers = [container] + [
            {
                "name": n,
                "image": img,
                "imagePullPolicy": "IfNotPresent",
                "resources": {
                    "requests": {"cpu": f"{c}m", "memory": f"{m}Mi"},
                    "limits": {"memory": f"{m}Mi"},
                },
                "terminationMessagePath": "/dev/termination-log",
                "terminationMessagePolicy": "File",
                "volumeMounts": mounts[:1],
            }
            for n, img, c, m in sidecars or ()
        ]
        spec = {
            "containers": containers,
            "dnsPolicy": "ClusterFirstWithHostNet" if host_network else "ClusterFirst",
            "enableServiceLinks": True,
            "preemptionPolicy": "PreemptLowerPriority",
            "priority": priority[1] if priority else 0,
            "restartPolicy": restart,
            "schedulerName": scheduler,
            "securityContext": {},
            "serviceAccount": "default",
            "serviceAccountName": "default",
            "terminationGracePeriodSeconds": 30,
            "tolerations": (tolerations or []) + DEFAULT_TOLERATIONS,
            "volumes": volumes,
        }
        if priority:
            spec["priorityClassName"] = priority[0]
        if host_network:
            spec["hostNetwork"] = True
        if node_selector:
            spec["nodeSelector"] = node_selector
        if affinity:
            spec["affinity"] = affinity
        if gates:
            spec["schedulingGates"] = [{"name": g} for g in gates]
        if node is not None:
            spec["nodeName"] = node_name(node.obj)
        obj = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "creationTimestamp": created,
                "generateName": name[: name.rfind("-") + 1],
                "labels": labels or {},
                "name": name,
                "namespace": namespace,
                "ownerReferences": [owner],
                "resourceVersion": self.resource_version(),
                "uid": self.uid(),
                **({"annotations": annotations} if annotations else {}),
            },
            "spec": spec,
            "status": self.pod_status(containers, node, phase, started, trouble),
        }
        self.objects.append(obj)
        if node is not None and phase == "Running" and not trouble:
            self.lifecycle.append(obj)
        if trouble:
            self.trouble_events(obj, trouble)
        return obj

    def pod_status(
        self,
        containers: list[dict],
        node: NodeState | None,
        phase: str,
        started: str | None,
        trouble: str | None,
    ) -> dict:
        if node is None:
            return {"phase": "Pending", "qosClass": "Burstable"}
        host_ip = node.obj["status"]["addresses"][0]["address"]
        pod_ip = (
            f"10.{self.rng.randint(0, 200)}.{self.rng.randint(0, 255)}.{self.rng.randint(1, 254)}"
        )
        statuses = []
        for c in containers:
            state: dict = {"running": {"startedAt": started}}
            last: dict = {}
            ready, restarts = phase == "Running", 0
            if phase == "Succeeded":
                state = {
                    "terminated": {
                        "containerID": f"containerd://{self.hexid(64)}",
                        "exitCode": 0,
                        "reason": "Completed",
                        "startedAt": started,
                        "finishedAt": self.ago(60, 3600),
                    }
                }
                ready = False
            elif trouble and c is containers[0]:
                restarts = self.rng.randint(4, 180)
                reason, code = ("OOMKilled", 137) if trouble == "oom" else ("Error", 1)
                last = {
                    "terminated": {
                        "containerID": f"containerd://{self.hexid(64)}",
                        "exitCode": code,
                        "reason": reason,
                        "startedAt": self.ago(400, 600),
                        "finishedAt": self.ago(100, 400),
                    }
                }
                state = {
                    "waiting": {
                        "reason": "CrashLoopBackOff",
                        "message": f"back-off 5m0s restarting failed container={c['name']} pod=...",
                    }
                }
                ready = False
            status = {
                "containerID": f"containerd://{self.hexid(64)}",
                "image": c["image"],
                "imageID": f"{c['image'].split(':')[0]}@sha256:{self.hexid(64)}",
                "lastState": last,
                "name": c["name"],
                "ready": ready,
            }
            if "running" in state and c.get("resources"):
                # Since 1.33 the kubelet reports what it runs each running container with
                # (in-place resize); without a resize, its spec's requests and limits.
                status["resources"] = json.loads(json.dumps(c["resources"]))
            statuses.append(
                status | {"restartCount": restarts, "started": "running" in state, "state": state}
            )
        all_ready = all(s["ready"] for s in statuses)
        cond = "True" if phase == "Running" else "False"
        return {
            "conditions": [
                {
                    "lastProbeTime": None,
                    "lastTransitionTime": started,
                    "status": cond,
                    "type": "PodReadyToStartContainers",
                },
                {
                    "lastProbeTime": None,
                    "lastTransitionTime": started,
                    "status": "True",
                    "type": "Initialized",
                },
                {
                    "lastProbeTime": None,
                    "lastTransitionTime": started,
                    "status": "True" if all_ready else "False",
                    "type": "Ready",
                    **(
                        {}
                        if all_ready
                        else {
                            "reason": "PodCompleted"
                            if phase == "Succeeded"
                            else "ContainersNotReady"
                        }
                    ),
                },
                {
                    "lastProbeTime": None,
                    "lastTransitionTime": started,
                    "status": "True" if all_ready else "False",
                    "type": "ContainersReady",
                },
                {
                    "lastProbeTime": None,
                    "lastTransitionTime": started,
                    "status": "True",
                    "type": "PodScheduled",
                },
            ],
            "containerStatuses": statuses,
            "hostIP": host_ip,
            "hostIPs": [{"ip": host_ip}],
            "phase": phase,
            "podIP": pod_ip,
            "podIPs": [{"ip": pod_ip}],
            "qosClass": "Burstable",
            "startTime": started,
        }

    # -- events --------------------------------------------------------------------------

    def event(
        self,
        about: dict,
        reason: str,
        message: str,
        kind: str,
        component: str,
        *,
        count: int,
        host: str | None = None,
    ) -> dict:
        """A core/v1 event as kubelets and controllers write it (timestamps and count)."""
        m = about["metadata"]
        first = self.ago(1800, 3600)
        ev = {
            "apiVersion": "v1",
            "kind": "Event",
            "count": count,
            "firstTimestamp": first,
            "lastTimestamp": self.ago(0, 1800),
            "involvedObject": {
                "apiVersion": about["apiVersion"],
                "kind": about["kind"],
                "name": m["name"],
                **({"namespace": m["namespace"]} if m.get("namespace") else {}),
                "resourceVersion": m.get("resourceVersion", ""),
                "uid": m["uid"],
            },
            "message": message,
            "metadata": {
                "creationTimestamp": first,
                "name": f"{m['name']}.{self.hexid(16)}",
                "namespace": m.get("namespace") or "default",
                "resourceVersion": self.resource_version(),
                "uid": self.uid(),
            },
            "reason": reason,
            "reportingComponent": component,
            "reportingInstance": host or "",
            "source": {"component": component, **({"host": host} if host else {})},
            "type": kind,
        }
        self.events.append(ev)
        return ev

    def scheduler_event(self, pod: dict, message: str) -> None:
        """events.k8s.io/v1 shape seen through core/v1: eventTime and series, no count or
        timestamps."""
        m = pod["metadata"]
        self.events.append(
            {
                "action": "Scheduling",
                "apiVersion": "v1",
                "kind": "Event",
                "eventTime": self.ago(1200, 3000),
                "firstTimestamp": None,
                "lastTimestamp": None,
                "involvedObject": {
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "name": m["name"],
                    "namespace": m["namespace"],
                    "resourceVersion": m["resourceVersion"],
                    "uid": m["uid"],
                },
                "message": message,
                "metadata": {
                    "creationTimestamp": self.ago(1200, 3000),
                    "name": f"{m['name']}.{self.hexid(16)}",
                    "namespace": m["namespace"],
                    "resourceVersion": self.resource_version(),
                    "uid": self.uid(),
                },
                "reason": "FailedScheduling",
                "reportingComponent": "default-scheduler",
                "reportingInstance": "default-scheduler-6d7f8c9b5-x2k4q",
                "series": {"count": self.rng.randint(2, 60), "lastObservedTime": self.ago(0, 600)},
                "source": {},
                "type": "Warning",
            }
        )

    def trouble_events(self, pod: dict, trouble: str) -> None:
        host = pod["spec"]["nodeName"]
        main = pod["spec"]["containers"][0]["name"]
        restarts = pod["status"]["containerStatuses"][0]["restartCount"]
        self.event(
            pod,
            "BackOff",
            f"Back-off restarting failed container {main} in pod "
            f"{pod['metadata']['name']}_{pod['metadata']['namespace']}({pod['metadata']['uid']})",
            "Warning",
            "kubelet",
            count=restarts * 4,
            host=host,
        )
        self.event(
            pod,
            "Pulled",
            f'Container image "{pod["spec"]["containers"][0]["image"]}" already present on machine',
            "Normal",
            "kubelet",
            count=restarts,
            host=host,
        )
        if trouble == "oom":
            self.event(
                self.node_by_name[host].obj,
                "OOMKilling",
                f"Memory cgroup out of memory: Killed process {self.rng.randint(1000, 99999)} "
                f"(python) total-vm:{self.rng.randint(2, 9)}000000kB",
                "Warning",
                "kernel-monitor",
                count=restarts,
                host=host,
            )

    def fill_events(self) -> None:
        """Lifecycle events of recently started pods up to the target count (what churn
        produces)."""
        steps = (
            ("Scheduled", "Successfully assigned {ns}/{pod} to {node}", "default-scheduler"),
            ("Pulling", 'Pulling image "{image}"', "kubelet"),
            (
                "Pulled",
                'Successfully pulled image "{image}" in 2.104s (2.104s including waiting). Image '
                "size: 71246334 bytes.",
                "kubelet",
            ),
            ("Created", "Created container: {container}", "kubelet"),
            ("Started", "Started container {container}", "kubelet"),
        )
        pods = self.lifecycle
        self.rng.shuffle(pods)
        need = self.scale.events - len(self.events)
        for pod in pods:
            if need <= 0:
                break
            m, spec = pod["metadata"], pod["spec"]
            if (
                "livenessProbe" in spec["containers"][0]
                and self.rng.random() < self.scale.readiness_noise_share
            ):
                ip = (pod.get("status") or {}).get("podIP") or "10.1.2.3"
                failure = self.rng.choice(
                    (
                        f'Get "http://{ip}:8080/": context deadline exceeded '
                        "(Client.Timeout exceeded while awaiting headers)",
                        f'Get "http://{ip}:8080/": dial tcp {ip}:8080: connect: connection refused',
                    )
                )
                self.event(
                    pod,
                    "Unhealthy",
                    f"Readiness probe failed: {failure}",
                    "Warning",
                    "kubelet",
                    count=self.rng.randint(1, 30),
                    host=spec["nodeName"],
                )
                need -= 1
            for reason, text, component in steps[: min(need, len(steps))]:
                c = spec["containers"][0]
                message = text.format(
                    ns=m["namespace"],
                    pod=m["name"],
                    node=spec["nodeName"],
                    image=c["image"],
                    container=c["name"],
                )
                self.event(
                    pod,
                    reason,
                    message,
                    "Normal",
                    component,
                    count=1,
                    host=spec["nodeName"] if component == "kubelet" else None,
                )
                need -= 1

    # -- the whole cluster ---------------------------------------------------------------

    def build(self) -> Snapshot:
        self.build_nodes()
        for namespace in (
            "kube-system",
            "gpu-resources",
            "azureml",
            *AML_NAMESPACES,
            *TEAM_NAMESPACES,
        ):
            labels = {"kubernetes.io/metadata.name": namespace}
            self.objects.append(
                {
                    "apiVersion": "v1",
                    "kind": "Namespace",
                    "metadata": {
                        "name": namespace,
                        "uid": self.uid(),
                        "labels": labels,
                        "creationTimestamp": self.ago(86400 * 30, 86400 * 90),
                    },
                    "spec": {"finalizers": ["kubernetes"]},
                    "status": {"phase": "Active"},
                }
            )
        for name, provisioner in (
            ("managed-csi", "disk.csi.azure.com"),
            ("managed-csi-premium", "disk.csi.azure.com"),
            ("azurefile-csi-premium", "file.csi.azure.com"),
        ):
            self.objects.append(
                {
                    "apiVersion": "storage.k8s.io/v1",
                    "kind": "StorageClass",
                    "metadata": {
                        "name": name,
                        "uid": self.uid(),
                        "labels": {"kubernetes.io/cluster-service": "true"},
                    },
                    "provisioner": provisioner,
                    "reclaimPolicy": "Delete",
                    "volumeBindingMode": "WaitForFirstConsumer",
                    "allowVolumeExpansion": True,
                    "parameters": {"skuname": "Premium_LRS"},
                }
            )
        for name, shape in (
            ("gpu-a100-8", ("gpua100", 8)),
            ("gpu-t4", ("gput4", 1)),
            ("gpu-mig-1g", ("gpumig", 1)),
            ("defaultinstancetype", None),
        ):
            selector = {"kubernetes.azure.com/agentpool": shape[0]} if shape else {}
            limits = {"cpu": "2", "memory": "2Gi"} | ({"nvidia.com/gpu": shape[1]} if shape else {})
            self.objects.append(
                {
                    "apiVersion": "amlarc.azureml.com/v1alpha1",
                    "kind": "InstanceType",
                    "metadata": {"name": name, "uid": self.uid()},
                    "spec": {
                        "nodeSelector": selector,
                        "resources": {
                            "requests": {"cpu": "100m", "memory": "2Gi"},
                            "limits": limits,
                        },
                    },
                }
            )
        self.build_daemonsets()
        self.build_system()
        pods_so_far = sum(1 for o in self.objects if o["kind"] == "Pod")
        for i in range(
            self.scale.pods // 40
        ):  # training data and model volumes; a few never provision
            self.pvc(AML_NAMESPACES[i % 3], f"data-{self.suffix(6)}", bound=i % 97 != 0)
        self.build_workloads(self.scale.pods - pods_so_far)
        self.record_scheduler_verdicts()
        self.fill_events()
        snap = Snapshot(
            self.objects + self.events,
            source="gen_cluster",
            server_version=SERVER_VERSION,
            captured_at=CAPTURED_AT,
            context=CLUSTER,
        )
        self.info |= {
            "nodes": len(self.nodes),
            "pods": sum(1 for o in self.objects if o["kind"] == "Pod"),
            "events": len(self.events),
            "objects": len(snap.objects),
        }
        return snap


# -- helpers ---------------------------------------------------------------------------------


def ts(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def truncate(message: str) -> str:
    """The scheduler's event note limit (1024 bytes); the pod condition keeps the full text."""
    data = message.encode()
    return message if len(data) <= 1024 else data[:1020].decode(errors="ignore") + " ..."


def base36(n: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = digits[r] + out
        if n == 0:
            return out


def node_name(node: dict) -> str:
    return node["metadata"]["name"]


def tolerates(toleration: dict, taint: dict) -> bool:
    """`Toleration.ToleratesTaint` for the Equal and Exists operators the generator writes.

    Written apart from amldoctor's own (`amldoctor.k8s.tolerations`) on purpose: generated
    clusters check amldoctor's scheduler rules instead of echoing them.
    """
    if toleration.get("effect") and toleration["effect"] != taint["effect"]:
        return False
    if toleration.get("key") and toleration["key"] != taint["key"]:
        return False
    if toleration.get("operator", "Equal") == "Exists":
        return True
    return toleration.get("value", "") == taint.get("value", "")


def requests_of(shape: Shape) -> dict[str, int]:
    """What a pod of this shape asks the scheduler for, sidecars included."""
    cpu_m, memory_mi = shape.cpu_m, shape.memory_mi
    if shape.aml:
        cpu_m += sum(c[2] for c in AML_SIDECARS)
        memory_mi += sum(c[3] for c in AML_SIDECARS)
    wants = {"cpu": cpu_m, "memory": memory_mi * MIB, "pods": 1}
    if shape.gpus:
        wants[shape.gpu_resource] = shape.gpus
    return wants


def generate(scale: Scale, seed: int = 1) -> tuple[Snapshot, dict]:
    """The synthetic cluster and a summary (sizes, names of the Pending pods by cause)."""
    gen = Generator(scale, seed)
    return gen.build(), gen.info


def write(snap: Snapshot, output: Path) -> Path:
    """Write the bundle `amldoctor dump` would write: a directory, or a reproducible .tar.gz."""
    files = bundle_files(snap)
    if output.name.endswith((".tar.gz", ".tgz")):
        output.parent.mkdir(parents=True, exist_ok=True)
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as tar:
            for name, data in files.items():
                info = tarfile.TarInfo(name)
                info.size, info.mtime, info.mode = len(data), int(CAPTURED_AT.timestamp()), 0o644
                tar.addfile(info, io.BytesIO(data))
        with (
            open(output, "wb") as raw,
            gzip.GzipFile(filename="", fileobj=raw, mode="wb", mtime=0) as gz,
        ):
            gz.write(buffer.getvalue())
    else:
        output.mkdir(parents=True, exist_ok=True)
        for stale in output.glob("*.json"):
            stale.unlink()
        for name, data in files.items():
            (output / name).write_bytes(data)
    return output


def iter_sizes(path: Path) -> Iterator[tuple[str, int]]:
    if path.is_dir():
        for f in sorted(path.iterdir()):
            yield f.name, f.stat().st_size
    else:
        yield path.name, path.stat().st_size


def write_with_info(snap: Snapshot, info: dict, output: Path, info_path: Path | None) -> str:
    """Write the bundle, add its size to `info`, save `info` as JSON when asked; the summary
    line both generators print starts with the returned `output: N nodes, ...`."""
    write(snap, output)
    info["bytes"] = sum(size for _, size in iter_sizes(output))
    if info_path:
        info_path.write_text(json.dumps(info, indent=2) + "\n")
    return (
        f"{output}: {info['nodes']} nodes, {info['pods']} pods, {info['events']} events, "
        f"{info['objects']} objects"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("output", type=Path, help="bundle directory, or a path ending in .tar.gz")
    parser.add_argument(
        "--scale",
        type=float,
        default=1.0,
        help="multiplies nodes, pods and events (default 1: 5,000 nodes)",
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--info", type=Path, help="also write the summary (Pending pods by cause) as JSON here"
    )
    args = parser.parse_args(argv)
    snap, info = generate(Scale().scaled(args.scale), args.seed)
    summary = write_with_info(snap, info, args.output, args.info)
    print(f"{summary}, {info['bytes'] / MIB:.1f} MiB", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
