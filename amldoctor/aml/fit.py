"""Can an instance type run anywhere? Selector, size, GPUs and taints against the snapshot's nodes.

aml-operator validates an instance type against the Ready nodes it selects (a job whose instance
type is bigger than every node fails with "code 9"); the scheduler then needs a node whose
allocatable holds the requests and whose taints AML pods tolerate. Each question is answered
separately so a finding can name exactly which one fails.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from amldoctor.aml.extension import extension_node_selector
from amldoctor.aml.instancetypes import InstanceType, combined_selector, matching_nodes
from amldoctor.aml.model import as_dict, as_list, is_aml_pod, labels_of, name_of
from amldoctor.aml.nodes import (
    GPU,
    Capacity,
    is_schedulable,
    looks_like_gpu_node,
    mig_resources,
    untolerated_by_aml,
)
from amldoctor.k8s.nodepools import node_pool
from amldoctor.k8s.quantity import format_amount
from amldoctor.k8s.tolerations import format_taint
from amldoctor.memo import memo_on
from amldoctor.snapshot import Snapshot

# Tolerations every pod gets from admission; they say nothing about what AML adds.
_STANDARD_KEYS = frozenset(
    {
        "node.kubernetes.io/not-ready",
        "node.kubernetes.io/unreachable",
        "node.kubernetes.io/memory-pressure",
        "node.kubernetes.io/disk-pressure",
        "node.kubernetes.io/pid-pressure",
        "node.kubernetes.io/unschedulable",
    }
)


def observed_aml_tolerations(snap: Snapshot) -> list[dict]:
    """Tolerations that AML workload pods in the snapshot carry beyond the standard ones.

    These show what the extension really adds (for example through its workload-toleration
    setting), which is more reliable than the documented list alone. Read once per snapshot:
    every instance type asks.
    """
    return list(memo_on(snap, "aml-observed-tolerations", lambda: _observed_tolerations(snap)))


def _observed_tolerations(snap: Snapshot) -> list[dict]:
    seen: dict[str, dict] = {}
    for pod in snap.pods:
        if not is_aml_pod(pod):
            continue
        for tol in as_list(as_dict(pod.get("spec")).get("tolerations")):
            if isinstance(tol, dict) and tol.get("key") not in _STANDARD_KEYS:
                seen.setdefault(repr(sorted(tol.items())), tol)
    return [seen[k] for k in sorted(seen)]


@dataclass
class InstanceTypeFit:
    """The answers for one instance type; JSON-ready through `to_dict`."""

    it: InstanceType
    selector: dict[str, str]
    extension_selector: dict[str, str]
    conflicts: list[str]
    matching: list[dict]  # every node the selector matches
    ready: list[dict]  # ... that are Ready and not cordoned
    gpu_ready: list[dict]  # ... that advertise every GPU resource the instance type asks for
    fitting: list[str] = field(
        default_factory=list
    )  # ready nodes whose allocatable holds the requests
    largest: dict | None = None  # the ready node that comes closest, with its allocatable
    exceeded: list[dict] = field(default_factory=list)  # on `largest`: resource, asked, allocatable
    limit_exceeded: list[dict] = field(default_factory=list)
    largest_allocatable: dict[str, int] = field(default_factory=dict)  # scheduler units
    tainted: dict[str, list[str]] = field(default_factory=dict)  # node -> untolerated taints

    @property
    def candidates(self) -> list[dict]:
        """Nodes the instance type's pods could really use: Ready, selected, with its GPUs."""
        return self.gpu_ready if self.it.gpu_resources() else self.ready

    def to_dict(self) -> dict:
        return {
            "instance_type": self.it.to_dict(),
            "node_selector": self.selector,
            "extension_node_selector": self.extension_selector,
            "nodes_matching": [name_of(n) for n in self.matching],
            "nodes_ready": [name_of(n) for n in self.ready],
            "nodes_fitting": self.fitting,
        }


def _allocatable_text(alloc: Mapping[str, int], keys: list[str]) -> dict[str, str]:
    return {k: format_amount(k, alloc.get(k, 0)) for k in keys}


def analyze(
    snap: Snapshot,
    it: InstanceType,
    capacity: Capacity | None = None,
    extension_selector: Mapping[str, str] | None = None,
) -> InstanceTypeFit:
    capacity = capacity or Capacity(snap)
    if extension_selector is None:
        extension_selector, _ = extension_node_selector(snap)
    selector, conflicts = combined_selector(it, extension_selector)
    matching = [] if conflicts else matching_nodes(snap.nodes, selector)
    ready = [n for n in matching if is_schedulable(n)]
    gpu_names = list(it.gpu_resources())
    gpu_ready = [n for n in ready if all(capacity.allocatable(n).get(g, 0) > 0 for g in gpu_names)]
    fit = InstanceTypeFit(
        it, selector, dict(extension_selector), conflicts, matching, ready, gpu_ready
    )
    asked = {k: v for k, v in it.effective_requests.items() if v > 0 and k != "pods"}
    keys = sorted(asked)
    best_key = None
    for node in ready:
        alloc = capacity.allocatable(node)
        over = [k for k in keys if asked[k] > alloc.get(k, 0)]
        if not over:
            fit.fitting.append(name_of(node))
        # Closest node: fewest resources short, then the most of the scarcest resource asked.
        key = (-len(over), *(alloc.get(k, 0) for k in sorted(keys, key=_scarcity)), name_of(node))
        if best_key is None or key > best_key:
            best_key = key
            fit.largest = {
                "name": name_of(node),
                "pool": node_pool(node),
                "vm_size": labels_of(node).get("node.kubernetes.io/instance-type"),
                "allocatable": _allocatable_text(alloc, keys),
            }
            fit.largest_allocatable = dict(alloc)
            fit.exceeded = [
                {
                    "resource": k,
                    "asked": format_amount(k, asked[k]),
                    "allocatable": format_amount(k, alloc.get(k, 0)),
                }
                for k in over
            ]
            fit.limit_exceeded = [
                {
                    "resource": k,
                    "limit": format_amount(k, v),
                    "allocatable": format_amount(k, alloc.get(k, 0)),
                }
                for k, v in sorted(it.limits.items())
                if k in ("cpu", "memory") and v > alloc.get(k, 0)
            ]
    tolerations = observed_aml_tolerations(snap)
    for node in fit.candidates:
        bad = untolerated_by_aml(node, tolerations)
        if bad:
            fit.tainted[name_of(node)] = [format_taint(t) for t in bad]
    return fit


def _scarcity(resource: str) -> tuple[int, str]:
    """GPUs first, then memory, then CPU: the order in which nodes run out for ML pods."""
    order = 0 if resource.startswith("nvidia.com/") else 1 if resource == "memory" else 2
    return (order, resource)


def gpu_advertisement(nodes: list[dict], capacity: Capacity) -> dict:
    """What the selected nodes advertise instead of the GPUs asked for: MIG, none, GPU labels."""
    return {
        name_of(n): {
            "nvidia.com/gpu": capacity.allocatable(n).get(GPU, 0),
            "mig": mig_resources(n),
            "gpu_labels": looks_like_gpu_node(n),
        }
        for n in nodes
    }


def label_values(snap: Snapshot, keys: list[str]) -> dict[str, list[str]]:
    """For each selector key, the values Ready nodes really carry (what the user can pick)."""
    out: dict[str, set[str]] = {k: set() for k in keys}
    for node in snap.nodes:
        if not is_schedulable(node):
            continue
        labels = labels_of(node)
        for k in keys:
            if k in labels:
                out[k].add(str(labels[k]))
    return {k: sorted(v) for k, v in out.items()}
