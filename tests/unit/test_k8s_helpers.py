"""Opinion-free Kubernetes helpers: events of both shapes, owner chains, label selectors."""

from __future__ import annotations

import pytest

from amldoctor.errors import InputError
from amldoctor.k8s.events import event_count, event_last_time, event_message
from amldoctor.k8s.owners import owner_chain, top_owner
from amldoctor.k8s.selectors import parse_selector
from amldoctor.snapshot import Snapshot


def test_core_v1_event_shape():
    ev = {
        "message": "Back-off",
        "count": 7,
        "firstTimestamp": "2026-11-28T08:00:00Z",
        "lastTimestamp": "2026-11-28T08:50:00Z",
    }
    assert event_count(ev) == 7
    assert event_last_time(ev).isoformat() == "2026-11-28T08:50:00+00:00"
    assert event_message(ev) == "Back-off"


def test_events_k8s_io_shape_with_series_and_null_timestamps():
    ev = {
        "note": "0/3 nodes are available",
        "eventTime": "2026-11-28T08:10:00.123456Z",
        "lastTimestamp": None,
        "count": None,
        "series": {"count": 12, "lastObservedTime": "2026-11-28T08:55:00.654321Z"},
    }
    assert event_count(ev) == 12
    assert event_last_time(ev).minute == 55
    assert event_message(ev) == "0/3 nodes are available"


def test_event_without_any_timestamp_does_not_crash():
    assert event_last_time({}) is None and event_count({}) == 1 and event_message({}) == ""


def _obj(kind, name, uid, owner=None, ns="ns"):
    meta = {"name": name, "namespace": ns, "uid": uid}
    if owner:
        meta["ownerReferences"] = [
            {
                "kind": owner[0],
                "name": owner[1],
                "uid": owner[2],
                "controller": True,
                "apiVersion": "x",
            }
        ]
    return {"kind": kind, "metadata": meta}


def test_owner_chain_pod_replicaset_deployment():
    dep = _obj("Deployment", "scoring", "d1")
    rs = _obj("ReplicaSet", "scoring-7d9", "r1", ("Deployment", "scoring", "d1"))
    pod = _obj("Pod", "scoring-7d9-abc", "p1", ("ReplicaSet", "scoring-7d9", "r1"))
    snap = Snapshot([dep, rs, pod])
    assert [o["metadata"]["name"] for o in owner_chain(snap, pod)] == ["scoring-7d9", "scoring"]
    assert top_owner(snap, pod) is dep


def test_owner_chain_stops_at_missing_owner_with_a_stub():
    pod = _obj("Pod", "train-0", "p1", ("Job", "train", "j1"))
    chain = owner_chain(Snapshot([pod]), pod)
    assert (
        chain[0]["_stub"] and chain[0]["kind"] == "Job" and chain[0]["metadata"]["name"] == "train"
    )


@pytest.mark.parametrize(
    ("selector", "labels", "expected"),
    [
        ("app=web", {"app": "web"}, True),
        ("app==web", {"app": "db"}, False),
        ("app!=web", {}, True),
        ("tier in (a, b),env", {"tier": "b", "env": "x"}, True),
        ("tier notin (a,b)", {"tier": "a"}, False),
        ("!gpu", {"gpu": "1"}, False),
        ("!gpu", {}, True),
    ],
)
def test_label_selectors(selector, labels, expected):
    assert parse_selector(selector)({"metadata": {"labels": labels}}) is expected


def test_bad_selector_is_input_error():
    with pytest.raises(InputError, match="invalid label selector"):
        parse_selector("a=(b")
