"""The grouped view's budget: at most MAX_ENTRIES causes in full, info causes in one line.

However many causes a cluster holds, the view names every one: causes over the budget and info
causes (inventory, context) are each summarised in one line with their rules, their object
count and `--expand`; the triage list and the summary still count them all.
"""

from __future__ import annotations

import re

import pytest
from rich.console import Console

from amldoctor.engine.report import Finding, ObjectRef, Report, Severity
from amldoctor.render.console import MAX_ENTRIES, render_report
from amldoctor.snapshot import Snapshot


def _finding(rule: str, severity: Severity, pod: str, why: str) -> Finding:
    return Finding(
        rule=rule,
        name=f"rule-{rule[3:]}",
        severity=severity,
        object=ObjectRef("Pod", "ns", pod),
        message=f"{pod} fails because {why}",
        evidence={"why": why},
        remediation=f"fix {why}",
    )


def _screen(findings: list[Finding]) -> str:
    console = Console(width=100, record=True, force_terminal=False, color_system=None)
    report = Report(snapshot=Snapshot([]), findings=findings)
    render_report(console, report)
    return console.export_text()


@pytest.mark.parametrize("extra", [0, 1, 7])
def test_causes_over_the_budget_are_named_in_one_line(extra):
    errors = [
        _finding(f"AMD4{i % 3:02d}", Severity.ERROR, f"pod-{i}", f"cause-{i}")
        for i in range(MAX_ENTRIES + extra)
    ]
    screen = _screen(errors)
    entries = re.findall(r"^\d+\. ✖ ERROR ", screen, flags=re.M)
    assert len(entries) == MAX_ENTRIES
    over = [line for line in screen.splitlines() if "more cause" in line and "--expand" in line]
    if extra:
        (line,) = over
        assert line.startswith(f"… {extra} more cause") and f"({extra} Pod" in line
        assert "AMD4" in line
    else:
        assert not over
    assert f"in {MAX_ENTRIES + extra} causes" in screen


def test_info_causes_are_one_line_naming_their_rules_and_count():
    findings = [_finding("AMD401", Severity.ERROR, "p-0", "crash")]
    findings += [_finding("AMD605", Severity.INFO, f"gpu-{i}", f"shape-{i % 3}") for i in range(9)]
    findings.append(_finding("AMD604", Severity.INFO, "cordoned", "drain"))
    screen = _screen(findings)
    (line,) = [line for line in screen.splitlines() if "info cause" in line]
    assert line.startswith("● 4 info causes (10 Pods): AMD605 rule-605 ×3, AMD604 rule-604")
    assert line.endswith("--expand for 4 more")
    assert not re.search(r"^\d+\. ● INFO", screen, flags=re.M)
    assert re.search(r"^1\. ✖ ERROR AMD401", screen, flags=re.M)
