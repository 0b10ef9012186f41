"""From per-node verdicts to changes a user can make.

Every fix quotes the user's own values and the cluster's: the taint to tolerate (as YAML), the
label value nodes really carry (typo detection by similarity), how far to lower a request so
that the largest candidate node can hold it, which pods hold the GPUs on nodes that would
otherwise fit, and whether the pod "never fits any node even when empty" or "fits once N are
freed".
"""

from __future__ import annotations

import difflib
import heapq
from collections import Counter
from collections.abc import Mapping
from typing import Any

from amldoctor.aml.model import is_aml_pod
from amldoctor.k8s.quantity import format_amount
from amldoctor.k8s.resources import PODS, is_extended_resource
from amldoctor.k8s.tolerations import format_taint, toleration_for
from amldoctor.memo import memo_on
from amldoctor.scheduling import names
from amldoctor.scheduling.cluster import ClusterView, NodeInfo, pod_key
from amldoctor.scheduling.framework import NodeVerdict, SchedulingResult
from amldoctor.scheduling.message import ParsedFitError
from amldoctor.scheduling.plugins import ADVICE, FUNNEL_ORDER
from amldoctor.whypending.drafixes import dra_fixes
from amldoctor.yamlwrite import dump_yaml

GPU_HINTS = ("nvidia.com/", "amd.com/gpu", "gpu.intel.com/")


def funnel(result: SchedulingResult, request: Mapping[str, int]) -> list[dict]:
    """Nodes left after each narrowing step; steps that reject nothing are left out."""
    remaining = [v for v in result.verdicts]
    steps = [{"step": "nodes", "label": "nodes", "count": len(remaining)}]
    if result.prefilter_status is not None:
        steps.append(
            {
                "step": result.prefilter_status.plugin,
                "label": "(rejected before any node is filtered: "
                + f"{result.prefilter_status.message()})",
                "count": 0,
            }
        )
        return steps
    if result.prefilter_node_names:
        remaining = [v for v in remaining if not v.outside_prefilter_result]
        steps.append(
            {
                "step": "PreFilterResult",
                "label": "are named by matchFields",
                "count": len(remaining),
            }
        )
    # Whether a node survives a step depends only on the set of plugins failing on it, and the
    # nodes of a cluster fall into a few such sets: narrow the sets, not the thousands of nodes.
    left = Counter(v.failing_plugins for v in remaining)
    for plugin, label in FUNNEL_ORDER:
        kept = Counter({s: n for s, n in left.items() if plugin not in s})
        if len(kept) == len(left):
            continue
        if plugin == names.NODE_RESOURCES_FIT:
            label = _resource_label([v for v in remaining if v.failing_plugins in left], request)
        left = kept
        steps.append({"step": plugin, "label": label, "count": left.total()})
    return steps


def _resource_label(verdicts: list[NodeVerdict], request: Mapping[str, int]) -> str:
    short = sorted(
        {
            str(r.evidence["resource"])
            for v in verdicts
            for s in v.failures
            if s.plugin == names.NODE_RESOURCES_FIT
            for r in s.items
            if r.evidence.get("resource") is not None
        }
    )
    parts = [
        "room for 1 more pod" if r == PODS else f"{format_amount(r, request.get(r, 0))} free {r}"
        for r in short
    ]
    return "have " + " and ".join(parts) if parts else "have room for the requests"


def funnel_line(steps: list[dict]) -> str:
    """One line: "12 nodes → 4 match nodeSelector/affinity → 1 tolerate their taints → 0 have
    2 free nvidia.com/gpu"."""
    out = []
    for i, s in enumerate(steps):
        out.append(f"{s['count']} nodes" if i == 0 else f"{s['count']} {s['label']}")
    return " → ".join(out)


# --- closest nodes ------------------------------------------------------------------------


def _shortfall(v: NodeVerdict) -> float:
    """Relative missing amount over the resource reasons (0 when resources are not the issue)."""
    total = 0.0
    for s in v.failures:
        if s.plugin != names.NODE_RESOURCES_FIT:
            continue
        for r in s.items:
            e = r.evidence
            need = e.get("requested", 0)
            free = max(e.get("capacity", 0) - e.get("used", 0), 0)
            total += (need - free) / need if need else 1.0
    return total


def closest_nodes(result: SchedulingResult, limit: int = 5) -> list[dict]:
    """Feasible nodes first, then the fewest failing filters, then the smallest shortfall.

    None when the scheduler turned the pod away before looking at any node (PreFilter): every
    node carries the same rejection, and none came closer than another.
    """
    if result.prefilter_status is not None:
        return []
    # The shortfall is worth working out only for the nodes that can make the first `limit` by
    # the cheaper part of the key (fits, then the number of failing filters).
    cheap = [(not v.fits, len(v.failing_plugins)) for v in result.verdicts]
    cut = heapq.nsmallest(limit, cheap)[-1] if cheap and limit > 0 else None
    ranked = sorted(
        (v for v, c in zip(result.verdicts, cheap, strict=True) if cut is not None and c <= cut),
        key=lambda v: (not v.fits, len(v.failing_plugins), _shortfall(v), v.name),
    )
    out = []
    for v in ranked[:limit]:
        out.append(
            {
                "name": v.name,
                "fits": v.fits,
                "failing": sorted(v.failing_plugins),
                "details": [f["detail"] for s in v.failures for f in s.failures(v.name)],
            }
        )
    return out


# --- fixes --------------------------------------------------------------------------------


def _fix(kind: str, text: str, **extra: Any) -> dict:
    return {"kind": kind, "text": text, **extra}


# Taints that mark nodes no workload should be steered onto: cordons and node conditions
# (the node lifecycle controller's node.kubernetes.io/*), control planes, and AKS system pools.
_SYSTEM_TAINT_PREFIXES = (
    "node.kubernetes.io/",
    "node-role.kubernetes.io/",
    "node.cloudprovider.kubernetes.io/",
)
_SYSTEM_TAINT_KEYS = frozenset({"CriticalAddonsOnly"})


def _is_system_taint(taint: Mapping) -> bool:
    key = str(taint.get("key", ""))
    return key in _SYSTEM_TAINT_KEYS or key.startswith(_SYSTEM_TAINT_PREFIXES)


def toleration_fix(result: SchedulingResult, cluster: ClusterView) -> dict | None:
    """Tolerations for the taints that keep otherwise-matching nodes out.

    Only taints worth tolerating are proposed: never cordon/condition taints or system-pool
    taints, and, when some node would fit once its taints are tolerated, only that node's taints
    (tolerating the system pool to reach a CPU node would be the wrong advice for a GPU job).
    """
    if result.prefilter_status is not None:
        return None  # rejected before any node is looked at: taints are not what blocks the pod
    candidates = [
        v
        for v in result.verdicts
        if names.TAINT_TOLERATION in v.failing_plugins
        and names.NODE_AFFINITY not in v.failing_plugins
    ]
    fit_once_tolerated = [v for v in candidates if v.failing_plugins == {names.TAINT_TOLERATION}]
    taints: dict[str, Mapping] = {}
    nodes: Counter[str] = Counter()
    for v in fit_once_tolerated or candidates:
        for s in v.failures:
            if s.plugin != names.TAINT_TOLERATION:
                continue
            for t in s.items[0].evidence.get("taint_objects", []):
                if _is_system_taint(t):
                    continue
                taints.setdefault(format_taint(t), t)
                nodes[format_taint(t)] += 1
    if not taints:
        return None
    tolerations = [toleration_for(taints[k]) for k in sorted(taints)]
    snippet = dump_yaml({"tolerations": tolerations}, sort_keys=False).rstrip()
    listed = ", ".join(f"{k} ({nodes[k]} node(s))" for k in sorted(taints))
    text = f"add tolerations for {listed} to the pod spec (spec.tolerations)"
    if fit_once_tolerated:
        text += f": the pod then fits on {len(fit_once_tolerated)} node(s)"
    if is_aml_pod(cluster.pod):
        text += (
            "; for Azure ML jobs the InstanceType cannot carry tolerations: set them in the "
            "AzureML extension (workLoadToleration) or taint the pool with the ml.azure.com/* "
            "keys AML tolerates"
        )
    return _fix("toleration", text, yaml=snippet, taints=sorted(taints))


def selector_fixes(result: SchedulingResult, cluster: ClusterView) -> list[dict]:
    """nodeSelector / affinity values no node carries, with the closest values nodes do carry."""
    spec = cluster.pod.get("spec") or {}
    wanted: list[tuple[str, list[str], str]] = [
        (k, [str(v)], f"nodeSelector {k}={v}")
        for k, v in sorted((spec.get("nodeSelector") or {}).items())
    ]
    aff = ((spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution"
    ) or {}
    if not wanted and not aff.get("nodeSelectorTerms"):
        return []  # the pod selects no nodes: nothing to compare with the nodes' labels
    label_values = memo_on(cluster.snap, "node-label-values", lambda: _label_values(cluster))
    fixes = []
    for term in aff.get("nodeSelectorTerms") or []:
        for e in (term or {}).get("matchExpressions") or []:
            if e.get("operator") == "In":
                key = e.get("key", "")
                wanted.append(
                    (
                        key,
                        [str(x) for x in e.get("values") or []],
                        f"affinity {key} In {e.get('values')}",
                    )
                )
            elif e.get("operator") == "Exists":
                wanted.append((e.get("key", ""), [], f"affinity {e.get('key')} Exists"))
    for key, values, shown in wanted:
        have = label_values.get(key)
        if have is None:
            similar = difflib.get_close_matches(key, list(label_values), n=3, cutoff=0.6)
            hint = f"; similar label keys on nodes: {', '.join(similar)}" if similar else ""
            fixes.append(
                _fix(
                    "selector",
                    f"no node has a label {key} ({shown}){hint}",
                    key=key,
                    suggestions=similar,
                )
            )
            continue
        if not values or any(v in have for v in values):
            continue
        for value in values:
            close = difflib.get_close_matches(value, list(have), n=3, cutoff=0.5)
            close += [v for v in have if (v in value or value in v) and v not in close]
            if close:
                best = close[0]
                text = (
                    f"no node has {key}={value}; {have[best]} node(s) have {key}={best}: "
                    f"did you mean {key}={best}?"
                )
            else:
                seen = ", ".join(f"{v} ({n})" for v, n in have.most_common(5))
                text = f"no node has {key}={value}; nodes carry {key} = {seen}"
            fixes.append(
                _fix(
                    "selector",
                    text,
                    key=key,
                    value=value,
                    node_values=dict(have),
                    suggestions=close,
                )
            )
    return fixes


def _label_values(cluster: ClusterView) -> dict[str, Counter[str]]:
    """label key -> how many nodes carry each value."""
    label_values: dict[str, Counter[str]] = {}
    for node in cluster.nodes:
        for k, v in node.labels.items():
            label_values.setdefault(k, Counter())[v] += 1
    return label_values


def _max_allocatable(nodes: list[NodeInfo], resource: str) -> tuple[int, str | None]:
    best, where = 0, None
    for n in nodes:
        value = n.allocatable.get(resource, 0)
        if value > best:
            best, where = value, n.name
    return best, where


def resource_fixes(
    result: SchedulingResult, cluster: ClusterView, request: Mapping[str, int]
) -> list[dict]:
    """Missing extended resources, requests larger than any node, and what holds the rest."""
    fixes: list[dict] = []
    nodes = cluster.nodes
    # Nodes that pass every filter except NodeResourcesFit are where capacity is the only issue.
    only_resources = [v for v in result.verdicts if v.failing_plugins == {names.NODE_RESOURCES_FIT}]
    candidates = [cluster.node_by_name[v.name] for v in only_resources] or nodes
    for resource, wanted in sorted(request.items()):
        if wanted <= 0 or resource == PODS:
            continue
        advertised = [n for n in nodes if n.allocatable.get(resource, 0) > 0]
        if is_extended_resource(resource) and not advertised:
            fixes.append(
                _fix("missing-resource", _missing_resource_text(resource, nodes), resource=resource)
            )
            continue
        biggest, where = _max_allocatable(candidates, resource)
        if wanted > biggest and biggest > 0:
            pool = "node that passes every other filter" if only_resources else "node"
            text = (
                f"never fits any {pool} even when empty: the pod requests "
                f"{format_amount(resource, wanted)} {resource}, the largest such node ({where}) "
                f"has {format_amount(resource, biggest)} allocatable; lower the request to at "
                f"most {format_amount(resource, biggest)} (minus what DaemonSets on it request) "
                "or add a larger node pool"
            )
            overall, big_node = _max_allocatable(nodes, resource)
            if only_resources and overall >= wanted:
                text += (
                    f" (node {big_node} has {format_amount(resource, overall)} but other filters "
                    "rule it out: see its row)"
                )
            fixes.append(
                _fix(
                    "request-too-large",
                    text,
                    resource=resource,
                    requested=wanted,
                    largest_allocatable=biggest,
                    node=where,
                )
            )
    freeable = _freeable(only_resources, cluster, request)
    if freeable:
        fixes.append(freeable)
    return fixes


def _missing_resource_text(resource: str, nodes: list[NodeInfo]) -> str:
    in_capacity = [
        n.name for n in nodes if ((n.node.get("status") or {}).get("capacity") or {}).get(resource)
    ]
    if in_capacity:
        return (
            f"no node has allocatable {resource}, though "
            f"{', '.join(sorted(in_capacity)[:3])} list it in "
            "capacity: the device plugin reports the devices unhealthy or is restarting"
        )
    text = f"no node advertises {resource}"
    if any(h in resource for h in GPU_HINTS):
        text += ": NVIDIA device plugin missing or GPU pool scaled to zero?"
        mig = sorted({r for n in nodes for r in n.allocatable if r.startswith("nvidia.com/mig-")})
        if mig and resource == "nvidia.com/gpu":
            text += f" (nodes advertise MIG slices instead: {', '.join(mig)}; request one of those)"
        elif resource.startswith("nvidia.com/mig-"):
            gpus = [n.name for n in nodes if n.allocatable.get("nvidia.com/gpu", 0) > 0]
            if gpus:
                text += f" (nodes advertise whole GPUs as nvidia.com/gpu instead, e.g. {gpus[0]})"
    return text


def _freeable(
    only_resources: list[NodeVerdict], cluster: ClusterView, request: Mapping[str, int]
) -> dict | None:
    """The node that needs the least freed, and the pods that hold what is missing there."""
    best = None
    for v in only_resources:
        node = cluster.node_by_name[v.name]
        missing = {}
        for s in v.failures:
            for r in s.items:
                e = r.evidence
                res = e.get("resource")
                if res and res != PODS and request.get(res, 0) <= e.get("capacity", 0):
                    missing[res] = request[res] - (e["capacity"] - e["used"])
        if not missing or any(
            e.get("unresolvable") for s in v.failures for e in (r.evidence for r in s.items)
        ):
            continue
        key = sum(missing.values())
        if best is None or key < best[0]:
            best = (key, node, missing)
    if best is None:
        return None
    _, node, missing = best
    holders = []
    for pod in node.pods:
        reqs = node.pod_requests(pod)
        held = {r: reqs.get(r, 0) for r in missing if reqs.get(r, 0) > 0}
        if held:
            holders.append(
                {"pod": "/".join(pod_key(pod)), **{r: format_amount(r, n) for r, n in held.items()}}
            )
    holders.sort(key=lambda h: h["pod"])
    need = " and ".join(f"{format_amount(r, n)} more {r}" for r, n in sorted(missing.items()))
    verb = "is" if len(missing) == 1 and next(iter(missing.values())) == 1 else "are"
    text = f"fits node {node.name} once {need} {verb} free there"
    if holders:
        shown = "; ".join(
            h["pod"] + " (" + ", ".join(f"{k} {v}" for k, v in h.items() if k != "pod") + ")"
            for h in holders[:5]
        )
        text += f"; held by {shown}"
    return _fix("free-capacity", text, node=node.name, missing=missing, holders=holders)


def other_fixes(result: SchedulingResult, cluster: ClusterView) -> list[dict]:
    fixes = []
    seen: set[str] = set()
    prefilter = result.prefilter_status
    if prefilter is not None:
        fixes.append(_fix("prefilter", prefilter.items[0].detail or prefilter.message()))
        seen.add(prefilter.plugin)
    counts: Counter[str] = Counter()
    example: dict[str, str] = {}
    for v in result.verdicts:
        for s in v.failures:
            counts[s.plugin] += 1
            if s.plugin not in example:
                example[s.plugin] = s.items[0].explain(v.name)[0]
    # A cordon matters only where it is all that stands in the way (the cordon's own taint aside):
    # a cordoned CPU node is no news to a GPU pod that no CPU node could take anyway.
    cordon_blocks = any(
        v.failing_plugins - {names.TAINT_TOLERATION} == {names.NODE_UNSCHEDULABLE}
        for v in result.verdicts
    )
    for plugin, text in ADVICE.items():
        if plugin in (names.TAINT_TOLERATION, names.NODE_AFFINITY):
            continue  # toleration_fix and selector_fixes say it with the cluster's own values
        if plugin == names.NODE_UNSCHEDULABLE and not cordon_blocks:
            continue
        if counts.get(plugin) and plugin not in seen:
            fixes.append(
                _fix(plugin.lower(), f"{text} ({counts[plugin]} node(s); e.g. {example[plugin]})")
            )
    return fixes


def all_fixes(
    result: SchedulingResult, cluster: ClusterView, request: Mapping[str, int]
) -> list[dict]:
    """Every fix, the scheduler's PreFilter rejection first (nothing else matters until it goes)."""
    others = other_fixes(result, cluster)
    first = [f for f in others if f["kind"] == "prefilter"]
    if first:
        # The scheduler looks at no node until this is fixed; node-level advice would mislead.
        return first
    fixes = selector_fixes(result, cluster)
    tol = toleration_fix(result, cluster)
    if tol:
        fixes.append(tol)
    fixes += resource_fixes(result, cluster, request)
    dra = dra_fixes(result)  # said with the devices' numbers: the generic advice goes
    fixes += dra
    generic = {"prefilter", "dynamicresources"} if dra else {"prefilter"}
    return fixes + [f for f in others if f["kind"] not in generic]


def fixes_from_message(parsed: ParsedFitError) -> list[dict]:
    """Fixes from the scheduler's message alone, when nodes cannot be read."""
    fixes: list[dict] = []
    taints = sorted({c.taint for c in parsed.causes if c.taint})
    if taints:
        tolerations = []
        for t in taints:
            key, _, value = t.partition("=")
            tol = (
                {"key": key, "operator": "Equal", "value": value}
                if value
                else {"key": key, "operator": "Exists"}
            )
            tolerations.append(tol)  # no effect: the message does not say which one, match all
        snippet = dump_yaml({"tolerations": tolerations}, sort_keys=False).rstrip()
        fixes.append(
            _fix(
                "toleration",
                f"add tolerations for {', '.join(taints)} (named by the scheduler's message)",
                yaml=snippet,
            )
        )
    seen = {names.TAINT_TOLERATION} if taints else set()
    for c in parsed.causes:
        if c.resource and c.resource not in seen:
            seen.add(c.resource)
            fixes.append(
                _fix(
                    "resources",
                    f"{c.count} node(s) lack {c.resource}: lower the request or add capacity",
                )
            )
        elif c.plugin in ADVICE and c.plugin not in seen:
            seen.add(c.plugin)
            fixes.append(_fix(c.plugin.lower(), f"{c.count} node(s): {ADVICE[c.plugin]}"))
    if parsed.prefilter_msg:
        fixes.insert(
            0, _fix("prefilter", f"every node is rejected before filtering: {parsed.prefilter_msg}")
        )
    return fixes
