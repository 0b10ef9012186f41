"""What-if input: the pod a manifest would create (`why-pending -f manifest.yaml`).

Accepts a Pod, or the pod template of a Deployment, ReplicaSet, StatefulSet, DaemonSet, Job,
CronJob or Volcano Job (`batch.volcano.sh`, first task). The pod is not in the cluster, so it is
judged as if it were created now in the given namespace.
"""

from __future__ import annotations

import copy
import sys
from pathlib import Path

import yaml

from amldoctor.errors import InputError
from amldoctor.k8s.templates import POD_TEMPLATE_PATHS, is_volcano_job


def _template(doc: dict) -> dict | None:
    kind = doc.get("kind")
    if kind == "Pod":
        return doc
    if is_volcano_job(doc):
        tasks = (doc.get("spec") or {}).get("tasks") or []
        return tasks[0].get("template") if tasks else None
    path = POD_TEMPLATE_PATHS.get(str(kind))
    if path is None:
        return None
    cur: object = doc
    for key in path:
        cur = cur.get(key) if isinstance(cur, dict) else None
    return cur if isinstance(cur, dict) else None


def pod_from_manifest(path: str, namespace: str | None = None) -> dict:
    """The first pod-bearing object in the file, as a Pending pod; InputError otherwise."""
    try:
        text = Path(path).read_text() if path != "-" else sys.stdin.read()
        docs = [d for d in yaml.safe_load_all(text) if isinstance(d, dict)]
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except yaml.YAMLError as exc:
        raise InputError(f"{path} is not valid YAML: {str(exc).splitlines()[0]}") from exc
    items = [
        i
        for d in docs
        for i in (d.get("items") if d.get("kind", "").endswith("List") else [d]) or []
    ]
    kinds = []
    for doc in items:
        template = _template(doc)
        kinds.append(str(doc.get("kind")))
        if template is None:
            continue
        owner = doc.get("metadata") or {}
        meta = copy.deepcopy(template.get("metadata") or {})
        meta["name"] = meta.get("name") or f"{owner.get('name', 'pod')}-what-if"
        meta["namespace"] = (
            namespace or owner.get("namespace") or meta.get("namespace") or "default"
        )
        spec = copy.deepcopy(template.get("spec") or {})
        if doc.get("kind") != "Pod":
            spec.pop("nodeName", None)
        return {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": meta,
            "spec": spec,
            "status": {"phase": "Pending"},
        }
    found = ", ".join(sorted(set(kinds))) or "no Kubernetes objects"
    raise InputError(
        f"{path} has no Pod or pod template (found: {found}); give a Pod, Deployment, Job, "
        "StatefulSet, ReplicaSet, DaemonSet, CronJob or Volcano Job"
    )
