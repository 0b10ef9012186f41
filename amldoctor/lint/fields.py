"""Small readers over pod-spec fields shared by the lint rules: quantities, GPUs, YAML snippets.

Rules quote the user's own values back ("requests memory 8Gi"), so the raw strings are kept next
to the parsed, exact quantities used for comparisons.
"""

from __future__ import annotations

from dataclasses import dataclass

from amldoctor.k8s.quantity import NANO, Quantity, QuantityError, parse_quantity
from amldoctor.yamlwrite import dump_yaml

GPU_RESOURCES = ("nvidia.com/gpu", "amd.com/gpu")
GPU_PREFIXES = ("nvidia.com/mig-", "gpu.intel.com/")


def is_gpu_resource(name: str) -> bool:
    return name in GPU_RESOURCES or name.startswith(GPU_PREFIXES)


@dataclass(frozen=True)
class Amount:
    """One value of `resources.requests` or `resources.limits`: as written, and parsed."""

    raw: str
    quantity: Quantity | None  # None when Kubernetes would reject the value

    @property
    def is_whole(self) -> bool:
        return self.quantity is not None and self.quantity.nanos % NANO == 0


def amounts(container: dict, which: str) -> dict[str, Amount]:
    """`requests` or `limits` of a container, keyed by resource name."""
    resources = container.get("resources")
    values = resources.get(which) if isinstance(resources, dict) else None
    if not isinstance(values, dict):
        return {}
    out = {}
    for name, raw in values.items():
        try:
            q = parse_quantity(raw)
        except QuantityError:
            q = None
        out[str(name)] = Amount(str(raw), q)
    return out


def gpu_count(container: dict) -> int:
    """GPUs a container gets: its limit (requests default to it, and must equal it)."""
    total = 0
    for which in ("limits", "requests"):
        for name, amount in amounts(container, which).items():
            if is_gpu_resource(name) and amount.quantity is not None:
                total = max(total, amount.quantity.value())
    return total


def container_name(container: dict, path: tuple) -> str:
    return str(container.get("name") or f"#{path[-1]}")


def snippet(data: object) -> str:
    """A YAML fragment exactly as the user should write it."""
    return dump_yaml(data, sort_keys=False, default_flow_style=False, width=100).rstrip()
