"""The rule registry: each rule is a code, a name, a severity, its docs and a pure check.

Rules are plain generator functions over a `Context`; the `@rule` decorator records their
metadata and their docstring, which is the user-facing documentation (`amldoctor explain`). The
docstring has a fixed shape so every rule reads the same way:

    ## What it does / ## Why is this bad? / ## Example / ## How to fix
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from inspect import cleandoc
from typing import Any, Protocol, TypeVar

from amldoctor.engine.report import Finding, ObjectRef, Severity
from amldoctor.k8s.objects import meta
from amldoctor.k8s.owners import top_owner
from amldoctor.redact import mask_text
from amldoctor.snapshot import Snapshot

FAMILIES = {
    "1": "scheduling",
    "2": "memory",
    "3": "probes",
    "4": "containers",
    "5": "storage",
    "6": "nodes-gpus",
    "7": "aml-platform",
    "8": "manifest-lint",
}
CODE_RE = re.compile(r"^AMD[1-8]\d\d$")
NAME_RE = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
IGNORE_ANNOTATION = "amldoctor.io/ignore"
DOC_SECTIONS = ("What it does", "Why is this bad?", "Example", "How to fix")


@dataclass(frozen=True)
class RuleMeta:
    code: str
    name: str
    severity: Severity
    needs: tuple[str, ...]
    check: Callable[[Any], Iterable[Finding]]  # takes a Context (scan) or a LintContext (lint)
    doc: str
    scope: str = "scan"  # "scan" rules read a cluster snapshot; "lint" rules read manifests
    # Generic rules this one replaces for the same object (or the workload that owns it): an AML
    # rule that explains an OOMKill at the instance type's limit says all the pod rule would.
    supersedes: tuple[str, ...] = ()
    # Rules whose findings on the same object this one explains: both are kept (in JSON the
    # explained finding carries `superseded_by`), but the incident view shows the explained one
    # under this one, whose fix comes first (a pod Pending because its pool is at its maximum).
    explains: tuple[str, ...] = ()

    @property
    def family(self) -> str:
        return FAMILIES[self.code[3]]

    @property
    def summary(self) -> str:
        """First sentence of 'What it does', for the rules table."""
        body = doc_section(self.doc, "What it does") or self.doc
        first = " ".join(body.split())
        return first.split(". ")[0].rstrip(".") + "."


REGISTRY: dict[str, RuleMeta] = {}


class RuleContext(Protocol):
    """What the runner needs of any rule context: the rule being run, for its findings."""

    current: RuleMeta | None


C = TypeVar("C", bound=RuleContext)


def rule(
    code: str,
    name: str,
    *,
    severity: str,
    needs: tuple[str, ...] = ("Pod",),
    scope: str = "scan",
    supersedes: tuple[str, ...] = (),
    explains: tuple[str, ...] = (),
) -> Callable[[Callable[[C], Iterable[Finding]]], Callable[[C], Iterable[Finding]]]:
    """Register a check. `needs` lists the kinds without which the rule cannot say anything.

    Generic in the context: scan rules take a `Context`, lint rules a `lint.engine.LintContext`.
    """

    def register(check: Callable[[C], Iterable[Finding]]) -> Callable[[C], Iterable[Finding]]:
        if not CODE_RE.match(code):
            raise ValueError(f"rule code {code!r} must look like AMD101")
        if not NAME_RE.match(name):
            raise ValueError(f"rule name {name!r} must be kebab-case")
        if code in REGISTRY or any(r.name == name for r in REGISTRY.values()):
            raise ValueError(f"rule {code} {name} registered twice")
        doc = cleandoc(check.__doc__ or "")
        missing = [s for s in DOC_SECTIONS if f"## {s}" not in doc]
        if missing:
            raise ValueError(f"rule {code} docs lack sections: {', '.join(missing)}")
        REGISTRY[code] = RuleMeta(
            code, name, Severity.parse(severity), needs, check, doc, scope, supersedes, explains
        )
        return check

    return register


def doc_section(doc: str, title: str) -> str:
    """The text under `## title` up to the next heading."""
    match = re.search(rf"^## {re.escape(title)}\s*$(.*?)(?=^## |\Z)", doc, re.M | re.S)
    return match.group(1).strip() if match else ""


def find_rule(key: str) -> RuleMeta | None:
    """Look a rule up by code (any case) or kebab-case name."""
    load_all()
    key = key.strip()
    if key.upper() in REGISTRY:
        return REGISTRY[key.upper()]
    return next((r for r in REGISTRY.values() if r.name == key.lower()), None)


@dataclass
class Context:
    """What a rule sees: the snapshot, the pods in scope, and a finding factory."""

    snapshot: Snapshot
    namespaces: frozenset[str] | None = None  # None: every namespace in the snapshot
    selector: Callable[[dict], bool] | None = None
    current: RuleMeta | None = None
    _owner_cache: dict[int, ObjectRef] = field(default_factory=dict)
    # The pods in scope, filtered once: some 30 rules ask, and a scan has tens of thousands.
    _pods: list[dict] | None = field(default=None, repr=False)

    def in_scope(self, obj: dict) -> bool:
        ns = meta(obj).get("namespace")
        return self.namespaces is None or ns is None or ns in self.namespaces

    def pods(self) -> list[dict]:
        """Pods the user asked about: in the namespaces in scope and matching `-l`.

        A new list each time (a rule may change its own); the filtering is done once.
        """
        if self._pods is None:
            self._pods = [
                p
                for p in self.snapshot.pods
                if self.in_scope(p) and (self.selector is None or self.selector(p))
            ]
        return list(self._pods)

    def objects(self, kind: str) -> list[dict]:
        return [o for o in self.snapshot.of_kind(kind) if self.in_scope(o)]

    def owner_ref(self, obj: dict) -> ObjectRef:
        key = id(obj)
        if key not in self._owner_cache:
            self._owner_cache[key] = ref_of(top_owner(self.snapshot, obj))
        return self._owner_cache[key]

    def finding(
        self,
        obj: dict,
        *,
        message: str,
        evidence: dict[str, Any] | None = None,
        remediation: str = "",
        severity: Severity | str | None = None,
    ) -> Finding:
        rule_meta = self.current
        if rule_meta is None:
            raise RuntimeError("Context.finding called outside a rule run")
        if isinstance(severity, str):
            severity = Severity.parse(severity)
        ref = ref_of(obj)
        owner = self.owner_ref(obj) if obj.get("kind") == "Pod" else None
        return Finding(
            rule=rule_meta.code,
            name=rule_meta.name,
            severity=severity or rule_meta.severity,
            object=ref,
            message=mask_text(message),
            evidence=_masked(evidence or {}),
            remediation=mask_text(remediation),
            owner=owner if owner != ref else None,
        )


def _masked(value: Any) -> Any:
    """Evidence with credential-shaped text masked: a termination message or an event can quote
    a connection string, and findings reach every output (terminal, JSON, tickets)."""
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, dict):
        return {k: _masked(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_masked(v) for v in value]
    return value


def ref_of(obj: dict) -> ObjectRef:
    m = meta(obj)
    return ObjectRef(
        kind=str(obj.get("kind", "")),
        namespace=m["namespace"] if isinstance(m.get("namespace"), str) else None,
        name=str(m.get("name", "")),
    )


def ignored_codes(obj: dict) -> set[str]:
    """Codes and names listed in the `amldoctor.io/ignore` annotation ("all" ignores every rule)."""
    annotations = meta(obj).get("annotations")
    value = annotations.get(IGNORE_ANNOTATION, "") if isinstance(annotations, dict) else ""
    return {part.strip().upper() for part in str(value).split(",") if part.strip()}


def suppressed_by(codes: set[str], finding: Finding) -> bool:
    return bool(codes & {finding.rule, finding.name.upper(), "ALL"})


def run_check(
    rule_meta: RuleMeta, ctx: RuleContext, notes: list[str], inputs: str
) -> list[Finding]:
    """Run one rule; a rule that crashes on odd data becomes a note, never a traceback.

    `inputs` names what it ran on ("this snapshot", "these manifests") for the note.
    """
    ctx.current = rule_meta
    try:
        return list(rule_meta.check(ctx))
    except Exception as exc:  # a rule must never take the report down
        notes.append(f"rule {rule_meta.code} ({rule_meta.name}) failed on {inputs}: {exc!r}")
        return []


def iter_rules(scope: str = "scan") -> Iterator[RuleMeta]:
    load_all()
    for code in sorted(REGISTRY):
        if REGISTRY[code].scope == scope:
            yield REGISTRY[code]


# The packages whose modules are rules, found by name: the registry sits below the features
# that hold the rules (scan families in `rules/`, manifest checks in `lint/rules/`) and must not
# import them; each module registers its rules with `@rule` when it is imported.
RULE_PACKAGES = ("amldoctor.rules", "amldoctor.lint.rules")
_loaded = False


def load_all() -> None:
    """Import every rule module once so their decorators register them."""
    global _loaded
    if _loaded:
        return
    import importlib
    import pkgutil

    for name in RULE_PACKAGES:
        package = importlib.import_module(name)
        for info in pkgutil.iter_modules(package.__path__):
            if not info.name.startswith("_"):
                importlib.import_module(f"{name}.{info.name}")
    _loaded = True
