"""Where a container's memory limit came from, and what to change it to.

Not a rule module. A limit is set in one of three places a user controls: the container spec,
a LimitRange default in the namespace (the admission plugin writes it into the pod and leaves a
`kubernetes.io/limit-ranger` annotation), or an AML instance type (the extension copies the
InstanceType's resources into the user container). The fix has to go to that place.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from amldoctor.aml.model import is_aml_pod
from amldoctor.k8s.containers import ContainerView, as_dict, dicts
from amldoctor.k8s.objects import meta
from amldoctor.k8s.quantity import QuantityError, format_bytes, parse_quantity
from amldoctor.rules._runtime import owner_kind_name
from amldoctor.snapshot import Snapshot

GI = 1 << 30
MI = 1 << 20
# The built-in AML default instance type: 1536Mi before Feb 2023, 2Gi since.
AML_DEFAULT_LIMITS = (1536 * MI, 2 * GI)


@dataclass(frozen=True)
class LimitSource:
    kind: str  # container-spec | limit-range | aml-instance-type | aml-default-instance-type
    name: str | None  # the LimitRange or InstanceType name
    text: str  # for messages


def bytes_of(raw: object) -> int | None:
    """A quantity as an integer (bytes for memory), None when unset or invalid."""
    try:
        return parse_quantity(raw).value() if raw is not None else None
    except QuantityError:
        return None


def limit_source(snap: Snapshot, pod: dict, view: ContainerView) -> LimitSource:
    """The place the container's memory limit was set."""
    annotation = (meta(pod).get("annotations") or {}).get("kubernetes.io/limit-ranger", "")
    limit = view.resource("limits", "memory")
    if re.search(rf"memory limit for (init )?container {re.escape(view.name)}\b", str(annotation)):
        ns = meta(pod).get("namespace")
        for lr in snap.of_kind("LimitRange", ns):
            for item in dicts(as_dict(lr.get("spec")).get("limits")):
                if not isinstance(item, dict) or item.get("type") != "Container":
                    continue
                if bytes_of(as_dict(item.get("default")).get("memory")) == limit:
                    name = meta(lr).get("name")
                    return LimitSource(
                        "limit-range", name, f"the default of LimitRange {ns}/{name}"
                    )
        return LimitSource(
            "limit-range", None, "a LimitRange default (kubernetes.io/limit-ranger annotation)"
        )
    if is_aml_pod(pod) and limit is not None:
        selector = as_dict(pod.get("spec")).get("nodeSelector") or {}
        for it in snap.of_kind("InstanceType"):
            spec = it.get("spec") or {}
            it_limit = bytes_of((as_dict(spec.get("resources")).get("limits") or {}).get("memory"))
            it_selector = spec.get("nodeSelector") or {}
            if it_limit == limit and all(selector.get(k) == v for k, v in it_selector.items()):
                name = meta(it).get("name")
                return LimitSource("aml-instance-type", name, f"AML instance type {name}")
        has_default_cr = snap.get("InstanceType", None, "defaultinstancetype") is not None
        if limit in AML_DEFAULT_LIMITS and not has_default_cr:
            text = (
                "the built-in AML defaultinstancetype (the job named no instance type)"
                if snap.collected("InstanceType")
                else "the built-in AML defaultinstancetype as far as the snapshot shows (it holds "
                "no InstanceTypes)"
            )
            return LimitSource("aml-default-instance-type", "defaultinstancetype", text)
        return LimitSource(
            "aml-instance-type", None, "an AML instance type (none in the snapshot matches)"
        )
    return LimitSource("container-spec", None, "the container spec")


def pod_usage(snap: Snapshot, pod: dict, container: str) -> int | None:
    """Current memory working set from metrics.k8s.io (kind PodMetrics), in bytes."""
    m = meta(pod)
    metrics = snap.get("PodMetrics", m.get("namespace"), m.get("name", ""))
    for c in dicts((metrics or {}).get("containers")):
        if isinstance(c, dict) and c.get("name") == container:
            return bytes_of(as_dict(c.get("usage")).get("memory"))
    return None


def round_up_memory(n: int) -> int:
    """Round to a value people write: whole Gi above 1Gi, else multiples of 256Mi."""
    step = GI if n > GI else 256 * MI
    return max(step, math.ceil(n / step) * step)


@dataclass(frozen=True)
class Suggestion:
    limit: int
    basis: str


def suggest_limit(limit: int | None, usage: int | None) -> Suggestion | None:
    """A new limit: 1.5x the larger of the old limit and the measured usage."""
    base = max(x for x in (limit, usage, 0) if x is not None)
    if base == 0:
        return None
    if usage is not None:
        basis = f"1.5 x max(limit, current usage {format_bytes(usage)} from metrics.k8s.io)"
    else:
        basis = (
            "1.5 x the current limit; the snapshot has no PodMetrics (metrics.k8s.io), so "
            "usage is unknown: confirm with `kubectl top pod --containers`"
        )
    return Suggestion(round_up_memory(base * 3 // 2), basis)


def _instance_types_with(snap: Snapshot, memory: int, gpu: bool) -> list[tuple[str, int]]:
    """Instance types with a memory limit of at least `memory` (GPU ones only for GPU pods),
    smallest first."""
    found = []
    for it in snap.of_kind("InstanceType"):
        limits = (as_dict(it.get("spec")).get("resources") or {}).get("limits") or {}
        limit = bytes_of(limits.get("memory"))
        if limit is not None and limit >= memory and bool(limits.get("nvidia.com/gpu")) == gpu:
            found.append((str(meta(it).get("name")), limit))
    return sorted(found, key=lambda pair: (pair[1], pair[0]))[:3]


def memory_fix(
    snap: Snapshot, pod: dict, view: ContainerView, source: LimitSource, new: int
) -> str:
    """Remediation text at the layer that set the limit, with a snippet."""
    value = format_bytes(new)
    if source.kind in ("aml-instance-type", "aml-default-instance-type"):
        if source.kind == "aml-default-instance-type":
            name = "defaultinstancetype"
            how = (
                "Create an instance type with more memory and pass `instance_type:` in the job, or "
                "override the built-in default by creating one named defaultinstancetype:\n"
            )
        else:
            name = source.name or "<instance-type>"
            how = (
                f"Raise the memory of AML instance type {name} (the pods copy it), then resubmit:\n"
            )
        bigger = _instance_types_with(
            snap, new, view.resource("limits", "nvidia.com/gpu") is not None
        )
        if bigger:
            how = (
                f"Use an existing instance type with at least {value}: `instance_type: "
                f"{bigger[0][0]}` ({', '.join(f'{n} {format_bytes(m)}' for n, m in bigger)}); or: "
                + how[0].lower()
                + how[1:]
            )
        return (
            how + "apiVersion: amlarc.azureml.com/v1alpha1\nkind: InstanceType\nmetadata:\n  name: "
            f"{name}\n"
            + f"spec:\n  resources:\n    requests:\n      memory: {value}\n    limits:\n      "
            f"memory: {value}"
        )
    snippet = (
        f"containers:\n- name: {view.name}\n  resources:\n    requests:\n      memory: {value}\n"
        f"    limits:\n      memory: {value}"
    )
    if source.kind == "limit-range":
        return (
            f"The limit is {source.text}: set an explicit limit on the container (or raise the "
            f"LimitRange default):\n{snippet}"
        )
    owner = owner_kind_name(snap, pod)
    if owner and owner[0] in ("Deployment", "StatefulSet", "DaemonSet"):
        ns = meta(pod).get("namespace")
        command = (
            f"kubectl set resources {owner[0].lower()}/{owner[1]} -n {ns} -c {view.name} "
            f"--limits=memory={value} --requests=memory={value}"
        )
        return (
            f"Raise the memory limit (and request) of container {view.name}: `{command}`, or in "
            f"the manifest:\n{snippet}"
        )
    return (
        f"Raise the memory limit (and request) of container {view.name} in the pod "
        f"template:\n{snippet}"
    )
