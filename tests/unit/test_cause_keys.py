"""Cause keys as a class: what only says *which* never splits a cause; what says *why* always does.

Every rule's golden findings (`fixtures/rules/<CODE>/expected.json`, one or more per rule) are
the seeds. For each, the test generates variants that differ only in incidental fields (the
object's, owner's and namespace's names, node instance names, timestamps, counts, the
`VOLATILE_KEYS`, and the fields `INCIDENTAL` declares for the rule: image, container, limit,
probe target...) and asserts they land in the seed's group; then, one field at a time, variants
that change a field the rule's key treats as the cause, and asserts each lands in another group.
A new rule, or a new evidence field, is covered without a new example.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from amldoctor.engine.causekeys import (
    CAUSE_KEYS,
    INCIDENTAL,
    SIGNATURE_KEYS,
    VOLATILE_KEYS,
    message_cause,
    scheduling_cause,
)
from amldoctor.engine.grouping import group_findings, group_key
from amldoctor.engine.report import Finding, ObjectRef, Severity

RULES = Path(__file__).resolve().parents[2] / "fixtures" / "rules"


def _ref(data: dict | None) -> ObjectRef | None:
    return ObjectRef(data["kind"], data.get("namespace"), data["name"]) if data else None


def _seeds() -> list[Finding]:
    seeds = []
    for golden in sorted(RULES.glob("AMD*/expected.json")):
        for data in json.loads(golden.read_text()):
            seeds.append(
                Finding(
                    rule=data["rule"],
                    name=data["name"],
                    severity=Severity.parse(data["severity"]),
                    object=_ref(data["object"]),  # type: ignore[arg-type]
                    message=data["message"],
                    evidence=data["evidence"],
                    remediation=data["remediation"],
                    owner=_ref(data.get("owner")),
                )
            )
    return seeds


SEEDS = _seeds()
_AKS_INSTANCE = re.compile(r"(aks-[a-z0-9]+-\d{8}-vmss)[0-9a-z]{6}\b")
_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")


def _bump(value: Any) -> Any:
    """Another value of the same shape: a different count, name, list or mapping."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int | float):
        return value + 7
    if isinstance(value, str):
        return _TIME.sub("2026-11-27T01:02:03Z", value) if _TIME.search(value) else value + "-b7"
    if isinstance(value, list):
        return [*value, _bump(value[0])] if value else ["other-b7"]
    if isinstance(value, dict):
        return {**{k: _bump(v) for k, v in value.items()}, "other-b7": 1}
    return "other-b7"


def _walk_strings(value: Any, fix: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return fix(value)
    if isinstance(value, dict):
        return {fix(str(k)): _walk_strings(v, fix) for k, v in value.items()}
    if isinstance(value, list):
        return [_walk_strings(v, fix) for v in value]
    return value


def _set_path(ev: dict, path: str, change: Callable[[Any], Any]) -> bool:
    head, _, rest = path.partition(".")
    if head not in ev:
        return False
    if rest:
        return isinstance(ev[head], dict) and _set_path(ev[head], rest, change)
    ev[head] = change(ev[head])
    return True


def _bump_volatile(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _bump(v) if k in VOLATILE_KEYS else _bump_volatile(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_bump_volatile(v) for v in value]
    return value


def incidental_variant(seed: Finding) -> Finding:
    """The same cause in another workload, namespace, node and moment."""
    renames = [(seed.object.name, seed.object.name + "-q7x2")]
    if seed.owner is not None:
        renames.append((seed.owner.name, seed.owner.name + "-q7x2"))
    if seed.object.namespace:
        renames.append((seed.object.namespace, seed.object.namespace + "-two"))
    renames.sort(key=lambda item: -len(item[0]))

    def fix(text: str) -> str:
        for old, new in renames:
            text = re.sub(rf"(?<![\w.-]){re.escape(old)}(?![A-Za-z0-9])", new, text)
        text = _AKS_INSTANCE.sub(r"\g<1>00zz9q", text)
        return _TIME.sub("2026-11-27T01:02:03Z", text)

    evidence = _bump_volatile(copy.deepcopy(seed.evidence))
    quoted: dict[str, str] = {}  # an image reference is quoted in the registry's message too

    def bump(value: Any) -> Any:
        new = _bump(value)
        if isinstance(value, str) and "/" in value and ":" in value:
            quoted[value] = new
        return new

    for path in INCIDENTAL.get(seed.rule, ()):
        _set_path(evidence, path, bump)
    if quoted:
        olds = re.compile("|".join(map(re.escape, sorted(quoted, key=len, reverse=True))))
        evidence = _walk_strings(
            evidence,
            lambda t: t if t in quoted.values() else olds.sub(lambda m: quoted[m[0]], t),
        )
    for key in SIGNATURE_KEYS & evidence.keys():  # another line number, size, address
        if isinstance(evidence[key], str):
            text = re.sub(r"\b0x[0-9a-f]+\b", "0x7fa19c", evidence[key])
            evidence[key] = re.sub(r"(?<![\w.])(?!0x)\d+", lambda m: str(int(m[0]) + 3), text)
    message = seed.message
    if CAUSE_KEYS.get(seed.rule) is message_cause:
        message = re.sub(r"\b(\d+)([smhd])\b", lambda m: f"{int(m[1]) + 2}{m[2]}", message)
    return Finding(
        rule=seed.rule,
        name=seed.name,
        severity=seed.severity,
        object=_renamed(seed.object, fix),
        message=fix(message),
        evidence=_walk_strings(evidence, fix),
        remediation=fix(seed.remediation),
        owner=_renamed(seed.owner, fix) if seed.owner else None,
    )


def _renamed(ref: ObjectRef, fix: Callable[[str], str]) -> ObjectRef:
    return ObjectRef(ref.kind, fix(ref.namespace) if ref.namespace else None, fix(ref.name))


def cause_fields(seed: Finding) -> list[str]:
    """Evidence fields of this seed whose change must change the cause."""
    derive = CAUSE_KEYS.get(seed.rule)
    if derive is message_cause:
        return []
    if derive is scheduling_cause:
        return [k for k in ("funnel", "scheduling_gates") if seed.evidence.get(k)]
    # `id` (an AML job's) is replaced by a placeholder wherever it appears, like the object's name.
    ignored = VOLATILE_KEYS | INCIDENTAL.get(seed.rule, frozenset()) | {"id"}
    ignored |= {"request", "capacity"} if seed.rule == "AMD503" else set()
    return sorted(k for k in seed.evidence if k not in ignored)


def _id(seed: Finding) -> str:
    return f"{seed.rule}-{seed.object.name}"


@pytest.mark.parametrize("seed", SEEDS, ids=_id)
def test_variants_differing_only_in_incidental_fields_are_one_group(seed):
    variant = incidental_variant(seed)
    assert variant.object != seed.object
    assert group_key(variant) == group_key(seed)
    (group,) = group_findings([seed, variant], explains={})
    assert group.count == 2


CAUSE_CASES = [(seed, field) for seed in SEEDS for field in cause_fields(seed)]


@pytest.mark.parametrize(
    ("seed", "field"), CAUSE_CASES, ids=lambda x: x if isinstance(x, str) else _id(x)
)
def test_a_variant_with_another_cause_is_another_group(seed, field):
    other = copy.deepcopy(seed)
    value = other.evidence[field]
    if isinstance(value, str) and field in SIGNATURE_KEYS | {"funnel"}:
        other.evidence[field] = value + " and another-cause"  # numbers alone are not the cause
    else:
        other.evidence[field] = _bump(value)
    other.object = ObjectRef(seed.object.kind, seed.object.namespace, seed.object.name + "-q7x2")
    assert group_key(other) != group_key(seed), field
    assert len(group_findings([seed, other], explains={})) == 2


def test_every_rule_has_a_seed_and_most_have_cause_fields():
    rules = {s.rule for s in SEEDS}
    assert len(rules) >= 55
    assert len({s.rule for s, _ in CAUSE_CASES}) >= 40


def _crash(pod: str, image: str, exit_code: int, message: str | None, restarts: int) -> Finding:
    return Finding(
        rule="AMD401",
        name="crash-loop-backoff",
        severity=Severity.ERROR,
        object=ObjectRef("Pod", "team-a", pod),
        message=f"container main in pod team-a/{pod} is in CrashLoopBackOff: last exit {exit_code}",
        evidence={
            "container": "main",
            "image": image,
            "exit_code": exit_code,
            "reason": "Error",
            "termination_message": message,
            "restart_count": restarts,
            "signal": None,
        },
        owner=ObjectRef("Deployment", "team-a", pod.rsplit("-", 1)[0]),
    )


def test_crash_loops_group_by_exit_and_log_signature_across_images():
    same = [
        _crash("api-x1", "acr.io/api:1.2", 1, None, 4),
        _crash("web-x2", "docker.io/nginx:1.27", 1, None, 90),
        _crash("etl-x3", "acr.io/etl:7", 1, None, 15),
    ]
    traced = [
        _crash("feat-a1", "acr.io/feat:2", 1, "KeyError: 'MODEL_URI' at line 12", 3),
        _crash("feat-b2", "acr.io/feat:3", 1, "KeyError: 'MODEL_URI' at line 14", 8),
    ]
    other_key = _crash("feat-c3", "acr.io/feat:3", 1, "KeyError: 'DATA_URI' at line 12", 8)
    segfault = _crash("seg-x9", "acr.io/api:1.2", 139, None, 2)
    groups = group_findings([*same, *traced, other_key, segfault], explains={})
    sizes = sorted(g.count for g in groups)
    assert sizes == [1, 1, 2, 3]
    by_size = {g.count: g for g in groups}
    assert by_size[3].variants() == (
        "images",
        ["acr.io/api:1.2", "acr.io/etl:7", "docker.io/nginx:1.27"],
    )
    assert by_size[2].variants() == ("images", ["acr.io/feat:2", "acr.io/feat:3"])
