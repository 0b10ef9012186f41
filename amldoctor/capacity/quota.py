"""ResourceQuota usage against its hard limits, for what ML workloads run out of first.

The quota admission plugin refuses a pod as soon as used + requested would pass a hard limit, so
a quota whose GPUs, memory or pod count are used up refuses the next pod of every workload in
the namespace. Quantities are compared exactly (parsed, never as floats).
"""

from __future__ import annotations

from dataclasses import dataclass

from amldoctor.k8s.quantity import QuantityError, parse_quantity

# What a training or inference namespace exhausts: GPUs, memory, pod count (cpu is reported too:
# it refuses pods just the same).
WATCHED_SUFFIXES = ("gpu", "memory", "cpu")
WATCHED_NAMES = frozenset({"pods", "count/pods"})


def watched(resource: str) -> bool:
    """Quota lines this package reports on: GPU, memory, CPU and pod-count lines."""
    if resource in WATCHED_NAMES:
        return True
    base = resource.split(".", 1)[1] if resource.startswith(("requests.", "limits.")) else resource
    return base in ("memory", "cpu") or base.endswith("/gpu") or "gpu" in base.split("/")[-1]


@dataclass(frozen=True)
class QuotaLine:
    """One hard limit of a ResourceQuota with its usage, as written in the object."""

    resource: str
    hard: str
    used: str
    exhausted: bool


def quota_lines(quota: dict) -> list[QuotaLine]:
    """Every watched line of `status.hard` (the enforced limits) with `status.used`."""
    status = quota.get("status") or {}
    hard = status.get("hard") or (quota.get("spec") or {}).get("hard") or {}
    used = status.get("used") or {}
    out = []
    for resource in sorted(hard):
        if not watched(resource):
            continue
        raw_used = used.get(resource, "0")
        try:
            exhausted = parse_quantity(raw_used).exact >= parse_quantity(hard[resource]).exact
        except QuantityError:
            continue
        out.append(QuotaLine(resource, str(hard[resource]), str(raw_used), exhausted))
    return out


def exhausted_lines(quota: dict) -> list[QuotaLine]:
    return [line for line in quota_lines(quota) if line.exhausted]
