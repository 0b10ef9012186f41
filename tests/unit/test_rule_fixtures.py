"""Every scan rule has docs, a failing and a passing fixture, and a golden file for the failure.

Layout: `fixtures/rules/<CODE>/failing.yaml` (or a directory `failing/`), `passing.yaml` (or
`passing/`), and `expected.json`: the findings of that rule on the failing fixture. Regenerate
golden files with `UPDATE_GOLDEN=1 pytest tests/unit/test_rule_fixtures.py` after checking the
new output by eye.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from amldoctor.engine.registry import DOC_SECTIONS, iter_rules
from amldoctor.engine.runner import run_rules
from amldoctor.load import load_snapshot

ROOT = Path(__file__).resolve().parents[2] / "fixtures" / "rules"
SCAN_RULES = list(iter_rules("scan"))


def _fixture(code: str, which: str) -> Path:
    for candidate in (ROOT / code / which, ROOT / code / f"{which}.yaml"):
        if candidate.exists():
            return candidate
    pytest.fail(f"{code}: no {which} fixture under {ROOT / code}")


def _findings(code: str, which: str) -> list[dict]:
    # The rule alone: a more specific rule that supersedes it must not hide it here.
    report = run_rules(load_snapshot(_fixture(code, which)), only=[code])
    assert not [n for n in report.notes if "failed on this snapshot" in n], report.notes
    return [f.to_dict() for f in report.findings if f.rule == code]


@pytest.mark.parametrize("rule", SCAN_RULES, ids=lambda r: r.code)
def test_rule_has_docs(rule):
    for section in DOC_SECTIONS:
        assert f"## {section}" in rule.doc


@pytest.mark.parametrize("rule", SCAN_RULES, ids=lambda r: r.code)
def test_failing_fixture_triggers_rule_as_golden(rule):
    found = _findings(rule.code, "failing")
    assert found, f"{rule.code} found nothing on its failing fixture"
    golden = ROOT / rule.code / "expected.json"
    if os.environ.get("UPDATE_GOLDEN"):
        golden.write_text(json.dumps(found, indent=2, sort_keys=True) + "\n")
    assert golden.exists(), f"{golden} missing: run with UPDATE_GOLDEN=1 and review it"
    assert found == json.loads(golden.read_text())


@pytest.mark.parametrize("rule", SCAN_RULES, ids=lambda r: r.code)
def test_passing_fixture_is_clean(rule):
    assert _findings(rule.code, "passing") == []
