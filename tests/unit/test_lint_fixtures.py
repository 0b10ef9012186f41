"""Every lint rule has docs, a failing and a passing manifest, and a golden file for the failure.

Layout: `fixtures/lint/<CODE>/failing.yaml`, `passing.yaml` and `expected.json` (the rule's findings
on the failing manifest, file and line included). Pre-flight rules (those that read a cluster)
are checked against `fixtures/lint/<CODE>/cluster.yaml`, else the shared
`fixtures/lint/cluster.yaml`; a passing fixture may leave info findings ("fits on 1 of 4
nodes"). Regenerate golden files with
`UPDATE_GOLDEN=1 pytest tests/unit/test_lint_fixtures.py` after checking the new output by eye.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from amldoctor.engine.registry import DOC_SECTIONS, iter_rules
from amldoctor.lint.engine import run_lint
from amldoctor.lint.source import read_manifests
from amldoctor.load import load_snapshot

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "fixtures" / "lint"
LINT_RULES = list(iter_rules("lint"))


def _lint(rule, which: str, monkeypatch):
    monkeypatch.chdir(ROOT)  # file paths in findings are as given: relative to the repository
    manifest = FIXTURES / rule.code / f"{which}.yaml"
    assert manifest.exists(), f"{rule.code}: no {which} fixture at {manifest}"
    snapshot = None
    if rule.needs:
        own = FIXTURES / rule.code / "cluster.yaml"
        snapshot = load_snapshot(own if own.exists() else FIXTURES / "cluster.yaml")
    report = run_lint(read_manifests([str(manifest.relative_to(ROOT))]), snapshot=snapshot)
    assert not [n for n in report.notes if "failed on these manifests" in n], report.notes
    return report


def _findings(rule, which: str, monkeypatch) -> list[dict]:
    return [f.to_dict() for f in _lint(rule, which, monkeypatch).findings if f.rule == rule.code]


def test_there_are_lint_rules():
    assert len(LINT_RULES) >= 12
    assert all(r.code.startswith("AMD8") for r in LINT_RULES)


@pytest.mark.parametrize("rule", LINT_RULES, ids=lambda r: r.code)
def test_rule_has_docs(rule):
    for section in DOC_SECTIONS:
        assert f"## {section}" in rule.doc


@pytest.mark.parametrize("rule", LINT_RULES, ids=lambda r: r.code)
def test_failing_fixture_triggers_rule_as_golden(rule, monkeypatch):
    found = _findings(rule, "failing", monkeypatch)
    assert found, f"{rule.code} found nothing on its failing fixture"
    for finding in found:
        assert finding["evidence"]["file"] == f"fixtures/lint/{rule.code}/failing.yaml"
        assert finding["evidence"]["line"] >= 1
    golden = FIXTURES / rule.code / "expected.json"
    if os.environ.get("UPDATE_GOLDEN"):
        golden.write_text(json.dumps(found, indent=2, sort_keys=True) + "\n")
    assert golden.exists(), f"{golden} missing: run with UPDATE_GOLDEN=1 and review it"
    assert found == json.loads(golden.read_text())


@pytest.mark.parametrize("rule", LINT_RULES, ids=lambda r: r.code)
def test_passing_fixture_is_clean(rule, monkeypatch):
    assert [f for f in _findings(rule, "passing", monkeypatch) if f["severity"] != "info"] == []


@pytest.mark.parametrize("rule", LINT_RULES, ids=lambda r: r.code)
def test_passing_fixture_is_clean_of_every_rule(rule, monkeypatch):
    """Passing fixtures show the right way to write a manifest: no rule at all may fire."""
    report = _lint(rule, "passing", monkeypatch)
    noisy = [(f.rule, f.message) for f in report.findings if f.severity.label != "info"]
    assert noisy == []


_YAML_ALIAS = re.compile(r"(?:^|[\s\[{,:-])[&*]id\d{3}\b", re.MULTILINE)


@pytest.mark.parametrize("rule", LINT_RULES, ids=lambda r: r.code)
def test_fixes_paste_without_yaml_anchors(rule, monkeypatch):
    """A fix is pasted into one field: `&id001`/`*id001` anchors would not survive that."""
    for finding in _findings(rule, "failing", monkeypatch):
        text = json.dumps(finding, ensure_ascii=False).replace("\\n", "\n")
        assert not _YAML_ALIAS.search(text), f"{rule.code}: YAML anchors in its fix: {text}"
