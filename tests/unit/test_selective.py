"""The selective decoder: the fields amldoctor reads, the same result whatever the input path."""

from __future__ import annotations

import json

import pytest
import yaml

from amldoctor import selective, shapes
from amldoctor.apishapes import shape_of
from amldoctor.load import load_snapshot

POD = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {
        "name": "p",
        "namespace": "ml",
        "labels": {"app": "train"},
        "selfLink": "/api/v1/namespaces/ml/pods/p",  # not read: dropped
    },
    "spec": {
        "nodeName": "n1",
        "dnsPolicy": "ClusterFirst",  # not read: dropped
        "containers": [
            {
                "name": "c",
                "image": "img",
                "terminationMessagePath": "/dev/termination-log",  # not read: dropped
                "resources": {"requests": {"cpu": "1", "nvidia.com/gpu": "2"}},
            }
        ],
        "volumes": [{"name": "v", "projected": {"sources": [{"serviceAccountToken": {}}]}}],
    },
    "status": {"phase": "Running", "podIPs": [{"ip": "10.0.0.1"}]},  # podIPs not read
}
KEPT = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "p", "namespace": "ml", "labels": {"app": "train"}},
    "spec": {
        "nodeName": "n1",
        "containers": [
            {
                "name": "c",
                "image": "img",
                "resources": {"requests": POD["spec"]["containers"][0]["resources"]["requests"]},
            }
        ],
        "volumes": [{"name": "v", "projected": {"sources": [{}]}}],
    },
    "status": {"phase": "Running"},
}
CONFIG_MAP = {
    "apiVersion": "v1",
    "kind": "ConfigMap",
    "metadata": {"name": "c", "namespace": "ml"},
    "data": {"k": "v"},
}


def test_decoder_keeps_only_declared_fields_of_selected_kinds():
    docs = selective.decode_documents(
        json.dumps({"kind": "List", "items": [POD, CONFIG_MAP]}).encode()
    )
    assert docs[0]["items"] == [KEPT, CONFIG_MAP]  # other kinds are kept whole


def test_prune_of_a_generic_parse_equals_the_decoder():
    decoded = selective.decode_documents(json.dumps(POD).encode())[0]
    assert selective.prune(json.loads(json.dumps(POD))) == decoded == KEPT


def test_typed_list_items_take_the_list_kind():
    """kubectl's `PodList` items carry no `kind`: they get the list's kind and apiVersion in
    front of their own fields, as the loader always gave them, and count as checked."""
    item = {k: v for k, v in POD.items() if k not in ("kind", "apiVersion")}
    body = json.dumps({"kind": "PodList", "apiVersion": "v1", "items": [item]}).encode()
    item_kept = [(k, v) for k, v in KEPT.items() if k not in ("kind", "apiVersion")]
    checked: set[int] = set()
    doc = selective.decode_documents(body, checked=checked)[0]
    assert list(doc["items"][0].items()) == [("kind", "Pod"), ("apiVersion", "v1"), *item_kept]
    assert checked == {id(doc["items"][0])}


def test_an_item_naming_another_kind_than_its_list_is_decoded_as_its_own():
    doc = selective.decode_documents(
        json.dumps({"kind": "PodList", "items": [CONFIG_MAP]}).encode()
    )
    assert doc[0]["items"] == [CONFIG_MAP]


def test_wrong_container_types_fall_back_and_are_set_aside_as_before(tmp_path):
    """`spec.containers` as a string cannot be typed: generic parse, same pruning, and intake
    removes the wrong value exactly as it did before the decoder existed."""
    odd = {**POD, "spec": {**POD["spec"], "containers": "oops"}}
    docs = selective.decode_documents(json.dumps({"kind": "List", "items": [odd]}).encode())
    assert docs[0]["items"][0]["spec"]["containers"] == "oops"
    assert "dnsPolicy" not in docs[0]["items"][0]["spec"]
    path = tmp_path / "odd.json"
    path.write_text(json.dumps(odd))
    snap = load_snapshot(path)
    assert snap.intake.reshaped == 1
    assert "containers" not in snap.objects[0]["spec"]


@pytest.mark.parametrize("text", ['{"kind": "Pod", "spec": {"priority": NaN}}', "[1, 2"])
def test_documents_msgspec_refuses_go_to_the_standard_parser(text):
    with pytest.raises(selective.Refused):
        selective.decode_documents(text.encode())


def test_json_the_standard_parser_accepts_still_loads(tmp_path):
    path = tmp_path / "nan.json"
    path.write_text(json.dumps({**POD, "spec": {**POD["spec"], "overhead": {"cpu": float("nan")}}}))
    snap = load_snapshot(path)
    assert "dnsPolicy" not in snap.objects[0]["spec"]  # pruned on the fallback path too


@pytest.mark.parametrize("suffix", ["json", "yaml"])
def test_json_and_yaml_copies_read_the_same_fields(tmp_path, suffix):
    path = tmp_path / f"pods.{suffix}"
    doc = {"kind": "List", "apiVersion": "v1", "items": [POD, CONFIG_MAP]}
    path.write_text(json.dumps(doc) if suffix == "json" else yaml.safe_dump(doc))
    snap = load_snapshot(path)
    assert sorted(snap.objects, key=lambda o: o["kind"]) == [CONFIG_MAP, KEPT]


def test_repeated_strings_are_one_object_across_files(tmp_path):
    (tmp_path / "a.json").write_text(json.dumps({"kind": "List", "items": [POD]}))
    other = {**POD, "metadata": {**POD["metadata"], "name": "q"}}
    (tmp_path / "b.json").write_text(json.dumps({"kind": "List", "items": [other]}))
    first, second = load_snapshot(tmp_path).of_kind("Pod")
    assert first["metadata"]["namespace"] is second["metadata"]["namespace"]
    assert first["spec"]["containers"][0]["image"] is second["spec"]["containers"][0]["image"]


def test_live_pages_are_decoded_selectively_and_share_strings():
    item = {k: v for k, v in POD.items() if k not in ("kind", "apiVersion")}
    body = json.dumps({"metadata": {"continue": "t"}, "items": [item, item]}).encode()
    strings = selective.Strings()
    page = selective.decode_page("Pod", body, strings)
    assert page["metadata"] == {"continue": "t"}
    first, second = page["items"]
    assert first["spec"] == KEPT["spec"]
    assert first["spec"]["nodeName"] is second["spec"]["nodeName"]
    with pytest.raises(selective.Refused):
        selective.decode_page("Pod", b'{"items": "x"}')


def test_one_shape_per_kind_so_checkers_are_compiled_once():
    """A new shape per object compiled and kept a checker per object (217 MiB at 5,000 nodes)."""
    assert shape_of("Pod") is shape_of("Pod")
    shapes.conform(POD, shape_of("Pod"))
    compiled = len(shapes._CHECKERS)
    for _ in range(100):
        shapes.conform(POD, shape_of("Pod"))
    assert len(shapes._CHECKERS) == compiled


def test_the_sharing_tables_are_freed_by_reference_counting():
    """A load runs with the cyclic collector paused and freezes what is left: a reference cycle
    between the string and subtree tables kept both alive for good (50 MiB at 5,000 nodes)."""
    import gc
    import weakref

    strings = selective.Strings()
    selective.decode_documents(json.dumps(POD).encode(), strings)
    tables = [weakref.ref(strings), weakref.ref(strings.repeats)]
    enabled = gc.isenabled()
    gc.disable()
    try:
        del strings
        assert [table() for table in tables] == [None, None]
    finally:
        if enabled:
            gc.enable()
