"""Bundles written by `dump` load back as the same snapshot, credentials masked."""

from __future__ import annotations

import json
import tarfile
from datetime import UTC, datetime

import pytest

from amldoctor.bundle import MANIFEST, bundle_files, manifest, write_bundle
from amldoctor.errors import InputError
from amldoctor.load import load_snapshot
from amldoctor.redact import MASK
from amldoctor.snapshot import Missing, Snapshot

CAPTURED = datetime(2026, 11, 28, 9, 0, 0, tzinfo=UTC)


def _snapshot() -> Snapshot:
    objects = [
        {
            "kind": "Pod",
            "apiVersion": "v1",
            "metadata": {"name": "b", "namespace": "aml", "uid": "u-b"},
            "spec": {
                "containers": [
                    {
                        "name": "c",
                        "env": [
                            {"name": "AZUREML_OBO_CANARY_TOKEN", "value": "tok"},
                            {"name": "N", "value": "1"},
                        ],
                    }
                ]
            },
        },
        {
            "kind": "Pod",
            "apiVersion": "v1",
            "metadata": {"name": "a", "namespace": "aml", "uid": "u-a"},
        },
        {"kind": "Job", "apiVersion": "batch/v1", "metadata": {"name": "j", "namespace": "aml"}},
        {
            "kind": "Job",
            "apiVersion": "batch.volcano.sh/v1alpha1",
            "metadata": {"name": "j", "namespace": "aml"},
        },
        {
            "kind": "Event",
            "apiVersion": "v1",
            "metadata": {"name": "e", "namespace": "aml"},
            "involvedObject": {"kind": "Pod", "name": "a", "namespace": "aml", "uid": "u-a"},
            "reason": "FailedScheduling",
            "message": "0/3 nodes are available",
        },
    ]
    return Snapshot(
        objects,
        source="context aks (https://aks.example:443)",
        server_version="v1.35.2",
        captured_at=CAPTURED,
        namespace="aml",
        context="aks",
        missing=[
            Missing("Node", "forbidden: nodes is forbidden", None, 403),
            Missing("InstanceType", "not installed", None, 404),
        ],
        collected_kinds={"Pod", "Job", "Job.batch.volcano.sh", "Event", "PersistentVolumeClaim"},
    )


def test_manifest_follows_the_contract():
    m = manifest(_snapshot(), server="https://aks.example:443")
    assert m == {
        "tool": "amldoctor",
        "tool_version": m["tool_version"],
        "format": 1,
        "context": "aks",
        "server": "https://aks.example:443",
        "namespace": "aml",
        "server_version": "v1.35.2",
        "captured_at": "2026-11-28T09:00:00Z",
        "collected": ["Event", "Job", "Job.batch.volcano.sh", "PersistentVolumeClaim", "Pod"],
        "missing": [
            {
                "kind": "Node",
                "namespace": None,
                "reason": "forbidden: nodes is forbidden",
                "status": 403,
            },
            {"kind": "InstanceType", "namespace": None, "reason": "not installed", "status": 404},
        ],
    }


def test_one_list_file_per_kind_and_group_sorted_and_masked():
    files = bundle_files(_snapshot())
    assert sorted(files) == [
        "Event.json",
        "Job.batch.json",
        "Job.batch.volcano.sh.json",
        "Pod.json",
        MANIFEST,
    ]
    pods = json.loads(files["Pod.json"])
    assert pods["kind"] == "List"
    assert [p["metadata"]["name"] for p in pods["items"]] == ["a", "b"]
    assert pods["items"][1]["spec"]["containers"][0]["env"][0]["value"] == MASK
    assert b"tok" not in files["Pod.json"]


@pytest.mark.parametrize("name", ["bundle.tar.gz", "bundle.tgz", "bundle-dir"])
def test_round_trip(tmp_path, name):
    snap = _snapshot()
    path = write_bundle(snap, tmp_path / name, server="https://aks.example:443")
    loaded = load_snapshot(path)
    assert (loaded.namespace, loaded.context, loaded.server_version) == ("aml", "aks", "v1.35.2")
    assert loaded.captured_at == CAPTURED
    assert loaded.missing == snap.missing
    assert loaded.collected_kinds == snap.collected_kinds
    assert loaded.collected("PersistentVolumeClaim") and not loaded.collected("Node")
    assert sorted(map(_key, loaded.objects)) == sorted(map(_key, snap.objects))
    events = loaded.events_for(loaded.get("Pod", "aml", "a"))
    assert [e["reason"] for e in events] == ["FailedScheduling"]
    env = loaded.get("Pod", "aml", "b")["spec"]["containers"][0]["env"]
    assert env == [{"name": "AZUREML_OBO_CANARY_TOKEN", "value": MASK}, {"name": "N", "value": "1"}]


def _key(obj: dict) -> tuple[str, str, str, str]:
    meta = obj["metadata"]
    return (obj["kind"], obj["apiVersion"], meta.get("namespace", ""), meta["name"])


def test_tarball_has_the_manifest_at_its_root_dated_at_capture(tmp_path):
    path = write_bundle(_snapshot(), tmp_path / "b.tar.gz")
    with tarfile.open(path) as tar:
        members = {m.name: m for m in tar.getmembers()}
    assert MANIFEST in members
    assert {m.mtime for m in members.values()} == {int(CAPTURED.timestamp())}
    assert not list(tmp_path.glob(".amldoctor-*")), "no temporary file left behind"


def test_rewriting_a_bundle_directory_drops_stale_kinds(tmp_path):
    out = tmp_path / "dir"
    write_bundle(_snapshot(), out)
    only_pod = {"kind": "Pod", "apiVersion": "v1", "metadata": {"name": "x", "namespace": "aml"}}
    smaller = Snapshot([only_pod], captured_at=CAPTURED, namespace="aml")
    write_bundle(smaller, out)
    assert {p.name for p in out.iterdir()} == {MANIFEST, "Pod.json"}


def test_refuses_to_write_into_an_unrelated_directory(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(InputError, match="non-empty directory"):
        write_bundle(_snapshot(), tmp_path)
    assert (tmp_path / "notes.txt").read_text() == "mine"
