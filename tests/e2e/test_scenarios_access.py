"""How amldoctor reads a real API server: paging, missing permissions, bad connections, and
snapshots that must give the same answer as the live cluster.

Users (see README.md): READER reads everything, NO_NODES everything but nodes, NO_EVENTS
everything but events, NS_READER one namespace once granted.
"""

from __future__ import annotations

import json
import re
import tarfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import yaml
from cluster import Cluster, amldoctor_json, run_amldoctor
from harness import NO_EVENTS, NO_NODES, NS_READER, READER, ControlPlane, free_ports
from objects import crash_loop_status, oom_killed_status, pod_manifest

pytestmark = pytest.mark.e2e

PAGE = 500  # amldoctor's LIST page size (collect.transport.PAGE_SIZE)


def clean_failure(proc: Any, *codes: int) -> str:
    """The run failed with one of `codes` and one clear line on stderr, no traceback."""
    assert proc.returncode in codes, f"exit {proc.returncode}, stderr: {proc.stderr}"
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("amldoctor: error: "), proc.stderr
    return lines[0]


def kubeconfig_variant(
    control_plane: ControlPlane,
    tmp_path: Path,
    name: str,
    *,
    server: str | None = None,
    token: str | None = None,
) -> Path:
    """A copy of READER's kubeconfig pointing elsewhere or carrying another token."""
    config = yaml.safe_load(control_plane.kubeconfig(READER).read_text())
    if server:
        config["clusters"][0]["cluster"]["server"] = server
    if token:
        config["users"][0]["user"] = {"token": token}
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_dump_pages_through_more_pods_than_one_page(
    control_plane: ControlPlane, cluster: Cluster, tmp_path: Path
) -> None:
    c = cluster
    names = [f"worker-{i:04d}" for i in range(2 * PAGE + 100)]
    manifest = pod_manifest("x", requests={"cpu": "10m"})
    manifest["spec"]["schedulerName"] = "e2e-no-such-scheduler"  # keep kube-scheduler idle

    def create(name: str) -> None:
        c.create_pod({**manifest, "metadata": {"name": name, "labels": {"app": "paging"}}})

    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(create, names))
    bundle = tmp_path / "bundle.tar.gz"
    proc = run_amldoctor(
        "dump",
        "-o",
        str(bundle),
        kubeconfig=control_plane.kubeconfig(READER),
        namespace=c.namespace,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stderr
    with tarfile.open(bundle) as tar:
        dumped = [
            json.load(tar.extractfile(m))
            for m in tar.getmembers()
            if m.isfile() and m.name.endswith(".json")
        ]
    pods = {
        o["metadata"]["name"]
        for doc in dumped
        for o in doc.get("items", ())
        if o.get("kind") == "Pod" and o["metadata"].get("namespace") == c.namespace
    }
    assert pods == set(names), (len(pods), sorted(set(names) - pods)[:5])

    pod_lists = f"/api/v1/namespaces/{c.namespace}/pods?"
    deadline = time.monotonic() + 10
    pages: list[str] = []
    while time.monotonic() < deadline and len(pages) < 3:
        pages = [
            e["requestURI"]
            for e in control_plane.audit_events(READER)
            if e["requestURI"].startswith(pod_lists) and e["verb"] == "list"
        ]
        time.sleep(0.2)
    assert len(pages) == 3, pages
    assert sum("continue=" in uri for uri in pages) == 2, pages
    assert all(f"limit={PAGE}" in uri for uri in pages), pages


def pending_pod(c: Cluster) -> None:
    """A pod the real scheduler rejected: its only node is cordoned."""
    c.node("cpu-cordoned", unschedulable=True)
    c.pod("trainer", requests={"cpu": "2"})
    c.wait_unschedulable("trainer")


def test_without_node_access_why_pending_falls_back_to_the_scheduler_message(
    control_plane: ControlPlane, scheduling_cluster: Cluster
) -> None:
    c = scheduling_cluster
    pending_pod(c)
    kubeconfig = control_plane.kubeconfig(NO_NODES)
    proc = run_amldoctor(
        "why-pending", "trainer", "-o", "json", kubeconfig=kubeconfig, namespace=c.namespace
    )
    assert proc.returncode in (0, 1), proc.stderr
    assert "Traceback" not in proc.stderr
    doc = json.loads(proc.stdout)
    limited = doc["limited_view"]
    assert limited, doc
    assert "skipped" in limited["reason"] and "nodes" in limited["reason"], limited
    assert "forbidden" in limited["reason"], limited
    causes = [(cause["count"], cause["reason"]) for cause in limited["causes"]]
    assert causes == [(1, "node(s) were unschedulable")], limited
    assert doc["nodes"] == []

    table = run_amldoctor("why-pending", "trainer", kubeconfig=kubeconfig, namespace=c.namespace)
    assert table.returncode in (0, 1) and "Traceback" not in table.stderr, table.stderr
    assert "skipped" in table.stdout and "forbidden" in table.stdout, table.stdout

    report = amldoctor_json("scan", kubeconfig=kubeconfig, namespace=c.namespace)
    assert [m for m in report["missing"] if m["kind"] == "Node" and m["status"] == 403], report
    skipped = report["skipped_rules"]
    assert skipped and all("Node" in s["reason"] for s in skipped), skipped
    assert any(s["rule"].startswith("AMD6") for s in skipped), skipped
    amd101 = [f for f in report["findings"] if f["rule"] == "AMD101"]
    assert len(amd101) == 1 and "skipped" in amd101[0]["evidence"]["node_analysis"], amd101


def test_without_events_scan_works_and_says_so(
    control_plane: ControlPlane, cluster: Cluster
) -> None:
    c = cluster
    node = f"node-{c.owner[-6:]}"
    c.node(node)
    c.pod("trainer", node_name=node, limits={"memory": "8Gi"})
    c.set_pod_status("trainer", [oom_killed_status()])
    kubeconfig = control_plane.kubeconfig(NO_EVENTS)
    report = amldoctor_json("scan", kubeconfig=kubeconfig, namespace=c.namespace)
    events = [m for m in report["missing"] if m["kind"] == "Event"]
    assert events and events[0]["status"] == 403 and "forbidden" in events[0]["reason"], report
    assert [f for f in report["findings"] if f["rule"] == "AMD201"], report["findings"]
    table = run_amldoctor("scan", kubeconfig=kubeconfig, namespace=c.namespace)
    assert table.returncode == 1 and "Traceback" not in table.stderr, table.stderr
    assert "Event" in table.stdout and "forbidden" in table.stdout, table.stdout


def test_namespace_reader_scans_its_namespace_only(
    control_plane: ControlPlane, cluster: Cluster
) -> None:
    c = cluster
    c.grant(NS_READER)
    node = f"node-{c.owner[-6:]}"
    c.node(node)
    c.pod("trainer", node_name=node)
    c.set_pod_status("trainer", [crash_loop_status()])
    kubeconfig = control_plane.kubeconfig(NS_READER)
    report = amldoctor_json("scan", kubeconfig=kubeconfig, namespace=c.namespace)
    assert [
        f["rule"]
        for f in report["findings"]
        if f["object"]["name"] == "trainer" and f["rule"] == "AMD401"
    ] == ["AMD401"], report["findings"]
    assert [m for m in report["missing"] if m["kind"] == "Node"], report["missing"]

    other = run_amldoctor("scan", kubeconfig=kubeconfig, namespace="kube-system")
    line = clean_failure(other, 2, 3)
    assert "kube-system" in line and "forbidden" in line.lower(), line


def test_unreachable_server_fails_fast(control_plane: ControlPlane, tmp_path: Path) -> None:
    (port,) = free_ports(1)
    kubeconfig = kubeconfig_variant(
        control_plane, tmp_path, "closed", server=f"https://127.0.0.1:{port}"
    )
    timeout = 2.0
    started = time.monotonic()
    proc = run_amldoctor(
        "scan", "--request-timeout", str(timeout), kubeconfig=kubeconfig, namespace="default"
    )
    elapsed = time.monotonic() - started
    line = clean_failure(proc, 3)
    print(f"unreachable server: exit 3 after {elapsed:.1f}s")
    assert elapsed < timeout + 5, f"took {elapsed:.1f}s"
    assert f"127.0.0.1:{port}" in line and "refused" in line, line


def test_unknown_namespace(control_plane: ControlPlane) -> None:
    proc = run_amldoctor(
        "scan", kubeconfig=control_plane.kubeconfig(READER), namespace="no-such-namespace"
    )
    line = clean_failure(proc, 2)
    assert "no-such-namespace" in line and "does not exist" in line, line


def test_bad_token(control_plane: ControlPlane, tmp_path: Path) -> None:
    kubeconfig = kubeconfig_variant(control_plane, tmp_path, "badtoken", token="0" * 32)
    for command in (("scan",), ("why-pending", "trainer"), ("dump", "-o", str(tmp_path / "b"))):
        proc = run_amldoctor(*command, kubeconfig=kubeconfig, namespace="default")
        line = clean_failure(proc, 3)
        assert "401" in line, (command, line)


# Ages in messages count from each capture's own instant ("21s before capture", "Pending for
# 3m"); the live scan and the dump are two captures a moment apart.
AGE = re.compile(r"\b\d+[smhd]( before capture)|( for )\d+[smhd]\b")


def finding_keys(report: dict[str, Any]) -> set[tuple[str, str, str, str, str]]:
    return {
        (
            f["rule"],
            f["object"]["kind"],
            f["object"]["namespace"],
            f["object"]["name"],
            AGE.sub(lambda m: f"{m.group(2) or ''}AGE{m.group(1) or ''}", f["message"]),
        )
        for f in report["findings"]
    }


def test_snapshot_bundle_gives_the_live_findings(
    control_plane: ControlPlane, cluster: Cluster, tmp_path: Path
) -> None:
    c = cluster
    node = f"node-{c.owner[-6:]}"
    c.gpu_node(node, gpus=4)
    c.pod("oom", node_name=node, limits={"memory": "16Gi"}, gpus=1)
    c.set_pod_status("oom", [oom_killed_status(restarts=5)])
    c.pod("crash", node_name=node, requests={"cpu": "1"})
    c.set_pod_status("crash", [crash_loop_status(exit_code=2)])
    c.event(
        c.get_pod("crash"),
        "BackOff",
        "Back-off restarting failed container trainer",
        count=11,
        field_path="spec.containers{trainer}",
    )
    gated = pod_manifest("gated", requests={"cpu": "1"})
    gated["spec"]["schedulingGates"] = [{"name": "amldoctor.e2e/hold"}]
    c.create_pod(gated)

    kubeconfig = control_plane.kubeconfig(READER)
    live = amldoctor_json("scan", kubeconfig=kubeconfig, namespace=c.namespace)
    bundle = tmp_path / "bundle.tar.gz"
    proc = run_amldoctor("dump", "-o", str(bundle), kubeconfig=kubeconfig, namespace=c.namespace)
    assert proc.returncode == 0, proc.stderr
    offline = amldoctor_json("scan", "--snapshot", str(bundle))
    assert finding_keys(live), live
    assert {"AMD201", "AMD401", "AMD102"} <= {f["rule"] for f in live["findings"]}
    assert finding_keys(offline) == finding_keys(live)
    assert offline["skipped_rules"] == live["skipped_rules"]
    assert offline["missing"] == live["missing"]
