"""Label names, label values and label selectors, validated and matched as apimachinery does.

Validation matters for matching: the scheduler builds node-affinity requirements with
`labels.NewRequirement`, and a requirement with an invalid key or value makes its whole term
unusable (it never matches), so a typo like `values: ["a100 "]` silently excludes every node.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
_DNS1123_SUBDOMAIN = re.compile(
    r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
)


def is_qualified_name(value: str) -> bool:
    """`validation.IsQualifiedName`: optional DNS-subdomain prefix + '/' + name of <= 63 chars."""
    parts = value.split("/")
    if len(parts) == 1:
        name = parts[0]
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix or len(prefix) > 253 or not _DNS1123_SUBDOMAIN.match(prefix):
            return False
    else:
        return False
    return 0 < len(name) <= 63 and bool(_NAME.match(name))


def is_label_value(value: str) -> bool:
    """`validation.IsValidLabelValue`: empty, or <= 63 chars of the name alphabet."""
    return value == "" or (len(value) <= 63 and bool(_NAME.match(value)))


_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


def parse_int64(text: str) -> int | None:
    """strconv.ParseInt(s, 10, 64): optional sign and ASCII decimal digits, within int64."""
    body = text[1:] if text[:1] in ("+", "-") else text
    if not body or not body.isascii() or not body.isdigit():
        return None
    value = int(text)
    return value if _INT64_MIN <= value <= _INT64_MAX else None


class SelectorError(ValueError):
    """A label selector the API server would not turn into a selector (matches nothing)."""


def selector_matches(selector: Mapping | None, labels: Mapping[str, str]) -> bool:
    """metav1.LabelSelector semantics: None matches nothing, {} matches everything.

    Raises SelectorError for an invalid selector; callers decide what that means (the scheduler
    treats such a pod-affinity term as matching nothing).
    """
    if selector is None:
        return False
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    exprs = selector.get("matchExpressions") or []
    return all(_expression_matches(expr, labels) for expr in exprs)


def _expression_matches(expr: Mapping, labels: Mapping[str, str]) -> bool:
    key = expr.get("key", "")
    op = expr.get("operator", "")
    values = list(expr.get("values") or [])
    if op == "In":
        if not values:
            raise SelectorError(f"operator In on {key!r} needs values")
        return key in labels and labels[key] in values
    if op == "NotIn":
        if not values:
            raise SelectorError(f"operator NotIn on {key!r} needs values")
        return key not in labels or labels[key] not in values
    if op == "Exists":
        return key in labels
    if op == "DoesNotExist":
        return key not in labels
    raise SelectorError(f"unknown label selector operator {op!r}")


def format_labels(labels: Mapping[str, str]) -> str:
    """Render a label map as users type it: `a=b,c=d` (sorted)."""
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))
