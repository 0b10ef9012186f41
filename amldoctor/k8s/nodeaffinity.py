"""Required node affinity and nodeSelector, compiled and matched as component-helpers does.

`spec.nodeSelector` needs every key with an equal value. `requiredDuringScheduling…` terms are
ORed; inside a term every matchExpression and matchField is ANDed. A term with neither is
skipped, and a term whose requirements do not validate (bad key, bad value, wrong value count,
unknown operator, Gt/Lt value that is not an int64) is dropped: it matches nothing. With no usable
term left, nothing matches. matchFields only know `metadata.name`.

Besides the yes/no answer, `explain_*` say which requirement fails and what the node carries, so
that findings can quote the user's own values.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from amldoctor.k8s.labels import is_label_value, is_qualified_name, parse_int64

NAME_FIELD = "metadata.name"
_LABEL_OPS = ("In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt")


@dataclass(frozen=True)
class Requirement:
    """One validated matchExpression (`field=False`) or matchField (`field=True`)."""

    key: str
    operator: str
    values: tuple[str, ...]
    field: bool = False

    def matches(self, value: str | None) -> bool:
        """`value` is the node's label (None when absent) or field value."""
        op = self.operator
        if op == "In":
            return value is not None and value in self.values
        if op == "NotIn":
            return value is None or value not in self.values
        if op == "Exists":
            return value is not None
        if op == "DoesNotExist":
            return value is None
        # Gt / Lt: the label must be present and parse as a base-10 int64.
        if value is None:
            return False
        have = parse_int64(value)
        if have is None:
            return False
        want = int(self.values[0])
        return have > want if op == "Gt" else have < want

    def describe(self) -> str:
        """As users write it: `accelerator In [nvidia-a100]`, `gpu Exists`."""
        kind = "field " if self.field else ""
        if self.operator in ("Exists", "DoesNotExist"):
            return f"{kind}{self.key} {self.operator}"
        return f"{kind}{self.key} {self.operator} [{', '.join(self.values)}]"


class InvalidRequirement(ValueError):
    """Why a term is unusable (the scheduler silently treats it as matching nothing)."""


def compile_expression(expr: Mapping) -> Requirement:
    """`labels.NewRequirement` validation for a matchExpression."""
    key = str(expr.get("key") or "")
    op = str(expr.get("operator") or "")
    values = tuple(str(v) for v in expr.get("values") or [])
    if op not in _LABEL_OPS:
        raise InvalidRequirement(f"{op!r} is not a valid node selector operator")
    if not is_qualified_name(key):
        raise InvalidRequirement(f"{key!r} is not a valid label key")
    if op in ("In", "NotIn") and not values:
        raise InvalidRequirement(f"{key} {op} needs at least one value")
    if op in ("Exists", "DoesNotExist") and values:
        raise InvalidRequirement(f"{key} {op} must not have values")
    if op in ("Gt", "Lt"):
        if len(values) != 1:
            raise InvalidRequirement(f"{key} {op} needs exactly one value")
        if parse_int64(values[0]) is None:
            raise InvalidRequirement(f"{key} {op} value {values[0]!r} is not an integer")
    for v in values:
        if not is_label_value(v):
            raise InvalidRequirement(f"{v!r} is not a valid label value (for {key})")
    return Requirement(key, op, values)


def compile_field(expr: Mapping) -> Requirement:
    """`nodeSelectorRequirementsAsFieldSelector`: In/NotIn with exactly one value."""
    key = str(expr.get("key") or "")
    op = str(expr.get("operator") or "")
    values = tuple(str(v) for v in expr.get("values") or [])
    if op not in ("In", "NotIn"):
        raise InvalidRequirement(f"{op!r} is not a valid operator for matchFields")
    if len(values) != 1:
        raise InvalidRequirement(f"matchFields {key} {op} needs exactly one value")
    return Requirement(key, op, values, field=True)


@dataclass(frozen=True)
class Term:
    """One nodeSelectorTerm: usable (`error is None`) or dropped, with the reason."""

    index: int
    expressions: tuple[Requirement, ...]
    fields: tuple[Requirement, ...]
    error: str | None = None

    def failing(self, node_name: str, labels: Mapping[str, str]) -> list[Requirement]:
        """The requirements this node does not meet (empty list: the term matches)."""
        bad = [r for r in self.expressions if not r.matches(labels.get(r.key))]
        if node_name:  # matchFields are ignored for a node without a name
            node_fields = {NAME_FIELD: node_name}
            bad += [r for r in self.fields if not r.matches(node_fields.get(r.key, ""))]
        return bad


def compile_terms(node_selector: Mapping | None) -> list[Term]:
    """All terms, in order; empty terms and invalid ones carry an `error`."""
    terms: list[Term] = []
    for i, raw in enumerate((node_selector or {}).get("nodeSelectorTerms") or []):
        raw = raw or {}
        exprs_raw = raw.get("matchExpressions") or []
        fields_raw = raw.get("matchFields") or []
        if not exprs_raw and not fields_raw:
            terms.append(Term(i, (), (), error="term has no matchExpressions or matchFields"))
            continue
        try:
            exprs = tuple(compile_expression(e) for e in exprs_raw)
            fields = tuple(compile_field(f) for f in fields_raw)
        except InvalidRequirement as exc:
            terms.append(Term(i, (), (), error=str(exc)))
            continue
        terms.append(Term(i, exprs, fields))
    return terms


def node_name(node: Mapping) -> str:
    return str((node.get("metadata") or {}).get("name") or "")


def node_labels(node: Mapping) -> Mapping[str, str]:
    return (node.get("metadata") or {}).get("labels") or {}


class NodeSelector:
    """A compiled `NodeSelector` (ORed terms)."""

    def __init__(self, raw: Mapping | None) -> None:
        self.terms = compile_terms(raw)
        self.usable = [t for t in self.terms if t.error is None]

    def matches(self, node: Mapping) -> bool:
        name, labels = node_name(node), node_labels(node)
        return any(not t.failing(name, labels) for t in self.usable)


@dataclass(frozen=True)
class Mismatch:
    """Why a node does not satisfy the pod's nodeSelector / required affinity."""

    source: str  # "nodeSelector" or "affinity term <i>"
    requirement: str  # e.g. "accelerator=nvidia-gpu" or "gpu In [a100]"
    key: str
    node_value: str | None  # what the node carries for that key (None: label absent)


class RequiredNodeAffinity:
    """`GetRequiredNodeAffinity(pod)`: nodeSelector AND required node affinity."""

    def __init__(self, pod: Mapping) -> None:
        spec = pod.get("spec") or {}
        self.node_selector: Mapping[str, str] | None = spec.get("nodeSelector")
        node_aff = (spec.get("affinity") or {}).get("nodeAffinity") or {}
        required = node_aff.get("requiredDuringSchedulingIgnoredDuringExecution")
        self.required: NodeSelector | None = (
            NodeSelector(required) if required is not None else None
        )
        self.raw_required = required

    @property
    def is_empty(self) -> bool:
        return self.node_selector is None and self.required is None

    def _selector_mismatches(self, labels: Mapping[str, str]) -> list[Mismatch]:
        return [
            Mismatch("nodeSelector", f"{k}={v}", k, labels.get(k))
            for k, v in sorted((self.node_selector or {}).items())
            if labels.get(k) != v
        ]

    def matches(self, node: Mapping) -> bool:
        labels = node_labels(node)
        if self.node_selector and self._selector_mismatches(labels):
            return False
        return self.required is None or self.required.matches(node)

    def explain(self, node: Mapping) -> list[Mismatch]:
        """Every failing nodeSelector entry, then (if no term matches) each term's failures."""
        name, labels = node_name(node), node_labels(node)
        out = self._selector_mismatches(labels)
        if self.required is None:
            return out
        per_term: list[Mismatch] = []
        for term in self.required.terms:
            if term.error is not None:
                per_term.append(Mismatch(f"affinity term {term.index}", term.error, "", None))
                continue
            bad = term.failing(name, labels)
            if not bad:
                return out
            for r in bad:
                have = name if r.field and r.key == NAME_FIELD else labels.get(r.key)
                per_term.append(Mismatch(f"affinity term {term.index}", r.describe(), r.key, have))
        if not self.required.terms:
            per_term.append(Mismatch("affinity", "nodeSelectorTerms is empty", "", None))
        return out + per_term


def prefilter_node_names(required: Mapping | None) -> set[str] | None:
    """NodeAffinity PreFilter: node names pinned by `matchFields metadata.name In`.

    Returns None when some term has no such field (every node stays a candidate), otherwise the
    union over terms of the intersection of each term's name sets (may be empty: a conflict).
    """
    terms: Sequence[Mapping] = (required or {}).get("nodeSelectorTerms") or []
    if not terms:
        return None
    union: set[str] = set()
    for term in terms:
        names: set[str] | None = None
        for r in (term or {}).get("matchFields") or []:
            if r.get("key") == NAME_FIELD and r.get("operator") == "In":
                values = {str(v) for v in r.get("values") or []}
                names = values if names is None else names & values
        if names is None:
            return None
        union |= names
    return union
