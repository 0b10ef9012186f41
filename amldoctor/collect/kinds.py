"""The catalogue of kinds a collection reads, and what one of their list items becomes.

Each `Resource` says where a kind is listed and what it is called in the snapshot; the tuples
below say which are read per namespace, cluster-wide, and in the AzureML extension's namespace.
"""

from __future__ import annotations

from dataclasses import dataclass

AZUREML_NAMESPACE = "azureml"
# What the scheduler counts on each node: every non-terminal pod bound to one, any namespace.
BOUND_PODS = "spec.nodeName!=,status.phase!=Succeeded,status.phase!=Failed"
# Pods that preempted and wait for their victims: the scheduler keeps their room on the node.
NOMINATED_PODS = "spec.nodeName=,status.nominatedNodeName!="
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


@dataclass(frozen=True)
class Resource:
    """One API resource: where to list it and what to call it in the snapshot."""

    kind: str
    api_version: str
    plural: str
    namespaced: bool = True
    label: str | None = None  # name in collected/missing when `kind` alone is ambiguous
    metadata_only: bool = False  # list names only (Secrets: their data is never read)

    @property
    def name(self) -> str:
        return self.label or self.kind

    def path(self, namespace: str | None) -> str:
        base = "/api/v1" if self.api_version == "v1" else f"/apis/{self.api_version}"
        if self.namespaced and namespace:
            return f"{base}/namespaces/{namespace}/{self.plural}"
        return f"{base}/{self.plural}"


POD = Resource("Pod", "v1", "pods")
EVENT = Resource("Event", "v1", "events")
PVC = Resource("PersistentVolumeClaim", "v1", "persistentvolumeclaims")
RESOURCE_QUOTA = Resource("ResourceQuota", "v1", "resourcequotas")
LIMIT_RANGE = Resource("LimitRange", "v1", "limitranges")
SERVICE = Resource("Service", "v1", "services")
CONFIG_MAP = Resource("ConfigMap", "v1", "configmaps")
SECRET = Resource("Secret", "v1", "secrets", metadata_only=True)
REPLICA_SET = Resource("ReplicaSet", "apps/v1", "replicasets")
DEPLOYMENT = Resource("Deployment", "apps/v1", "deployments")
STATEFUL_SET = Resource("StatefulSet", "apps/v1", "statefulsets")
DAEMON_SET = Resource("DaemonSet", "apps/v1", "daemonsets")
JOB = Resource("Job", "batch/v1", "jobs")
POD_GROUP = Resource("PodGroup", "scheduling.volcano.sh/v1beta1", "podgroups")
VOLCANO_JOB = Resource("Job", "batch.volcano.sh/v1alpha1", "jobs", label="Job.batch.volcano.sh")
AML_JOB = Resource("AmlJob", "amlarc.azureml.com/v1alpha1", "amljobs")
POD_METRICS = Resource("PodMetrics", "metrics.k8s.io/v1beta1", "pods")
NODE = Resource("Node", "v1", "nodes", namespaced=False)
PV = Resource("PersistentVolume", "v1", "persistentvolumes", namespaced=False)
STORAGE_CLASS = Resource("StorageClass", "storage.k8s.io/v1", "storageclasses", namespaced=False)
CSI_NODE = Resource("CSINode", "storage.k8s.io/v1", "csinodes", namespaced=False)
INSTANCE_TYPE = Resource(
    "InstanceType", "amlarc.azureml.com/v1alpha1", "instancetypes", namespaced=False
)
QUEUE = Resource("Queue", "scheduling.volcano.sh/v1beta1", "queues", namespaced=False)
NAMESPACE = Resource("Namespace", "v1", "namespaces", namespaced=False)
# Karpenter (AKS node auto-provisioning): what it provisions and why it could not.
NODE_POOL = Resource("NodePool", "karpenter.sh/v1", "nodepools", namespaced=False)
NODE_CLAIM = Resource("NodeClaim", "karpenter.sh/v1", "nodeclaims", namespaced=False)
# Preemption respects PodDisruptionBudgets; what-if admission reads PriorityClasses and
# RuntimeClasses (why-pending -f, lint --against).
PDB = Resource("PodDisruptionBudget", "policy/v1", "poddisruptionbudgets")
PRIORITY_CLASS = Resource(
    "PriorityClass", "scheduling.k8s.io/v1", "priorityclasses", namespaced=False
)
RUNTIME_CLASS = Resource("RuntimeClass", "node.k8s.io/v1", "runtimeclasses", namespaced=False)
# Dynamic Resource Allocation (GA in 1.34): claims and their templates, the classes they name, and
# the devices drivers publish per node.
RESOURCE_CLAIM = Resource("ResourceClaim", "resource.k8s.io/v1", "resourceclaims")
RESOURCE_CLAIM_TEMPLATE = Resource(
    "ResourceClaimTemplate", "resource.k8s.io/v1", "resourceclaimtemplates"
)
DEVICE_CLASS = Resource("DeviceClass", "resource.k8s.io/v1", "deviceclasses", namespaced=False)
RESOURCE_SLICE = Resource("ResourceSlice", "resource.k8s.io/v1", "resourceslices", namespaced=False)

NAMESPACED = (
    POD, EVENT, PVC, RESOURCE_QUOTA, LIMIT_RANGE, SERVICE, CONFIG_MAP, SECRET, REPLICA_SET,
    DEPLOYMENT, STATEFUL_SET, DAEMON_SET, JOB, POD_GROUP, VOLCANO_JOB, AML_JOB, POD_METRICS, PDB,
    RESOURCE_CLAIM, RESOURCE_CLAIM_TEMPLATE,
)  # fmt: skip
# Namespaces are listed for their labels (pod affinity namespaceSelector), not only our own.
CLUSTER_SCOPED = (
    NODE, PV, STORAGE_CLASS, CSI_NODE, NAMESPACE, INSTANCE_TYPE, QUEUE, NODE_POOL, NODE_CLAIM,
    PRIORITY_CLASS, RUNTIME_CLASS, DEVICE_CLASS, RESOURCE_SLICE,
)  # fmt: skip
# What only a placement question reads: where a waiting pod or gang would fit (the scheduler's
# volume, DRA, priority and runtime-class inputs) and what a new node would change (Karpenter).
# A namespace's scan lists them only once something there waits for a node
# (`collector.collect_live`); no rule reads them otherwise. Namespaced ones are read in the scan's
# namespace. PersistentVolumes and StorageClasses are also read for the namespace's own claims.
PLACEMENT_ONLY = (
    CSI_NODE, DEVICE_CLASS, RESOURCE_SLICE, RESOURCE_CLAIM, RESOURCE_CLAIM_TEMPLATE, PDB,
    PRIORITY_CLASS, RUNTIME_CLASS, NODE_POOL, NODE_CLAIM,
)  # fmt: skip
CLAIM_STORAGE = (PV, STORAGE_CLASS)
# Read in the azureml namespace for extension health (ConfigMaps: the health-check report).
EXTENSION = (POD, DEPLOYMENT, EVENT, CONFIG_MAP)
ARC_NAMESPACE = "azure-arc"  # Arc agents live here: their presence tells an Arc cluster from AKS
# Resources served only when an add-on is installed: a 404 means "not installed".
OPTIONAL_APIS = frozenset(
    {
        "scheduling.volcano.sh",
        "batch.volcano.sh",
        "amlarc.azureml.com",
        "karpenter.sh",
        "resource.k8s.io",  # resource.k8s.io/v1 is served from 1.34 on
    }
)


@dataclass(frozen=True)
class ListRequest:
    """One LIST: a resource, a scope (namespace, or None for all / cluster-scoped), a query.

    `extra` marks reads outside the snapshot's own scope (pods of other namespaces on the nodes,
    the azureml extension's namespace): their failure is recorded as Missing, but their success
    does not make the kind count as collected, since the kind's own scope may have failed.
    """

    resource: Resource
    namespace: str | None = None
    params: tuple[tuple[str, str], ...] = ()
    extra: bool = False


# The cluster autoscaler's status (kube-system/cluster-autoscaler-status): read by name, since a
# namespace-scoped scan would not otherwise see kube-system.
AUTOSCALER_STATUS = ListRequest(
    CONFIG_MAP,
    "kube-system",
    (("fieldSelector", "metadata.name=cluster-autoscaler-status"),),
    extra=True,
)


def normalize(res: Resource, item: dict) -> dict:
    """List items lack kind/apiVersion; managedFields are noise kubectl hides too.

    The item is completed in place and returned.
    """
    meta = dict(item.get("metadata") or {})
    meta.pop("managedFields", None)
    if res.metadata_only:
        # Only names: last-applied-configuration on a Secret is a copy of its data.
        annotations = dict(meta.get("annotations") or {})
        annotations.pop(LAST_APPLIED, None)
        if annotations:
            meta["annotations"] = annotations
        else:
            meta.pop("annotations", None)
        return {"kind": res.kind, "apiVersion": res.api_version, "metadata": meta}
    # In place (the item is ours, just decoded): no copy of each of 10,000 pods.
    item["kind"], item["apiVersion"], item["metadata"] = res.kind, res.api_version, meta
    return item
