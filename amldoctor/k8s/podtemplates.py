"""Where each workload kind keeps the pods it will create: one table for lint and why-pending.

ML workloads are mostly custom resources, and each nests its pod templates differently:

- Pod (v1): the object itself; Deployment, StatefulSet, ReplicaSet, DaemonSet, Job (batch),
  ReplicationController: `spec.template`; CronJob: `spec.jobTemplate.spec.template` (the core
  paths are `k8s.templates.POD_TEMPLATE_PATHS`);
- Job (batch.volcano.sh): `spec.tasks[].template`;
- PyTorchJob, TFJob, MPIJob... (kubeflow.org): `spec.<x>ReplicaSpecs.<role>.template`;
- RayCluster (ray.io): `spec.headGroupSpec.template` and `spec.workerGroupSpecs[].template`;
  RayJob: the same under `spec.rayClusterSpec`; RayService: under `spec.rayClusterConfig`;
- LeaderWorkerSet (leaderworkerset.x-k8s.io): `spec.leaderWorkerTemplate.leaderTemplate` and
  `.workerTemplate`;
- JobSet (jobset.x-k8s.io): `spec.replicatedJobs[].template.spec.template`;
- InferenceService (serving.kserve.io): `spec.predictor` / `transformer` / `explainer`, a pod
  spec written inline, plus the `model` (or framework) container;
- Workflow (argoproj.io): `spec.templates[]` with `container`, `script` or `containerSet`;
  scheduling fields from the template, else from the workflow.

Field paths checked against the projects' public CRD docs and examples (KubeRay, LWS, JobSet,
KServe v1beta1, Argo Workflows v1alpha1). A `Site` is one pod template and where it sits, so
lint can point at the line of a field; `pod_spec` gives the pod spec the scheduler would see.
"""

from __future__ import annotations

from dataclasses import dataclass

from amldoctor.k8s.templates import POD_TEMPLATE_PATHS, VOLCANO_JOB_GROUP

FieldPath = tuple[str | int, ...]

SERVING = "serving"  # long-running replicas: Deployment, StatefulSet, inference services
BATCH = "batch"  # runs to completion: Job, CronJob, Volcano, Kubeflow, RayJob, JobSet, Workflow
DAEMON = "daemon"
BARE_POD = "pod"

TEMPLATE = "template"  # {metadata, spec} at the path
INLINE = "inline"  # a pod spec written inline at the path (KServe components)
ARGO = "argo"  # an Argo template: containers and scheduling fields, no pod spec of its own
POD = "pod"  # the object is the pod

_CATEGORIES = {
    "Deployment": SERVING,
    "StatefulSet": SERVING,
    "ReplicaSet": SERVING,
    "ReplicationController": SERVING,
    "DaemonSet": DAEMON,
    "Job": BATCH,
    "CronJob": BATCH,
    "PodTemplate": SERVING,
}
# The core kinds' paths are `k8s.templates.POD_TEMPLATE_PATHS`; this table adds the rest.
_SIMPLE: dict[str, tuple[str, FieldPath]] = {
    kind: (category, POD_TEMPLATE_PATHS[kind]) for kind, category in _CATEGORIES.items()
}
KUBEFLOW_KINDS = frozenset({"PyTorchJob", "TFJob", "MPIJob", "XGBoostJob", "PaddleJob", "JAXJob"})
_RAY_CLUSTER_AT = {"RayCluster": ("spec",), "RayJob": ("spec", "rayClusterSpec"),
                   "RayService": ("spec", "rayClusterConfig")}  # fmt: skip
KSERVE_COMPONENTS = ("predictor", "transformer", "explainer")
# Framework shorthands of a KServe component: each is one container spec.
KSERVE_MODEL_KEYS = ("model", "sklearn", "xgboost", "tensorflow", "pytorch", "triton", "onnx",
                     "huggingface", "lightgbm", "paddle", "pmml", "art", "alibi")  # fmt: skip
_KSERVE_NOT_POD = ("minReplicas", "maxReplicas", "scaleTarget", "scaleMetric",
                   "containerConcurrency", "timeout", "canaryTrafficPercent", "logger",
                   "batcher", "workerSpec", *KSERVE_MODEL_KEYS)  # fmt: skip
_ARGO_POD_FIELDS = ("nodeSelector", "tolerations", "affinity", "priorityClassName",
                    "schedulerName", "volumes", "securityContext", "serviceAccountName",
                    "hostNetwork", "imagePullSecrets")  # fmt: skip
POD_BEARING_KINDS = frozenset(
    {"Pod", *_SIMPLE, *KUBEFLOW_KINDS, *_RAY_CLUSTER_AT, "LeaderWorkerSet", "JobSet",
     "InferenceService", "Workflow"}
)  # fmt: skip


@dataclass(frozen=True)
class Site:
    """One pod template in an object: where it is, what shape it has, what runs it."""

    path: FieldPath
    category: str
    shape: str = TEMPLATE
    role: str | None = None  # Volcano task, Kubeflow replica type, Ray group, LWS leader/worker


def _get(obj: object, path: FieldPath) -> object:
    for part in path:
        if isinstance(obj, dict) and isinstance(part, str):
            obj = obj.get(part)
        elif isinstance(obj, list) and isinstance(part, int) and 0 <= part < len(obj):
            obj = obj[part]
        else:
            return None
    return obj


def _dict(value: object) -> dict:
    return value if isinstance(value, dict) else {}


def _list(value: object) -> list:
    return value if isinstance(value, list) else []


def sites(obj: dict) -> list[Site] | None:
    """The pod templates of an object; None when its kind holds none that amldoctor knows."""
    kind = obj.get("kind")
    if not isinstance(kind, str):
        return None
    api = str(obj.get("apiVersion") or "")
    group = api.rpartition("/")[0]
    spec = _dict(obj.get("spec"))
    if kind == "Pod":
        return [Site((), BARE_POD, POD)] if api == "v1" else None
    if kind == "Job" and group == VOLCANO_JOB_GROUP:
        return [
            Site(("spec", "tasks", i, "template"), BATCH, role=str(_dict(t).get("name") or i))
            for i, t in enumerate(_list(spec.get("tasks")))
            if isinstance(t, dict)
        ]
    if kind in KUBEFLOW_KINDS and group == "kubeflow.org":
        return [
            Site(("spec", key, role, "template"), BATCH, role=role)
            for key, replicas in spec.items()
            if isinstance(key, str) and key.endswith("ReplicaSpecs") and isinstance(replicas, dict)
            for role in sorted(r for r in replicas if isinstance(r, str))
            if isinstance(replicas[role], dict)
        ]
    if kind in _RAY_CLUSTER_AT and group == "ray.io":
        base = _RAY_CLUSTER_AT[kind]
        category = BATCH if kind == "RayJob" else SERVING
        cluster = _dict(_get(obj, base))
        found = []
        if isinstance(cluster.get("headGroupSpec"), dict):
            found.append(Site((*base, "headGroupSpec", "template"), category, role="head"))
        for i, group_spec in enumerate(_list(cluster.get("workerGroupSpecs"))):
            if isinstance(group_spec, dict):
                role = str(group_spec.get("groupName") or f"worker-{i}")
                found.append(Site((*base, "workerGroupSpecs", i, "template"), category, role=role))
        return found
    if kind == "LeaderWorkerSet" and group == "leaderworkerset.x-k8s.io":
        lwt = _dict(spec.get("leaderWorkerTemplate"))
        return [
            Site(("spec", "leaderWorkerTemplate", key), SERVING, role=role)
            for key, role in (("leaderTemplate", "leader"), ("workerTemplate", "worker"))
            if key in lwt
        ]
    if kind == "JobSet" and group == "jobset.x-k8s.io":
        return [
            Site(
                ("spec", "replicatedJobs", i, "template", "spec", "template"),
                BATCH,
                role=str(_dict(rj).get("name") or i),
            )
            for i, rj in enumerate(_list(spec.get("replicatedJobs")))
            if isinstance(rj, dict)
        ]
    if kind == "InferenceService" and group == "serving.kserve.io":
        return [
            Site(("spec", c), SERVING, INLINE, role=c)
            for c in KSERVE_COMPONENTS
            if isinstance(spec.get(c), dict)
        ]
    if kind == "Workflow" and group == "argoproj.io":
        return [
            Site(("spec", "templates", i), BATCH, ARGO, role=str(t.get("name") or i))
            for i, t in enumerate(_list(spec.get("templates")))
            if isinstance(t, dict) and any(k in t for k in ("container", "script", "containerSet"))
        ]
    if kind in _SIMPLE and (kind != "Job" or group in ("batch", "")):
        category, path = _SIMPLE[kind]
        return [Site(path, category)]
    return None


def metadata_of(obj: dict, site: Site) -> dict:
    """The pod template's metadata (labels, annotations)."""
    if site.shape == POD:
        return _dict(obj.get("metadata"))
    if site.shape == TEMPLATE:
        return _dict(_dict(_get(obj, site.path)).get("metadata"))
    if site.shape == ARGO:
        return _dict(_dict(_get(obj, site.path)).get("metadata"))
    return {}


def container_paths(obj: dict, site: Site) -> list[tuple[FieldPath, dict, bool]]:
    """(path, container, is-init) of every container the pod would run, in pod order."""
    node = _dict(_get(obj, site.path))
    if site.shape in (POD, TEMPLATE):
        base = (*site.path, "spec") if site.shape == TEMPLATE else ("spec",)
        spec = _dict(node.get("spec"))
        return [
            ((*base, key, i), c, key == "initContainers")
            for key in ("initContainers", "containers")
            for i, c in enumerate(_list(spec.get(key)))
            if isinstance(c, dict)
        ]
    if site.shape == INLINE:
        found = [
            ((*site.path, "initContainers", i), c, True)
            for i, c in enumerate(_list(node.get("initContainers")))
            if isinstance(c, dict)
        ]
        for key in KSERVE_MODEL_KEYS:
            if isinstance(node.get(key), dict):
                model = {"name": "kserve-container", **node[key]}
                found.append(((*site.path, key), model, False))
        found += [
            ((*site.path, "containers", i), c, False)
            for i, c in enumerate(_list(node.get("containers")))
            if isinstance(c, dict)
        ]
        return found
    found = [
        ((*site.path, "initContainers", i), c, True)
        for i, c in enumerate(_list(node.get("initContainers")))
        if isinstance(c, dict)
    ]
    for key in ("container", "script"):
        if isinstance(node.get(key), dict):
            found.append(((*site.path, key), {"name": "main", **node[key]}, False))
    container_set = _dict(node.get("containerSet"))
    found += [
        ((*site.path, "containerSet", "containers", i), c, False)
        for i, c in enumerate(_list(container_set.get("containers")))
        if isinstance(c, dict)
    ]
    found += [
        ((*site.path, "sidecars", i), c, False)
        for i, c in enumerate(_list(node.get("sidecars")))
        if isinstance(c, dict)
    ]
    return found


def pod_spec(obj: dict, site: Site) -> dict:
    """The pod spec the template asks the scheduler for (a new dict for synthesized ones)."""
    node = _dict(_get(obj, site.path))
    if site.shape == POD:
        return _dict(obj.get("spec"))
    if site.shape == TEMPLATE:
        return _dict(node.get("spec"))
    containers = container_paths(obj, site)
    spec: dict = {}
    if site.shape == INLINE:
        spec = {k: v for k, v in node.items() if k not in _KSERVE_NOT_POD}
    else:  # Argo: the workflow's scheduling fields, overridden by the template's own
        workflow = _dict(obj.get("spec"))
        for key in _ARGO_POD_FIELDS:
            value = node.get(key, workflow.get(key))
            if value is not None:
                spec[key] = value
    spec["initContainers"] = [c for _, c, init in containers if init]
    spec["containers"] = [c for _, c, init in containers if not init]
    if not spec["initContainers"]:
        del spec["initContainers"]
    return spec
