"""What-if input: the pod a manifest would create (`why-pending -f manifest.yaml`).

Accepts a Pod, or a pod template of any workload kind in `k8s.podtemplates` (the table lint
uses too): Deployment, Job, CronJob, Volcano and Kubeflow jobs, KubeRay, LeaderWorkerSet, JobSet,
KServe InferenceService, Argo Workflow... Of several templates, the first that asks for an
extended resource (a GPU) is judged, else the first. The pod is not in the cluster, so it is
judged as if it were created now in the given namespace; its fields are held to the shapes in
`apishapes`, so a wrong-typed field is dropped rather than crashing the analysis.
"""

from __future__ import annotations

import copy
import sys
from pathlib import Path

from amldoctor import yamlread
from amldoctor.apishapes import shape_of
from amldoctor.errors import InputError
from amldoctor.k8s import podtemplates
from amldoctor.shapes import conform


def pod_from_manifest(path: str, namespace: str | None = None) -> dict:
    """The first pod-bearing object in the file, as a Pending pod; InputError otherwise."""
    try:
        text = Path(path).read_text() if path != "-" else sys.stdin.read()
        docs = [d for d in yamlread.load_all(text) if isinstance(d, dict)]
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise InputError(f"{path} is a binary file, not YAML or JSON") from None
    except yamlread.YamlProblem as exc:
        raise InputError(f"{path}:{exc.line}: {exc.message}") from None
    items: list[dict] = []
    for d in docs:
        listed = d.get("items") if str(d.get("kind", "")).endswith("List") else [d]
        items += [i for i in listed if isinstance(i, dict)] if isinstance(listed, list) else []
    kinds = []
    for doc in items:
        kinds.append(str(doc.get("kind") or "an object without kind"))
        found = podtemplates.sites(doc)
        if not found:
            continue
        site = next((s for s in found if _asks_extended(doc, s)), found[0])
        return _what_if_pod(doc, site, namespace)
    seen = ", ".join(sorted(set(kinds))) or "no Kubernetes objects"
    raise InputError(
        f"{path} has no Pod or pod template (found: {seen}); give a Pod or a workload "
        f"({', '.join(sorted(podtemplates.POD_BEARING_KINDS - {'Pod'}))})"
    )


def _asks_extended(doc: dict, site: podtemplates.Site) -> bool:
    for _, container, _ in podtemplates.container_paths(doc, site):
        resources = container.get("resources")
        for section in ("requests", "limits"):
            values = resources.get(section) if isinstance(resources, dict) else None
            if isinstance(values, dict) and any(
                isinstance(k, str) and "/" in k and "kubernetes.io/" not in k for k in values
            ):
                return True
    return False


def _what_if_pod(doc: dict, site: podtemplates.Site, namespace: str | None) -> dict:
    owner_meta = doc.get("metadata")
    owner: dict = owner_meta if isinstance(owner_meta, dict) else {}
    meta = copy.deepcopy(podtemplates.metadata_of(doc, site))
    owner_name = owner.get("name") if isinstance(owner.get("name"), str) else "pod"
    suffix = f"-{site.role}" if site.role else ""
    if not isinstance(meta.get("name"), str) or not meta.get("name"):
        meta["name"] = f"{owner_name}{suffix}-what-if"
    owner_ns = owner.get("namespace") if isinstance(owner.get("namespace"), str) else None
    own_ns = meta.get("namespace") if isinstance(meta.get("namespace"), str) else None
    meta["namespace"] = namespace or owner_ns or own_ns or "default"
    spec = copy.deepcopy(podtemplates.pod_spec(doc, site))
    if site.shape != podtemplates.POD:
        spec.pop("nodeName", None)
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta,
        "spec": spec,
        "status": {"phase": "Pending"},
    }
    shaped, _ = conform(pod, shape_of("Pod"))
    return shaped if isinstance(shaped, dict) else pod
