"""Finding the pod templates in manifests: what each workload will ask the scheduler for.

A Deployment's pods are `spec.template`, a CronJob's are `spec.jobTemplate.spec.template`, a
Volcano Job has one template per task and a Kubeflow training job one per replica type. Each
becomes a `Workload` that knows its path inside the document, so a rule can point at the line
of any field of the pod spec. Documents that hold no pods are sorted into "known, nothing to
lint" and "unknown kind" (noted, so the user knows they were not checked).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from amldoctor.engine.report import ObjectRef
from amldoctor.k8s.templates import POD_TEMPLATE_PATHS
from amldoctor.lint.source import Document, FieldPath

SERVING = "serving"  # long-running replicas behind a Service: Deployment, StatefulSet...
BATCH = "batch"  # runs to completion: Job, CronJob, Volcano and Kubeflow jobs
DAEMON = "daemon"
BARE_POD = "pod"

# The kinds lint checks, by how their pods live; where each keeps its template is
# `k8s.templates.POD_TEMPLATE_PATHS`.
_CATEGORIES = {
    "Deployment": SERVING,
    "StatefulSet": SERVING,
    "ReplicaSet": SERVING,
    "ReplicationController": SERVING,
    "DaemonSet": DAEMON,
    "Job": BATCH,
    "CronJob": BATCH,
    "Pod": BARE_POD,
}
_TEMPLATE_KINDS: dict[str, tuple[str, FieldPath]] = {
    kind: (category, POD_TEMPLATE_PATHS[kind]) for kind, category in _CATEGORIES.items()
}
_KUBEFLOW_KINDS = frozenset({"PyTorchJob", "TFJob", "MPIJob", "XGBoostJob", "PaddleJob", "JAXJob"})

# Kinds amldoctor knows and reads for context (Services, referenced objects, InstanceTypes) but
# that hold no pod template: not noted as skipped.
CONTEXT_KINDS = frozenset(
    {
        "Service", "ConfigMap", "Secret", "PersistentVolumeClaim", "PersistentVolume",
        "ServiceAccount", "Namespace", "Ingress", "HorizontalPodAutoscaler",
        "PodDisruptionBudget", "Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding",
        "NetworkPolicy", "StorageClass", "InstanceType", "ResourceQuota", "LimitRange",
        "PriorityClass", "CustomResourceDefinition", "Endpoints", "EndpointSlice", "PodGroup",
        "Queue", "ServiceMonitor", "PodMonitor", "VolumeSnapshot", "IngressClass",
    }
)  # fmt: skip


@dataclass
class Workload:
    """One pod template inside a manifest, and where it sits in its file."""

    doc: Document
    category: str
    path: FieldPath  # from the object to the pod template ({metadata, spec}); () for a Pod
    task: str | None = None  # Volcano task or Kubeflow replica type

    @property
    def kind(self) -> str:
        return self.doc.kind

    @property
    def name(self) -> str:
        return self.doc.name

    @property
    def namespace(self) -> str | None:
        return self.doc.namespace

    @property
    def ref(self) -> ObjectRef:
        return ObjectRef(kind=self.kind, namespace=self.namespace, name=self.name)

    @property
    def label(self) -> str:
        """`Job train-bert` / `Job train-bert (task worker)`, as messages name it."""
        return f"{self.kind} {self.name}" + (f" (task {self.task})" if self.task else "")

    @property
    def template(self) -> dict:
        node = _get(self.doc.obj, self.path)
        return node if isinstance(node, dict) else {}

    @property
    def spec(self) -> dict:
        spec = self.template.get("spec")
        return spec if isinstance(spec, dict) else {}

    @property
    def labels(self) -> dict:
        labels = (self.template.get("metadata") or {}).get("labels")
        return labels if isinstance(labels, dict) else {}

    def spec_path(self, *rel: str | int) -> FieldPath:
        """Path from the object to a field of the pod spec."""
        return (*self.path, "spec", *rel)

    def containers(self, *, init: bool = False) -> list[tuple[FieldPath, dict]]:
        """(path, container) of the regular containers, then sidecars or all init containers.

        `init=False` adds only restartable init containers (sidecars): they run for the pod's
        whole life, so resources and probes matter for them as for regular containers.
        """
        out = []
        for key in ("containers", "initContainers"):
            for i, c in enumerate(self.spec.get(key) or []):
                if not isinstance(c, dict):
                    continue
                if key == "initContainers" and not init and c.get("restartPolicy") != "Always":
                    continue
                out.append((self.spec_path(key, i), c))
        return out


def _get(obj: object, path: FieldPath) -> object:
    for part in path:
        if isinstance(obj, dict) and isinstance(part, str):
            obj = obj.get(part)
        elif isinstance(obj, list) and isinstance(part, int) and part < len(obj):
            obj = obj[part]
        else:
            return None
    return obj


def dotted(path: FieldPath) -> str:
    """("spec", "containers", 0, "image") -> "spec.containers[0].image"."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def is_kubernetes_object(doc: Document) -> bool:
    return bool(doc.kind) and bool(doc.api_version)


def is_aml_job_spec(doc: Document) -> bool:
    """An `az ml` job or deployment YAML: not Kubernetes, but it names an InstanceType."""
    return instance_type_field(doc) is not None


def instance_type_field(doc: Document) -> tuple[FieldPath, str] | None:
    """(path, name) of the instance type an AML job/deployment YAML asks for, if any."""
    if is_kubernetes_object(doc):
        return None
    obj = doc.obj
    resources = obj.get("resources")
    resources = resources if isinstance(resources, dict) else {}
    for path, value in (
        (("instance_type",), obj.get("instance_type")),
        (("resources", "instance_type"), resources.get("instance_type")),
    ):
        if isinstance(value, str) and value:
            return path, value
    return None


def extract_workloads(docs: list[Document]) -> tuple[list[Workload], list[str]]:
    """Every pod template in the documents, plus notes on what was skipped and why."""
    workloads: list[Workload] = []
    notes: list[str] = []
    unknown: Counter[str] = Counter()
    first_seen: dict[str, str] = {}
    for doc in docs:
        if not is_kubernetes_object(doc):
            continue  # non-Kubernetes documents are reported by the engine (AML job files, values)
        found = _templates(doc)
        if found is None:
            if doc.kind not in CONTEXT_KINDS:
                unknown[doc.kind] += 1
                first_seen.setdefault(doc.kind, f"{doc.file}:{doc.line()}")
            continue
        for w in found:
            if not isinstance(w.template.get("spec"), dict):
                notes.append(f"{doc.file}:{doc.line(w.path)}: {w.label} has no pod spec; skipped")
                continue
            workloads.append(w)
    for kind, count in sorted(unknown.items()):
        times = f" ({count} objects)" if count > 1 else ""
        notes.append(
            f"{first_seen[kind]}: kind {kind}{times} holds no pod template amldoctor knows; skipped"
        )
    return workloads, notes


def _templates(doc: Document) -> list[Workload] | None:
    """The workloads of one object; None when its kind holds no pod template we know."""
    kind, api = doc.kind, doc.api_version
    spec = doc.obj.get("spec")
    spec = spec if isinstance(spec, dict) else {}
    if kind == "Job" and api.startswith("batch.volcano.sh"):
        return [
            Workload(doc, BATCH, ("spec", "tasks", i, "template"), str(task.get("name") or i))
            for i, task in enumerate(spec.get("tasks") or [])
            if isinstance(task, dict)
        ]
    if kind in _KUBEFLOW_KINDS and api.startswith("kubeflow.org"):
        out = []
        for key, replicas in spec.items():
            if key.endswith("ReplicaSpecs") and isinstance(replicas, dict):
                for role in sorted(replicas):
                    if isinstance(replicas[role], dict):
                        out.append(Workload(doc, BATCH, ("spec", key, role, "template"), role))
        return out
    if kind in _TEMPLATE_KINDS and (kind != "Pod" or api == "v1"):
        category, path = _TEMPLATE_KINDS[kind]
        if kind == "Pod":
            return [Workload(doc, category, ())]
        return [Workload(doc, category, path)]
    return None
