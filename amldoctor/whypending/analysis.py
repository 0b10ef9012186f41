"""why-pending: the scheduler's verdict for one pod, node by node, and what to change.

`analyze(snapshot, pod)` is pure: it reads the snapshot, runs the scheduler simulation, compares
it with what the scheduler said (FailedScheduling event / PodScheduled condition), and returns
the JSON document of `why-pending -o json`: `pod`, `status`, `scheduler_message`,
`observed_message`, `agrees_with_scheduler`, `nodes`, `findings`, `funnel`, `closest_nodes`,
`fixes`, `not_modelled`, `limited_view`, `observed` and `new_nodes` (would an empty node of each
pool fit; only with node rows, i.e. for the why-pending command).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from amldoctor.aml.model import is_aml_pod
from amldoctor.capacity.newnode import new_node_section
from amldoctor.engine.report import Finding, ObjectRef, Severity
from amldoctor.engine.runner import collector_paused
from amldoctor.errors import InputError
from amldoctor.k8s.events import event_count, event_last_time, event_message, event_reason
from amldoctor.k8s.nodepools import pool_of_labels
from amldoctor.k8s.objects import DEFAULT_SCHEDULER
from amldoctor.k8s.quantity import QuantityError, format_amount
from amldoctor.k8s.resources import pod_requests
from amldoctor.k8s.timeutil import format_time
from amldoctor.memo import memo_on
from amldoctor.scheduling.admission import admit
from amldoctor.scheduling.cluster import ClusterView
from amldoctor.scheduling.framework import SchedulingResult, simulate
from amldoctor.scheduling.message import event_message as truncate_for_event
from amldoctor.scheduling.message import parse_fit_error
from amldoctor.scheduling.plugins.dynamicresources import unknown_nodes
from amldoctor.scheduling.profile import Profile
from amldoctor.whypending import preemption, remediation, state

if TYPE_CHECKING:
    from amldoctor.snapshot import Snapshot


def observed_verdict(snap: Snapshot, pod: Mapping) -> tuple[str | None, dict]:
    """The scheduler's latest message for the pod, and where it came from.

    The PodScheduled=False condition keeps the untruncated text of the latest attempt; the
    newest FailedScheduling event adds how often and when. Events expire after about an hour.
    """
    info: dict = {}
    events = [e for e in snap.events_for(pod) if event_reason(e) == "FailedScheduling"]
    message = None
    if events:
        latest = events[-1]
        message = event_message(latest)
        info.update(
            source="event",
            event_count=sum(event_count(e) for e in events),
            last_seen=format_time(event_last_time(latest)),
        )
    for cond in (pod.get("status") or {}).get("conditions") or []:
        if (
            cond.get("type") == "PodScheduled"
            and cond.get("status") == "False"
            and cond.get("message")
        ):
            message = cond["message"]
            info.update(source="condition", condition_reason=cond.get("reason"))
    return message, info


def compare(simulated: str | None, observed: str | None) -> tuple[bool | None, list[str]]:
    """Do the simulated and observed messages say the same? Preemption text is not compared
    (it depends on priorities and nominations); legacy wordings compare by their current text."""
    if not simulated or not observed:
        return None, []
    sim, obs = parse_fit_error(simulated), parse_fit_error(observed)
    if not obs.recognized:
        return None, [f"the observed message is not a kube-scheduler FitError: {observed[:200]}"]
    diffs = []
    if sim.total_nodes != obs.total_nodes:
        diffs.append(
            f"the scheduler saw {obs.total_nodes} nodes, the snapshot has {sim.total_nodes}"
        )
    if sim.prefilter_msg != obs.prefilter_msg:
        diffs.append(
            f"PreFilter: observed {obs.prefilter_msg or 'none'!r}, "
            f"simulated {sim.prefilter_msg or 'none'!r}"
        )
    got, want = sim.counts_by_reason(), obs.counts_by_reason()
    if obs.truncated:
        want = {k: v for k, v in want.items() if k in got}
    for reason in sorted(set(got) | set(want)):
        if got.get(reason, 0) != want.get(reason, 0):
            diffs.append(
                f"{reason}: observed {want.get(reason, 0)} node(s), simulated {got.get(reason, 0)}"
            )
    return not diffs, diffs


def _pod_summary(pod: Mapping) -> dict:
    meta = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    owners = meta.get("ownerReferences") or []
    return {
        "namespace": meta.get("namespace") or "default",
        "name": meta.get("name"),
        "uid": meta.get("uid"),
        "phase": (pod.get("status") or {}).get("phase") or "Pending",
        "node": spec.get("nodeName"),
        "scheduler_name": spec.get("schedulerName") or DEFAULT_SCHEDULER,
        "priority": spec.get("priority", 0),
        "owner": f"{owners[0].get('kind')}/{owners[0].get('name')}" if owners else None,
    }


def _validated_requests(pod: Mapping, profile: Profile) -> dict[str, int]:
    try:
        return pod_requests(
            pod, pod_level_resources=profile.features.pod_level_resources, use_status=False
        )
    except QuantityError as exc:
        raise InputError(str(exc)) from exc


def _node_rows(result: SchedulingResult, cluster: ClusterView) -> list[dict]:
    rows = []
    for v in sorted(result.verdicts, key=lambda v: v.name):
        row = v.to_dict()
        row["pool"] = pool_of_labels(cluster.node_by_name[v.name].labels)
        rows.append(row)
    return rows


def nodes_unreadable(snap: Snapshot) -> str | None:
    """Why node-level analysis cannot run, or None when it can."""
    missing = snap.missing_for("Node") if hasattr(snap, "missing_for") else None
    if missing is not None:
        return f"nodes could not be read ({missing.reason})"
    if not snap.nodes and not snap.collected("Node"):
        return "the snapshot has no Node objects (they were not collected)"
    return None


def analyze(
    snap: Snapshot,
    pod: Mapping,
    *,
    profile: Profile | None = None,
    what_if: bool = False,
    node_rows: bool = True,
) -> dict:
    """The why-pending document for one pod (see the module docstring).

    `node_rows=False` leaves `nodes` (one row per node) empty: `scan` quotes only the message,
    funnel, closest nodes and fixes, and building thousands of rows per Pending pod would make
    it grow with pods × nodes.

    Run with the cyclic collector paused, as scan's rules are (`collector_paused`): on a
    5,000-node cluster the analysis builds a few hundred thousand objects (a verdict and a row
    per node) and no cycles, and the collections they set off cost a quarter of it.
    """
    with collector_paused():
        return _analyze(snap, pod, profile=profile, what_if=what_if, node_rows=node_rows)


def _analyze(
    snap: Snapshot,
    pod: Mapping,
    *,
    profile: Profile | None,
    what_if: bool,
    node_rows: bool,
) -> dict:
    profile = profile or Profile.for_server(getattr(snap, "server_version", None))
    admitted = admit(snap, pod) if what_if else None
    if admitted is not None:
        pod = admitted.pod
    request = _validated_requests(pod, profile)
    pod_state = state.classify(snap, pod, what_if=what_if)
    if admitted is not None and admitted.refusals:
        pod_state = state.PodState(
            state.REFUSED,
            f"what-if: the API server would refuse {state.pod_ref(pod)}: {admitted.refusals[0]}",
            {"refusals": admitted.refusals},
        )
    observed, observed_info = (None, {}) if what_if else observed_verdict(snap, pod)
    doc: dict[str, Any] = {
        "pod": _pod_summary(pod),
        "status": pod_state.to_dict(),
        "scheduler_version": profile.version_text,
        "requests": {r: format_amount(r, n) for r, n in sorted(request.items()) if n},
        "scheduler_message": None,
        "scheduler_event_message": None,
        "observed_message": observed,
        "observed": {**observed_info, "parsed": parse_fit_error(observed).to_dict()}
        if observed
        else None,
        "agrees_with_scheduler": None,
        "differences": [],
        "nodes": [],
        "funnel": [],
        "funnel_line": "",
        "closest_nodes": [],
        "fixes": [],
        "not_modelled": [],
        "limited_view": None,
        "new_nodes": None,
        "preemption": None,
        "admission": admitted.to_dict() if admitted is not None else None,
        "findings": [],
    }
    if pod_state.key in (
        state.NOT_PENDING,
        state.TERMINATING,
        state.NODE_MISSING,
        state.REFUSED,
        state.CLAIM_BLOCKED,
    ):
        doc["findings"] = [f.to_dict() for f in _findings(doc, pod)]
        return doc
    unreadable = nodes_unreadable(snap)
    if unreadable:
        doc["limited_view"] = _limited_view(unreadable, observed)
        doc["fixes"] = remediation.fixes_from_message(parse_fit_error(observed)) if observed else []
        doc["findings"] = [f.to_dict() for f in _findings(doc, pod)]
        return doc

    result = simulate(snap, pod, profile)
    # The result may be shared with other pods of the same scheduling signature: what is
    # derived from it is memoized on it (the lists are copied, their items shared), and the
    # pod itself always comes from `pod`.
    cluster = ClusterView(snap, pod, result.profile)
    doc["scheduler_message"] = result.message
    doc["scheduler_event_message"] = truncate_for_event(result.message) if result.message else None
    doc["agrees_with_scheduler"], doc["differences"] = compare(result.message, observed)
    if unknown_nodes(result.verdicts):
        # A selector amldoctor cannot evaluate: never claim agreement on a guess.
        doc["agrees_with_scheduler"] = None
        doc["differences"] = [n for n in result.not_modelled if n.startswith("DRA:")]
    if node_rows:
        doc["nodes"] = _node_rows(result, cluster)
    doc["funnel"] = list(memo_on(result, "funnel", lambda: remediation.funnel(result, request)))
    doc["funnel_line"] = remediation.funnel_line(doc["funnel"])
    doc["closest_nodes"] = list(
        memo_on(result, "closest", lambda: remediation.closest_nodes(result))
    )
    doc["not_modelled"] = list(result.not_modelled)
    doc["preemption"] = preemption.section(result)
    if pod_state.key == state.PREEMPTING:
        nominated = (pod.get("status") or {}).get("nominatedNodeName") or ""
        doc["status"] = preemption.preempting_status(cluster, pod, nominated)
        if observed:
            doc["agrees_with_scheduler"] = None
            doc["differences"] = [preemption.preempting_difference(nominated)]
    if pod_state.key == state.BOUND:
        bound = result.verdict(pod_state.details["node"])
        doc["status"]["node_fits"] = bound.fits if bound else None
        if bound and not bound.fits:
            doc["status"]["summary"] += (
                f"; note: by the scheduler's rules the pod does not fit {bound.name} "
                f"({', '.join(bound.reasons)}), so the kubelet may reject it"
            )
    elif result.feasible:
        if pod_state.key in (state.UNSCHEDULABLE, state.PREEMPTING):
            doc["status"] = state.PodState(
                state.SCHEDULABLE,
                f"{len(result.feasible)} node(s) fit the pod now "
                f"(e.g. {sorted(result.feasible)[0]}): "
                + ("the default scheduler should place it" if not what_if else "it would be placed")
                + (
                    "; the last FailedScheduling message is older than the cluster's current state"
                    if observed
                    else ""
                ),
                {"feasible_nodes": sorted(result.feasible)[:20]},
            ).to_dict()
    else:
        doc["fixes"] = list(
            memo_on(
                result,
                ("fixes", is_aml_pod(pod)),
                lambda: remediation.all_fixes(result, cluster, request),
            )
        )
        pre = doc["preemption"]
        if pre and pre["would_preempt"] and pod_state.key == state.UNSCHEDULABLE:
            doc["status"]["summary"] += "; " + pre["summary"]
            # The scheduler acts on it by itself: first in the list, it is what happens next.
            doc["fixes"].insert(0, {"kind": "preemption", "text": pre["summary"]})
        if node_rows and (pod_state.key == state.UNSCHEDULABLE or what_if):
            # After the node-by-node verdict: would a new node of some pool help? (why-pending
            # only: scan's AMD101 asks for no node rows, and AMD106 asks this itself.)
            rejected = result.prefilter_status
            doc["new_nodes"] = new_node_section(
                snap,
                dict(pod),
                result.profile,
                rejected_before_nodes=rejected.message() if rejected is not None else "",
            )
    doc["findings"] = [f.to_dict() for f in _findings(doc, pod)]
    return doc


def _limited_view(reason: str, observed: str | None) -> dict:
    parsed = parse_fit_error(observed) if observed else None
    return {
        "reason": f"node-level analysis skipped: {reason}",
        "causes": [c.to_dict() for c in parsed.causes] if parsed else [],
        "total_nodes": parsed.total_nodes if parsed else None,
        "prefilter_msg": parsed.prefilter_msg if parsed else "",
    }


def _findings(doc: dict, pod: Mapping) -> list[Finding]:
    meta = pod.get("metadata") or {}
    ref = ObjectRef("Pod", meta.get("namespace") or "default", meta.get("name") or "?")
    key = doc["status"]["state"]
    summary = doc["status"]["summary"]
    fixes = "\n".join(f["text"] for f in doc["fixes"])
    evidence: dict[str, Any] = {}
    if doc["scheduler_message"]:
        evidence["simulated_message"] = doc["scheduler_message"]
    if doc["observed_message"]:
        evidence["scheduler_message"] = doc["observed_message"]
    if doc["funnel_line"]:
        evidence["funnel"] = doc["funnel_line"]
    if key == state.UNSCHEDULABLE:
        if doc["limited_view"]:
            causes = doc["limited_view"]["causes"]
            text = (
                "; ".join(f"{c['count']} {c['reason']}" for c in causes)
                or doc["limited_view"]["prefilter_msg"]
                or "no scheduler message available"
            )
            return [
                _unschedulable(
                    ref,
                    f"pod {ref.namespace}/{ref.name} is Pending: {text} "
                    f"({doc['limited_view']['reason']})",
                    evidence,
                    "\n".join(
                        [
                            *(f["text"] for f in doc["fixes"]),
                            "grant get/list on nodes for a node-by-node analysis",
                        ]
                    ),
                )
            ]
        message = f"pod {ref.namespace}/{ref.name} fits no node: {doc['funnel_line']}"
        if doc.get("preemption") and doc["preemption"]["would_preempt"]:
            message += "; " + doc["preemption"]["summary"]
            evidence["preemption"] = {
                k: doc["preemption"][k] for k in ("node", "victims", "pdb_violations", "tied_nodes")
            }
        return [_unschedulable(ref, message, evidence, fixes)]
    if key == state.CLAIM_BLOCKED:
        return [
            _unschedulable(
                ref,
                summary,
                {"scheduler_error": doc["status"]["scheduler_error"]},
                doc["status"]["claim_problem"],
            )
        ]
    if key == state.GATED:
        return [
            Finding(
                "AMD102",
                "pod-scheduling-gated",
                Severity.WARNING,
                ref,
                summary,
                {"scheduling_gates": doc["status"].get("scheduling_gates", [])},
                "check the controller that owns the gate; it must remove spec.schedulingGates",
            )
        ]
    if key == state.OTHER_SCHEDULER and not doc["observed_message"]:
        return [
            Finding(
                "AMD103",
                "pending-without-scheduler-verdict",
                Severity.WARNING,
                ref,
                summary,
                {
                    k: doc["status"].get(k)
                    for k in ("scheduler_name", "scheduler_pods_running", "pods_placed_by_it")
                },
                f"check that the {doc['status'].get('scheduler_name')} scheduler runs and look at "
                "its logs and the pod's PodGroup",
            )
        ]
    return []


def _unschedulable(ref: ObjectRef, message: str, evidence: dict, fixes: str) -> Finding:
    """AMD101, as why-pending reports it (scan's rule builds its own from the same document)."""
    return Finding("AMD101", "pod-unschedulable", Severity.ERROR, ref, message, evidence, fixes)
