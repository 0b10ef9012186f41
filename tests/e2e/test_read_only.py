"""amldoctor never writes to a cluster: proved from the API server's audit log.

Every command that reads a cluster (scan, why-pending, dump, lint --against-cluster) runs as
each non-admin user, with full and with partial rights; then every request those users made in
this session must be a get, list or watch. The admin user is left out on purpose: the test
harness itself writes as admin.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from pathlib import Path

import pytest
import yaml
from cluster import Cluster, run_amldoctor
from harness import NO_EVENTS, NO_NODES, NS_READER, READER, ControlPlane
from objects import oom_killed_status, pod_manifest

pytestmark = pytest.mark.e2e

USERS = (READER, NO_NODES, NO_EVENTS, NS_READER)
READ_VERBS = {"get", "list", "watch"}


def test_amldoctor_only_reads(
    control_plane: ControlPlane, scheduling_cluster: Cluster, tmp_path: Path
) -> None:
    c = scheduling_cluster
    c.grant(NS_READER)
    c.node("cpu-0", cpu="4")
    c.pod("trainer", requests={"cpu": "16"})
    c.wait_unschedulable("trainer")
    c.pod("oom", node_name="cpu-0", limits={"memory": "2Gi"})
    c.set_pod_status("oom", [oom_killed_status()])
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "train"},
        "spec": {"template": pod_manifest("train", requests={"cpu": "2"})},
    }
    job["spec"]["template"]["spec"]["restartPolicy"] = "Never"
    manifest = tmp_path / "job.yaml"
    manifest.write_text(yaml.safe_dump(job))

    for user in USERS:
        kubeconfig = control_plane.kubeconfig(user)
        for args in (
            ("scan",),
            ("why-pending", "trainer"),
            ("dump", "-o", str(tmp_path / f"{user}.tar.gz")),
            ("lint", str(manifest), "--against-cluster"),
        ):
            proc = run_amldoctor(*args, kubeconfig=kubeconfig, namespace=c.namespace)
            assert proc.returncode in (0, 1), (user, args, proc.returncode, proc.stderr)
            assert "Traceback" not in proc.stderr, (user, args, proc.stderr)

    # The audit log is written as requests complete: a last request per user, made after every
    # amldoctor run ended, marks the point up to which the log must hold their requests.
    marker = f"{c.ns_path}/pods/audit-marker-{uuid.uuid4().hex[:8]}"
    for user in USERS:
        control_plane.client(user).can("GET", marker)
    deadline = time.monotonic() + 10
    while True:
        events = {u: control_plane.audit_events(u) for u in USERS}
        marked = all(any(e["requestURI"] == marker for e in evs) for evs in events.values())
        if marked or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert marked, "the audit log lacks the marker requests"
    seen = {
        u: [
            e
            for e in evs
            if e.get("userAgent", "").startswith("amldoctor/") and c.namespace in e["requestURI"]
        ]
        for u, evs in events.items()
    }
    for user in USERS:
        verbs = Counter(e["verb"] for e in events[user])
        assert set(verbs) <= READ_VERBS, (
            user,
            verbs,
            [(e["verb"], e["requestURI"]) for e in events[user] if e["verb"] not in READ_VERBS],
        )
        assert verbs["list"] > 0, (user, verbs)
        assert seen[user], f"no amldoctor request as {user} in the audit log"
    print({u: dict(Counter(e["verb"] for e in evs)) for u, evs in events.items()})
