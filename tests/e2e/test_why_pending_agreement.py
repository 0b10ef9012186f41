"""amldoctor's why-pending against the real kube-scheduler on seeded random clusters.

For each case amldoctor first predicts (what-if, `-f`) which nodes would take the pending pod,
with the cluster exactly as the scheduler sees it; then the real scheduler decides. A bound node
must be one amldoctor called feasible; an unschedulable verdict must match "no node fits", and
amldoctor's live explanation must reproduce the scheduler's own message exactly.
Some cases also vary what the API server's admission does to the pod (`admissionvariants`):
then amldoctor's what-if must name the same refusal as the API server, or predict the exact
message the scheduler writes about the admitted pod.
AMLDOCTOR_E2E_SEEDS sets the number of cases (default 50, about 3 s each), from seed
AMLDOCTOR_E2E_FIRST_SEED (default 0);
AMLDOCTOR_E2E_ADMISSION the share of them with admission variants (default 0.3);
AMLDOCTOR_E2E_ONLY=FEATURE runs only the seeds whose case drew that feature (e.g. `dra`).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import admissionvariants
import pytest
from cluster import Cluster
from harness import ControlPlane
from randomcluster import PENDING, apply_case, decide, generate

pytestmark = pytest.mark.e2e

FIRST_SEED = int(os.environ.get("AMLDOCTOR_E2E_FIRST_SEED", "0"))
SEEDS = range(FIRST_SEED, FIRST_SEED + int(os.environ.get("AMLDOCTOR_E2E_SEEDS", "50")))
ONLY = os.environ.get("AMLDOCTOR_E2E_ONLY")


def why_pending(
    control_plane: ControlPlane, namespace: str, *args: str, stdin: str | None = None
) -> dict[str, Any]:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "amldoctor.cli",
            "why-pending",
            "--kubeconfig",
            str(control_plane.kubeconfig()),
            "-n",
            namespace,
            "-o",
            "json",
            "--fail-on",
            "never",
            *args,
        ],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,  # a loaded shared machine can take minutes; a hang still ends
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def feasible(report: dict[str, Any]) -> set[str]:
    return {n["name"] for n in report["nodes"] if n["fits"]}


def judge(control_plane: ControlPlane, c: Cluster, case, predicted, verdict) -> str | None:
    """None when amldoctor agrees with the scheduler's verdict on the case, else the difference."""
    refused = predicted["status"].get("refusals") or []
    if verdict.refused is not None or refused:
        # Admission decided: the API server's refusal text, or amldoctor's wrong guess either way.
        if refused[:1] != [verdict.refused]:
            return f"API server: {verdict.refused!r}; amldoctor: {refused}"
        return None
    if verdict.untouched:  # assigned to a node that does not exist: no scheduler looks at it
        live = why_pending(control_plane, c.namespace, PENDING)
        if live["status"]["state"] != "node-missing" or live["scheduler_message"]:
            return f"pod on a missing node; amldoctor: {live['status']}"
        return None
    if verdict.node:
        if verdict.node not in feasible(predicted):
            return f"scheduler bound to {verdict.node}, amldoctor: {predicted['nodes']}"
        return None
    if feasible(predicted):
        return f"scheduler: {verdict.message}; amldoctor predicted feasible {feasible(predicted)}"
    pre = predicted.get("preemption") or {}
    if verdict.nominated:
        # The scheduler preempted: amldoctor must have named that node (or a tie including it)
        # and the same victims, and the message of the nominating attempt.
        nodes = {pre.get("node"), *pre.get("tied_nodes", [])}
        if not pre.get("would_preempt") or verdict.nominated not in nodes:
            return f"scheduler nominated {verdict.nominated}; amldoctor: {pre}"
        names = {v["name"] for v in pre["victims"]}
        if not pre.get("tied_nodes") and verdict.victims and names != set(verdict.victims):
            return f"scheduler evicts {sorted(verdict.victims)}; amldoctor: {sorted(names)}"
        if predicted["scheduler_message"] != verdict.message:
            return f"scheduler: {verdict.message}; amldoctor: {predicted['scheduler_message']}"
        return None
    if pre.get("would_preempt"):
        return f"scheduler did not preempt ({verdict.message}); amldoctor: {pre['summary']}"
    if case.admission is not None and predicted["scheduler_message"] != verdict.message:
        # What admission added (priority, overhead, defaults, tolerations) is in the prediction.
        return f"scheduler: {verdict.message}; amldoctor -f: {predicted['scheduler_message']}"
    live = why_pending(control_plane, c.namespace, PENDING)
    if feasible(live):
        return f"scheduler: {verdict.message}; amldoctor: {live['nodes']}"
    if not live["agrees_with_scheduler"]:
        return f"scheduler: {verdict.message}; differences: {live['differences']}"
    if live["scheduler_message"] != verdict.message:
        return f"scheduler: {verdict.message}; amldoctor: {live['scheduler_message']}"
    return None


def test_why_pending_agrees_with_kube_scheduler(
    control_plane: ControlPlane, scheduling_cluster: Cluster, capsys: pytest.CaptureFixture
) -> None:
    c = scheduling_cluster
    disagreements: list[str] = []
    outcomes = {"bound": 0, "unschedulable": 0, "preempted": 0, "untouched": 0, "refused": 0}
    by_feature: dict[str, list[int]] = {}  # feature -> [agreed, cases]
    cases = [case for case in map(generate, SEEDS) if not ONLY or ONLY in case.features]
    try:
        for case in cases:
            try:
                problem = run_case(control_plane, c, case, outcomes, by_feature)
            except Exception as exc:  # name the case a crash or a hang happened on
                raise AssertionError(f"seed {case.seed}: {exc!r}") from exc
            if problem:
                disagreements.append(problem)
    finally:
        admissionvariants.clear(c)  # a globalDefault PriorityClass must not outlive the test
    agreed = len(cases) - len(disagreements)
    with capsys.disabled():  # the agreement rate is a figure worth seeing in every run
        print(
            f"\nwhy-pending vs kube-scheduler: {agreed}/{len(cases)} random cases agree "
            f"({100 * agreed / max(len(cases), 1):.0f}%); {outcomes}"
        )
        for feature, (ok, total) in sorted(by_feature.items()):
            print(f"  {feature:26} {ok}/{total}")
    assert not disagreements, "\n\n".join(disagreements)


def run_case(
    control_plane: ControlPlane,
    c: Cluster,
    case: Any,
    outcomes: dict[str, int],
    by_feature: dict[str, list[int]],
) -> str | None:
    """Generate, predict, let the real components decide, judge; tally; the disagreement."""
    seed = case.seed
    apply_case(c, case)
    predicted = why_pending(control_plane, c.namespace, "-f", "-", stdin=json.dumps(case.pending))
    verdict = decide(c, case)
    kind = (
        "refused"
        if verdict.refused is not None
        else "untouched"
        if verdict.untouched
        else "bound"
        if verdict.node
        else "preempted"
        if verdict.nominated
        else "unschedulable"
    )
    outcomes[kind] += 1
    problem = judge(control_plane, c, case, predicted, verdict)
    for feature in case.features | {kind}:
        tally = by_feature.setdefault(feature, [0, 0])
        tally[0] += problem is None
        tally[1] += 1
    return f"seed {seed}: {problem}\n{json.dumps(case.describe())}" if problem else None
