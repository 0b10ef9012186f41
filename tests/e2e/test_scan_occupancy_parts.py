"""The node-bound pods read one LIST per namespace are the pods the one cluster-wide LIST reads.

Every collection reads the other namespaces' pods in parts (`collect.occupancy`), falling
back to the one cluster-wide LIST when the namespaces cannot be listed. Against the real API
server, on generated namespaces of bound, waiting and finished pods (seeded; pages of a few
pods so every part is paged), a scan's and why-pending's collections must hold the pods that
collection made with the one LIST holds, field for field.
"""

from __future__ import annotations

import random
from typing import Any

import pytest
from cluster import Cluster, create_namespace
from harness import READER, ControlPlane
from objects import pod_manifest

from amldoctor.collect import LiveOptions, transport
from amldoctor.collect.collector import collect, collect_for_pod, collect_live
from amldoctor.collect.occupancy import BoundPods
from amldoctor.snapshot import Snapshot

pytestmark = pytest.mark.e2e

NODES = ("cpu-0", "cpu-1", "cpu-2")


def _populate(c: Cluster, rng: random.Random, namespaces: list[str]) -> None:
    """Pods bound to the nodes, waiting (too big for any node), and finished (Succeeded or
    Failed, still bound): only the first occupy a node."""
    for ns in namespaces:
        for i in range(rng.randint(0, 9)):
            shape = rng.choice(["bound", "bound", "bound", "waiting", "Succeeded", "Failed"])
            waiting = shape == "waiting"
            manifest = pod_manifest(
                f"p{i}-{shape.lower()}",
                node_name=None if waiting else rng.choice(NODES),
                requests={"cpu": "64" if waiting else f"{rng.randint(1, 9)}00m"},
                labels={"app": f"a{rng.randint(0, 3)}"},
            )
            path = f"/api/v1/namespaces/{ns}/pods"
            c.kube.create(path, manifest)
            if shape in ("Succeeded", "Failed"):
                status = {"status": {"phase": shape}}
                c.kube.merge_patch(f"{path}/{manifest['metadata']['name']}/status", status)


def _pods(snap: Snapshot, skip_waiting_in: str) -> dict[str, dict[str, Any]]:
    """Pods by uid, less the scanned namespace's waiting ones (the scheduler may rewrite their
    status between the two reads)."""
    return {
        p["metadata"]["uid"]: p
        for p in snap.pods
        if p["metadata"]["namespace"] != skip_waiting_in or (p.get("spec") or {}).get("nodeName")
    }


_IN_PARTS = BoundPods.requests


def _whole(self: BoundPods, namespaces: list[dict] | None) -> list:
    """What a collection does when the namespaces cannot be listed: the one cluster-wide LIST."""
    return _IN_PARTS(self, None)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_parts_read_exactly_the_pods_the_cluster_wide_list_reads(
    control_plane: ControlPlane,
    scheduling_cluster: Cluster,
    monkeypatch: pytest.MonkeyPatch,
    seed: int,
) -> None:
    c = scheduling_cluster
    rng = random.Random(seed)
    for name in NODES:
        c.node(name, cpu="8")
    others = [f"{c.namespace}-o{i}" for i in range(rng.randint(2, 4))]
    for ns in others:
        create_namespace(c.kube, ns)
    try:
        _populate(c, rng, [c.namespace, *others])
        c.pod("trainer", requests={"cpu": "64"})
        c.wait_unschedulable("trainer")
        monkeypatch.setattr(transport, "PAGE_SIZE", 3)  # every part paged
        opts = LiveOptions(kubeconfig=str(control_plane.kubeconfig(READER)), namespace=c.namespace)

        with monkeypatch.context() as whole_list:  # the one cluster-wide LIST, as before
            whole_list.setattr(BoundPods, "requests", _whole)
            whole = collect_live(opts).snapshot
            whole_for_pod = collect_for_pod(opts, "trainer")
        parts_for_pod = collect_for_pod(opts, "trainer")
        opts.occupancy_when_needed = True
        parts = collect(opts)  # a scan's way, something waiting

        for before, after in ((whole, parts), (whole_for_pod, parts_for_pod)):
            assert after.all_pods_on_nodes_read() and before.all_pods_on_nodes_read()
            expected = _pods(before, c.namespace)
            found = _pods(after, c.namespace)
            assert sorted(found) == sorted(expected)
            for uid, pod in expected.items():
                assert found[uid] == pod, pod["metadata"]["name"]
        # and what occupies the nodes is the other namespaces' bound, unfinished pods
        bound = {
            (p["metadata"]["namespace"], p["metadata"]["name"])
            for p in found.values()
            if p["metadata"]["namespace"] in others
        }
        listed = {
            (ns, p["metadata"]["name"])
            for ns in others
            for p in c.kube.list(f"/api/v1/namespaces/{ns}/pods")
            if p["spec"].get("nodeName") and p["status"].get("phase") not in ("Succeeded", "Failed")
        }
        assert bound == listed
    finally:
        for ns in others:
            c.kube.delete(f"/api/v1/namespaces/{ns}/pods", gracePeriodSeconds=0)
