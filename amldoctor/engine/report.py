"""Findings and the report: the public JSON contract of `scan` lives here.

A Finding names the object, the numbers it rests on (`evidence`) and the concrete fix
(`remediation`). The Report adds where the data came from, what could not be read (`missing`),
which rules were skipped for lack of input, and the exit-code decision for `--fail-on`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from amldoctor.contract import SCAN, versioned
from amldoctor.k8s.timeutil import format_time
from amldoctor.snapshot import NOT_INSTALLED, Missing, Snapshot


class Severity(enum.IntEnum):
    """Ordered so that `>=` means "at least as bad"."""

    INFO = 1
    WARNING = 2
    ERROR = 3

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> Severity:
        return cls[text.upper()]


FAIL_ON_CHOICES = ("error", "warning", "info", "never")


@dataclass(frozen=True, order=True)
class ObjectRef:
    kind: str
    namespace: str | None
    name: str

    def to_dict(self) -> dict:
        return {"kind": self.kind, "namespace": self.namespace, "name": self.name}

    def __str__(self) -> str:
        prefix = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind} {prefix}{self.name}"

    def sort_key(self) -> tuple[str, str, str]:
        """Namespace, kind, name; a cluster-scoped object (no namespace) sorts first."""
        return (self.namespace or "", self.kind, self.name)


@dataclass
class Finding:
    rule: str
    name: str
    severity: Severity
    object: ObjectRef
    message: str
    evidence: dict[str, Any] = field(default_factory=dict)
    remediation: str = ""
    # Not serialised: the workload that owns the object (for grouping and suppression).
    owner: ObjectRef | None = field(default=None, compare=False)

    def sort_key(self) -> tuple:
        return (
            -self.severity,
            self.object.namespace or "",
            self.object.kind,
            self.object.name,
            self.rule,
            self.message,
        )

    def to_dict(self) -> dict:
        data = {
            "rule": self.rule,
            "name": self.name,
            "severity": self.severity.label,
            "object": self.object.to_dict(),
            "message": self.message,
            "evidence": self.evidence,
            "remediation": self.remediation,
        }
        if self.owner is not None:
            data["owner"] = self.owner.to_dict()
        return data


@dataclass
class SkippedRule:
    """A rule that could not run because an input it needs could not be read."""

    rule: str
    name: str
    reason: str

    def to_dict(self) -> dict:
        return {"rule": self.rule, "name": self.name, "reason": self.reason}


@dataclass
class Report:
    snapshot: Snapshot
    findings: list[Finding]
    skipped: list[SkippedRule] = field(default_factory=list)
    suppressed: int = 0
    scope: list[str] | None = None
    pods_checked: int = 0
    notes: list[str] = field(default_factory=list)
    # Per AML job / online deployment summaries (amldoctor.commands.jobview), shown before the pods.
    jobs: list[dict] = field(default_factory=list)
    # In a namespace-scoped run, findings about the cluster itself (nodes, instance types, the
    # AML extension) are shown but only set the exit code when asked (`--include-cluster`).
    cluster_in_exit: bool = True
    _groups: list | None = field(default=None, init=False, repr=False, compare=False)

    def groups(self) -> list:
        """The findings grouped by cause, worst first (amldoctor.engine.grouping), computed once."""
        if self._groups is None:
            from amldoctor.engine.grouping import group_findings

            self._groups = group_findings(self.findings)
        return self._groups

    def counts(self) -> dict[str, int]:
        return count_by_severity(self.findings)

    def summary(self) -> dict:
        return {
            **self.counts(),
            "total": len(self.findings),
            "pods_checked": self.pods_checked,
            "suppressed": self.suppressed,
            "rules_skipped": len(self.skipped),
        }

    def source(self) -> dict:
        snap = self.snapshot
        return {
            "origin": snap.source,
            "context": snap.context,
            "namespaces": self.scope,
            "server_version": snap.server_version,
            "captured_at": format_time(snap.captured_at),
        }

    def to_dict(self) -> dict:
        from amldoctor.engine.grouping import group_ids, superseded_by

        groups = self.groups()
        ids = group_ids(groups)
        explained = superseded_by(groups)
        findings = []
        for f in self.findings:
            data = f.to_dict()
            data["group"] = ids.get(id(f))
            data["superseded_by"] = explained.get(id(f))
            findings.append(data)
        return versioned(
            SCAN,
            {
                "source": self.source(),
                "missing": [m.to_dict() for m in self.snapshot.missing],
                "skipped_rules": [s.to_dict() for s in self.skipped],
                "notes": list(self.notes),
                "summary": self.summary(),
                "jobs": self.jobs,
                "groups": [g.to_dict() for g in groups],
                "findings": findings,
            },
        )

    def exit_code(self, fail_on: str) -> int:
        if self.cluster_in_exit:
            return exit_code_for(self.findings, fail_on)
        from amldoctor.engine.grouping import is_cluster_finding

        return exit_code_for([f for f in self.findings if not is_cluster_finding(f)], fail_on)


def count_by_severity(findings: list[Finding]) -> dict[str, int]:
    """{"error": n, "warning": n, "info": n}, worst first."""
    counts = {s.label: 0 for s in sorted(Severity, reverse=True)}
    for f in findings:
        counts[f.severity.label] += 1
    return counts


def exit_code_for(findings: list[Finding] | list[dict], fail_on: str) -> int:
    """0 when nothing is at or above `fail_on`, else 1 (README, "Exit codes").

    Accepts Findings or their JSON dicts (why-pending results carry the latter).
    """
    if fail_on == "never":
        return 0
    threshold = Severity.parse(fail_on)
    for f in findings:
        severity = f.severity if isinstance(f, Finding) else Severity.parse(f["severity"])
        if severity >= threshold:
            return 1
    return 0


def missing_note(missing: Missing) -> str:
    where = f" in namespace {missing.namespace}" if missing.namespace else ""
    return f"could not read {missing.kind}{where}: {missing.reason}"


def missing_notes(missing: list[Missing]) -> list[str]:
    """One line per unreadable input, with the add-ons a cluster simply lacks said once.

    A cluster without the AML extension or Volcano does not serve five custom kinds; that is one
    fact ("not installed"), not five problems.
    """
    absent = [m for m in missing if m.reason.startswith(NOT_INSTALLED)]
    lines = [missing_note(m) for m in missing if m not in absent]
    if absent:
        kinds = ", ".join(sorted({m.kind for m in absent}))
        lines.append(f"not installed on this cluster (its API is not served): {kinds}")
    return lines
