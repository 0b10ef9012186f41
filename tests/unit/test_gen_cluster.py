"""The benchmark cluster generator: reproducible, loadable, and as consistent as a real cluster.

Benchmarks are only as good as their data: a synthetic cluster whose pods overflow their nodes or
whose Pending pods carry no scheduler verdict would measure code paths real clusters never take.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from amldoctor.k8s.quantity import parse_quantity
from amldoctor.k8s.resources import is_tracked, pod_requests, to_scheduler_units
from amldoctor.k8s.tolerations import FILTER_EFFECTS, tolerated_by_any
from amldoctor.load import load_snapshot
from tests.conftest import benchmark_module

gen_cluster = benchmark_module("gen_cluster")

TINY = gen_cluster.Scale(nodes=60, pods=900, events=2000)


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    out = tmp_path_factory.mktemp("gen") / "cluster"
    snap, info = gen_cluster.generate(TINY, seed=7)
    gen_cluster.write(snap, out)
    return out, info


def files_of(path: Path) -> dict[str, bytes]:
    return {f.name: f.read_bytes() for f in sorted(path.iterdir())}


def test_same_seed_same_bytes_other_seed_other_bytes(bundle, tmp_path):
    out, _ = bundle
    again = gen_cluster.write(gen_cluster.generate(TINY, seed=7)[0], tmp_path / "again")
    other = gen_cluster.write(gen_cluster.generate(TINY, seed=8)[0], tmp_path / "other")
    assert files_of(again) == files_of(out)
    assert files_of(other)["Pod.json"] != files_of(out)["Pod.json"]


def test_tarball_is_reproducible_and_loads_like_the_directory(bundle, tmp_path):
    out, _ = bundle
    snap = gen_cluster.generate(TINY, seed=7)[0]
    first = gen_cluster.write(snap, tmp_path / "a.tar.gz").read_bytes()
    assert gen_cluster.write(snap, tmp_path / "b.tar.gz").read_bytes() == first
    assert len(load_snapshot(tmp_path / "a.tar.gz").objects) == len(load_snapshot(out).objects)


def test_bundle_loads_with_the_requested_scale(bundle):
    out, info = bundle
    snap = load_snapshot(out)
    assert len(snap.nodes) == TINY.nodes == info["nodes"]
    assert len(snap.pods) == info["pods"]
    assert abs(len(snap.pods) - TINY.pods) <= TINY.pods // 50
    assert len(snap.of_kind("Event")) == TINY.events
    assert snap.server_version == gen_cluster.SERVER_VERSION
    assert snap.captured_at == gen_cluster.CAPTURED_AT
    assert snap.of_kind("PersistentVolumeClaim")


def test_bound_pods_fit_their_nodes(bundle):
    snap = load_snapshot(bundle[0])
    for node in snap.nodes:
        name = node["metadata"]["name"]
        pods = snap.pods_on_node(name)
        allocatable = {
            k: to_scheduler_units(k, parse_quantity(v))
            for k, v in node["status"]["allocatable"].items()
            if is_tracked(k)
        }
        used: dict[str, int] = {}
        for pod in pods:
            for resource, amount in pod_requests(pod).items():
                used[resource] = used.get(resource, 0) + amount
            taints = [t for t in node["spec"].get("taints", []) if t["effect"] in FILTER_EFFECTS]
            cordon_or_down = node["spec"].get("unschedulable") or any(
                t["key"].startswith("node.kubernetes.io/") for t in taints
            )
            if not cordon_or_down:  # pods predate the cordon or the outage
                assert all(tolerated_by_any(t, pod["spec"]["tolerations"]) for t in taints), pod[
                    "metadata"
                ]["name"]
            selector = pod["spec"].get("nodeSelector") or {}
            assert all(node["metadata"]["labels"].get(k) == v for k, v in selector.items())
        assert len(pods) <= int(node["status"]["allocatable"]["pods"])
        for resource, amount in used.items():
            assert amount <= allocatable.get(resource, 0), (name, resource)


def test_pending_pods_carry_the_scheduler_verdict(bundle):
    out, info = bundle
    snap = load_snapshot(out)
    pending = [p for p in snap.pods if not p["spec"].get("nodeName")]
    assert 0.005 <= len(pending) / len(snap.pods) <= 0.03
    assert {name for name, pods in info["pending"].items() if pods} == {
        c.name for c in gen_cluster.PENDING_CASES
    }
    verdicts = 0
    for pod in pending:
        spec = pod["spec"]
        events = [e for e in snap.events_for(pod) if e["reason"] == "FailedScheduling"]
        if spec.get("schedulingGates") or spec["schedulerName"] != "default-scheduler":
            assert not events
            continue
        verdicts += 1
        prefix = f"0/{len(snap.nodes)} nodes are available: "
        assert len(events) == 1 and events[0]["message"].startswith(prefix)
        (cond,) = [c for c in pod["status"]["conditions"] if c["type"] == "PodScheduled"]
        assert cond["status"] == "False" and cond["reason"] == "Unschedulable"
        assert cond["message"].startswith(prefix)
    assert verdicts >= len(pending) // 2


def test_each_pending_pod_verdict_names_its_own_claim():
    """Pods of one case share a verdict unless it quotes something of the pod's own: a missing
    claim's name differs per pod, so every message must name that pod's claim."""
    scale = gen_cluster.Scale(nodes=60, pods=900, events=2000, pending_share=0.2)
    snap, _ = gen_cluster.generate(scale, seed=7)
    checked = 0
    for pod in snap.pods:
        claims = [
            v["persistentVolumeClaim"]["claimName"]
            for v in pod["spec"].get("volumes") or ()
            if "persistentVolumeClaim" in v
        ]
        conds = [c for c in pod["status"].get("conditions") or () if c["type"] == "PodScheduled"]
        if pod["spec"].get("nodeName") or not conds or "persistentvolumeclaim" not in str(conds):
            continue
        assert f'persistentvolumeclaim "{claims[-1]}" not found' in conds[0]["message"]
        (event,) = [e for e in snap.events_for(pod) if e["reason"] == "FailedScheduling"]
        assert claims[-1] in event["message"]
        checked += 1
    assert checked >= 5


def test_crash_looping_and_oom_killed_pods_exist(bundle):
    snap = load_snapshot(bundle[0])
    last_reasons = {
        (
            cs.get("state", {}).get("waiting", {}).get("reason"),
            cs["lastState"].get("terminated", {}).get("reason"),
        )
        for p in snap.pods
        for cs in p["status"].get("containerStatuses", [])
    }
    assert ("CrashLoopBackOff", "OOMKilled") in last_reasons
    assert ("CrashLoopBackOff", "Error") in last_reasons
