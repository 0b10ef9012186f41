"""Where a workload keeps the pod it will create: one table for every reader of manifests.

`lint` points at fields inside these templates and `why-pending -f` judges the pod they would
make; both read the same locations. A Volcano Job has one template per task
(`spec.tasks[i].template`), which its readers walk themselves.
"""

from __future__ import annotations

from collections.abc import Mapping

# kind -> path from the object to its pod template ({metadata, spec}); () for a Pod itself.
POD_TEMPLATE_PATHS: dict[str, tuple[str, ...]] = {
    "Pod": (),
    "Deployment": ("spec", "template"),
    "StatefulSet": ("spec", "template"),
    "ReplicaSet": ("spec", "template"),
    "ReplicationController": ("spec", "template"),
    "DaemonSet": ("spec", "template"),
    "Job": ("spec", "template"),
    "CronJob": ("spec", "jobTemplate", "spec", "template"),
    "PodTemplate": ("template",),
}
VOLCANO_JOB_GROUP = "batch.volcano.sh"


def is_volcano_job(doc: Mapping) -> bool:
    """A Volcano Job shares the kind `Job` with batch/v1; its group tells them apart."""
    return doc.get("kind") == "Job" and str(doc.get("apiVersion", "")).startswith(VOLCANO_JOB_GROUP)
