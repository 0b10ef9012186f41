"""What the API server's admission adds to a pod before the scheduler sees it (what-if input).

A manifest judged with `why-pending -f` or `lint --against` has not been through admission, so
it lacks what the cluster would add: the priority of its PriorityClass (which decides whether
it can preempt), a RuntimeClass's overhead and scheduling constraints, the not-ready/unreachable
tolerations, LimitRange defaults. A ResourceQuota may refuse the pod outright; then no
scheduler ever sees it, and that is the answer.

Core/v1 defaulting first (requests from limits), then the plugins in the API server's order:
LimitRanger, (ServiceAccount: no scheduling effect), Priority, DefaultTolerationSeconds,
RuntimeClass, ResourceQuota (`quota.py`).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from amldoctor.scheduling.quota import quota_refusal

SYSTEM_PRIORITIES = {"system-node-critical": 2000001000, "system-cluster-critical": 2000000000}
DEFAULT_TOLERATION_SECONDS = 300
NOT_READY = "node.kubernetes.io/not-ready"
UNREACHABLE = "node.kubernetes.io/unreachable"


@dataclass
class Admitted:
    """The pod as admission would store it, what admission changed, and refusals."""

    pod: dict
    added: list[str] = field(default_factory=list)
    refusals: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)  # kinds not readable: not applied

    def to_dict(self) -> dict:
        return {"added": self.added, "refused": self.refusals, "not_checked": self.unknown}


def admit(snap: Any, pod: Mapping) -> Admitted:
    """Apply the admission plugins that change scheduling to a copy of `pod`."""
    out = Admitted(copy.deepcopy(dict(pod)))
    out.pod.setdefault("spec", {})
    out.pod.setdefault("metadata", {})
    _requests_from_limits(out.pod)
    _limit_ranger(snap, out)
    _priority(snap, out)
    _default_toleration_seconds(out)
    _runtime_class(snap, out)
    _resource_quota(snap, out)
    return out


def _ref(pod: Mapping) -> str:
    meta = pod.get("metadata") or {}
    return f"{meta.get('namespace') or 'default'}/{meta.get('name') or '?'}"


def _forbidden(pod: Mapping) -> str:
    """How the API server starts an admission refusal (`admission.NewForbidden`)."""
    return f'pods "{(pod.get("metadata") or {}).get("name")}" is forbidden: '


def _readable(snap: Any, kind: str, out: Admitted) -> bool:
    if snap.collected(kind) and snap.missing_for(kind) is None:
        return True
    if kind not in out.unknown:
        out.unknown.append(kind)
    return False


# --- API defaulting (before any admission plugin) ---------------------------------------------


def _requests_from_limits(pod: dict) -> None:
    """A container that states a limit but no request gets the limit as its request: core/v1
    defaulting does it when the pod is decoded, before LimitRanger (whose default request then
    does not apply) and before ResourceQuota counts it."""
    for kind in ("initContainers", "containers"):
        for c in pod["spec"].get(kind) or []:
            res = c.get("resources") if isinstance(c, dict) else None
            if not isinstance(res, dict):
                continue
            limits = res.get("limits")
            if not isinstance(limits, dict) or not limits:
                continue
            requests = res.setdefault("requests", {})
            if not isinstance(requests, dict):
                continue
            for name, value in limits.items():
                requests.setdefault(name, value)


# --- LimitRanger -----------------------------------------------------------------------------


def _limit_ranger(snap: Any, out: Admitted) -> None:
    """Container defaults of the namespace's LimitRanges (`default`, `defaultRequest`)."""
    ns = (out.pod["metadata"].get("namespace")) or "default"
    if not _readable(snap, "LimitRange", out):
        return
    for lr in snap.of_kind("LimitRange", ns):
        for item in (lr.get("spec") or {}).get("limits") or []:
            if item.get("type") != "Container":
                continue
            for kind in ("initContainers", "containers"):
                for c in out.pod["spec"].get(kind) or []:
                    res = c.setdefault("resources", {})
                    for field_name, section in (
                        ("default", "limits"),
                        ("defaultRequest", "requests"),
                    ):
                        for name, value in (item.get(field_name) or {}).items():
                            have = res.setdefault(section, {})
                            if name not in have:
                                have[name] = value
                                out.added.append(
                                    f"{section}.{name}={value} on container {c.get('name')} "
                                    f"(LimitRange {lr['metadata'].get('name')})"
                                )


# --- Priority --------------------------------------------------------------------------------


def _priority(snap: Any, out: Admitted) -> None:
    spec = out.pod["spec"]
    name = spec.get("priorityClassName")
    if name in SYSTEM_PRIORITIES:
        value, policy = SYSTEM_PRIORITIES[name], "PreemptLowerPriority"
    elif not _readable(snap, "PriorityClass", out):
        return
    else:
        classes = list(snap.of_kind("PriorityClass"))
        if name:
            pc = next((c for c in classes if c["metadata"].get("name") == name), None)
            if pc is None:
                out.refusals.append(
                    f'pods "{out.pod["metadata"].get("name")}" is forbidden: no PriorityClass '
                    f"with name {name} was found"
                )
                return
        else:
            defaults = [c for c in classes if c.get("globalDefault")]
            if not defaults:
                spec.setdefault("priority", 0)
                return
            pc = min(defaults, key=lambda c: int(c.get("value") or 0))
            spec["priorityClassName"] = pc["metadata"]["name"]
            out.added.append(f"priorityClassName={pc['metadata']['name']} (globalDefault)")
        value = int(pc.get("value") or 0)
        policy = pc.get("preemptionPolicy") or "PreemptLowerPriority"
    if spec.get("priority") is not None and spec["priority"] != value:
        out.refusals.append(
            f"the integer value of priority ({spec['priority']}) must not be provided in pod "
            f"spec; priority admission controller computed {value} from the given "
            "PriorityClass name"
        )
    spec["priority"] = value
    spec["preemptionPolicy"] = spec.get("preemptionPolicy") or policy
    out.added.append(
        f"priority={value}, preemptionPolicy={spec['preemptionPolicy']} "
        f"(PriorityClass {spec['priorityClassName']})"
    )


# --- DefaultTolerationSeconds ------------------------------------------------------------------


def _default_toleration_seconds(out: Admitted) -> None:
    tolerations = out.pod["spec"].setdefault("tolerations", [])
    for key in (NOT_READY, UNREACHABLE):
        if any(
            (t.get("key") in (key, None, "")) and (t.get("effect") in ("NoExecute", None, ""))
            for t in tolerations
        ):
            continue
        tolerations.append(
            {
                "key": key,
                "operator": "Exists",
                "effect": "NoExecute",
                "tolerationSeconds": DEFAULT_TOLERATION_SECONDS,
            }
        )
        out.added.append(f"toleration {key}:NoExecute for {DEFAULT_TOLERATION_SECONDS}s")
    if not tolerations:
        del out.pod["spec"]["tolerations"]


# --- RuntimeClass ------------------------------------------------------------------------------


def _runtime_class(snap: Any, out: Admitted) -> None:
    spec = out.pod["spec"]
    name = spec.get("runtimeClassName")
    if not name or not _readable(snap, "RuntimeClass", out):
        return
    rc = snap.get("RuntimeClass", None, name)
    if rc is None:
        out.refusals.append(f'{_forbidden(out.pod)}pod rejected: RuntimeClass "{name}" not found')
        return
    overhead = (rc.get("overhead") or {}).get("podFixed")
    if overhead and spec.get("overhead") and spec["overhead"] != overhead:
        out.refusals.append(
            f"{_forbidden(out.pod)}pod rejected: Pod's Overhead doesn't match RuntimeClass's "
            "defined Overhead"
        )
        return
    if overhead and not spec.get("overhead"):
        spec["overhead"] = dict(overhead)
        out.added.append(
            "overhead "
            + ", ".join(f"{k}={v}" for k, v in sorted(overhead.items()))
            + f" (RuntimeClass {name})"
        )
    scheduling = rc.get("scheduling") or {}
    selector = scheduling.get("nodeSelector") or {}
    mine = spec.setdefault("nodeSelector", {})
    for key, value in selector.items():
        if key in mine and mine[key] != value:
            out.refusals.append(
                f"{_forbidden(out.pod)}conflict: runtimeClass.scheduling.nodeSelector[{key}] = "
                f"{value}; pod.spec.nodeSelector[{key}] = {mine[key]}"
            )
            return
        mine[key] = value
    if selector:
        out.added.append(f"nodeSelector {selector} (RuntimeClass {name})")
    if not mine:
        del spec["nodeSelector"]
    extra = scheduling.get("tolerations") or []
    if extra:
        spec.setdefault("tolerations", []).extend(t for t in extra if t not in spec["tolerations"])
        out.added.append(f"{len(extra)} toleration(s) (RuntimeClass {name})")


# --- ResourceQuota -----------------------------------------------------------------------------


def _resource_quota(snap: Any, out: Admitted) -> None:
    ns = out.pod["metadata"].get("namespace") or "default"
    if not _readable(snap, "ResourceQuota", out):
        return
    for quota in snap.of_kind("ResourceQuota", ns):
        refusal = quota_refusal(quota, out.pod)
        if refusal:
            out.refusals.append(refusal)
