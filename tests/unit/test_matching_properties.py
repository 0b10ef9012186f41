"""Algebraic laws of toleration and node-affinity matching, checked on generated inputs."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from amldoctor.k8s.nodeaffinity import NodeSelector, RequiredNodeAffinity, compile_expression
from amldoctor.k8s.tolerations import (
    FILTER_EFFECTS,
    tolerated_by_any,
    tolerates,
    untolerated_taints,
)

NAMES = st.sampled_from(["gpu", "sku", "zone", "pool", "example.com/tier", "a"])
VALUES = st.sampled_from(["", "a", "b", "nvidia", "a100", "1", "10"])
EFFECTS = st.sampled_from(["NoSchedule", "NoExecute", "PreferNoSchedule"])

taints = st.fixed_dictionaries({"key": NAMES, "value": VALUES, "effect": EFFECTS})
tolerations = st.fixed_dictionaries(
    {},
    optional={
        "key": st.one_of(NAMES, st.just("")),
        "operator": st.sampled_from(["Equal", "Exists", "", "Lt", "Bogus"]),
        "value": VALUES,
        "effect": st.one_of(EFFECTS, st.just("")),
    },
)
labels = st.dictionaries(NAMES, VALUES, max_size=4)


@given(taints)
def test_empty_key_exists_tolerates_every_taint(taint) -> None:
    assert tolerates({"operator": "Exists"}, taint)


@given(st.lists(taints, max_size=5), st.lists(tolerations, max_size=4), tolerations)
def test_adding_a_toleration_never_untolerates(node_taints, tols, extra) -> None:
    before = untolerated_taints(node_taints, tols)
    after = untolerated_taints(node_taints, [*tols, extra])
    assert all(t in before for t in after)


@given(st.lists(taints, max_size=5), st.lists(tolerations, max_size=4))
def test_untolerated_are_exactly_the_filter_effect_taints_nobody_matches(node_taints, tols) -> None:
    bad = untolerated_taints(node_taints, tols)
    for t in node_taints:
        expected = t["effect"] in FILTER_EFFECTS and not tolerated_by_any(t, tols)
        assert (t in bad) == expected


@given(taints, st.sampled_from(["Lt", "Gt", "Bogus"]), VALUES)
def test_unknown_or_gated_operators_never_match(taint, op, value) -> None:
    assert not tolerates({"key": taint["key"], "operator": op, "value": value}, taint)


@given(taints)
def test_equal_needs_the_exact_value(taint) -> None:
    tol = {"key": taint["key"], "operator": "Equal", "value": taint["value"] + "x"}
    assert not tolerates(tol, taint)
    assert tolerates({**tol, "value": taint["value"]}, taint)


def _node(lbls: dict, name: str = "n1") -> dict:
    return {"metadata": {"name": name, "labels": lbls}}


def _selector(*terms: list[dict]) -> NodeSelector:
    return NodeSelector({"nodeSelectorTerms": [{"matchExpressions": list(t)} for t in terms]})


expr_values = st.lists(st.sampled_from(["a", "b", "nvidia", "1"]), min_size=1, max_size=3)


@given(labels, NAMES, expr_values)
def test_notin_is_not_in_when_the_label_is_present(lbls, key, values) -> None:
    node = _node(lbls)
    is_in = _selector([{"key": key, "operator": "In", "values": values}]).matches(node)
    not_in = _selector([{"key": key, "operator": "NotIn", "values": values}]).matches(node)
    if key in lbls:
        assert not_in == (not is_in)
    else:
        assert not_in and not is_in


@given(labels, NAMES)
def test_exists_and_does_not_exist_are_complements(lbls, key) -> None:
    node = _node(lbls)
    exists = _selector([{"key": key, "operator": "Exists"}]).matches(node)
    absent = _selector([{"key": key, "operator": "DoesNotExist"}]).matches(node)
    assert exists != absent


requirement = st.builds(
    lambda k, op, vals: (
        {"key": k, "operator": op, "values": vals}
        if op in ("In", "NotIn")
        else {"key": k, "operator": op}
    ),
    NAMES,
    st.sampled_from(["In", "NotIn", "Exists", "DoesNotExist"]),
    expr_values,
)


@settings(max_examples=200)
@given(
    labels,
    st.lists(requirement, min_size=1, max_size=3),
    st.lists(requirement, min_size=1, max_size=3),
)
def test_terms_are_ored_and_expressions_anded(lbls, term_a, term_b) -> None:
    node = _node(lbls)
    a = _selector(term_a).matches(node)
    b = _selector(term_b).matches(node)
    assert _selector(term_a, term_b).matches(node) == (a or b)
    assert _selector(term_a + term_b).matches(node) == (a and b)
    each = all(_selector([r]).matches(node) for r in term_a)
    assert a == each


@given(labels, st.lists(requirement, min_size=1, max_size=3))
def test_an_invalid_requirement_makes_its_term_match_nothing(lbls, term) -> None:
    bad = {"key": "zone", "operator": "In", "values": ["not a valid value!"]}
    assert not _selector([*term, bad]).matches(_node(lbls))


@given(labels, st.dictionaries(NAMES, VALUES, max_size=3))
def test_node_selector_is_a_subset_check(lbls, wanted) -> None:
    pod = {"spec": {"nodeSelector": wanted}}
    expected = all(lbls.get(k) == v for k, v in wanted.items())
    assert RequiredNodeAffinity(pod).matches(_node(lbls)) == expected


@given(st.integers(-(2**63), 2**63 - 1), st.integers(0, 2**63 - 1))
def test_gt_lt_compare_as_int64(have, want) -> None:
    # A label value must start with an alphanumeric, so a requirement value cannot be negative.
    gt = compile_expression({"key": "v", "operator": "Gt", "values": [str(want)]})
    lt = compile_expression({"key": "v", "operator": "Lt", "values": [str(want)]})
    assert gt.matches(str(have)) == (have > want)
    assert lt.matches(str(have)) == (have < want)
    assert not gt.matches("abc") and not gt.matches(None)
