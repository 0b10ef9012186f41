"""A finding that explains another on the same object: one cause on screen, both in JSON.

The demo's at-max pod is Pending (AMD101) *because* its pool is at its maximum (AMD106): the
incident view shows one entry, the autoscaler's `--max-count` fix first and the scheduler's
verdict and fix after it; `-o json` keeps both findings, the explained one with `superseded_by`.
"""

from __future__ import annotations

import json
import os

import pytest

from amldoctor.engine.grouping import declared_explains, group_findings, superseded_by
from amldoctor.engine.registry import REGISTRY
from amldoctor.engine.report import Finding, ObjectRef, Severity
from tests.conftest import run_cli

AT_MAX = "llm-pretrain-shard-q4x9c"


def _f(rule: str, pod: str, why: str = "x") -> Finding:
    return Finding(
        rule=rule,
        name=f"rule-{rule.lower()}",
        severity=Severity.ERROR,
        object=ObjectRef("Pod", "ns", pod),
        message=f"{rule} on {pod}",
        evidence={"why": why},
    )


def test_rules_declare_what_they_explain():
    explains = declared_explains()
    assert explains["AMD106"] == ("AMD101",)
    assert "AMD101" in explains["AMD504"] and "AMD101" in explains["AMD607"]
    assert explains["AMD101"] == ("AMD108",)
    for code, targets in explains.items():
        assert all(t in REGISTRY and t != code for t in targets), code


@pytest.mark.parametrize("pods", [1, 4])
def test_explained_findings_fold_under_the_explaining_cause(pods):
    findings = [_f(r, f"p{i}") for i in range(pods) for r in ("AMD101", "AMD106")]
    findings.append(_f("AMD101", "alone"))  # no AMD106 on this pod: its own cause
    groups = group_findings(findings, explains={"AMD106": ("AMD101",)})
    by_rule = {g.rule: g for g in groups}
    assert sorted((g.rule, g.count) for g in groups) == [("AMD101", 1), ("AMD106", pods)]
    assert by_rule["AMD101"].objects == [ObjectRef("Pod", "ns", "alone")]
    explained = by_rule["AMD106"].superseded
    assert [(f.rule, e.rule) for f, e in explained] == [("AMD101", "AMD106")] * pods
    marks = superseded_by(groups)
    assert sorted(marks.values()) == ["AMD106"] * pods
    assert all(f.object == e.object for f, e in explained)


def test_chains_resolve_and_cycles_explain_nothing():
    chain = [_f("AMD101", "p"), _f("AMD106", "p"), _f("AMD108", "p")]
    groups = group_findings(chain, explains={"AMD106": ["AMD101"], "AMD101": ["AMD108"]})
    assert [g.rule for g in groups] == ["AMD106"]
    assert sorted(f.rule for f, _ in groups[0].superseded) == ["AMD101", "AMD108"]
    cycle = group_findings(chain[:2], explains={"AMD106": ["AMD101"], "AMD101": ["AMD106"]})
    assert sorted(g.rule for g in cycle) == ["AMD101", "AMD106"]
    assert not any(g.superseded for g in cycle)


def test_demo_json_keeps_both_and_marks_the_explained_one():
    doc = json.loads(run_cli("scan", "--snapshot", "fixtures/demo", "-o", "json").stdout)
    on_pod = {f["rule"]: f for f in doc["findings"] if f["object"]["name"] == AT_MAX}
    assert on_pod["AMD101"]["superseded_by"] == "AMD106"
    assert on_pod["AMD106"]["superseded_by"] is None
    assert on_pod["AMD101"]["group"] == on_pod["AMD106"]["group"]
    (group,) = [g for g in doc["groups"] if g["id"] == on_pod["AMD106"]["group"]]
    assert group["superseded"] == [
        {"rule": "AMD101", "name": "pod-unschedulable", "severity": "error", "count": 1}
    ]
    assert doc["summary"]["error"] == sum(1 for f in doc["findings"] if f["severity"] == "error")


def test_demo_table_puts_the_pool_fix_first_then_the_scheduler_verdict():
    out = run_cli(
        "scan", "--snapshot", "fixtures/demo", env={**os.environ, "COLUMNS": "100"}
    ).stdout
    entry = next(e for e in out.split("\n\n") if "ERROR AMD106 autoscaler-pool-at-max" in e)
    lines = entry.splitlines()
    pool_fix = next(i for i, line in enumerate(lines) if "--max-count 4" in line)
    verdict = next(i for i, line in enumerate(lines) if "explains AMD101" in line)
    fallback = next(i for i, line in enumerate(lines) if "otherwise: fits node" in line)
    assert pool_fix < verdict < fallback
    assert "0/8 nodes fit" in lines[verdict]
    # The explained pod is no longer a cause of its own.
    assert f"AMD101 pod-unschedulable  Pod aml-compute/{AT_MAX}" not in out


def test_expand_marks_the_explained_finding():
    out = run_cli("scan", "--snapshot", "fixtures/demo", "--expand").stdout
    block = out[out.index(f"✖ Pod aml-compute/{AT_MAX}") :].split("\n\n")[0]
    assert block.index("AMD101 pod-unschedulable") < block.index(
        "explained by AMD106 on this object: its fix comes first"
    )
    assert out.count("explained by ") == 1
