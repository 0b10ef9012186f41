"""What each command produces, as typed values: the one thing its output formats render.

A command computes a result and hands it to `commands.output.emit`; it never prints. Each
result knows its exit code for `--fail-on` and how to make a copy with credentials masked
(`redacted`), which `emit` calls once for every format, so no format can skip masking.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from amldoctor.contract import LINT, versioned
from amldoctor.engine.report import Finding, Report, exit_code_for
from amldoctor.lint.engine import LintReport
from amldoctor.redact import mask_text, redact_object


def masked_finding(f: Finding) -> Finding:
    """A finding with its text and evidence masked (message, remediation, evidence values)."""
    return dataclasses.replace(
        f,
        message=mask_text(f.message),
        remediation=mask_text(f.remediation),
        evidence=redact_object(f.evidence),
    )


@dataclass
class ScanResult:
    """`scan`: the report of every rule over the pods in scope (JSON: `Report.to_dict`)."""

    report: Report
    expand: bool = False  # table: every object with every finding, not one entry per cause

    def exit_code(self, fail_on: str) -> int:
        return self.report.exit_code(fail_on)

    def to_dict(self) -> dict:
        return self.report.to_dict()

    def redacted(self) -> ScanResult:
        r = self.report
        return ScanResult(
            dataclasses.replace(
                r,
                findings=[masked_finding(f) for f in r.findings],
                notes=[mask_text(n) for n in r.notes],
                jobs=redact_object(r.jobs),
            ),
            expand=self.expand,
        )


@dataclass
class LintResult:
    """`lint`: findings over manifests (JSON: `LintReport.to_dict`)."""

    report: LintReport

    def exit_code(self, fail_on: str) -> int:
        return self.report.exit_code(fail_on)

    def to_dict(self) -> dict:
        return versioned(LINT, self.report.to_dict())

    def redacted(self) -> LintResult:
        r = self.report
        return LintResult(
            dataclasses.replace(
                r,
                findings=[masked_finding(f) for f in r.findings],
                notes=[mask_text(n) for n in r.notes],
            )
        )


@dataclass
class _Explanation:
    """A why-pending answer: the JSON document `whypending` or `commands.jobview` built."""

    document: dict[str, Any]

    @property
    def findings(self) -> list[dict]:
        return list(self.document.get("findings") or [])

    def exit_code(self, fail_on: str) -> int:
        return exit_code_for(self.findings, fail_on)

    def to_dict(self) -> dict:
        return self.document


@dataclass
class PodExplanation(_Explanation):
    """`why-pending POD` / `-f MANIFEST`: one pod's verdict.

    `document` is the JSON contract built by `whypending.analyze` (its keys are published in
    docs/schemas/why-pending.schema.json), with the kubelet-side findings of a bound pod added
    by the command.
    """

    source: str = ""

    def redacted(self) -> PodExplanation:
        return PodExplanation(redact_object(self.document), mask_text(self.source))


@dataclass
class JobExplanation(_Explanation):
    """`why-pending --job ID`: a whole AML job or online deployment (see `commands.jobview`)."""

    def redacted(self) -> JobExplanation:
        return JobExplanation(redact_object(self.document))


@dataclass
class DumpResult:
    """`dump`: where the bundle went and what it holds (the summary goes to stderr)."""

    path: str
    objects: int
    kinds: int
    not_installed: list[str] = field(default_factory=list)
    not_read: list[str] = field(default_factory=list)  # "Kind[ in ns]: reason"

    def exit_code(self, fail_on: str = "never") -> int:
        return 0

    def to_dict(self) -> dict:
        return {
            "path": self.path,
            "objects": self.objects,
            "kinds": self.kinds,
            "not_installed": list(self.not_installed),
            "not_read": list(self.not_read),
        }

    def redacted(self) -> DumpResult:
        return dataclasses.replace(self, not_read=[mask_text(t) for t in self.not_read])
