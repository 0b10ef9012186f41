"""Taints and tolerations, matched exactly as `Toleration.ToleratesTaint` does.

The scheduler's TaintToleration filter only looks at NoSchedule and NoExecute taints (in
`spec.taints` order) and fails a node on the first one no toleration matches. PreferNoSchedule
only affects scoring. `tolerationSeconds` plays no role in scheduling.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from amldoctor.k8s.labels import parse_int64

NO_SCHEDULE = "NoSchedule"
NO_EXECUTE = "NoExecute"
PREFER_NO_SCHEDULE = "PreferNoSchedule"
FILTER_EFFECTS = (NO_SCHEDULE, NO_EXECUTE)

UNSCHEDULABLE_TAINT = {
    "key": "node.kubernetes.io/unschedulable",
    "value": "",
    "effect": NO_SCHEDULE,
}


def tolerates(toleration: Mapping, taint: Mapping, *, comparison_operators: bool = False) -> bool:
    """Does this toleration match this taint?

    `comparison_operators` enables the alpha `Lt`/`Gt` operators (feature gate
    TaintTolerationComparisonOperators, v1.35); off by default as in every release.
    """
    effect = toleration.get("effect") or ""
    if effect and effect != (taint.get("effect") or ""):
        return False
    key = toleration.get("key") or ""
    if key and key != (taint.get("key") or ""):
        return False
    operator = toleration.get("operator") or "Equal"
    if operator == "Exists":
        return True
    if operator == "Equal":
        return (toleration.get("value") or "") == (taint.get("value") or "")
    if operator in ("Lt", "Gt") and comparison_operators:
        mine = parse_int64(str(toleration.get("value") or ""))
        theirs = parse_int64(str(taint.get("value") or ""))
        if mine is None or theirs is None:
            return False
        return theirs < mine if operator == "Lt" else theirs > mine
    return False


def tolerated_by_any(
    taint: Mapping, tolerations: Iterable[Mapping], *, comparison_operators: bool = False
) -> bool:
    return any(tolerates(t, taint, comparison_operators=comparison_operators) for t in tolerations)


def untolerated_taints(
    taints: Sequence[Mapping],
    tolerations: Sequence[Mapping],
    *,
    effects: Sequence[str] = FILTER_EFFECTS,
    comparison_operators: bool = False,
) -> list[Mapping]:
    """Every taint with one of `effects` that no toleration matches, in node order.

    The scheduler stops at the first one; explanations list them all.
    """
    return [
        taint
        for taint in taints
        if (taint.get("effect") or "") in effects
        and not tolerated_by_any(taint, tolerations, comparison_operators=comparison_operators)
    ]


def format_taint(taint: Mapping) -> str:
    """`key=value:Effect`, or `key:Effect` when the value is empty (as kubectl prints taints)."""
    key = taint.get("key") or ""
    value = taint.get("value") or ""
    effect = taint.get("effect") or ""
    return f"{key}={value}:{effect}" if value else f"{key}:{effect}"


def toleration_for(taint: Mapping) -> dict:
    """The narrowest toleration that matches `taint` (Equal on key and value, same effect)."""
    value = taint.get("value") or ""
    tol: dict = {"key": taint.get("key") or ""}
    if value:
        tol.update(operator="Equal", value=value)
    else:
        tol["operator"] = "Exists"
    tol["effect"] = taint.get("effect") or ""
    return tol
