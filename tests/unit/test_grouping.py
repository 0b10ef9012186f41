"""Grouping findings by cause: one entry per cause on a generated cluster, every pod still named.

The benchmark generator knows why each Pending pod is Pending (its `PENDING_CASES`); the groups
amldoctor derives from the findings alone must put every case's pods together and keep the cases
apart. The default table must stay compact however many pods share a cause, while `-o json`
still names every affected pod.
"""

from __future__ import annotations

import json
import os
from collections import defaultdict

import pytest

from amldoctor.engine.grouping import group_findings, group_ids
from amldoctor.engine.report import Finding, ObjectRef, Severity
from amldoctor.engine.runner import run_rules
from amldoctor.load import load_snapshot
from tests.conftest import benchmark_module, run_cli

gen_cluster = benchmark_module("gen_cluster")

# A smaller version of the 2,000-node benchmark cluster: same pools and causes, 150 nodes.
SMALL = gen_cluster.Scale(nodes=150, pods=3000, events=6000, pending_share=0.03)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    out = tmp_path_factory.mktemp("incident") / "cluster"
    snap, info = gen_cluster.generate(SMALL, seed=11)
    gen_cluster.write(snap, out)
    return out, info


@pytest.fixture(scope="module")
def report(cluster):
    out, _ = cluster
    return run_rules(load_snapshot(out), namespaces=None)


def _pod_groups(report, rule: str) -> dict[tuple[str, str], str]:
    ids = group_ids(report.groups())
    return {
        (f.object.namespace, f.object.name): ids[id(f)]
        for f in report.findings
        if f.rule == rule and f.object.kind == "Pod"
    }


@pytest.mark.parametrize(
    ("case", "rule"),
    [
        ("no-toleration", "AMD101"),
        ("too-many-gpus", "AMD101"),
        ("stale-selector", "AMD101"),
        ("too-much-memory", "AMD101"),
        ("missing-pvc", "AMD504"),
        ("gated", "AMD102"),
    ],
)
def test_each_pending_cause_is_one_group(cluster, report, case, rule):
    _, info = cluster
    pods = [tuple(p) for p in info["pending"][case]]
    assert len(pods) >= 2, "the fixture must hold several pods per cause"
    groups = _pod_groups(report, rule)
    assert {groups[p] for p in pods} == {groups[pods[0]]}, case
    others = {
        groups[tuple(p)]
        for other, members in info["pending"].items()
        if other != case
        for p in members
        if tuple(p) in groups
    }
    assert groups[pods[0]] not in others, f"{case} shares its group with another cause"


def test_every_finding_is_in_exactly_one_group(report):
    groups = report.groups()
    seen = [id(f) for g in groups for f in [*g.findings, *g.folded, *(x for x, _ in g.superseded)]]
    assert sorted(seen) == sorted(id(f) for f in report.findings)
    assert len(groups) < len(report.findings) / 3


def test_groups_are_ranked_errors_first_then_by_size(report):
    keys = [(-g.severity, -g.count) for g in report.groups()]
    assert keys == sorted(keys)


def test_warnings_on_a_pod_with_an_error_fold_under_it(report):
    errors = {f.object for f in report.findings if f.severity == Severity.ERROR}
    for group in report.groups():
        if group.severity != Severity.ERROR:
            assert not errors & set(group.objects), group.id


def _finding(
    name: str,
    *,
    limit: str = "2Gi",
    restarts: int = 3,
    when: str = "08:00",
    source: str = "container-spec",
) -> Finding:
    owner = ObjectRef("Deployment", "team-a", name.rsplit("-", 2)[0])
    return Finding(
        rule="AMD201",
        name="container-oom-killed",
        severity=Severity.ERROR,
        object=ObjectRef("Pod", "team-a", name),
        message=f"container main in pod team-a/{name} was OOMKilled at {limit}",
        evidence={
            "container": "main",
            "memory_limit": limit,
            "limit_source": source,
            "restart_count": restarts,
            "finished_at": f"2026-11-28T{when}:00Z",
            "log_hint": f"kubectl logs -n team-a {name} --previous",
        },
        remediation=f"raise the limit of {name}",
        owner=owner,
    )


@pytest.mark.parametrize("count", [2, 7, 40])
def test_same_cause_with_varying_names_times_and_counts_is_one_group(count):
    findings = [
        _finding(f"api-{i % 3}-abc{i}-x{i:03d}", restarts=i, when=f"08:{i % 60:02d}")
        for i in range(count)
    ]
    groups = group_findings(findings)
    assert len(groups) == 1 and groups[0].count == count
    assert len(groups[0].owners()) == min(count, 3)


@pytest.mark.parametrize("sources", [("container-spec", "limit-range-default")])
def test_a_different_cause_value_is_a_different_group(sources):
    findings = [_finding(f"api-{i}-h-p{i}", source=src) for i, src in enumerate(sources)]
    assert len(group_findings(findings)) == len(sources)


@pytest.mark.parametrize("limits", [("2Gi", "4Gi"), ("512Mi", "1Gi", "2Gi")])
def test_workloads_killed_at_their_own_limits_are_one_cause_naming_the_limits(limits):
    """Each workload's limit is its own number; raising it is the one fix they share."""
    findings = [_finding(f"api-{i}-h-p{i}", limit=limit) for i, limit in enumerate(limits)]
    (group,) = group_findings(findings)
    label, values = group.variants()
    assert label == "limits" and sorted(values) == sorted(limits)


def test_default_table_stays_compact_and_json_names_every_pod(cluster, report):
    out, _ = cluster
    env = {**os.environ, "COLUMNS": "100", "NO_COLOR": "1"}
    table = run_cli("scan", "-A", "--snapshot", str(out), env=env)
    assert table.returncode == 1, table.stderr
    lines = table.stdout.splitlines()
    assert lines[2] == "Top causes"
    # One entry per cause, not per pod: bounded by the causes, whatever the number of pods.
    assert len(lines) <= 25 * len(report.groups()) + 40
    assert len(lines) < len(report.findings)
    expanded = run_cli("scan", "-A", "--snapshot", str(out), "--expand", env=env).stdout
    assert len(expanded.splitlines()) > 2 * len(lines)

    doc = json.loads(run_cli("scan", "-A", "--snapshot", str(out), "-o", "json").stdout)
    affected = {
        (f.object.namespace, f.object.name) for f in report.findings if f.object.kind == "Pod"
    }
    named = {
        (f["object"]["namespace"], f["object"]["name"])
        for f in doc["findings"]
        if f["object"]["kind"] == "Pod"
    }
    assert named == affected
    group_of = defaultdict(set)
    for f in doc["findings"]:
        group_of[f["group"]].add(f["rule"])
    assert set(group_of) == {g["id"] for g in doc["groups"]}
    assert sum(g["count"] for g in doc["groups"]) + sum(
        x["count"] for g in doc["groups"] for x in [*g["folded"], *g["superseded"]]
    ) == len(doc["findings"])
