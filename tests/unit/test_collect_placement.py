"""A namespace's scan lists what only a placement question reads only when something waits.

`kinds.PLACEMENT_ONLY` (CSI nodes, DRA, budgets, priority and runtime classes, Karpenter) feed
the scheduler simulation and the new-node question of a waiting pod or gang; PersistentVolumes
and StorageClasses feed them and the namespace's PVC rules. Each case checks which were
requested from the fake API server, that a kind left unread is not reported missing, and that a
forbidden one still is once it is read.
"""

from __future__ import annotations

import pytest

from amldoctor.collect import LiveOptions
from amldoctor.collect.collector import collect
from amldoctor.collect.kinds import CLAIM_STORAGE, PLACEMENT_ONLY, Resource
from tests.unit import test_collect
from tests.unit.test_collect import kubeconfig, pod, populate

# The fake API server and the no-retry-sleep guard of the collector's tests.
cluster = test_collect.cluster
no_sleep = test_collect.no_sleep

PVCS = "/api/v1/namespaces/ml/persistentvolumeclaims"
CLAIM = {"metadata": {"name": "data", "namespace": "ml", "uid": "pvc-1"}, "spec": {}}


def _path(res: Resource) -> str:
    return res.path("ml")


def _requested(fake, resources: tuple[Resource, ...]) -> set[str]:
    asked = {p for p, _, _ in fake.requests}
    return {r.name for r in resources if _path(r) in asked}


def _scan(fake, tmp_path):
    opts = LiveOptions(kubeconfig=str(kubeconfig(tmp_path, fake.url)), request_timeout=2.0)
    opts.occupancy_when_needed = True
    return collect(opts)


# name -> (the namespace's pods, its claims or None when forbidden, placement?, storage?)
CASES = {
    "nothing waits, no claims": ([pod("a")], [], False, False),
    "nothing waits, a claim": ([pod("a")], [CLAIM], False, True),
    "nothing waits, claims forbidden": ([pod("a")], None, False, True),
    "a pod waits, no claims": ([pod("a"), pod("w", node=None, phase="Pending")], [], True, True),
}


@pytest.mark.parametrize("case", CASES)
def test_placement_kinds_are_listed_only_for_a_waiting_pod(cluster, tmp_path, case):
    own, claims, placement, storage = CASES[case]
    populate(cluster)
    cluster.lists["/api/v1/namespaces/ml/pods"] = own
    if claims is None:
        cluster.forced[PVCS] = 403
    else:
        cluster.lists[PVCS] = claims
    snap = _scan(cluster, tmp_path)

    names = {r.name for r in PLACEMENT_ONLY}
    assert _requested(cluster, PLACEMENT_ONLY) == (names if placement else set())
    assert _requested(cluster, CLAIM_STORAGE) == (
        {r.name for r in CLAIM_STORAGE} if storage else set()
    )
    unread = names | ({r.name for r in CLAIM_STORAGE} if not storage else set())
    if not placement:
        # Left unread because nothing could need them: not "could not be checked".
        assert not [m for m in snap.missing if m.kind in unread]
        assert not any(snap.collected(k) for k in unread)
    else:
        assert all(snap.collected(k) for k in names)
    assert snap.collected("Pod") and snap.collected("PersistentVolumeClaim") is (claims is not None)


def test_a_forbidden_placement_kind_degrades_once_read(cluster, tmp_path):
    populate(cluster)
    cluster.lists["/api/v1/namespaces/ml/pods"] = [pod("w", node=None, phase="Pending")]
    cluster.forced["/apis/storage.k8s.io/v1/csinodes"] = 403
    snap = _scan(cluster, tmp_path)
    miss = snap.missing_for("CSINode")
    assert miss is not None and miss.status == 403 and "forbidden" in miss.reason
    assert snap.collected("DeviceClass")


def test_karpenter_not_installed_is_said_only_when_a_pod_waits(cluster, tmp_path):
    """The NodePool/NodeClaim 404s ("not installed") belong to the new-node question only."""
    populate(cluster)
    cluster.forced["/apis/karpenter.sh/v1/nodepools"] = 404
    quiet = _scan(cluster, tmp_path)
    assert quiet.missing_for("NodePool") is None
    cluster.requests.clear()
    cluster.lists["/api/v1/namespaces/ml/pods"] = [pod("w", node=None, phase="Pending")]
    waiting = _scan(cluster, tmp_path)
    miss = waiting.missing_for("NodePool")
    assert miss is not None and miss.status == 404 and miss.reason.startswith("not installed")
