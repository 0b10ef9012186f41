"""The PVC rules index only the pods of the namespaces in scope, once per scan.

A namespace's scan holds every node-bound pod of the cluster when a pod waits; the claim rules
must neither walk those for claims nor change what they report about the namespace's own.
"""

from __future__ import annotations

from amldoctor.engine.registry import Context
from amldoctor.rules.storage_claims import claim_users
from amldoctor.snapshot import Snapshot


def _pod(ns: str, name: str, claim: str) -> dict:
    return {
        "kind": "Pod",
        "apiVersion": "v1",
        "metadata": {"name": name, "namespace": ns, "uid": f"{ns}-{name}"},
        "spec": {
            "nodeName": "n1",
            "containers": [{"name": "c", "image": "i"}],
            "volumes": [{"name": "d", "persistentVolumeClaim": {"claimName": claim}}],
        },
        "status": {"phase": "Running"},
    }


def test_claim_users_holds_the_scope_only_and_is_built_once() -> None:
    snap = Snapshot([_pod("ml", "a", "data"), _pod("other", "b", "data")])
    scoped = Context(snap, namespaces=frozenset({"ml"}))
    users = claim_users(scoped)
    assert list(users) == [("ml", "data")]
    assert claim_users(scoped) is users
    everything = claim_users(Context(snap))
    assert sorted(everything) == [("ml", "data"), ("other", "data")]
