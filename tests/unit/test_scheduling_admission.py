"""What-if admission: what the API server adds to a manifest's pod before the scheduler sees it,
and the ResourceQuota / PriorityClass / RuntimeClass refusals that stop it earlier."""

from __future__ import annotations

import pytest

from amldoctor.scheduling.admission import admit
from amldoctor.snapshot import Snapshot
from amldoctor.whypending import analyze


def pod(**spec) -> dict:
    return {
        "kind": "Pod",
        "metadata": {"name": "p", "namespace": "ml"},
        "spec": {
            "containers": [{"name": "c", "resources": {"requests": {"cpu": "1"}}}],
            **spec,
        },
    }


def pc(name: str, value: int, default: bool = False, policy: str | None = None) -> dict:
    obj = {"kind": "PriorityClass", "metadata": {"name": name}, "value": value}
    if default:
        obj["globalDefault"] = True
    if policy:
        obj["preemptionPolicy"] = policy
    return obj


def node(name: str = "n1", cpu: str = "4") -> dict:
    alloc = {"cpu": cpu, "memory": "16Gi", "pods": "110"}
    return {
        "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
        "status": {"allocatable": alloc, "capacity": alloc},
    }


@pytest.mark.parametrize(
    ("classes", "name", "priority", "policy"),
    [
        ([pc("high", 1000)], "high", 1000, "PreemptLowerPriority"),
        ([pc("never", 500, policy="Never")], "never", 500, "Never"),
        ([pc("low", 5, default=True), pc("lower", 1, default=True)], None, 1,
         "PreemptLowerPriority"),
        ([pc("other", 7)], None, 0, None),
        ([], "system-cluster-critical", 2000000000, "PreemptLowerPriority"),
    ],
)  # fmt: skip
def test_priority_class_sets_priority_and_policy(classes, name, priority, policy) -> None:
    subject = pod(**({"priorityClassName": name} if name else {}))
    admitted = admit(Snapshot([node(), *classes]), subject)
    assert admitted.refusals == []
    assert admitted.pod["spec"]["priority"] == priority
    assert admitted.pod["spec"].get("preemptionPolicy") == policy
    assert "priority" not in subject["spec"]  # the manifest itself is untouched


def test_unknown_priority_class_is_refused() -> None:
    admitted = admit(Snapshot([node(), pc("high", 1000)]), pod(priorityClassName="hihg"))
    assert admitted.refusals == ['pods "p" is forbidden: no PriorityClass with name hihg was found']
    doc = analyze(Snapshot([node(), pc("high", 1000)]), pod(priorityClassName="hihg"), what_if=True)
    assert doc["status"]["state"] == "admission-refused"
    assert "hihg" in doc["status"]["summary"] and doc["scheduler_message"] is None


def test_priority_classes_not_readable_are_not_guessed() -> None:
    admitted = admit(Snapshot([node()]), pod(priorityClassName="high"))
    assert admitted.refusals == [] and "priority" not in admitted.pod["spec"]
    assert "PriorityClass" in admitted.unknown


@pytest.mark.parametrize(
    ("tolerations", "added"),
    [
        (None, 2),
        ([{"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"}], 1),
        ([{"operator": "Exists"}], 0),
        ([{"key": "node.kubernetes.io/unreachable", "operator": "Exists"}], 1),
    ],
)
def test_default_toleration_seconds(tolerations, added: int) -> None:
    subject = pod(**({"tolerations": tolerations} if tolerations else {}))
    admitted = admit(Snapshot([node()]), subject)
    extra = [t for t in admitted.pod["spec"].get("tolerations", []) if t.get("tolerationSeconds")]
    assert len(extra) == added
    assert all(t["effect"] == "NoExecute" and t["tolerationSeconds"] == 300 for t in extra)


def test_limit_range_defaults_fill_missing_requests_and_limits() -> None:
    lr = {
        "kind": "LimitRange",
        "metadata": {"name": "defaults", "namespace": "ml"},
        "spec": {
            "limits": [
                {
                    "type": "Container",
                    "default": {"memory": "2Gi"},
                    "defaultRequest": {"memory": "1Gi", "cpu": "250m"},
                }
            ]
        },
    }
    admitted = admit(Snapshot([node(), lr]), pod())
    res = admitted.pod["spec"]["containers"][0]["resources"]
    assert res["requests"] == {"cpu": "1", "memory": "1Gi"}  # the pod's own cpu request stays
    assert res["limits"] == {"memory": "2Gi"}


def test_runtime_class_adds_overhead_selector_and_tolerations() -> None:
    rc = {
        "kind": "RuntimeClass",
        "metadata": {"name": "kata"},
        "handler": "kata",
        "overhead": {"podFixed": {"cpu": "250m", "memory": "120Mi"}},
        "scheduling": {
            "nodeSelector": {"sandbox": "kata"},
            "tolerations": [{"key": "sandbox", "operator": "Exists"}],
        },
    }
    snap = Snapshot([node(), rc])
    admitted = admit(snap, pod(runtimeClassName="kata"))
    spec = admitted.pod["spec"]
    assert spec["overhead"] == {"cpu": "250m", "memory": "120Mi"}
    assert spec["nodeSelector"] == {"sandbox": "kata"}
    assert {"key": "sandbox", "operator": "Exists"} in spec["tolerations"]
    # The API server's words (the conflict's checked against it by the random e2e cases).
    assert admit(snap, pod(runtimeClassName="gvisor")).refusals == [
        'pods "p" is forbidden: pod rejected: RuntimeClass "gvisor" not found'
    ]
    clash = admit(snap, pod(runtimeClassName="kata", nodeSelector={"sandbox": "none"}))
    assert clash.refusals == [
        'pods "p" is forbidden: conflict: runtimeClass.scheduling.nodeSelector[sandbox] = kata; '
        "pod.spec.nodeSelector[sandbox] = none"
    ]
    own = admit(snap, pod(runtimeClassName="kata", overhead={"cpu": "1"}))
    assert own.refusals == [
        'pods "p" is forbidden: pod rejected: '
        "Pod's Overhead doesn't match RuntimeClass's defined Overhead"
    ]


@pytest.mark.parametrize(
    ("hard", "used", "refused"),
    [
        ({"requests.cpu": "4"}, {"requests.cpu": "3"}, False),
        ({"requests.cpu": "4"}, {"requests.cpu": "3500m"}, True),
        ({"pods": "10"}, {"pods": "10"}, True),
        ({"cpu": "2"}, {"cpu": "0"}, False),
    ],
)
def test_resource_quota_refuses_pods_over_the_limit(hard, used, refused) -> None:
    quota = {
        "kind": "ResourceQuota",
        "metadata": {"name": "team", "namespace": "ml"},
        "spec": {"hard": hard},
        "status": {"hard": hard, "used": used},
    }
    admitted = admit(Snapshot([node(), quota]), pod())
    assert bool(admitted.refusals) is refused
    if refused:
        key = next(iter(hard))
        assert admitted.refusals[0].startswith('pods "p" is forbidden: exceeded quota: team, ')
        assert admitted.refusals[0].endswith(
            f"requested: {key}=1, used: {key}={used[key]}, limited: {key}={hard[key]}"
        )


def test_what_if_priority_decides_preemption() -> None:
    """Without admission a manifest has no priority and could never preempt."""
    low = {
        "kind": "Pod",
        "metadata": {"name": "batch", "namespace": "ml"},
        "spec": {
            "nodeName": "n1",
            "priority": 0,
            "containers": [{"name": "c", "resources": {"requests": {"cpu": "4"}}}],
        },
        "status": {"phase": "Running"},
    }
    snap = Snapshot([node(), low, pc("serving", 1000)])
    doc = analyze(snap, pod(priorityClassName="serving"), what_if=True)
    assert doc["preemption"]["would_preempt"] is True
    assert [v["name"] for v in doc["preemption"]["victims"]] == ["batch"]
    assert "priority=1000" in " ".join(doc["admission"]["added"])


def quota_of(hard: dict, used: dict | None) -> dict:
    status: dict = {"hard": hard}
    if used is not None:
        status["used"] = used
    return {
        "kind": "ResourceQuota",
        "metadata": {"name": "team", "namespace": "ml"},
        "spec": {"hard": hard},
        "status": status,
    }


def containers(*resources: dict) -> list[dict]:
    return [{"name": f"c{i}", "resources": r} for i, r in enumerate(resources)]


@pytest.mark.parametrize(
    ("hard", "used", "spec", "expected"),
    [
        # Memory in its canonical spelling: one unsummed value keeps its own, sums are canonical.
        ({"requests.memory": "4Gi"}, {"requests.memory": "3584Mi"},
         containers({"requests": {"memory": "1Gi"}}),
         "requested: requests.memory=1Gi, used: requests.memory=3584Mi, "
         "limited: requests.memory=4Gi"),
        ({"requests.memory": "4Gi"}, {"requests.memory": "3Gi"},
         containers({"requests": {"memory": "512Mi"}}, {"requests": {"memory": "1536Mi"}}),
         "requested: requests.memory=2Gi, used: requests.memory=3Gi, limited: requests.memory=4Gi"),
        ({"limits.memory": "8Gi"}, {"limits.memory": "7Gi"},
         containers({"limits": {"memory": "1024Mi"}}, {"limits": {"memory": "1G"}}),
         "requested: limits.memory=2073741824, used: limits.memory=7Gi, "
         "limited: limits.memory=8Gi"),
        # Extended resources: the `requests.` form, defaulted from the limit.
        ({"requests.nvidia.com/gpu": "2"}, {"requests.nvidia.com/gpu": "2"},
         containers({"limits": {"nvidia.com/gpu": 1}}),
         "requested: requests.nvidia.com/gpu=1, used: requests.nvidia.com/gpu=2, "
         "limited: requests.nvidia.com/gpu=2"),
        # A byte count keeps its own spelling (upstream keeps strings it finds canonical).
        ({"memory": "1Gi"}, {"memory": "1Gi"},
         containers({"requests": {"memory": "1048576"}}),
         "requested: memory=1048576, used: memory=1Gi, limited: memory=1Gi"),
        # ... a sum is canonical in its first term's format (decimal here, so not 2Mi).
        ({"memory": "1Gi"}, {"memory": "1Gi"},
         containers({"requests": {"memory": "1048576"}}, {"requests": {"memory": "1048576"}}),
         "requested: memory=2097152, used: memory=1Gi, limited: memory=1Gi"),
    ],
)  # fmt: skip
def test_quota_refusal_spells_quantities_as_the_api_server(hard, used, spec, expected) -> None:
    subject = pod(containers=spec)
    refusals = admit(Snapshot([node(), quota_of(hard, used)]), subject).refusals
    assert refusals == [f'pods "p" is forbidden: exceeded quota: team, {expected}']


def test_quota_on_cpu_requires_every_container_to_state_it() -> None:
    spec = containers({"requests": {"cpu": "1"}}, {"requests": {"memory": "1Gi"}}, {})
    quota = quota_of({"requests.cpu": "4", "limits.memory": "8Gi"}, {})
    (refusal,) = admit(Snapshot([node(), quota]), pod(containers=spec)).refusals
    assert refusal == (
        'pods "p" is forbidden: failed quota: team: must specify limits.memory for: c0,c1,c2; '
        "requests.cpu for: c1,c2"
    )


def test_quota_without_usage_is_status_unknown() -> None:
    quota = quota_of({"requests.cpu": "4", "pods": "3", "services": "1"}, {"pods": "1"})
    (refusal,) = admit(Snapshot([node(), quota]), pod()).refusals
    assert refusal == (
        'pods "p" is forbidden: status unknown for quota: team, resources: pods,requests.cpu'
    )


def test_limits_become_requests_before_limit_range_and_quota() -> None:
    """core/v1 defaulting copies a limit into the missing request; LimitRange's default request
    then does not apply."""
    limit_range = {
        "kind": "LimitRange",
        "metadata": {"name": "defaults", "namespace": "ml"},
        "spec": {"limits": [{"type": "Container", "defaultRequest": {"cpu": "100m"}}]},
    }
    subject = pod(containers=containers({"limits": {"cpu": "2"}}))
    admitted = admit(Snapshot([node(), limit_range]), subject)
    assert admitted.pod["spec"]["containers"][0]["resources"]["requests"] == {"cpu": "2"}
