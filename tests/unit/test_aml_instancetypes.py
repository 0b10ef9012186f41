"""Instance types: parsing and validation, resolution of a pod's instance type, node fit."""

from __future__ import annotations

from datetime import UTC, datetime

from amldoctor.aml.fit import analyze
from amldoctor.aml.instancetypes import (
    DEFAULT_NAME,
    instance_type_yaml,
    parse_instance_type,
    resolve_instance_type,
)
from amldoctor.aml.nodes import Capacity
from amldoctor.snapshot import Snapshot

T = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
GI = 1 << 30


def it(name, selector=None, requests=None, limits=None):
    spec = {
        "resources": {
            "requests": requests or {"cpu": "1", "memory": "4Gi"},
            "limits": limits or {"cpu": "1", "memory": "4Gi"},
        }
    }
    if selector is not None:
        spec["nodeSelector"] = selector
    return {
        "apiVersion": "amlarc.azureml.com/v1alpha1",
        "kind": "InstanceType",
        "metadata": {"name": name},
        "spec": spec,
    }


def training_pod(requests, limits, selector=None):
    spec = {
        "schedulerName": "volcano",
        "containers": [
            {
                "name": "training-identity-sidecar",
                "resources": {"limits": {"cpu": "100m", "memory": "128Mi"}},
            },
            {
                "name": "0e7d6c5b-execution-wrapper",
                "resources": {"requests": requests, "limits": limits},
            },
        ],
    }
    if selector:
        spec["nodeSelector"] = selector
    return {
        "kind": "Pod",
        "metadata": {
            "name": "ns-abc-worker-0",
            "namespace": "ns",
            "labels": {"jobId": "abc", "ml.azure.com/compute": "k8s"},
        },
        "spec": spec,
        "status": {"phase": "Pending"},
    }


def snap(*objects):
    return Snapshot(list(objects), captured_at=T)


def test_parse_valid_instance_type():
    parsed = parse_instance_type(
        it(
            "gpu",
            {"pool": "gpu"},
            {"cpu": "700m", "memory": "1500Mi"},
            {"cpu": "1", "memory": "2Gi", "nvidia.com/gpu": 1},
        )
    )
    assert parsed.problems == []
    assert parsed.requests == {"cpu": 700, "memory": 1500 << 20}
    assert parsed.effective_requests["nvidia.com/gpu"] == 1
    assert parsed.gpus == 1


def test_parse_reports_every_documented_violation():
    parsed = parse_instance_type(
        it(
            "bad",
            None,
            {"cpu": "2", "memory": "0", "nvidia.com/gpu": "1"},
            {"cpu": "1", "nvidia.com/gpu": "1.5"},
        )
    )
    text = "; ".join(parsed.problems)
    assert "requests.memory is required and must be non-zero" in text
    assert "limits.memory is required" in text
    assert "nvidia.com/gpu is set in requests" in text
    assert "'1.5' is not a whole number of GPUs" in text
    assert "requests.cpu 2 is above limits.cpu 1" in text


def test_parse_never_raises_on_malformed_objects():
    for spec in (
        None,
        "text",
        [],
        {"resources": "x"},
        {"resources": {"requests": [1], "limits": None}},
        {
            "nodeSelector": ["a"],
            "resources": {"requests": {"cpu": {}}, "limits": {"memory": "lots"}},
        },
    ):
        parsed = parse_instance_type(
            {"kind": "InstanceType", "metadata": {"name": "x"}, "spec": spec}
        )
        assert parsed.problems, spec
    assert parse_instance_type({"kind": "InstanceType"}).name == "<unnamed>"


def test_resolve_by_resources():
    s = snap(
        it("small"),
        it("large", None, {"cpu": "6", "memory": "24Gi"}, {"cpu": "8", "memory": "24Gi"}),
    )
    result = resolve_instance_type(
        s, training_pod({"cpu": "6", "memory": "24Gi"}, {"cpu": "8", "memory": "24Gi"})
    )
    assert (result["name"], result["confidence"]) == ("large", "inferred")
    assert result["container"] == "0e7d6c5b-execution-wrapper"


def test_resolve_same_resources_decided_by_selector():
    res = (
        {"cpu": "20", "memory": "180Gi"},
        {"cpu": "22", "memory": "180Gi", "nvidia.com/gpu": "1"},
    )
    s = snap(it("a100", {"pool": "gpu"}, *res), it("a100-spot", {"pool": "spot"}, *res))
    assert (
        resolve_instance_type(s, training_pod(*res, selector={"pool": "spot"}))["name"]
        == "a100-spot"
    )
    ambiguous = resolve_instance_type(s, training_pod(*res))
    assert ambiguous["name"] is None and ambiguous["candidates"] == ["a100", "a100-spot"]


def test_resolve_builtin_default_and_its_override():
    default = ({"cpu": "100m", "memory": "2Gi"}, {"cpu": "2", "memory": "2Gi"})
    pod = training_pod(*default)
    builtin = resolve_instance_type(snap(it("small")), pod)
    assert (builtin["name"], builtin.get("builtin")) == (DEFAULT_NAME, True)
    legacy = resolve_instance_type(
        snap(),
        training_pod({"cpu": "600m", "memory": "1536Mi"}, {"cpu": "600m", "memory": "1536Mi"}),
    )
    assert legacy["name"] == DEFAULT_NAME
    overridden = snap(
        it(DEFAULT_NAME, None, {"cpu": "1", "memory": "8Gi"}, {"cpu": "2", "memory": "8Gi"})
    )
    assert resolve_instance_type(overridden, pod)["name"] is None
    assert (
        resolve_instance_type(snap(it("small")), training_pod({"cpu": "3"}, {"cpu": "3"}))["name"]
        is None
    )


def _node(name, labels, cpu="8", memory="32Gi", gpus=0, taints=()):
    alloc = {"cpu": cpu, "memory": memory, "pods": "110"}
    if gpus:
        alloc["nvidia.com/gpu"] = str(gpus)
    return {
        "kind": "Node",
        "metadata": {"name": name, "labels": labels},
        "spec": {"taints": list(taints)},
        "status": {"allocatable": alloc, "conditions": [{"type": "Ready", "status": "True"}]},
    }


def test_fit_combines_extension_selector_and_finds_closest_node():
    nodes = [
        _node("g1", {"pool": "gpu", "team": "a"}, cpu="24", memory="200Gi", gpus=1),
        _node("g2", {"pool": "gpu", "team": "b"}, cpu="24", memory="200Gi", gpus=1),
    ]
    s = snap(*nodes)
    big = parse_instance_type(
        it(
            "big",
            {"pool": "gpu"},
            {"cpu": "30", "memory": "100Gi"},
            {"cpu": "30", "memory": "100Gi", "nvidia.com/gpu": "1"},
        )
    )
    fit = analyze(s, big, Capacity(s), {"team": "b"})
    assert [n["metadata"]["name"] for n in fit.matching] == ["g2"]
    assert fit.fitting == [] and fit.exceeded == [
        {"resource": "cpu", "asked": "30", "allocatable": "24"}
    ]
    conflict = analyze(s, parse_instance_type(it("x", {"team": "a"})), Capacity(s), {"team": "b"})
    assert conflict.conflicts and conflict.matching == []


def test_instance_type_yaml_quotes_numbers():
    text = instance_type_yaml(
        "mem-4gi", {"pool": "cpu"}, {"cpu": "1", "memory": "4Gi"}, {"cpu": "2"}
    )
    assert 'cpu: "1"' in text and "memory: 4Gi" in text and "name: mem-4gi" in text
