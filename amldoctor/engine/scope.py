"""What `-l SELECTOR` puts in scope beyond the matching pods themselves.

The rules already keep to the namespaces in scope. A label selector is about pods, but findings
are also made about the objects around them: their Deployment or Job, the PodGroup of their AML
job, the claims they mount. Those stay; findings about other workloads' objects (another job's
PodGroup, a claim nobody in scope mounts) go, unless the object itself matches the selector.
Cluster findings (nodes, instance types, the AML extension) always stay, in their own section.
"""

from __future__ import annotations

from collections.abc import Callable

from amldoctor.engine.grouping import is_cluster_finding
from amldoctor.engine.report import Finding
from amldoctor.k8s.owners import owner_chain
from amldoctor.snapshot import Snapshot, meta


def within_selector(
    snap: Snapshot, findings: list[Finding], pods: list[dict], selector: Callable[[dict], bool]
) -> list[Finding]:
    """The findings about the selected pods, the objects around them, or matching objects."""
    related: set[tuple[str, str]] = set()  # (namespace, name) of pods, owners, claims
    for pod in pods:
        namespace = meta(pod).get("namespace") or ""
        related.add((namespace, meta(pod).get("name") or ""))
        for owner in owner_chain(snap, pod):
            related.add((namespace, meta(owner).get("name") or ""))
        for volume in (pod.get("spec") or {}).get("volumes") or ():
            claim = (volume.get("persistentVolumeClaim") or {}).get("claimName")
            if claim:
                related.add((namespace, claim))
    kept = []
    for finding in findings:
        ref = finding.object
        if is_cluster_finding(finding) or (ref.namespace or "", ref.name) in related:
            kept.append(finding)
            continue
        obj = snap.get(ref.kind, ref.namespace, ref.name)
        if obj is not None and selector(obj):
            kept.append(finding)
    return kept
