"""The FailedScheduling message: release-dependent building, truncation, and parsing every
historical wording back into structured causes."""

from __future__ import annotations

import pytest

from amldoctor.scheduling.message import (
    NO_NODES,
    classify_reason,
    event_message,
    fit_error_message,
    parse_fit_error,
)

REASONS = {"a": ["Insufficient cpu"], "b": ["node(s) had untolerated taint(s)"]}
POST = (
    "preemption: 0/2 nodes are available: 1 No preemption victims found for incoming pod, 1 "
    "Preemption is not helpful for scheduling."
)


def test_zero_nodes() -> None:
    assert fit_error_message(0, {}) == NO_NODES


@pytest.mark.parametrize(
    ("version", "suffix"),
    [
        (None, " " + POST),
        ((1, 30), " " + POST),
        ((1, 27), " " + POST + "."),  # v1.25–v1.29 appended " %v."
        ((1, 24), " " + POST),
        ((1, 23), ""),  # no preemption suffix before PR #107775
    ],
)
def test_postfilter_punctuation_by_release(version, suffix) -> None:
    msg = fit_error_message(2, REASONS, postfilter_msg=POST, version=version)
    assert (
        msg
        == "0/2 nodes are available: 1 Insufficient cpu, 1 node(s) had untolerated taint(s)."
        + suffix
    )


def test_prefilter_rejection_counted_per_node_before_1_25() -> None:
    reasons = {n: ["pod has unbound immediate PersistentVolumeClaims"] for n in "abcd"}
    old = fit_error_message(4, reasons, prefilter_msg=reasons["a"][0], version=(1, 24))
    new = fit_error_message(4, reasons, prefilter_msg=reasons["a"][0], version=(1, 25))
    assert old == "0/4 nodes are available: 4 pod has unbound immediate PersistentVolumeClaims."
    assert new == "0/4 nodes are available: pod has unbound immediate PersistentVolumeClaims."


def test_event_copy_is_cut_at_1024_bytes() -> None:
    reasons = {f"n{i}": [f"Insufficient example.com/resource-{i:04d}"] for i in range(60)}
    full = fit_error_message(60, reasons)
    assert len(full.encode()) > 1024
    cut = event_message(full)
    assert len(cut.encode()) == 1024 and cut.endswith(" ...")
    assert cut[:-4] == full.encode()[:1020].decode()
    assert event_message("short") == "short"


HISTORICAL = [
    # (message, total, {normalized reason: count}, prefilter, preemption histogram)
    (
        "0/3 nodes are available: 3 node(s) had taints that the pod didn't tolerate.",
        3,
        {"node(s) had untolerated taint(s)": 3},
        "",
        None,
    ),
    (
        "0/3 nodes are available: 1 node(s) had taint {node-role.kubernetes.io/master: }, that the "
        "pod "
        "didn't tolerate, 2 Insufficient memory.",
        3,
        {"node(s) had untolerated taint(s)": 1, "Insufficient memory": 2},
        "",
        None,
    ),
    (
        "0/12 nodes are available: 2 node(s) had untolerated taint {sku: gpu}, 4 node(s) had "
        "untolerated "
        "taint {kubernetes.azure.com/scalesetpriority: spot}, 6 Insufficient nvidia.com/gpu. "
        "preemption: "
        "0/12 nodes are available: 6 No preemption victims found for incoming pod, 6 Preemption is "
        "not "
        "helpful for scheduling..",
        12,
        {"node(s) had untolerated taint(s)": 6, "Insufficient nvidia.com/gpu": 6},
        "",
        {
            "No preemption victims found for incoming pod": 6,
            "Preemption is not helpful for scheduling": 6,
        },
    ),
    (
        "0/4 nodes are available: 4 pod has unbound immediate PersistentVolumeClaims.",
        4,
        {"pod has unbound immediate PersistentVolumeClaims": 4},
        "",
        None,
    ),
    (
        "0/3 nodes are available: pod has unbound immediate PersistentVolumeClaims. preemption: "
        "0/3 nodes "
        "are available: 3 Preemption is not helpful for scheduling.",
        3,
        {},
        "pod has unbound immediate PersistentVolumeClaims",
        {"Preemption is not helpful for scheduling": 3},
    ),
    (
        "0/45 nodes are available: 1 Insufficient cpu, 44 node is filtered out by the prefilter "
        "result. "
        "preemption: 0/45 nodes are available: 1 No preemption victims found for incoming pod, 44 "
        "Preemption is not helpful for scheduling.",
        45,
        {"Insufficient cpu": 1, "node is filtered out by the prefilter result": 44},
        "",
        {
            "No preemption victims found for incoming pod": 1,
            "Preemption is not helpful for scheduling": 44,
        },
    ),
    (
        "0/1 nodes are available: 1 node(s) had volume node affinity conflict.",
        1,
        {"node(s) didn't match PersistentVolume's node affinity": 1},
        "",
        None,
    ),
    (
        "0/5 nodes are available: 5 node(s) didn't match node selector.",
        5,
        {"node(s) didn't match Pod's node affinity/selector": 5},
        "",
        None,
    ),
    (
        "0/6 nodes are available: 3 node(s) didn't match pod affinity rules, 3 node(s) had "
        "untolerated "
        "taint(s). no new claims to deallocate, preemption: 0/6 nodes are available: 6 Preemption "
        "is not "
        "helpful for scheduling.",
        6,
        {"node(s) didn't match pod affinity rules": 3, "node(s) had untolerated taint(s)": 3},
        "",
        {"Preemption is not helpful for scheduling": 6},
    ),
    (
        '0/2 nodes are available: persistentvolumeclaim "data" not found.',
        2,
        {},
        'persistentvolumeclaim "data" not found',
        None,
    ),
    (NO_NODES, 0, {}, "", None),
]


@pytest.mark.parametrize(("message", "total", "counts", "prefilter", "preemption"), HISTORICAL)
def test_parse_historical_wordings(message, total, counts, prefilter, preemption) -> None:
    parsed = parse_fit_error(message)
    assert parsed.recognized
    assert parsed.total_nodes == total
    assert parsed.counts_by_reason() == counts
    assert parsed.prefilter_msg == prefilter
    if preemption is None:
        assert parsed.preemption is None
    else:
        assert parsed.preemption.counts_by_reason() == preemption


def test_parser_keeps_the_legacy_taint() -> None:
    parsed = parse_fit_error(HISTORICAL[2][0])
    assert [c.taint for c in parsed.causes if c.plugin == "TaintToleration"] == [
        "sku=gpu",
        "kubernetes.azure.com/scalesetpriority=spot",
    ]
    assert parsed.preemption_note == ""
    dra = parse_fit_error(HISTORICAL[8][0])
    assert dra.preemption_note == "no new claims to deallocate"


def test_not_eligible_preemption_is_a_note() -> None:
    parsed = parse_fit_error(
        "0/3 nodes are available: 3 Insufficient cpu. preemption: not eligible due to "
        "preemptionPolicy=Never."
    )
    assert parsed.preemption is None
    assert parsed.preemption_note == "not eligible due to preemptionPolicy=Never."


def test_round_trip_of_built_messages() -> None:
    reasons = {
        "a": ["Insufficient cpu", "Insufficient memory"],
        "b": ["Too many pods"],
        "c": ["node(s) had untolerated taint(s)"],
    }
    msg = fit_error_message(
        4,
        reasons,
        absent_reasons=["node(s) didn't satisfy plugin(s) [NodeAffinity]"],
        postfilter_msg=POST,
    )
    parsed = parse_fit_error(msg)
    assert parsed.total_nodes == 4
    assert {c.reason: c.count for c in parsed.causes} == {
        "Insufficient cpu": 1,
        "Insufficient memory": 1,
        "Too many pods": 1,
        "node(s) had untolerated taint(s)": 1,
        "node(s) didn't satisfy plugin(s) [NodeAffinity]": 1,
    }
    assert {c.plugin for c in parsed.causes} == {
        "NodeResourcesFit",
        "TaintToleration",
        "NodeAffinity",
    }


def test_truncated_and_foreign_messages() -> None:
    parsed = parse_fit_error(
        "0/300 nodes are available: 100 Insufficient cpu, 200 node(s) had untol ..."
    )
    assert parsed.truncated and parsed.total_nodes == 300
    foreign = parse_fit_error(
        "1/3 tasks in gang unschedulable: pod group is not ready, 3 Pending, 3 minAvailable"
    )
    assert not foreign.recognized and foreign.total_nodes is None and foreign.causes == []


@pytest.mark.parametrize(
    ("reason", "plugin", "resource"),
    [
        ("Insufficient nvidia.com/mig-1g.10gb", "NodeResourcesFit", "nvidia.com/mig-1g.10gb"),
        (
            "node(s) didn't satisfy plugin(s) [FakePreFilter2 FakePreFilter3] simultaneously",
            None,
            None,
        ),
        ("node(s) didn't satisfy plugin VolumeBinding", "VolumeBinding", None),
        ("node(s) exceed max volume count", "NodeVolumeLimits", None),
        ("something a custom plugin says", None, None),
    ],
)
def test_classify_reason(reason, plugin, resource) -> None:
    got_plugin, _normalized, got_resource, _taint = classify_reason(reason)
    assert (got_plugin, got_resource) == (plugin, resource)
