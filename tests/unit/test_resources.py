"""A pod's effective requests (resource.PodRequests + SetMaxResource), per docs §4.6."""

from __future__ import annotations

import pytest

from amldoctor.k8s.quantity import QuantityError
from amldoctor.k8s.resources import (
    container_breakdown,
    container_limits,
    is_extended_resource,
    is_scalar_resource,
    pod_requests,
)


def c(name: str, requests: dict | None = None, limits: dict | None = None, **extra) -> dict:
    res = {}
    if requests is not None:
        res["requests"] = requests
    if limits is not None:
        res["limits"] = limits
    return {"name": name, "resources": res, **extra}


def pod(containers=(), init=(), **spec) -> dict:
    return {"spec": {"containers": list(containers), "initContainers": list(init), **spec}}


def test_containers_are_summed_exactly_then_rounded_once() -> None:
    p = pod([c("a", {"cpu": "0.5m"}), c("b", {"cpu": "0.5m"})])
    assert pod_requests(p)["cpu"] == 1  # 0.5m + 0.5m = 1m; per-container rounding would give 2m


def test_init_containers_take_the_max_with_the_sum() -> None:
    p = pod([c("a", {"cpu": "1", "memory": "1Gi"})], [c("i", {"cpu": "3", "memory": "512Mi"})])
    assert pod_requests(p) == {"cpu": 3000, "memory": 2**30}


def test_sidecars_are_added_to_the_sum_and_to_later_init_steps() -> None:
    p = pod(
        [c("main", {"cpu": "1"})],
        [
            c("side", {"cpu": "500m"}, restartPolicy="Always"),
            c("init-after", {"cpu": "2"}),
        ],
    )
    # sum = 1 + 0.5 = 1.5; the later init step needs 2 + 0.5 (sidecar runs beside it) = 2.5
    assert pod_requests(p)["cpu"] == 2500


def test_regular_init_before_a_sidecar_does_not_see_it() -> None:
    p = pod(
        [c("main", {"cpu": "1"})],
        [c("first", {"cpu": "2"}), c("side", {"cpu": "1"}, restartPolicy="Always")],
    )
    assert pod_requests(p)["cpu"] == 2000  # max(1 + 1, 2)


def test_overhead_is_added_after_the_max() -> None:
    p = pod([c("main", {"memory": "1"})], overhead={"cpu": "1m", "memory": "15"})
    assert pod_requests(p) == {"memory": 16, "cpu": 1}


def test_limits_default_missing_requests() -> None:
    p = pod([c("main", {"cpu": "1"}, {"cpu": "4", "memory": "8Gi", "nvidia.com/gpu": 1})])
    assert pod_requests(p) == {"cpu": 1000, "memory": 8 * 2**30, "nvidia.com/gpu": 1}


def test_pods_and_bare_names_are_ignored_zero_scalars_kept() -> None:
    p = pod(
        [
            c(
                "main",
                {
                    "pods": "3",
                    "storage": "1Gi",
                    "foo": "1",
                    "example.com/aaa": "0",
                    "hugepages-2Mi": "2Mi",
                },
            )
        ]
    )
    assert pod_requests(p) == {"example.com/aaa": 0, "hugepages-2Mi": 2 * 2**20}


def test_pod_level_requests_override_cpu_and_memory_only_when_enabled() -> None:
    p = pod(
        [c("main", {"cpu": "1", "memory": "1Gi", "nvidia.com/gpu": "1"})],
        resources={"requests": {"cpu": "3"}},
    )
    assert pod_requests(p)["cpu"] == 3000
    assert pod_requests(p, pod_level_resources=False)["cpu"] == 1000
    assert pod_requests(p)["nvidia.com/gpu"] == 1


def test_in_place_resize_uses_the_larger_of_spec_and_status() -> None:
    p = pod([c("main", {"cpu": "1"})])
    p["status"] = {"containerStatuses": [{"name": "main", "resources": {"requests": {"cpu": "2"}}}]}
    assert pod_requests(p)["cpu"] == 2000
    assert pod_requests(p, use_status=False)["cpu"] == 1000
    p["status"]["resize"] = "Infeasible"
    p["spec"]["containers"][0]["resources"]["requests"]["cpu"] = "4"
    assert pod_requests(p)["cpu"] == 2000  # an infeasible resize runs with what was actuated


def test_invalid_quantity_names_the_field() -> None:
    p = pod([c("trainer", {"memory": "4GB"})])
    with pytest.raises(
        QuantityError, match=r"spec\.containers\[trainer\]\.resources\.requests\.memory"
    ):
        pod_requests(p)


@pytest.mark.parametrize(
    ("name", "extended", "scalar"),
    [
        ("nvidia.com/gpu", True, True),
        ("nvidia.com/mig-1g.10gb", True, True),
        ("kubernetes.io/something", False, True),
        ("hugepages-1Gi", False, True),
        ("attachable-volumes-azure-disk", False, True),
        ("cpu", False, False),
        ("storage", False, False),
        ("requests.nvidia.com/gpu", False, False),
    ],
)
def test_resource_name_classes(name, extended, scalar) -> None:
    assert is_extended_resource(name) is extended
    assert is_scalar_resource(name) is scalar


def test_breakdown_and_limits() -> None:
    p = pod(
        [c("main", {"cpu": "500m"}, {"memory": "2Gi"})],
        [c("side", {"cpu": "100m"}, restartPolicy="Always")],
    )
    rows = container_breakdown(p)
    assert [(r.name, r.kind) for r in rows] == [("side", "sidecar"), ("main", "container")]
    assert rows[1].requests == {"cpu": 500, "memory": 2 * 2**30}
    assert rows[1].limits == {"memory": 2 * 2**30}
    assert container_limits(c("x", limits={"cpu": "1500m"})) == {"cpu": 1500}
