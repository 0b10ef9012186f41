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
from amldoctor.k8s import podtemplates
from amldoctor.k8s.podtemplates import BARE_POD, BATCH, DAEMON, SERVING, Site
from amldoctor.lint.source import Document, FieldPath

__all__ = ["BARE_POD", "BATCH", "DAEMON", "SERVING", "Workload", "extract_workloads"]

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
    site: Site  # where the pod template is (see `k8s.podtemplates`)

    @property
    def category(self) -> str:
        return self.site.category

    @property
    def path(self) -> FieldPath:
        """From the object to the pod template; () for a Pod."""
        return self.site.path

    @property
    def task(self) -> str | None:
        """Volcano task, Kubeflow replica type, Ray group, LWS leader/worker..."""
        return self.site.role

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
        """The pod template as {metadata, spec}, synthesized for kinds that write it inline."""
        return {
            "metadata": podtemplates.metadata_of(self.doc.obj, self.site),
            "spec": self.spec,
        }

    @property
    def spec(self) -> dict:
        return podtemplates.pod_spec(self.doc.obj, self.site)

    @property
    def labels(self) -> dict:
        labels = podtemplates.metadata_of(self.doc.obj, self.site).get("labels")
        return labels if isinstance(labels, dict) else {}

    def spec_path(self, *rel: str | int) -> FieldPath:
        """Path from the object to a field of the pod spec."""
        if self.site.shape in (podtemplates.INLINE, podtemplates.ARGO):
            return (*self.path, *rel)
        return (*self.path, "spec", *rel)

    def containers(self, *, init: bool = False) -> list[tuple[FieldPath, dict]]:
        """(path, container) of the regular containers, then sidecars or all init containers.

        `init=False` adds only restartable init containers (sidecars): they run for the pod's
        whole life, so resources and probes matter for them as for regular containers.
        """
        found = podtemplates.container_paths(self.doc.obj, self.site)
        regular = [(path, c) for path, c, is_init in found if not is_init]
        inits = [
            (path, c)
            for path, c, is_init in found
            if is_init and (init or c.get("restartPolicy") == "Always")
        ]
        return regular + inits


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
            if w.site.shape == podtemplates.TEMPLATE and not isinstance(
                _get(doc.obj, (*w.path, "spec")), dict
            ):
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
    found = podtemplates.sites(doc.obj)
    return None if found is None else [Workload(doc, site) for site in found]
