"""AML InstanceTypes: parsed defensively, validated as AML documents, matched to nodes and pods.

An InstanceType (`instancetypes.amlarc.azureml.com`, cluster-scoped) is a nodeSelector plus the
resources AML copies into the user container of every pod of a job or deployment that names it.
`defaultinstancetype` is virtual unless a CR of that name overrides it. The extension-level
`nodeSelector` is ANDed with every instance type's selector (docs/aml-domain.md §2).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from amldoctor.aml.model import (
    AML_GROUP,
    api_group,
    as_dict,
    is_inference_pod,
    name_of,
)
from amldoctor.aml.nodes import GPU, selector_matches
from amldoctor.k8s.containers import ContainerView, containers
from amldoctor.k8s.quantity import QuantityError, format_amount, parse_quantity
from amldoctor.k8s.resources import to_scheduler_units
from amldoctor.snapshot import Snapshot

DEFAULT_NAME = "defaultinstancetype"
_CORE = ("cpu", "memory")
# The built-in default: current docs (requests 100m/2Gi, limits 2/2Gi) and before Feb 2023
# (600m/1536Mi for both). Verified in S4/S12 and by a 2022 pod dump.
BUILTIN_DEFAULTS = (
    {"requests": {"cpu": 100, "memory": 2 << 30}, "limits": {"cpu": 2000, "memory": 2 << 30}},
    {"requests": {"cpu": 600, "memory": 1536 << 20}, "limits": {"cpu": 600, "memory": 1536 << 20}},
)
DEFAULT_MEMORY_LIMITS = frozenset(d["limits"]["memory"] for d in BUILTIN_DEFAULTS)
# Containers AML adds next to the user's code; never the one carrying the instance type.
_SYSTEM_CONTAINERS = (
    "identity-sidecar",
    "lifecycler",
    "-capability",
    "storageinitializer",
    "storage-initializer",
    "fluent-bit",
    "init",
)


@dataclass
class InstanceType:
    """One instance type, parsed. `problems` lists what AML's validation would reject."""

    name: str
    node_selector: dict[str, str] = field(default_factory=dict)
    requests: dict[str, int] = field(default_factory=dict)
    limits: dict[str, int] = field(default_factory=dict)
    raw: dict[str, dict[str, str]] = field(default_factory=dict)  # as written, for messages
    problems: list[str] = field(default_factory=list)
    builtin: bool = False

    @property
    def effective_requests(self) -> dict[str, int]:
        """What the scheduler reserves per pod: requests, defaulting to limits (GPUs are
        limits-only)."""
        out = dict(self.limits)
        out.update(self.requests)
        return out

    @property
    def gpus(self) -> int:
        return self.limits.get(GPU, 0)

    def gpu_resources(self) -> dict[str, int]:
        return {k: v for k, v in self.limits.items() if k.startswith("nvidia.com/") and v > 0}

    def describe_resources(self) -> str:
        """'requests cpu=100m memory=2Gi, limits cpu=2 memory=2Gi nvidia.com/gpu=1'."""
        parts = []
        for section in ("requests", "limits"):
            values = getattr(self, section)
            if values:
                text = " ".join(f"{k}={format_amount(k, v)}" for k, v in sorted(values.items()))
                parts.append(f"{section} {text}")
        return ", ".join(parts) or "no resources"

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "builtin": self.builtin,
            "nodeSelector": dict(self.node_selector),
            "requests": {k: format_amount(k, v) for k, v in sorted(self.requests.items())},
            "limits": {k: format_amount(k, v) for k, v in sorted(self.limits.items())},
        }


def builtin_default() -> InstanceType:
    """The virtual `defaultinstancetype` of current extension versions."""
    d = BUILTIN_DEFAULTS[0]
    return InstanceType(DEFAULT_NAME, {}, dict(d["requests"]), dict(d["limits"]), builtin=True)


def parse_instance_type(obj: Mapping) -> InstanceType:
    """Never raises: anything odd in the object becomes a problem string."""
    it = InstanceType(name_of(obj) or "<unnamed>")
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        it.problems.append("spec is missing or not a map")
        return it
    selector = spec.get("nodeSelector")
    if isinstance(selector, dict):
        it.node_selector = {str(k): str(v) for k, v in selector.items()}
    elif selector is not None:
        it.problems.append("spec.nodeSelector is not a map of label: value")
    resources = spec.get("resources")
    if not isinstance(resources, dict):
        it.problems.append(
            "spec.resources is missing (requests and limits of cpu and memory are required)"
        )
        return it
    for section in ("requests", "limits"):
        values = resources.get(section)
        if values is None:
            it.problems.append(f"spec.resources.{section} is missing")
            continue
        if not isinstance(values, dict):
            it.problems.append(f"spec.resources.{section} is not a map")
            continue
        it.raw[section] = {str(k): str(v) for k, v in values.items()}
        parsed: dict[str, int] = getattr(it, section)
        for name, raw in values.items():
            name = str(name)
            if raw is None:
                continue  # `nvidia.com/gpu: null` in the documented default: not set
            try:
                quantity = parse_quantity(raw)
            except QuantityError:
                it.problems.append(f"{section}.{name} {raw!r} is not a valid quantity")
                continue
            parsed[name] = to_scheduler_units(name, quantity)
            if name.startswith("nvidia.com/") and quantity.nanos % 10**9:
                it.problems.append(f"{section}.{name} {raw!r} is not a whole number of GPUs")
        for name in _CORE:
            if not str(values.get(name) or "").strip() or parsed.get(name, 1) == 0:
                it.problems.append(f"{section}.{name} is required and must be non-zero")
    for name in it.requests:
        if name.startswith("nvidia.com/"):
            it.problems.append(f"{name} is set in requests: AML accepts GPUs only in limits")
    for name in _CORE:
        req, lim = it.requests.get(name), it.limits.get(name)
        if req is not None and lim is not None and req > lim:
            it.problems.append(
                f"requests.{name} {format_amount(name, req)} is above limits.{name} "
                f"{format_amount(name, lim)}"
            )
    return it


def instance_types(snap: Snapshot) -> list[InstanceType]:
    """Every InstanceType CR (AML's API group, or no apiVersion given), parsed, sorted by name."""
    return [
        parse_instance_type(o)
        for o in snap.of_kind("InstanceType")
        if api_group(o) in ("", AML_GROUP)
    ]


def combined_selector(
    it: InstanceType, extension_selector: Mapping[str, str]
) -> tuple[dict, list[str]]:
    """Instance-type selector AND extension selector; conflicting keys are returned as the second
    value."""
    merged = dict(extension_selector)
    conflicts = []
    for key, value in it.node_selector.items():
        if key in merged and merged[key] != value:
            conflicts.append(
                f"{key}: instance type wants {value!r}, extension nodeSelector {merged[key]!r}"
            )
        merged[key] = value
    return merged, conflicts


def matching_nodes(nodes: list[dict], selector: Mapping[str, str]) -> list[dict]:
    return [n for n in nodes if selector_matches(selector, n)]


# --- which instance type a pod came from ----------------------------------------------------------


def user_container(pod: dict) -> ContainerView | None:
    """The container that carries the instance type's resources.

    Training: `<runUuid>-execution-wrapper` (observed). Inference: the scoring container (the one
    serving port 5001), else the only non-system container. AML names are observed, not a
    contract, so the fallback is "the app container with the largest memory limit".
    """
    apps = [c for c in containers(pod) if not c.init]
    for view in apps:
        if view.name.endswith("execution-wrapper"):
            return view
    if is_inference_pod(pod):
        for view in apps:
            ports = [p for p in view.spec.get("ports") or () if isinstance(p, dict)]
            if any(p.get("containerPort") == 5001 for p in ports):
                return view
    candidates = [c for c in apps if not any(s in c.name for s in _SYSTEM_CONTAINERS)] or apps
    if not candidates:
        return None
    return max(candidates, key=lambda c: (c.resource("limits", "memory") or 0, c.name))


def _container_units(view: ContainerView, section: str) -> dict[str, int]:
    out: dict[str, int] = {}
    values = as_dict(as_dict(view.spec.get("resources")).get(section))
    for name, raw in values.items():
        try:
            out[str(name)] = to_scheduler_units(str(name), parse_quantity(raw))
        except QuantityError:
            continue
    return out


def _same_resources(it: InstanceType, requests: dict[str, int], limits: dict[str, int]) -> bool:
    keys = set(_CORE) | set(it.gpu_resources())
    return all(it.limits.get(k, 0) == limits.get(k, 0) for k in keys) and all(
        it.effective_requests.get(k, 0) == requests.get(k, limits.get(k, 0)) for k in _CORE
    )


def resolve_instance_type(snap: Snapshot, pod: dict) -> dict:
    """Which instance type a pod came from, and how sure that is.

    AML pods carry no instance-type label (none was observed), so the answer is inferred: the
    user container's requests and limits equal the instance type's; when several instance types
    have the same resources, the pod's nodeSelector decides. Returns a JSON-ready dict: `name`
    (None when unknown), `basis`, `confidence` (`inferred` or `unknown`), `candidates` when
    several match, and the `container` that was compared.
    """
    view = user_container(pod)
    if view is None:
        return {"name": None, "basis": "the pod has no containers", "confidence": "unknown"}
    requests, limits = _container_units(view, "requests"), _container_units(view, "limits")
    pod_selector = as_dict(as_dict(pod.get("spec")).get("nodeSelector"))
    same = [
        it
        for it in instance_types(snap)
        if not it.problems and _same_resources(it, requests, limits)
    ]
    selected = [
        it for it in same if all(pod_selector.get(k) == v for k, v in it.node_selector.items())
    ]
    # Whether AML copies the selector into the pod is not confirmed for every extension
    # version, so the resources decide and the selector only breaks ties.
    matches = same if len(same) == 1 else selected
    result: dict = {"container": view.name}
    if len(matches) == 1:
        chosen = matches[0]
        basis = f"container {view.name}'s requests and limits equal instance type {chosen.name}'s"
        if chosen.node_selector:
            basis += (
                " and the pod carries its nodeSelector"
                if chosen in selected
                else (" (the pod does not carry its nodeSelector)")
            )
        result.update(name=chosen.name, confidence="inferred", basis=basis)
    elif len(same) > 1:
        result.update(
            name=None,
            confidence="unknown",
            candidates=sorted(it.name for it in same),
            basis=f"container {view.name}'s resources match {len(same)} instance types",
        )
    elif any(_same_resources(_from_limits(d), requests, limits) for d in BUILTIN_DEFAULTS):
        has_cr = snap.get("InstanceType", None, DEFAULT_NAME) is not None
        collected = snap.collected("InstanceType")
        if has_cr:
            result.update(
                name=None,
                confidence="unknown",
                basis="resources equal the built-in default, but a defaultinstancetype CR "
                "overrides it",
            )
        else:
            result.update(
                name=DEFAULT_NAME,
                builtin=True,
                confidence="inferred",
                basis=f"container {view.name}'s resources equal the built-in defaultinstancetype"
                + ("" if collected else " (InstanceTypes were not in the snapshot)"),
            )
    else:
        result.update(
            name=None,
            confidence="unknown",
            basis=f"no instance type in the snapshot has container {view.name}'s requests and "
            "limits",
        )
    return result


def _from_limits(default: dict) -> InstanceType:
    return InstanceType(
        DEFAULT_NAME, {}, dict(default["requests"]), dict(default["limits"]), builtin=True
    )


def instance_type_yaml(
    name: str, selector: Mapping[str, str], requests: Mapping[str, str], limits: Mapping[str, str]
) -> str:
    """The InstanceType manifest users apply with `kubectl apply -f`."""
    lines = [
        "apiVersion: amlarc.azureml.com/v1alpha1",
        "kind: InstanceType",
        f"metadata:\n  name: {name}",
        "spec:",
    ]
    if selector:
        lines.append("  nodeSelector:")
        lines += [f"    {k}: {_yaml_scalar(v)}" for k, v in sorted(selector.items())]
    lines.append("  resources:")
    for section, values in (("requests", requests), ("limits", limits)):
        lines.append(f"    {section}:")
        lines += [f"      {k}: {_yaml_scalar(v)}" for k, v in values.items()]
    return "\n".join(lines)


def _yaml_scalar(value: object) -> str:
    text = str(value)
    return f'"{text}"' if text.isdigit() or text in ("true", "false", "") else text
