"""A snapshot answers the same whichever way it finds things.

`events_for` scans every event for the first few objects it is asked about and indexes them
after; `extended` copies per-kind lists instead of taking the cluster in again. Both are there
for speed only: these tests generate cases and require the same answers both ways.
"""

from __future__ import annotations

import random

import pytest

from amldoctor.snapshot import _EVENT_SCANS_BEFORE_INDEX, Snapshot

KINDS = ("Pod", "Node", "PersistentVolumeClaim")
NAMES = ("a", "b", "")
NAMESPACES = ("ns1", "ns2", "")
UIDS = ("u1", "u2", "a", None)


def _object(kind: str, ns: str, name: str, uid: str | None) -> dict:
    meta: dict = {"name": name}
    if kind != "Node":
        meta["namespace"] = ns or "default"
    if uid:
        meta["uid"] = uid
    return {"apiVersion": "v1", "kind": kind, "metadata": meta}


def _event(rng: random.Random, i: int) -> dict:
    ref: dict = {"kind": rng.choice(KINDS), "name": rng.choice(NAMES)}
    if ns := rng.choice(NAMESPACES):
        ref["namespace"] = ns
    if uid := rng.choice(UIDS):
        ref["uid"] = uid
    field = rng.choice(("involvedObject", "regarding"))
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": f"ev{i}", "namespace": rng.choice(("ns1", "ns2", "default"))},
        field: ref,
        "lastTimestamp": f"2026-12-0{rng.randint(1, 3)}T00:00:0{rng.randint(0, 9)}Z",
        "reason": "R",
    }


@pytest.mark.parametrize("seed", range(40))
def test_scanned_events_equal_indexed_events(seed: int) -> None:
    rng = random.Random(seed)
    objects = [
        _object(kind, ns, name, uid)
        for kind in KINDS
        for ns in ("ns1", "ns2")
        for name in ("a", "b")
        for uid in rng.sample(UIDS, 2)
    ]
    events = [_event(rng, i) for i in range(rng.randint(0, 60))]
    scanning = Snapshot([*objects, *events])
    indexing = Snapshot([*objects, *events])
    for _ in range(_EVENT_SCANS_BEFORE_INDEX):  # use up the scans: every lookup is indexed
        indexing.events_for(_object("Secret", "nowhere", f"x{_}", None))
    asked = list(scanning.objects)
    rng.shuffle(asked)
    for obj in asked[: _EVENT_SCANS_BEFORE_INDEX - 1]:
        found = scanning.events_for(obj)
        assert found == indexing.events_for(obj), obj
    assert "_events_index" not in scanning.__dict__  # those were scans
    for obj in asked:  # and past the threshold, the index gives what scans gave
        assert scanning.events_for(obj) == indexing.events_for(obj), obj


def test_extended_snapshot_keeps_kinds_and_takes_in_only_the_added() -> None:
    base = Snapshot(
        [
            _object("Pod", "ns1", "p", "u1"),
            _object("Node", "", "n1", "un1"),
            _object("PersistentVolumeClaim", "ns1", "c", "uc"),
            {"kind": "Pod", "metadata": {"name": "no-namespace"}},
        ]
    )
    added = [_object("Node", "", "n2", None), {"kind": "Pod", "metadata": {"name": "q"}}]
    whole = base.extended(None, added)
    assert [o["metadata"]["name"] for o in whole.nodes] == ["n1", "n2"]
    # intake put the namespace-less pod in `default`, for the added pod too
    assert whole.get("Pod", "default", "no-namespace") is not None
    assert whole.get("Pod", "default", "q") is not None
    assert whole.intake.objects == [
        added[0],
        {**added[1], "metadata": {"name": "q", "namespace": "default"}},
    ]
    some = base.extended(("PersistentVolumeClaim",), added)
    assert some.get("Pod", "ns1", "p") is None
    assert some.get("PersistentVolumeClaim", "ns1", "c") is not None
    assert [o["metadata"]["name"] for o in some.nodes] == ["n2"]
    # the copy's lists are its own: the base is untouched
    assert [o["metadata"]["name"] for o in base.nodes] == ["n1"]
    assert whole.captured_at == base.captured_at


def test_lookup_by_name_keeps_the_last_of_two_objects_with_one_key() -> None:
    first = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j", "namespace": "n"}}
    second = {
        "apiVersion": "batch.volcano.sh/v1alpha1",
        "kind": "Job",
        "metadata": {"name": "j", "namespace": "n"},
    }
    snap = Snapshot([first, second])
    assert snap.get("Job", "n", "j") is snap.of_kind("Job")[1]
    assert snap.get("Job", "n", "j")["apiVersion"] == "batch.volcano.sh/v1alpha1"
