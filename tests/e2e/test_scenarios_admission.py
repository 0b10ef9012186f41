"""What-if admission against the real API server: a manifest amldoctor says would be refused
is refused, with the same words; one it admits gets the priority amldoctor applied."""

from __future__ import annotations

from typing import Any

import pytest
from cluster import Cluster, what_if
from harness import REQUIRED_ADMISSION, ControlPlane
from kube import ApiError
from objects import pod_manifest

pytestmark = pytest.mark.e2e


def refusal(c: Cluster, manifest: dict[str, Any]) -> str:
    with pytest.raises(ApiError) as err:
        c.create_pod(manifest)
    return str(err.value.body.get("message"))


def quota(c: Cluster, hard: dict[str, str], used: dict[str, str]) -> None:
    """A ResourceQuota with the status the quota controller would write (none runs here)."""
    path = f"{c.ns_path}/resourcequotas"
    c.kube.create(path, {"metadata": {"name": "team"}, "spec": {"hard": hard}})
    c.kube.merge_patch(f"{path}/team/status", {"status": {"hard": hard, "used": used}})


GIB = {"memory": "1Gi"}


def containers(*resources: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"name": f"c{i}", "image": "busybox", "resources": r} for i, r in enumerate(resources)]


@pytest.mark.parametrize(
    ("hard", "used", "resources"),
    [
        ({"pods": "2"}, {"pods": "2"}, [{"requests": {"cpu": "1"}}]),
        ({"requests.cpu": "4"}, {"requests.cpu": "3500m"}, [{"requests": {"cpu": "1"}}]),
        ({"requests.cpu": "4", "pods": "5"}, {"requests.cpu": "1", "pods": "1"},
         [{"requests": {"cpu": "1"}}]),
        # Memory: one value keeps its spelling, sums are canonical in the first term's format.
        ({"requests.memory": "4Gi"}, {"requests.memory": "3584Mi"}, [{"requests": GIB}]),
        ({"requests.memory": "4Gi"}, {"requests.memory": "3Gi"},
         [{"requests": {"memory": "512Mi"}}, {"requests": {"memory": "1536Mi"}}]),
        ({"limits.memory": "8Gi"}, {"limits.memory": "7Gi"},
         [{"limits": {"memory": "1024Mi"}}, {"limits": {"memory": "1G"}}]),
        ({"memory": "1Gi"}, {"memory": "1Gi"},
         [{"requests": {"memory": "1048576"}}, {"requests": {"memory": "1048576"}}]),
        ({"requests.memory": "10G"}, {"requests.memory": "9.5G"},
         [{"requests": {"memory": "0.75G"}}]),
        ({"limits.memory": "2Gi", "requests.memory": "1Gi"},
         {"limits.memory": "1.5Gi", "requests.memory": "1Gi"},
         [{"requests": {"memory": "+1Ki"}, "limits": {"memory": "600Mi"}}]),
        # GPUs: the requests. form of an extended resource, the request defaulted from the limit.
        ({"requests.nvidia.com/gpu": "2"}, {"requests.nvidia.com/gpu": "2"},
         [{"limits": {"nvidia.com/gpu": "1"}}]),
        ({"requests.nvidia.com/gpu": "4", "requests.memory": "64Gi"},
         {"requests.nvidia.com/gpu": "3", "requests.memory": "60Gi"},
         [{"limits": {"nvidia.com/gpu": "2"}, "requests": {"memory": "8Gi"}}]),
        # Refusals before any arithmetic: containers that do not state a quota'd resource, and a
        # quota whose usage was never computed.
        ({"requests.cpu": "4", "limits.memory": "8Gi"}, {"requests.cpu": "0", "limits.memory": "0"},
         [{"requests": {"cpu": "1"}}, {"requests": GIB}, {}]),
        ({"requests.cpu": "4", "pods": "3"}, {"pods": "1"}, [{"requests": {"cpu": "1"}}]),
    ],
)  # fmt: skip
def test_resource_quota_refusal_matches_the_api_server(
    cluster: Cluster,
    hard: dict[str, str],
    used: dict[str, str],
    resources: list[dict[str, Any]],
) -> None:
    c = cluster
    c.node("cpu-0")
    quota(c, hard, used)
    manifest = pod_manifest("probe")
    manifest["spec"]["containers"] = containers(*resources)
    doc = what_if(c, manifest)
    if doc["status"]["state"] != "admission-refused":
        c.create_pod(manifest)  # admitted by amldoctor: the API server must admit it too
        return
    expected = doc["status"]["refusals"][0]
    actual = refusal(c, manifest)
    print(f"\namldoctor: {expected}\napiserver: {actual}")
    assert actual == expected


def test_unknown_priority_class_refusal_matches_the_api_server(cluster: Cluster) -> None:
    c = cluster
    c.node("cpu-0")
    manifest = pod_manifest("probe", requests={"cpu": "1"}, priority_class_name="no-such-class")
    doc = what_if(c, manifest)
    assert doc["status"]["state"] == "admission-refused", doc["status"]
    assert refusal(c, manifest) == doc["status"]["refusals"][0]


def test_admission_plugins_the_comparisons_need_are_loaded(control_plane: ControlPlane) -> None:
    """The what-if comparisons (here and the random cases' admission variants) mean something
    only if the API server runs the plugins amldoctor mirrors."""
    loaded = control_plane.admission_plugins()
    assert set(REQUIRED_ADMISSION) <= loaded, sorted(set(REQUIRED_ADMISSION) - loaded)
    assert not set(control_plane.disabled_admission) & loaded


@pytest.mark.parametrize(
    ("runtime_class", "spec"),
    [
        ("amld-adm-none", {}),  # no such RuntimeClass
        ("amld-adm-sched", {"nodeSelector": {"sandbox": "none"}}),  # selector conflict
        ("amld-adm-sched", {"overhead": {"cpu": "1"}}),  # an overhead of its own that differs
    ],
)
def test_runtime_class_refusal_matches_the_api_server(
    cluster: Cluster, runtime_class: str, spec: dict[str, Any]
) -> None:
    c = cluster
    c.node("cpu-0")
    path = "/apis/node.k8s.io/v1/runtimeclasses"
    c.kube.delete(f"{path}/amld-adm-sched")
    c.kube.create(
        path,
        {
            "metadata": {"name": "amld-adm-sched"},
            "handler": "kata",
            "overhead": {"podFixed": {"cpu": "250m", "memory": "128Mi"}},
            "scheduling": {"nodeSelector": {"sandbox": "kata"}},
        },
    )
    c._cluster_scoped.append(f"{path}/amld-adm-sched")
    manifest = pod_manifest("probe", requests={"cpu": "1"})
    manifest["spec"] |= {"runtimeClassName": runtime_class, **spec}
    doc = what_if(c, manifest)
    assert doc["status"]["state"] == "admission-refused", doc["status"]
    expected = doc["status"]["refusals"][0]
    actual = refusal(c, manifest)
    print(f"\namldoctor: {expected}\napiserver: {actual}")
    assert actual == expected
