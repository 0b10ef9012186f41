"""One scheduling cycle for one pod: PreFilter, Filter on every node, the FitError, preemption.

The scheduler stops at the first failing plugin per node; amldoctor records that verdict
(`reasons`, what the event counts) and also evaluates every other plugin on the node
(`failures`), because a user fixing the taint wants to know the node is also too small.

Nominated pods of equal or higher priority count on their node (`nominated.py`), and when no
node fits the preemption dry run (`preemption.py`) names the node and victims the scheduler
would pick. DRA claims go through the DynamicResources plugin; where it cannot evaluate a
selector, the node's verdict is an Error status and `not_modelled` says so. Not modelled, and
reported in `not_modelled` when the cluster shows signs of them: scheduler extenders and custom
profiles.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from amldoctor.k8s.objects import DEFAULT_SCHEDULER
from amldoctor.memo import memo_on
from amldoctor.scheduling import message as msg
from amldoctor.scheduling import names
from amldoctor.scheduling.cluster import (
    ClusterView,
    NodeInfo,
    anti_affinity_pods,
    nominated_pods,
    pod_key,
)
from amldoctor.scheduling.nominated import run_filters, with_nominated
from amldoctor.scheduling.plugins import DEFAULT_FILTERS, Plugin
from amldoctor.scheduling.plugins.dynamicresources import (
    DynamicResources,
    dra_notes,
    unavailable_claims,
)
from amldoctor.scheduling.preemption import PreemptionOutcome, dry_run
from amldoctor.scheduling.profile import Profile
from amldoctor.scheduling.status import Code, Reason, Status

if TYPE_CHECKING:
    from amldoctor.snapshot import Snapshot


# Pod spec fields that no filter, FitError message or PostFilter reads. They differ between the
# replicas of one workload (hostnames, token volumes) and would only split the simulation memo.
_UNREAD_SPEC_FIELDS = frozenset(
    {
        "containers",
        "initContainers",
        "ephemeralContainers",
        "volumes",  # reduced below
        "hostname",
        "subdomain",
        "serviceAccountName",
        "serviceAccount",
        "automountServiceAccountToken",
        "terminationGracePeriodSeconds",
        "activeDeadlineSeconds",
        "dnsPolicy",
        "dnsConfig",
        "restartPolicy",
        "enableServiceLinks",
        "securityContext",
        "imagePullSecrets",
        "hostAliases",
        "setHostnameAsFQDN",
        "shareProcessNamespace",
        "readinessGates",
    }
)
# What the filters read of a container: requests (resources, sidecar restartPolicy), host ports.
# Not the name (AML names containers after the job): it appears only in the error about a
# malformed quantity, which is raised, never memoized.
_READ_CONTAINER_FIELDS = ("resources", "ports", "restartPolicy")
# Volume sources no volume filter looks at (node-local or API-backed, never attached).
_UNREAD_VOLUME_SOURCES = frozenset(
    {"name", "projected", "configMap", "secret", "emptyDir", "downwardAPI"}
)


@dataclass
class NodeVerdict:
    """What the scheduler decided for one node, plus every failing filter."""

    name: str
    status: Status | None  # the decisive status (None: the node fits)
    failures: list[Status] = field(default_factory=list)
    outside_prefilter_result: bool = False
    # The plugins that fail on this node: the funnel, the closest nodes and the fixes each ask
    # it of every node, a scan of hundreds of Pending pods millions of times, so it is worked
    # out once when the verdict is made (the failures are never changed after).
    failing_plugins: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.failing_plugins = frozenset([s.plugin for s in self.failures])

    @property
    def fits(self) -> bool:
        return self.status is None

    @property
    def reasons(self) -> list[str]:
        return self.status.reasons if self.status else []

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "fits": self.fits,
            "reasons": self.reasons,
            "plugin": self.status.plugin if self.status else None,
            "code": str(self.status.code) if self.status else None,
            "all_failures": [f for s in self.failures for f in s.failures(self.name)],
        }


@dataclass(eq=False)
class SchedulingResult:
    """The simulated cycle. `message` is None when some node fits.

    Compared by identity, so that what is derived from a result (why-pending's funnel and
    fixes) can be memoized on it with `memo_on`.
    """

    profile: Profile
    num_nodes: int
    verdicts: list[NodeVerdict]
    prefilter_status: Status | None
    absent_status: Status | None
    prefilter_node_names: dict[str, frozenset[str]]
    postfilter_msg: str
    message: str | None
    not_modelled: list[str]
    cluster: ClusterView = field(repr=False)
    plugins: list[Plugin] = field(repr=False, default_factory=list)
    skipped_plugins: list[str] = field(default_factory=list)
    preemption: PreemptionOutcome | None = None
    nominated_nodes: dict[str, list[str]] = field(default_factory=dict)

    @cached_property
    def feasible(self) -> list[str]:
        """Nodes that fit; once per result, which is shared by the pods of one signature."""
        return [v.name for v in self.verdicts if v.fits]

    def verdict(self, name: str) -> NodeVerdict | None:
        return next((v for v in self.verdicts if v.name == name), None)

    def plugin(self, name: str) -> Plugin | None:
        return next((p for p in self.plugins if p.name == name), None)


def simulate(snap: Snapshot, pod: Mapping, profile: Profile | None = None) -> SchedulingResult:
    """Run the default filters for `pod` against the snapshot's nodes and bound pods.

    Pending pods of one workload ask the same question: the result is shared by every pod with
    the same `scheduling_signature`, so `result.cluster.pod` may be another pod of that
    signature; callers take the pod's identity from their own argument.
    """
    profile = profile or Profile.for_server(getattr(snap, "server_version", None))
    signature = scheduling_signature(snap, pod)
    if signature is None:
        return _simulate(snap, pod, profile, shared_nodes=False)
    return memo_on(
        snap,
        ("simulate", repr(profile), signature),
        lambda: _simulate(snap, pod, profile, shared_nodes=True),
    )


def scheduling_signature(snap: Snapshot, pod: Mapping) -> str | None:
    """Everything of `pod` a simulation reads, as a key; None when the pod's own identity counts.

    Bound pods are excluded (the simulation takes them off their node), and so are nominated
    ones (preemption looks at their node). The namespace counts only where filters look
    something up in it (the pod's PersistentVolumeClaims, the pods its affinity or spread
    selects); labels only when something can select them (the pod's own pod (anti-)affinity
    or topology spread, or a bound pod's required anti-affinity); the name only for generic
    ephemeral volumes (their PVC is named after the pod).
    """
    spec = pod.get("spec") or {}
    meta = pod.get("metadata") or {}
    if spec.get("nodeName") or (pod.get("status") or {}).get("nominatedNodeName"):
        return None
    if spec.get("resourceClaims"):
        return None  # its claims are its own (generated names live in the pod's status)
    volumes = [
        v
        for v in spec.get("volumes") or ()
        if not isinstance(v, Mapping) or not v.keys() <= _UNREAD_VOLUME_SOURCES
    ]
    key: dict[str, Any] = {
        "spec": {k: v for k, v in spec.items() if k not in _UNREAD_SPEC_FIELDS},
        "containers": [
            [
                {f: c.get(f) for f in _READ_CONTAINER_FIELDS} if isinstance(c, Mapping) else c
                for c in spec.get(kind) or ()
            ]
            for kind in ("containers", "initContainers")
        ],
        "volumes": volumes,
    }
    claims = [
        v
        for v in volumes
        if not isinstance(v, Mapping) or v.get("persistentVolumeClaim") or v.get("ephemeral")
    ]
    if any(isinstance(v, Mapping) and v.get("ephemeral") for v in claims):
        key["name"] = meta.get("name")
    affinity = spec.get("affinity") or {}
    selectable = bool(
        affinity.get("podAffinity")
        or affinity.get("podAntiAffinity")
        or spec.get("topologySpreadConstraints")
        or anti_affinity_pods(snap)
    )
    if claims or selectable:
        key["namespace"] = meta.get("namespace") or ""
    if selectable:
        key["labels"] = meta.get("labels")
    return json.dumps(key, sort_keys=True, default=repr)


def _simulate(
    snap: Snapshot, pod: Mapping, profile: Profile, *, shared_nodes: bool
) -> SchedulingResult:
    """One cycle. `shared_nodes`: the pod is not bound, so the cluster's nodes are the
    snapshot's shared ones and per-node filter verdicts can be shared too (`_filter_tables`)."""
    cluster = ClusterView(snap, pod, profile)
    plugins = [cls(cluster) for cls in DEFAULT_FILTERS]
    pre = _pre_filter(plugins, profile)
    rejection, absent_status, node_sets = pre.rejection, pre.absent_status, pre.node_sets
    active, skipped = pre.active, pre.skipped
    columns = _filter_columns(snap, profile, active, shared_nodes)
    # Nodes some other pod is nominated to (few, usually none) take the nominated pass first.
    nominated_to = nominated_pods(snap) if rejection is None else {}
    rows = zip(*columns, strict=True) if columns else [()] * len(cluster.nodes)
    verdicts = [
        _verdict(pre, cluster, node, row, nominated_to)
        for node, row in zip(cluster.nodes, rows, strict=True)
    ]

    result = SchedulingResult(
        profile=profile,
        num_nodes=len(verdicts),
        verdicts=verdicts,
        prefilter_status=rejection,
        absent_status=absent_status,
        prefilter_node_names=node_sets,
        postfilter_msg="",
        message=None,
        not_modelled=_not_modelled(snap, pod) + dra_notes(plugins, verdicts),
        cluster=cluster,
        plugins=plugins,
        skipped_plugins=sorted(skipped),
    )
    result.nominated_nodes = {
        v.name: ["/".join(pod_key(p)) for p in cluster.nominated_on(v.name)]
        for v in verdicts
        if v.name in nominated_to and cluster.nominated_on(v.name)
    }
    if not result.feasible:
        result.postfilter_msg = _postfilter_message(result, cluster, active)
        result.message = build_message(result)
    return result


def simulate_node(
    snap: Snapshot, pod: Mapping, name: str, profile: Profile | None = None
) -> NodeVerdict | None:
    """`simulate(snap, pod).verdict(name)` without filtering the other nodes (None when there
    is no such node).

    PreFilter runs as in a whole cycle (spread and inter-pod affinity count the whole
    cluster); Filter then judges one node, whose verdict does not depend on the others'. "Would
    a new node help?" asks only about the template node it adds to the cluster: filtering the
    cluster's 5,000 other nodes (and a preemption dry run over them) for each pool cost
    seconds. Memoized like `simulate`, per node.
    """
    profile = profile or Profile.for_server(getattr(snap, "server_version", None))
    signature = scheduling_signature(snap, pod)

    def judge() -> NodeVerdict | None:
        cluster = ClusterView(snap, pod, profile)
        node = cluster.node_by_name.get(name)
        if node is None:
            return None
        pre = _pre_filter([cls(cluster) for cls in DEFAULT_FILTERS], profile)
        nominated_to = nominated_pods(snap) if pre.rejection is None else {}
        row = [plugin.filter(node) for plugin in pre.active]
        return _verdict(pre, cluster, node, row, nominated_to)

    if signature is None:
        return judge()
    return memo_on(snap, ("simulate-node", repr(profile), signature, name), judge)


@dataclass
class _PreFilterPass:
    """What the PreFilter plugins decided, for the Filter stage of every node."""

    rejection: Status | None  # the cycle stops before any node
    absent_status: Status | None  # for nodes outside the PreFilter node names
    node_sets: dict[str, frozenset[str]]  # plugin -> the node names it allows
    merged: frozenset[str] | None  # their intersection
    skipped: set[str]
    failures: list[Status]  # every PreFilter rejection, in plugin order
    active: list[Plugin]  # the plugins whose Filter runs


def _pre_filter(plugins: list[Plugin], profile: Profile) -> _PreFilterPass:
    """`RunPreFilterPlugins`: every plugin in order; the first unresolvable rejection (else the
    first unschedulable one) stops the cycle, and node-name results are intersected."""
    rejection, unschedulable, skipped, rejected_here = None, None, set(), {}
    node_sets: dict[str, frozenset[str]] = {}
    merged: frozenset[str] | None = None
    for plugin in plugins:
        outcome = plugin.pre_filter()
        if outcome.code == Code.SKIP:
            skipped.add(plugin.name)
            continue
        if outcome.status is not None:
            rejected_here[plugin.name] = outcome.status
            if rejection is None and outcome.code == Code.UNRESOLVABLE:
                rejection = outcome.status
            elif rejection is None and outcome.code == Code.UNSCHEDULABLE:
                unschedulable = outcome.status
            continue
        if outcome.node_names is not None and rejection is None:
            node_sets[plugin.name] = outcome.node_names
            merged = outcome.node_names if merged is None else merged & outcome.node_names
            if not merged:
                plugin_names = sorted(node_sets)  # sets.List: sorted plugin names
                text = (
                    f"node(s) didn't satisfy plugin {plugin_names[0]}"
                    if len(plugin_names) == 1
                    else f"node(s) didn't satisfy plugin(s) [{' '.join(plugin_names)}] "
                    "simultaneously"
                )
                rejection = Status(
                    names.FRAMEWORK, Code.UNRESOLVABLE, (Reason(text, text),), "PreFilter"
                )
    rejection = rejection or unschedulable

    absent_status = None
    if rejection is None and merged is not None:
        text = (
            f"node(s) didn't satisfy plugin(s) [{' '.join(sorted(node_sets))}]"
            if profile.at_least(1, 31)
            else msg.PREFILTER_FILTERED_OUT
        )
        absent_status = Status(
            names.FRAMEWORK,
            Code.UNRESOLVABLE,
            (
                Reason(
                    text,
                    "the node is not in the node names "
                    + ", ".join(sorted(node_sets))
                    + " allows (matchFields metadata.name)",
                ),
            ),
            "PreFilter",
        )

    active = [p for p in plugins if p.name not in skipped and p.name not in rejected_here]
    return _PreFilterPass(
        rejection, absent_status, node_sets, merged, skipped, list(rejected_here.values()), active
    )


def _verdict(
    pre: _PreFilterPass,
    cluster: ClusterView,
    node: NodeInfo,
    row: tuple[Status | None, ...] | list[Status | None],
    nominated_to: Mapping[str, object],
) -> NodeVerdict:
    """One node's verdict from its Filter statuses (`row`, one per active plugin)."""
    failures: list[Status] = []
    nominated = cluster.nominated_on(node.name) if node.name in nominated_to else []
    if nominated:
        # The pass with the nominated pods added decides when it fails (addGENominatedPods).
        copies, grown = with_nominated(pre.active, node, nominated)
        failures = run_filters(copies, grown)
    if not failures:
        failures = [status for status in row if status is not None]
    outside = pre.rejection is None and pre.merged is not None and node.name not in pre.merged
    if pre.rejection is not None:
        decisive: Status | None = pre.rejection
    elif outside:
        decisive = pre.absent_status
    else:
        decisive = failures[0] if failures else None
    return NodeVerdict(
        node.name,
        decisive,
        pre.failures + failures if pre.failures else failures,
        outside_prefilter_result=outside,
    )


def _filter_columns(
    snap: Snapshot, profile: Profile, plugins: list[Plugin], shared_nodes: bool
) -> list[list[Status | None]]:
    """Per plugin, its verdict on each of the cluster's nodes (`Plugin.filter_nodes`).

    On the snapshot's shared nodes, a plugin's column is shared between simulations whose pods
    look the same to it (`Plugin.filter_key`): Pending pods with different tolerations often
    request the same resources, and the resource verdicts of every node are then computed once
    for all of them, the taint verdicts once per set of tolerations. Statuses are immutable, so
    sharing them is safe.
    """
    columns = []
    for plugin in plugins:
        key = plugin.filter_key() if shared_nodes else None
        if key is None:
            columns.append(plugin.filter_nodes())
        else:
            columns.append(
                memo_on(snap, ("filter", repr(profile), plugin.name, key), plugin.filter_nodes)
            )
    return columns


def _postfilter_message(
    result: SchedulingResult, cluster: ClusterView, active: list[Plugin]
) -> str:
    """The PostFilter plugins in order: DynamicResources (on by default from v1.34), then
    preemption.

    RunPostFilterPlugins joins the reasons of rejecting plugins with ", ", so a pod without
    resource claims reads "no new claims to deallocate, preemption: ...". DynamicResources' own
    PreFilter (the last PreFilter) writes the state its PostFilter reads: when an earlier PreFilter
    rejected the pod as unresolvable, that state is absent, the PostFilter fails with the cycle
    state's "not found" error, and preemption never runs.
    """
    preemption = _preemption_message(result, cluster, active)
    if not result.profile.features.dynamic_resources:
        return preemption
    status = result.prefilter_status
    if (
        status is not None
        and status.code == Code.UNRESOLVABLE
        and status.plugin != names.DYNAMIC_RESOURCES
    ):
        return msg.DRA_STATE_NOT_FOUND
    dra = result.plugin(names.DYNAMIC_RESOURCES)
    own = (
        dra.post_filter_message(unavailable_claims(result.verdicts))
        if isinstance(dra, DynamicResources)
        else msg.DRA_NO_CLAIMS
    )
    # An empty preemption message means a victim set was found: PostFilter succeeds, no suffix.
    return f"{own}, {preemption}" if preemption else ""


def build_message(result: SchedulingResult) -> str:
    """The untruncated FitError text for this result (as the PodScheduled condition shows it)."""
    profile = result.profile
    explicit = {
        v.name: v.status.texts if v.status else ()
        for v in result.verdicts
        if not v.outside_prefilter_result
    }
    return msg.fit_error_message(
        result.num_nodes,
        explicit if result.prefilter_status is None or not profile.at_least(1, 25) else {},
        absent_reasons=result.absent_status.reasons if result.absent_status else (),
        prefilter_msg=result.prefilter_status.message() if result.prefilter_status else "",
        postfilter_msg=result.postfilter_msg,
        version=profile.version,
    )


def _preemption_message(
    result: SchedulingResult, cluster: ClusterView, active: list[Plugin]
) -> str:
    """DefaultPreemption's PostFilter message; the dry run is kept on the result."""
    if not result.profile.at_least(1, 24):
        return ""
    result.preemption = dry_run(result, cluster, active)
    return result.preemption.message(result.num_nodes)


def _not_modelled(snap: Snapshot, pod: Mapping) -> list[str]:
    """What this simulation cannot see, judged from signs in the pod and the cluster."""
    notes = []
    spec = pod.get("spec") or {}
    scheduler = spec.get("schedulerName") or DEFAULT_SCHEDULER
    if scheduler != DEFAULT_SCHEDULER:
        notes.append(
            f"the pod is scheduled by {scheduler!r}, not the default scheduler: its filters and "
            "messages may differ from this simulation"
        )
    return notes
