"""Snapshot loading: every input shape README promises, and one clear line for every bad one."""

from __future__ import annotations

import io
import json
import tarfile

import pytest

from amldoctor.errors import InputError
from amldoctor.load import load_snapshot

POD = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "p1", "namespace": "ns", "uid": "u1"},
    "spec": {"nodeName": "n1"},
    "status": {"phase": "Running"},
}
NODE = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1", "uid": "u2"}}


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text) if isinstance(text, str) else path.write_bytes(text)
    return path


def test_single_json_object(tmp_path):
    snap = load_snapshot(write(tmp_path, "pod.json", json.dumps(POD)))
    assert [p["metadata"]["name"] for p in snap.pods] == ["p1"]


def test_kubectl_list_and_typed_list_items_without_kind(tmp_path):
    text = json.dumps({"apiVersion": "v1", "kind": "List", "items": [POD, NODE]})
    assert len(load_snapshot(write(tmp_path, "l.json", text)).objects) == 2
    typed = json.dumps(
        {
            "apiVersion": "v1",
            "kind": "PodList",
            "items": [{"metadata": {"name": "x", "namespace": "ns"}}],
        }
    )
    snap = load_snapshot(write(tmp_path, "t.json", typed))
    assert snap.get("Pod", "ns", "x")["apiVersion"] == "v1"


def test_multi_document_yaml_with_empty_documents(tmp_path):
    text = (
        "---\napiVersion: v1\nkind: Node\nmetadata: {name: n1}\n---\n---\napiVersion: v1\nkind: "
        "Pod\nmetadata: {name: p, namespace: ns}\n"
    )
    snap = load_snapshot(write(tmp_path, "multi.yaml", text))
    assert {o["kind"] for o in snap.objects} == {"Node", "Pod"}


def test_directory_recursive_and_unknown_kinds_kept(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    write(tmp_path / "a", "pod.json", json.dumps(POD))
    write(
        tmp_path / "a" / "b",
        "x.yaml",
        "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n",
    )
    write(tmp_path, "notes.txt", "ignored")
    snap = load_snapshot(tmp_path)
    assert snap.get("Widget", None, "w") is not None
    assert snap.collected("Widget") and not snap.collected("Event")


def test_tarball_with_manifest(tmp_path):
    manifest = {
        "namespace": "ns",
        "server_version": "v1.35.2",
        "captured_at": "2026-11-28T09:00:00Z",
        "collected": ["Pod", "Event"],
        "missing": [{"kind": "Node", "reason": "forbidden", "status": 403}],
    }
    path = tmp_path / "bundle.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        for name, data in (
            ("bundle/manifest.json", manifest),
            ("bundle/pods.json", {"kind": "List", "items": [POD]}),
        ):
            raw = json.dumps(data).encode()
            info = tarfile.TarInfo(name)
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))
    snap = load_snapshot(path)
    assert snap.namespace == "ns" and snap.server_version == "v1.35.2"
    assert snap.captured_at.isoformat() == "2026-11-28T09:00:00+00:00"
    assert snap.collected("Event") and not snap.collected("Node")
    assert snap.missing_for("Node").status == 403


def test_indexes(tmp_path):
    done = {
        **POD,
        "metadata": {"name": "done", "namespace": "ns", "uid": "u3"},
        "status": {"phase": "Succeeded"},
    }
    other_ns = {**POD, "metadata": {"name": "sys", "namespace": "kube-system", "uid": "u4"}}
    ev_old = {
        "kind": "Event",
        "metadata": {"name": "e1", "namespace": "ns"},
        "involvedObject": {"kind": "Pod", "name": "p1", "namespace": "ns", "uid": "u1"},
        "reason": "BackOff",
        "lastTimestamp": "2026-11-28T08:00:00Z",
        "count": 3,
    }
    ev_new = {
        "kind": "Event",
        "metadata": {"name": "e2", "namespace": "ns"},
        "regarding": {"kind": "Pod", "name": "p1", "namespace": "ns"},
        "reason": "FailedScheduling",
        "eventTime": "2026-11-28T08:30:00.123456Z",
        "series": {"count": 4, "lastObservedTime": "2026-11-28T08:40:00.000000Z"},
    }
    ev_stale = {
        **ev_old,
        "metadata": {"name": "e3", "namespace": "ns"},
        "involvedObject": {**ev_old["involvedObject"], "uid": "older"},
    }
    text = json.dumps(
        {"kind": "List", "items": [POD, done, other_ns, NODE, ev_new, ev_old, ev_stale]}
    )
    snap = load_snapshot(write(tmp_path, "s.json", text))
    assert [p["metadata"]["name"] for p in snap.pods_on_node("n1")] == ["sys", "p1"]
    assert [e["metadata"]["name"] for e in snap.events_for(POD)] == ["e1", "e2"]
    assert snap.by_uid("u2")["kind"] == "Node"
    assert snap.captured_at.isoformat() == "2026-11-28T08:40:00+00:00"


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("empty.yaml", "", "is empty"),
        ("blank.yaml", "\n\n  \n", "is empty"),
        ("binary.yaml", b"\x00\x01\x02kind", "binary file"),
        ("latin.yaml", b"kind: \xff\xfe", "binary file"),
        (
            "broken.yaml",
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: [unclosed\n",
            "broken.yaml:",
        ),
        (
            "nokind.json",
            json.dumps({"apiVersion": "v1", "metadata": {"name": "x"}}),
            "has no 'kind'",
        ),
        (
            "listnokind.json",
            json.dumps(
                {"apiVersion": "v1", "kind": "List", "items": [{"metadata": {"name": "x"}}]}
            ),
            "item 1 of the List has no 'kind'",
        ),
        ("scalar.yaml", "just a string\n", "not a Kubernetes object"),
    ],
)
def test_bad_input_is_one_clear_line(tmp_path, name, content, expected):
    with pytest.raises(InputError) as err:
        load_snapshot(write(tmp_path, name, content))
    assert expected in str(err.value)
    assert "\n" not in str(err.value)


def test_yaml_error_names_the_line(tmp_path):
    path = write(tmp_path, "bad.yaml", "kind: Pod\nmetadata:\n  name: ok\n  labels: {a: b\n")
    with pytest.raises(InputError, match=r"bad\.yaml:\d+: YAML syntax error"):
        load_snapshot(path)


def test_missing_path_and_empty_tarball(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        load_snapshot(tmp_path / "nope.yaml")
    path = tmp_path / "empty.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        raw = b"hello"
        info = tarfile.TarInfo("readme.txt")
        info.size = len(raw)
        tar.addfile(info, io.BytesIO(raw))
    with pytest.raises(InputError, match="holds no Kubernetes objects"):
        load_snapshot(path)
    bogus = write(tmp_path, "fake.tar.gz", b"not a tarball at all")
    with pytest.raises(InputError, match="not a readable tarball"):
        load_snapshot(bogus)


def test_node_events_recorded_in_default_namespace_match_the_node(tmp_path):
    node = {"kind": "Node", "metadata": {"name": "gpu-1", "uid": "0b1c-real-uid"}}
    ev = {
        "kind": "Event",
        "metadata": {"name": "gpu-1.1", "namespace": "default"},
        "reason": "OOMKilling",
        "involvedObject": {"kind": "Node", "name": "gpu-1", "uid": "gpu-1"},
        "lastTimestamp": "2026-11-28T08:00:00Z",
    }
    odd = {
        "kind": "Pod",
        "metadata": {"name": "p", "namespace": "ns"},
        "status": {"containerStatuses": [{"name": "c", "state": "weird", "lastState": None}]},
    }
    snap = load_snapshot(
        write(tmp_path, "n.json", json.dumps({"kind": "List", "items": [node, ev, odd]}))
    )
    assert [e["reason"] for e in snap.events_for(node)] == ["OOMKilling"]
    assert snap.captured_at.isoformat() == "2026-11-28T08:00:00+00:00"


def test_tarball_with_manifest_at_its_root_as_dump_writes_it(tmp_path):
    path = tmp_path / "bundle.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        for name, data in (
            ("manifest.json", {"namespace": "ns", "collected": ["Pod"]}),
            ("Pod.json", {"kind": "List", "items": [POD]}),
        ):
            raw = json.dumps(data).encode()
            info = tarfile.TarInfo(name)
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))
    snap = load_snapshot(path)
    assert snap.namespace == "ns" and [p["metadata"]["name"] for p in snap.pods] == ["p1"]
