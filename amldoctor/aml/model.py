"""How AML objects are recognised: labels, annotations, API groups and the identity of a workload.

The label and annotation names come from real object dumps (extension 1.1.6, 2022, and later
inference pods): they are observed, not a contract, so every reader here accepts either of the
known spellings and degrades to "unknown" instead of failing. See docs/aml-domain.md §1.5–§1.6.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from amldoctor.k8s.objects import meta
from amldoctor.memo import memo_on
from amldoctor.snapshot import Snapshot

AML_GROUP = "amlarc.azureml.com"
VOLCANO_BATCH_GROUP = "batch.volcano.sh"
VOLCANO_SCHEDULING_GROUP = "scheduling.volcano.sh"
DEFAULT_EXTENSION_NAMESPACE = "azureml"
VOLCANO_SCHEDULER_NAME = "volcano"

# Pod labels (observed on training pods, S18) and annotations naming the PodGroup.
LABEL_JOB_ID = "jobId"
LABEL_RUN_ID = "ml.azure.com/run-id"
LABEL_COMPUTE = "ml.azure.com/compute"
LABEL_ENDPOINT = "ml.azure.com/endpoint-name"
LABEL_DEPLOYMENT = "ml.azure.com/deployment-name"
LABEL_VOLCANO_JOB = "volcano.sh/job-name"
GROUP_ANNOTATIONS = ("scheduling.k8s.io/group-name", "scheduling.volcano.sh/group-name")


def api_group(obj: Mapping) -> str:
    """`batch.volcano.sh` for `batch.volcano.sh/v1alpha1`; "" for core objects or none given."""
    version = str(obj.get("apiVersion") or "")
    return version.split("/")[0] if "/" in version else ""


def labels_of(obj: Mapping) -> Mapping[str, str]:
    value = meta(obj).get("labels")
    return value if isinstance(value, dict) else {}


def annotations_of(obj: Mapping) -> Mapping[str, str]:
    value = meta(obj).get("annotations")
    return value if isinstance(value, dict) else {}


def name_of(obj: Mapping) -> str:
    return str(meta(obj).get("name") or "")


def namespace_of(obj: Mapping) -> str:
    return str(meta(obj).get("namespace") or "")


def as_dict(value: object) -> dict:
    return value if isinstance(value, dict) else {}


def as_list(value: object) -> list:
    return value if isinstance(value, list) else []


def is_aml_pod(pod: Mapping) -> bool:
    """Pods the AzureML extension made for a workload (training or inference), not its own."""
    labels = labels_of(pod)
    if labels.get("isazuremlapp") == "true" or labels.get("jobsource") == "aml":
        return True
    if labels.get("controller") == "aml-operator":
        return True
    return any(str(k).startswith("ml.azure.com/") for k in labels)


def is_inference_pod(pod: Mapping) -> bool:
    labels = labels_of(pod)
    return labels.get("isazuremlapp") == "true" or LABEL_ENDPOINT in labels


def podgroup_name(pod: Mapping) -> str | None:
    """The PodGroup a Volcano pod belongs to (annotation set by the Volcano job controller)."""
    annotations = annotations_of(pod)
    for key in GROUP_ANNOTATIONS:
        if annotations.get(key):
            return str(annotations[key])
    return None


def job_id_from_name(name: str, namespace: str) -> str:
    """`<namespace>-<jobId>` (PodGroup, Volcano Job) -> jobId; other names are kept as they are."""
    prefix = f"{namespace}-"
    return name[len(prefix) :] if namespace and name.startswith(prefix) else name


@dataclass(frozen=True)
class Workload:
    """The AML unit a user knows: a training job or an online deployment."""

    kind: str  # "job" or "deployment"
    id: str  # jobId, or "<endpoint>/<deployment>"
    namespace: str
    run_id: str | None = None
    compute: str | None = None
    endpoint: str | None = None
    deployment: str | None = None
    podgroup: str | None = None

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.kind, self.namespace, self.id)

    def label(self) -> str:
        """'job 3f2a…' / 'deployment my-endpoint/blue' for messages."""
        return f"{self.kind} {self.id}"

    def to_dict(self) -> dict:
        data = {"kind": self.kind, "id": self.id, "namespace": self.namespace}
        for key in ("run_id", "compute", "endpoint", "deployment", "podgroup"):
            value = getattr(self, key)
            if value:
                data[key] = value
        return data


def workload_of(pod: Mapping) -> Workload | None:
    """The AML job or online deployment a pod belongs to, from its labels; None for other pods."""
    labels = labels_of(pod)
    ns = namespace_of(pod)
    compute = labels.get(LABEL_COMPUTE) or None
    if labels.get(LABEL_ENDPOINT) or labels.get(LABEL_DEPLOYMENT):
        endpoint = str(labels.get(LABEL_ENDPOINT) or "?")
        deployment = str(labels.get(LABEL_DEPLOYMENT) or "?")
        return Workload(
            "deployment",
            f"{endpoint}/{deployment}",
            ns,
            compute=compute,
            endpoint=endpoint,
            deployment=deployment,
        )
    group = podgroup_name(pod)
    job_id = labels.get(LABEL_JOB_ID) or labels.get("run")
    if not job_id and is_aml_pod(pod) and (group or labels.get(LABEL_VOLCANO_JOB)):
        job_id = job_id_from_name(str(group or labels.get(LABEL_VOLCANO_JOB)), ns)
    if not job_id or not is_aml_pod(pod):
        return None
    return Workload(
        "job",
        str(job_id),
        ns,
        run_id=labels.get(LABEL_RUN_ID) or None,
        compute=compute,
        podgroup=group,
    )


def workload_of_podgroup(pg: Mapping) -> Workload | None:
    """An AML job from its PodGroup (label `jobId`, or the `<ns>-<jobId>` name); None otherwise."""
    labels = labels_of(pg)
    ns = namespace_of(pg)
    job_id = labels.get(LABEL_JOB_ID)
    if not job_id and not any(str(k).startswith("ml.azure.com/") for k in labels):
        return None
    job_id = str(job_id or job_id_from_name(name_of(pg), ns))
    return Workload(
        "job",
        job_id,
        ns,
        run_id=labels.get(LABEL_RUN_ID) or None,
        compute=labels.get(LABEL_COMPUTE) or None,
        podgroup=name_of(pg),
    )


def podgroups(snap: Snapshot) -> list[dict]:
    """Volcano PodGroups (scheduling.volcano.sh); other groups' PodGroup kinds are ignored."""
    return [
        pg for pg in snap.of_kind("PodGroup") if api_group(pg) in ("", VOLCANO_SCHEDULING_GROUP)
    ]


def volcano_jobs(snap: Snapshot) -> list[dict]:
    """Volcano Jobs: kind Job in batch.volcano.sh (batch/v1 Jobs share the kind name)."""
    return [j for j in snap.of_kind("Job") if api_group(j) == VOLCANO_BATCH_GROUP]


def volcano_job_for(snap: Snapshot, pg: Mapping) -> dict | None:
    """The Volcano Job that owns a PodGroup (owner reference, else the same name)."""
    for ref in as_list(meta(pg).get("ownerReferences")):
        if isinstance(ref, dict) and ref.get("kind") == "Job":
            found = snap.by_uid(ref.get("uid"))
            if found is not None and api_group(found) == VOLCANO_BATCH_GROUP:
                return found
    return _first_by_name(snap, "volcano-jobs", volcano_jobs).get((namespace_of(pg), name_of(pg)))


def _first_by_name(
    snap: Snapshot, key: str, objects: Callable[[Snapshot], list[dict]]
) -> dict[tuple[str, str], dict]:
    """(namespace, name) -> the first of `objects(snap)` so named, indexed once per snapshot."""

    def build() -> dict[tuple[str, str], dict]:
        index: dict[tuple[str, str], dict] = {}
        for obj in objects(snap):
            index.setdefault((namespace_of(obj), name_of(obj)), obj)
        return index

    return memo_on(snap, key, build)


def pods_of_podgroup(snap: Snapshot, pg: Mapping) -> list[dict]:
    """Pods that name the PodGroup in their annotation, or carry its Volcano job label."""
    name, ns = name_of(pg), namespace_of(pg)
    job = volcano_job_for(snap, pg)
    job_name = name_of(job) if job else name
    by_group, by_job = memo_on(snap, "pods-by-podgroup", lambda: _pods_by_podgroup(snap))
    found = by_group.get((ns, name), []) + by_job.get((ns, job_name), [])
    # In snapshot order, each pod once (a pod usually carries both the annotation and the label).
    return [pod for _, pod in sorted({i: pod for i, pod in found}.items())]


def _pods_by_podgroup(
    snap: Snapshot,
) -> tuple[dict[tuple[str, str], list], dict[tuple[str, str], list]]:
    """(namespace, PodGroup annotation) and (namespace, Volcano job label) -> [(position, pod)].

    Built once per snapshot: a scan asks for the pods of every PodGroup, and filtering a
    namespace's pods for each would grow with PodGroups × pods.
    """
    by_group: dict[tuple[str, str], list] = defaultdict(list)
    by_job: dict[tuple[str, str], list] = defaultdict(list)
    for i, pod in enumerate(snap.pods):
        ns = namespace_of(pod)
        group = podgroup_name(pod)
        if group is not None:
            by_group[(ns, group)].append((i, pod))
        job = labels_of(pod).get(LABEL_VOLCANO_JOB)
        if job is not None:
            by_job[(ns, job)].append((i, pod))
    return dict(by_group), dict(by_job)


def podgroup_of_pod(snap: Snapshot, pod: Mapping) -> dict | None:
    ns = namespace_of(pod)
    name = podgroup_name(pod) or labels_of(pod).get(LABEL_VOLCANO_JOB)
    if not name:
        return None
    return _first_by_name(snap, "volcano-podgroups", podgroups).get((ns, name))


def aml_job_for(snap: Snapshot, workload: Workload) -> dict | None:
    """The AmlJob CR (named `<jobId>`) of a training workload, when in the snapshot."""
    if workload.kind != "job":
        return None
    found = snap.get("AmlJob", workload.namespace, workload.id)
    return found if found is not None and api_group(found) in ("", AML_GROUP) else None


def node_count_of_aml_job(aml_job: Mapping) -> int | None:
    """`spec.job.options.envs.AZUREML_NODE_COUNT`: the gang size (as NVIDIA's KAI grouper reads
    it)."""
    envs = as_dict(
        as_dict(as_dict(as_dict(aml_job.get("spec")).get("job")).get("options")).get("envs")
    )
    value = envs.get("AZUREML_NODE_COUNT")
    try:
        return int(str(value)) if value is not None else None
    except ValueError:
        return None
