"""amldoctor's why-pending against the real kube-scheduler on seeded random clusters.

For each case amldoctor first predicts (what-if, `-f`) which nodes would take the pending pod,
with the cluster exactly as the scheduler sees it; then the real scheduler decides. A bound node
must be one amldoctor called feasible; an unschedulable verdict must match "no node fits", and
amldoctor's live explanation must reproduce the scheduler's own message exactly.
AMLDOCTOR_E2E_SEEDS sets the number of cases (default 50, about 3 s each).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest
from cluster import Cluster
from harness import ControlPlane
from randomcluster import PENDING, apply_case, decide, generate

pytestmark = pytest.mark.e2e

SEEDS = range(int(os.environ.get("AMLDOCTOR_E2E_SEEDS", "50")))


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
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def feasible(report: dict[str, Any]) -> set[str]:
    return {n["name"] for n in report["nodes"] if n["fits"]}


def test_why_pending_agrees_with_kube_scheduler(
    control_plane: ControlPlane, scheduling_cluster: Cluster, capsys: pytest.CaptureFixture
) -> None:
    c = scheduling_cluster
    disagreements = []
    outcomes = {"bound": 0, "unschedulable": 0}
    for seed in SEEDS:
        case = generate(seed)
        apply_case(c, case)
        predicted = why_pending(
            control_plane, c.namespace, "-f", "-", stdin=json.dumps(case.pending)
        )
        verdict = decide(c, case)
        problem = None
        if verdict.node:
            outcomes["bound"] += 1
            if verdict.node not in feasible(predicted):
                problem = f"scheduler bound to {verdict.node}, amldoctor: {predicted['nodes']}"
        else:
            outcomes["unschedulable"] += 1
            live = why_pending(control_plane, c.namespace, PENDING)
            if feasible(predicted) or feasible(live):
                problem = f"scheduler: {verdict.message}; amldoctor: {live['nodes']}"
            elif not live["agrees_with_scheduler"]:
                problem = f"scheduler: {verdict.message}; differences: {live['differences']}"
            elif live["scheduler_message"] != verdict.message:
                problem = f"scheduler: {verdict.message}; amldoctor: {live['scheduler_message']}"
        if problem:
            disagreements.append(f"seed {seed}: {problem}\n{json.dumps(case.describe())}")
    agreed = len(SEEDS) - len(disagreements)
    with capsys.disabled():  # the agreement rate is a figure worth seeing in every run
        print(
            f"\nwhy-pending vs kube-scheduler: {agreed}/{len(SEEDS)} random cases agree "
            f"({100 * agreed / max(len(SEEDS), 1):.0f}%); {outcomes}"
        )
    assert not disagreements, "\n\n".join(disagreements)
