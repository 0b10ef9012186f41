"""A pod's effective requests (resource.PodRequests + SetMaxResource), per docs §4.6."""

from __future__ import annotations

import copy

import pytest

from amldoctor.k8s.quantity import QuantityError
from amldoctor.k8s.resources import (
    container_breakdown,
    container_limits,
    is_extended_resource,
    is_scalar_resource,
    plain_containers,
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


def _random_pod(rng) -> dict:
    """A pod with any mix of what `pod_requests` reads, valid or not."""
    names = ["cpu", "memory", "nvidia.com/gpu", "ephemeral-storage", "pods", "storage",
             "hugepages-2Mi", "example.com/dongle"]  # fmt: skip
    values = ["1", "500m", "0", "2Gi", "1.5", "100Mi", 3, 0.5, "1e3", "bogus", "007", True]

    def amounts() -> dict:
        return {rng.choice(names): rng.choice(values) for _ in range(rng.randint(0, 3))}

    def container(i: int) -> dict:
        c: dict = {"name": f"c{i}"}
        if rng.random() < 0.8:
            c["resources"] = {k: amounts() for k in ("requests", "limits") if rng.random() < 0.7}
        if rng.random() < 0.1:
            c["restartPolicy"] = "Always"
        return c

    spec: dict = {"containers": [container(i) for i in range(rng.randint(0, 3))]}
    if rng.random() < 0.15:
        spec["initContainers"] = [container(9)]
    if rng.random() < 0.1:
        spec["overhead"] = amounts()
    if rng.random() < 0.1:
        spec["resources"] = {"requests": amounts()}
    pod: dict = {"kind": "Pod", "spec": spec}
    if rng.random() < 0.5:
        statuses = []
        for c in spec["containers"]:
            s: dict = {"name": c["name"] if rng.random() < 0.9 else "other"}
            draw = rng.random()
            if draw < 0.2:
                s["resources"] = {"requests": amounts()}
            elif draw < 0.6 and "resources" in c:  # what a 1.33+ kubelet reports: the spec's
                same = rng.random() < 0.5  # the very dict (as decoded) or an equal one
                s["resources"] = c["resources"] if same else copy.deepcopy(c["resources"])
            if rng.random() < 0.1:
                s["allocatedResources"] = amounts()
            statuses.append(s)
        rng.shuffle(statuses)  # the kubelet lists them by name, not in spec order
        pod["status"] = {"containerStatuses": statuses}
        if rng.random() < 0.2:
            pod["status"]["resize"] = "Infeasible"
        elif rng.random() < 0.2:
            pod["status"]["conditions"] = [{"type": "PodResizePending", "reason": "Infeasible"}]
    return pod


@pytest.mark.parametrize("seed", range(20))
def test_the_plain_pod_shortcut_gives_what_the_general_path_gives(seed: int) -> None:
    """`pod_requests` answers plain pods from one function; on every generated pod (warm and
    cold quantity cache alike) it must equal the general computation, or refuse alike."""
    import random

    from amldoctor.k8s.quantity import NANO
    from amldoctor.k8s.resources import CPU, pod_request_nanos

    rng = random.Random(seed)
    reported = 0  # plain pods whose statuses report resources (a 1.33+ kubelet's)
    for _ in range(200):
        pod = _random_pod(rng)
        statuses = (pod.get("status") or {}).get("containerStatuses") or ()
        if plain_containers(pod) is not None and any(s.get("resources") for s in statuses):
            reported += 1
        try:
            exact = pod_request_nanos(pod)
            expected: object = {
                name: -(-n // (NANO // 1000 if name == CPU else NANO)) for name, n in exact.items()
            }
        except QuantityError:
            expected = QuantityError
        for _warm in range(2):  # the second time, every valid quantity is cached
            try:
                got: object = pod_requests(pod)
            except QuantityError:
                got = QuantityError
            assert got == expected, pod
    assert reported >= 5


def test_node_copies_adjust_their_sums_exactly() -> None:
    """Copies for nominated pods and preemption adjust the node's sums by the pods that
    changed; they must equal the sums of a node built with those pods."""
    import random

    from amldoctor.scheduling.cluster import NodeInfo
    from amldoctor.scheduling.profile import Profile

    rng = random.Random(5)
    profile = Profile.for_server(None)
    node = {"metadata": {"name": "n"}, "status": {"allocatable": {"cpu": "8"}}}
    for _ in range(100):
        pods = [_random_pod(rng) for _ in range(rng.randint(0, 6))]
        extra = [_random_pod(rng) for _ in range(rng.randint(0, 3))]
        info = NodeInfo(node, pods, profile)
        _ = info.requested  # computed: copies adjust it
        victims = rng.sample(pods, rng.randint(0, len(pods)))
        assert info.without(victims).requested == _nonzero(
            NodeInfo(
                node, [p for p in pods if all(p is not v for v in victims)], profile
            ).requested,
            info.without(victims).requested,
        )
        assert info.plus(extra).requested == _nonzero(
            NodeInfo(node, [*pods, *extra], profile).requested, info.plus(extra).requested
        )


def _nonzero(fresh: dict, adjusted: dict) -> dict:
    """The fresh sums, with the zero entries a subtraction may leave (read as absent)."""
    return {**{k: 0 for k, v in adjusted.items() if v == 0}, **fresh}
