"""Running the lint rules over manifests: context, suppression, ordering, the report.

Pure: manifests (and, for pre-flight, a cluster snapshot) in, `LintReport` out. Static rules
always run; pre-flight rules (those that read the cluster: `needs` is not empty) run only with
a snapshot, and the report says so when they did not. A rule that crashes on odd input becomes a
note, never a traceback that hides the findings of the other rules.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from amldoctor.engine.registry import (
    RuleMeta,
    find_rule,
    ignored_codes,
    iter_rules,
    run_check,
    suppressed_by,
)
from amldoctor.engine.report import (
    Finding,
    ObjectRef,
    Severity,
    SkippedRule,
    count_by_severity,
    exit_code_for,
    missing_notes,
)
from amldoctor.k8s.timeutil import format_time
from amldoctor.lint.config import LintConfig
from amldoctor.lint.source import Document, FieldPath, ManifestSet
from amldoctor.lint.workloads import (
    Workload,
    dotted,
    extract_workloads,
    is_aml_job_spec,
    is_kubernetes_object,
)
from amldoctor.snapshot import Snapshot

DEFAULT_NAMESPACE = "default"
PREFLIGHT_ONLY = "pre-flight rule: needs a cluster (--against SNAPSHOT or --against-cluster)"


@dataclass
class LintContext:
    """What a lint rule sees: the documents, their workloads, the cluster (pre-flight only)."""

    manifests: ManifestSet
    workloads: list[Workload]
    snapshot: Snapshot | None = None
    default_namespace: str = DEFAULT_NAMESPACE
    current: RuleMeta | None = None
    notes: list[str] = field(default_factory=list)

    def documents(self, kind: str | None = None) -> list[Document]:
        return [d for d in self.manifests.documents if kind is None or d.kind == kind]

    def namespace_of(self, w: Workload | Document) -> str:
        """Where the object will be created: its namespace, else kubectl's/the snapshot's."""
        return w.namespace or self.default_namespace

    def finding(
        self,
        where: Workload | Document,
        path: FieldPath,
        *,
        message: str,
        evidence: dict[str, Any] | None = None,
        remediation: str = "",
        severity: Severity | str | None = None,
    ) -> Finding:
        """A finding about `where`, pointing at `path` (from the object root) in its file."""
        if self.current is None:
            raise RuntimeError("LintContext.finding called outside a rule run")
        doc = where.doc if isinstance(where, Workload) else where
        if isinstance(severity, str):
            severity = Severity.parse(severity)
        location: dict[str, Any] = {"file": doc.file, "line": doc.line(path)}
        if path:
            location["field"] = dotted(path)
        return Finding(
            rule=self.current.code,
            name=self.current.name,
            severity=severity or self.current.severity,
            object=_object_ref(doc),
            message=message,
            evidence={**location, **(evidence or {})},
            remediation=remediation,
        )


def _object_ref(doc: Document) -> ObjectRef:
    """The object a finding is about; a file that is not a Kubernetes object is named by path."""
    if not is_kubernetes_object(doc):
        return ObjectRef(kind="File", namespace=None, name=doc.file)
    return ObjectRef(kind=doc.kind, namespace=doc.namespace, name=doc.name)


@dataclass
class LintReport:
    """Findings over manifests, plus what could not be read or checked."""

    findings: list[Finding]
    files: list[str]
    workloads_checked: int
    notes: list[str] = field(default_factory=list)
    skipped: list[SkippedRule] = field(default_factory=list)
    suppressed: int = 0
    snapshot: Snapshot | None = None  # the cluster pre-flight ran against

    def counts(self) -> dict[str, int]:
        return count_by_severity(self.findings)

    def summary(self) -> dict:
        return {
            **self.counts(),
            "total": len(self.findings),
            "files_checked": len(self.files),
            "workloads_checked": self.workloads_checked,
            "suppressed": self.suppressed,
            "rules_skipped": len(self.skipped),
        }

    def source(self) -> dict:
        against = None
        if self.snapshot is not None:
            snap = self.snapshot
            against = {
                "origin": snap.source,
                "context": snap.context,
                "server_version": snap.server_version,
                "captured_at": format_time(snap.captured_at),
            }
        return {"origin": "manifests", "files": list(self.files), "against": against}

    def to_dict(self) -> dict:
        missing = self.snapshot.missing if self.snapshot is not None else []
        return {
            "source": self.source(),
            "missing": [m.to_dict() for m in missing],
            "skipped_rules": [s.to_dict() for s in self.skipped],
            "notes": list(self.notes),
            "summary": self.summary(),
            "findings": [f.to_dict() for f in self.findings],
        }

    def exit_code(self, fail_on: str) -> int:
        return exit_code_for(self.findings, fail_on)


def run_lint(
    manifests: ManifestSet,
    *,
    snapshot: Snapshot | None = None,
    namespace: str | None = None,
    ignore: Iterable[str] = (),
    config: LintConfig | None = None,
) -> LintReport:
    """Every lint rule over the manifests; pre-flight rules only with a snapshot."""
    workloads, notes = extract_workloads(manifests.documents)
    notes = [*manifests.notes, *notes, *_non_kubernetes_notes(manifests.documents)]
    default_ns = (
        namespace or (snapshot.namespace if snapshot is not None else None) or DEFAULT_NAMESPACE
    )
    ctx = LintContext(manifests, workloads, snapshot, default_ns)
    ignore_set = {_canonical(k) for k in ignore}
    config = config or LintConfig()
    findings: list[Finding] = []
    skipped: list[SkippedRule] = []
    suppressed = 0
    if snapshot is not None:
        notes += missing_notes(snapshot.missing)
    holders = _annotation_holders(manifests.documents, workloads)

    for rule_meta in iter_rules("lint"):
        if rule_meta.code in ignore_set:
            continue
        if rule_meta.needs and snapshot is None:
            if manifests.documents:
                skipped.append(SkippedRule(rule_meta.code, rule_meta.name, PREFLIGHT_ONLY))
            continue
        for finding in run_check(rule_meta, ctx, notes, "these manifests"):
            if _is_suppressed(finding, holders, config):
                suppressed += 1
            else:
                findings.append(finding)
    notes += ctx.notes
    findings.sort(key=_sort_key)
    return LintReport(
        findings=findings,
        files=list(manifests.files),
        workloads_checked=len(workloads),
        notes=notes,
        skipped=skipped,
        suppressed=suppressed,
        snapshot=snapshot,
    )


def _sort_key(f: Finding) -> tuple:
    """File order, then line: the order a reader of the manifests meets them."""
    return (str(f.evidence.get("file", "")), int(f.evidence.get("line") or 0), f.rule, f.message)


def _canonical(key: str) -> str:
    found = find_rule(key)
    return found.code if found else key.strip().upper()


def _non_kubernetes_notes(docs: list[Document]) -> list[str]:
    return [
        f"{d.file}:{d.line()}: document {d.index} has no apiVersion/kind: not a Kubernetes object; "
        "skipped"
        for d in docs
        if not is_kubernetes_object(d) and not is_aml_job_spec(d)
    ]


def _annotation_holders(docs: list[Document], workloads: list[Workload]) -> dict[tuple, list[dict]]:
    """Objects whose `amldoctor.io/ignore` annotation covers findings on (file, kind, name).

    The object itself and its pod templates: charts often only let users annotate the pods.
    """
    holders: dict[tuple, list[dict]] = {}
    for doc in docs:
        holders.setdefault((doc.file, doc.kind, doc.name), []).append(doc.obj)
    for w in workloads:
        holders.setdefault((w.doc.file, w.kind, w.name), []).append(w.template)
    return holders


def _is_suppressed(finding: Finding, holders: dict[tuple, list[dict]], config: LintConfig) -> bool:
    """`amldoctor.io/ignore` on the object or its pod template, or the config file."""
    file = str(finding.evidence.get("file", ""))
    if suppressed_by(config.ignored_for(file), finding):
        return True
    key = (file, finding.object.kind, finding.object.name)
    return any(suppressed_by(ignored_codes(h), finding) for h in holders.get(key, ()))
