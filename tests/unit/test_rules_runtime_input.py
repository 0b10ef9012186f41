"""Odd and partial input never crashes a runtime rule: it reports what it can."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from runtime_helpers import event, findings, pod

from amldoctor.engine.registry import REGISTRY, load_all

load_all()
RUNTIME_CODES = sorted(c for c in REGISTRY if c[3] in "23456" and REGISTRY[c].scope == "scan")

ODD_PODS = [
    # statuses that are not dicts, empty states, unknown reasons, missing lastState
    pod("a", statuses=["garbage", {"name": "c"}, {"name": "c2", "state": {}, "lastState": None}]),
    pod(
        "b",
        statuses=[
            {"name": "c", "state": {"waiting": {"reason": "SomethingNew"}}, "restartCount": "7"}
        ],
    ),
    pod(
        "c", statuses=[{"name": "c", "state": {"terminated": {"exitCode": "137", "reason": None}}}]
    ),
    pod("d", statuses=[{"name": "c", "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]),
    pod(
        "e",
        containers=[
            {"name": "c", "resources": {"limits": {"memory": "lots"}, "requests": {"memory": []}}}
        ],
        statuses=[
            {
                "name": "c",
                "lastState": {"terminated": {"reason": "OOMKilled", "finishedAt": "not-a-time"}},
            }
        ],
    ),
    pod(
        "f",
        containers=[
            {
                "name": "c",
                "livenessProbe": {"httpGet": "oops", "periodSeconds": -3},
                "readinessProbe": {"tcpSocket": {}},
                "ports": ["x", {"containerPort": "80"}],
            }
        ],
        statuses=[{"name": "c", "state": {"running": None}, "ready": "yes"}],
    ),
    pod("g", containers=None, statuses=None),
    {"kind": "Pod", "metadata": {"name": "h", "namespace": "ml"}},
    pod("i", statuses=[{"name": "ghost", "state": {"waiting": {"reason": "ImagePullBackOff"}}}]),
    {**pod("j", phase="Failed"), "status": {"phase": "Failed", "reason": "Evicted", "message": 42}},
]
ODD_OTHERS = [
    {
        "kind": "Node",
        "metadata": {"name": "n1"},
        "status": {
            "conditions": ["x", {"type": "Ready"}],
            "allocatable": {"nvidia.com/gpu": "two"},
        },
    },
    {
        "kind": "Node",
        "metadata": {"name": "n2", "labels": {"kubernetes.azure.com/accelerator": "nvidia"}},
    },
    {
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": "c1", "namespace": "ml"},
        "status": {"phase": "Pending"},
    },
    {
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": "c2", "namespace": "ml"},
        "spec": {"accessModes": None},
    },
    {
        "kind": "Event",
        "metadata": {"name": "e1", "namespace": "ml"},
        "involvedObject": {"kind": "Pod", "name": "d"},
        "reason": "Unhealthy",
        "message": "Liveness probe failed:",
    },
    {
        "kind": "Event",
        "metadata": {"name": "e2", "namespace": "ml"},
        "involvedObject": {"kind": "Pod", "name": "i"},
        "reason": "Failed",
        "message": None,
        "count": "many",
    },
]


@pytest.mark.parametrize("code", RUNTIME_CODES)
def test_odd_objects_never_crash(code):
    findings([*ODD_PODS, *ODD_OTHERS], code)


def test_events_without_timestamps_are_counted_and_said_unknown():
    p = pod(
        "srv",
        containers=[{"name": "model", "readinessProbe": {"httpGet": {"path": "/", "port": 5001}}}],
        statuses=[{"name": "model", "ready": False, "state": {"running": {}}}],
    )
    ev = event(
        p,
        "Unhealthy",
        "Readiness probe failed: HTTP probe failed with statuscode: 500",
        count=3,
        last=None,
        container="model",
    )
    found = findings([p, ev], "AMD301")
    assert len(found) == 1
    assert "failed 3 times (HTTP 500 x3)" in found[0].message
    assert "at an unknown time" in found[0].message


def test_partial_status_still_reports_the_crash_loop():
    """No lastState at all: the rule still names the crash loop and says what is missing."""
    p = pod(
        "crash",
        statuses=[
            {"name": "c", "restartCount": 5, "state": {"waiting": {"reason": "CrashLoopBackOff"}}}
        ],
    )
    found = findings([p], "AMD401")
    assert len(found) == 1
    assert "after 5 restarts" in found[0].message
    assert "keeps no last termination" in found[0].message


# Any JSON value where the API would put an object, a string or a number.
_json = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 300) | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner, max_size=3)
    ),
    max_leaves=8,
)
_reason = st.sampled_from(
    [
        "OOMKilled",
        "Error",
        "CrashLoopBackOff",
        "ImagePullBackOff",
        "CreateContainerConfigError",
        "StartError",
        "ContainerStatusUnknown",
        "Completed",
        "Weird",
    ]
)
_state = st.dictionaries(
    st.sampled_from(["waiting", "running", "terminated"]),
    st.fixed_dictionaries(
        {},
        optional={
            "reason": _reason | _json,
            "exitCode": st.sampled_from([0, 1, 137, 139, 255]) | _json,
            "message": st.text(max_size=30) | _json,
            "finishedAt": _json,
            "startedAt": st.sampled_from(["2026-11-28T08:00:00Z", "bad"]) | _json,
        },
    ),
    max_size=2,
)
_status = st.fixed_dictionaries(
    {"name": st.sampled_from(["c", "x"]) | _json},
    optional={
        "state": _state | _json,
        "lastState": _state | _json,
        "restartCount": st.integers(0, 9) | _json,
        "ready": _json,
    },
)
_container = st.fixed_dictionaries(
    {"name": st.sampled_from(["c", "x"])},
    optional={
        "resources": _json,
        "livenessProbe": _json,
        "readinessProbe": _json,
        "ports": _json,
        "env": _json,
        "volumeMounts": _json,
        "image": _json,
    },
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    containers=st.lists(_container, max_size=2),
    statuses=st.lists(_status | _json, max_size=2),
    init_statuses=st.lists(_status, max_size=1),
    volumes=_json,
    pod_status=_json,
)
def test_random_status_shapes_never_crash(containers, statuses, init_statuses, volumes, pod_status):
    p = pod(
        "fuzz",
        containers=containers,
        statuses=statuses,
        init=containers[:1],
        init_statuses=init_statuses,
    )
    p["spec"]["volumes"] = volumes
    if isinstance(pod_status, dict):
        p["status"].update(pod_status)
    findings(
        [
            p,
            event(p, "Unhealthy", "Liveness probe failed: timeout", last=None, container="c"),
            event(
                p, "Killing", "Container c failed liveness probe, will be restarted", container="c"
            ),
        ],
        *RUNTIME_CODES,
    )


_condition = st.fixed_dictionaries(
    {"type": st.sampled_from(["Ready", "MemoryPressure", "GPUMissing", "KernelDeadlock"])},
    optional={
        "status": st.sampled_from(["True", "False", "Unknown"]) | _json,
        "reason": _json,
        "message": _json,
        "lastTransitionTime": _json,
    },
)


@settings(max_examples=100, deadline=None)
@given(
    conditions=st.lists(_condition | _json, max_size=3),
    resources=_json,
    spec=_json,
    labels=_json,
    pvc_spec=_json,
    pvc_status=_json,
)
def test_random_node_and_claim_shapes_never_crash(
    conditions, resources, spec, labels, pvc_spec, pvc_status
):
    node = {
        "kind": "Node",
        "metadata": {"name": "n", "labels": labels if isinstance(labels, dict) else {}},
        "spec": spec,
        "status": {"conditions": conditions, "capacity": resources, "allocatable": resources},
    }
    claim = {
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": "c", "namespace": "ml"},
        "spec": pvc_spec,
        "status": pvc_status,
    }
    user = pod("u", node="n", volumes=[{"name": "v", "persistentVolumeClaim": {"claimName": "c"}}])
    findings([node, claim, user], *RUNTIME_CODES)
