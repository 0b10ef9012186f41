"""What a snapshot's objects go through before anything reads them.

Files from the field are not what the API server returns: the same pods twice (a support
bundle with `pods.yaml` and `all.yaml`), `kind: Status` error responses saved as if they were
objects, objects without `metadata.namespace` (kubectl prints them that way for files that are
applied later), fields of the wrong type. Each of those made amldoctor count twice, name a
namespace `None`, or crash. Here, once, for every source:

- non-objects and API `Status` responses are dropped (kept aside, so "nothing but errors" can
  be reported as what it is);
- every object is held to the shape of its kind (`apishapes`), wrong-typed values removed;
- a namespaced object without a namespace is in `default`, as the API server would put it;
- duplicates (same uid, else same group, kind, namespace and name) are counted once: the copy
  with the newest resourceVersion, else the first, is kept.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field

from amldoctor.apishapes import shape_of
from amldoctor.shapes import conform

DEFAULT_NAMESPACE = "default"

# Kinds that live outside namespaces (kubectl api-resources --namespaced=false), among those a
# cluster snapshot holds; any other kind is namespaced.
CLUSTER_SCOPED_KINDS = frozenset(
    {
        "Node", "Namespace", "PersistentVolume", "StorageClass", "CSINode", "CSIDriver",
        "VolumeAttachment", "PriorityClass", "RuntimeClass", "ClusterRole",
        "ClusterRoleBinding", "CustomResourceDefinition", "APIService", "IngressClass",
        "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration",
        "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding",
        "CertificateSigningRequest", "ComponentStatus", "DeviceClass", "ResourceSlice",
        "NodeMetrics", "FlowSchema", "PriorityLevelConfiguration", "StorageVersion",
        "InstanceType", "Queue", "ClusterQueue", "ResourceFlavor", "Cohort", "ClusterPolicy",
        "NodeFeatureRule", "ClusterIssuer",
    }
)  # fmt: skip


@dataclass
class Intake:
    """The objects to index, and what was set aside on the way (for messages and notes)."""

    objects: list[dict]
    statuses: list[dict] = field(default_factory=list)  # API error responses found in the input
    duplicates: int = 0
    reshaped: int = 0  # objects that had wrong-typed fields removed
    # kind -> its objects, in the order of `objects`: the snapshot's first index, built on the
    # way (None when a duplicate of another kind replaced an object: the snapshot builds it)
    by_kind: dict[str, list[dict]] | None = None


def is_namespaced(kind: object) -> bool:
    return not isinstance(kind, str) or kind not in CLUSTER_SCOPED_KINDS


def take_in(objects: list[dict], checked: Collection[int] = ()) -> Intake:
    """The objects as the rest of amldoctor may read them (see the module docstring).

    `checked` holds the ids of objects already known to have their kind's shape (built by the
    typed decoder, `selective`): they are not walked again. Most of a loaded cluster is such
    objects, and the walk cost as much as a tenth of a whole scan.
    """
    result = Intake([])
    by_kind: dict[str, list[dict]] = {}
    kept: dict[tuple, tuple[int, str, int]] = {}  # identity -> where: objects, kind, by kind
    kinds_replaced = False  # one uid under two kinds: the per-kind lists are not kept
    for raw in objects:
        if not isinstance(raw, dict) or not isinstance(raw.get("kind", ""), str):
            continue  # a kind that is not a name cannot be indexed (files reject it earlier)
        if raw.get("kind") == "Status" and not isinstance(raw.get("status"), dict):
            result.statuses.append(raw)
            continue
        checked_already = id(raw) in checked
        obj, problems = (raw, []) if checked_already else conform(raw, shape_of(raw.get("kind")))
        if not isinstance(obj, dict):
            continue
        if problems:
            result.reshaped += 1
        obj = _with_namespace(obj)
        key = identity(obj)
        kind = str(obj.get("kind", ""))
        where = kept.get(key)
        if where is None:
            same_kind = by_kind.get(kind)
            if same_kind is None:
                same_kind = by_kind[kind] = []
            kept[key] = (len(result.objects), kind, len(same_kind))
            result.objects.append(obj)
            same_kind.append(obj)
            continue
        result.duplicates += 1
        at, kept_kind, at_kind = where
        if _resource_version(obj) > _resource_version(result.objects[at]):
            result.objects[at] = obj
            if kept_kind == kind:
                by_kind[kind][at_kind] = obj
            else:
                kinds_replaced = True
    result.by_kind = None if kinds_replaced else by_kind
    return result


def identity(obj: dict) -> tuple:
    """The uid when there is one, else (API group, kind, namespace, name)."""
    meta = obj.get("metadata") or {}
    uid = meta.get("uid")
    if uid:
        return ("uid", uid)
    group = str(obj.get("apiVersion") or "").rpartition("/")[0]
    return ("key", group, obj.get("kind"), meta.get("namespace") or "", meta.get("name") or "")


def _with_namespace(obj: dict) -> dict:
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        return (
            {**obj, "metadata": {"namespace": DEFAULT_NAMESPACE}}
            if is_namespaced(obj.get("kind"))
            else obj
        )
    if meta.get("namespace") or not is_namespaced(obj.get("kind")):
        return obj
    return {**obj, "metadata": {**meta, "namespace": DEFAULT_NAMESPACE}}


def _resource_version(obj: dict) -> int:
    value = (obj.get("metadata") or {}).get("resourceVersion")
    return int(value) if isinstance(value, str) and value.isdigit() else -1


def describe_status(status: dict) -> str:
    """'Failure: pods is forbidden: ... (Forbidden, 403)' for an API Status saved in a file."""
    parts = [str(status.get("message") or status.get("status") or "an API error")]
    extra = [str(v) for v in (status.get("reason"), status.get("code")) if v]
    return parts[0] + (f" ({', '.join(extra)})" if extra else "")
