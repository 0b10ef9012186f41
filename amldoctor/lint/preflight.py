"""Pre-flight: would this pod template schedule on that cluster, right now?

Each workload's pod template becomes the pod its controller would create, and goes through the
same scheduler simulation and fix derivation as `amldoctor why-pending` (the kube-scheduler's
filters over the snapshot's nodes and the pods bound to them). The pod is new, so nothing in the
cluster's history applies: no events, no status, no nominated node.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

from amldoctor.k8s.quantity import QuantityError
from amldoctor.k8s.resources import pod_requests
from amldoctor.lint.workloads import Workload
from amldoctor.snapshot import Snapshot


def pod_for(w: Workload, namespace: str) -> dict:
    """The pod the workload's controller would create (named after the workload)."""
    template_meta = w.template.get("metadata")
    template_meta = template_meta if isinstance(template_meta, dict) else {}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": w.name,
            "namespace": namespace,
            "labels": dict(template_meta.get("labels") or {}),
            "annotations": dict(template_meta.get("annotations") or {}),
        },
        "spec": copy.deepcopy(w.spec),
        "status": {"phase": "Pending"},
    }


@dataclass
class Placement:
    """The verdict for one pod: which nodes fit, the scheduler's message, the fixes."""

    nodes_total: int
    fitting: list[str]
    scheduler_message: str | None
    fixes: list[dict] = field(default_factory=list)
    closest: list[dict] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # admission would reject the pod


def place(snap: Snapshot, pod: dict) -> Placement:
    """Simulate one scheduling cycle; raises QuantityError for a malformed request."""
    from amldoctor.scheduling.admission import admit
    from amldoctor.scheduling.cluster import ClusterView
    from amldoctor.scheduling.framework import simulate
    from amldoctor.whypending.remediation import all_fixes, closest_nodes

    admitted = admit(snap, pod)  # priority, runtime class, defaults: what the scheduler sees
    if admitted.refusals:
        return Placement(len(snap.nodes), [], None, refused=admitted.refusals)
    pod = admitted.pod
    result = simulate(snap, pod)
    placement = Placement(result.num_nodes, sorted(result.feasible), result.message)
    if not result.feasible and result.num_nodes:
        request = pod_requests(pod, pod_level_resources=result.profile.features.pod_level_resources)
        placement.fixes = all_fixes(result, ClusterView(snap, pod, result.profile), request)
        placement.closest = closest_nodes(result, limit=3)
    return placement


_LISTS_OF_MAPS = (
    "containers",
    "initContainers",
    "volumes",
    "tolerations",
    "topologySpreadConstraints",
)
_CONTAINER_LISTS = ("env", "envFrom", "ports", "volumeMounts")
_MAPS = ("nodeSelector", "affinity", "resources", "overhead")


def spec_problem(spec: dict) -> str | None:
    """The first field whose shape the API server would reject, or None.

    The simulation reads the same fields the scheduler does and trusts their types, as the
    scheduler can (the API server validated them); a manifest has not been validated yet.
    """
    for key in _MAPS:
        if key in spec and not isinstance(spec[key], dict | None):
            return f"spec.{key} is not a map"
    for key in _LISTS_OF_MAPS:
        value = spec.get(key)
        if value is not None and (
            not isinstance(value, list) or not all(isinstance(v, dict) for v in value)
        ):
            return f"spec.{key} is not a list of maps"
    if not spec.get("containers"):
        return "spec.containers is empty"
    for key in ("containers", "initContainers"):
        for i, c in enumerate(spec.get(key) or []):
            for field_name in _CONTAINER_LISTS:
                value = c.get(field_name)
                if value is not None and (
                    not isinstance(value, list) or not all(isinstance(v, dict) for v in value)
                ):
                    return f"spec.{key}[{i}].{field_name} is not a list of maps"
            resources = c.get("resources")
            if resources is not None and not isinstance(resources, dict):
                return f"spec.{key}[{i}].resources is not a map"
            for part in ("requests", "limits"):
                values = (resources or {}).get(part)
                if values is not None and not isinstance(values, dict):
                    return f"spec.{key}[{i}].resources.{part} is not a map"
    return None


def safe_place(snap: Snapshot, pod: dict) -> Placement | str:
    """`place`, or one sentence on why the pod cannot be simulated."""
    problem = spec_problem(pod["spec"])
    if problem is not None:
        return f"scheduling not simulated: {problem}"
    try:
        return place(snap, pod)
    except QuantityError as exc:
        return f"scheduling not simulated: {exc}"
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        # A shape `spec_problem` does not know (deep inside affinity, say): one workload's bad
        # field must not hide the verdict for the others.
        return f"scheduling not simulated: the pod spec has a field of an unexpected type ({exc})"
