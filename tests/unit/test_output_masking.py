"""Every format of every command is masked: credentials never leave through `emit`.

Each registered result type gets a sample result whose finding text, evidence, notes and
document fields quote credential-shaped values (a JWT, a password in a connection string, a URL
with user info); the test renders it in every format registered for that type and checks that
none of the secrets is printed and that the masked marker is (so the text really was shown).
A result type without a sample here fails the test: a new command must join it.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from amldoctor.commands import output
from amldoctor.commands.jobview import explain_job
from amldoctor.commands.results import (
    DumpResult,
    JobExplanation,
    LintResult,
    PodExplanation,
    ScanResult,
)
from amldoctor.commands.why_pending import explain_pod
from amldoctor.engine.registry import iter_rules
from amldoctor.engine.report import Finding, ObjectRef, Report, Severity
from amldoctor.lint.engine import LintReport
from amldoctor.load import load_snapshot
from amldoctor.redact import MASK
from amldoctor.snapshot import Snapshot

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJydW4tdG9rZW4ifQ.c2lnbmF0dXJlLXNlY3JldA"
PASSWORD = "Hunter2Secret"
USERINFO = "s3cr3tpass"
SECRETS = (JWT, PASSWORD, USERINFO)
DIRTY = f"token {JWT}; Password={PASSWORD}; https://bot:{USERINFO}@registry.example"


def _finding(code: str, evidence: dict) -> Finding:
    return Finding(
        rule=code,
        name="sample",
        severity=Severity.ERROR,
        object=ObjectRef("Pod", "ml", "train-0"),
        message=f"container main exited: {DIRTY}",
        evidence={**evidence, "termination_message": DIRTY},
        remediation=f"rotate it: {DIRTY}",
    )


def _finding_dict(code: str) -> dict:
    return _finding(code, {}).to_dict()


def _scan() -> ScanResult:
    code = next(iter_rules("scan")).code
    report = Report(Snapshot([]), [_finding(code, {})], notes=[f"note: {DIRTY}"])
    return ScanResult(report)


def _lint() -> LintResult:
    code = next(iter_rules("lint")).code
    finding = _finding(code, {"file": "train.yaml", "line": 3})
    report = LintReport([finding], ["train.yaml"], 1, notes=[f"note: {DIRTY}"])
    return LintResult(report)


def _pod() -> PodExplanation:
    snap = load_snapshot(FIXTURES / "whypending" / "taint-not-tolerated.yaml")
    doc = explain_pod(snap, snap.get("Pod", "ml", "train-taint"))
    doc["findings"] = [*doc["findings"], _finding_dict("AMD101")]
    doc["observed_message"] = f"0/3 nodes are available: {DIRTY}"
    return PodExplanation(doc, snap.source)


def _job() -> JobExplanation:
    path = FIXTURES / "rules" / "AMD710" / "failing"
    snap = load_snapshot(path if path.exists() else path.with_suffix(".yaml"))
    doc = explain_job(snap, "3f2a9c1e")
    doc["findings"] = [_finding_dict("AMD710"), *doc["findings"]]
    doc["status"] = f"{doc['status']}: {DIRTY}"
    return JobExplanation(doc)


def _dump() -> DumpResult:
    return DumpResult("bundle.tar.gz", 10, 3, [], [f"Pod in ml: forbidden: {DIRTY}"])


SAMPLES = {
    ScanResult: _scan,
    LintResult: _lint,
    PodExplanation: _pod,
    JobExplanation: _job,
    DumpResult: _dump,
}
CASES = [(t, fmt) for t in SAMPLES for fmt in output.formats_for(t)]


def test_every_result_type_has_a_sample() -> None:
    assert set(output._RENDERERS) == set(SAMPLES)


@pytest.mark.parametrize(("result_type", "fmt"), CASES, ids=[f"{t.__name__}-{f}" for t, f in CASES])
def test_every_format_masks_credentials(result_type: type, fmt: str) -> None:
    out, err = io.StringIO(), io.StringIO()
    output.emit(SAMPLES[result_type](), fmt, output.Output(out, err))
    text = out.getvalue() + err.getvalue()
    assert MASK in text, f"{result_type.__name__} -o {fmt} printed none of the sample's text"
    leaked = [s for s in SECRETS if s in text]
    assert not leaked, f"{result_type.__name__} -o {fmt} leaked {leaked}"


def test_lint_and_scan_accept_their_documented_formats() -> None:
    assert output.formats_for(ScanResult) == ("table", "json", "yaml", "markdown")
    assert output.formats_for(LintResult) == (
        "table",
        "json",
        "yaml",
        "markdown",
        "sarif",
        "junit",
    )
