"""`-n` and `-l` limit the scan to the objects in scope; the cluster's own findings are shown
once, in their own section, and set the exit code of a scoped scan only with --include-cluster."""

from __future__ import annotations

import json

import pytest

from amldoctor.load import load_snapshot
from tests.conftest import DEMO, run_cli

NAMESPACES = sorted(load_snapshot(DEMO).namespaces())
CLUSTER_KINDS = {"Node", "InstanceType"}


def scan_json(*args: str) -> tuple[int, dict]:
    result = run_cli("scan", "--snapshot", "fixtures/demo", "-o", "json", *args)
    assert result.returncode in (0, 1), result.stderr
    return result.returncode, json.loads(result.stdout)


@pytest.mark.parametrize("namespace", NAMESPACES)
def test_a_namespace_scan_lists_only_its_own_jobs_and_cluster_findings_do_not_fail_it(namespace):
    code, doc = scan_json("-n", namespace)
    assert all(job["namespace"] == namespace for job in doc["jobs"])
    workload = [
        f
        for f in doc["findings"]
        if f["object"]["kind"] not in CLUSTER_KINDS and f["object"]["namespace"] == namespace
    ]
    cluster_groups = {g["id"] for g in doc["groups"] if g["scope"] == "cluster"}
    outside = [
        f
        for f in doc["findings"]
        if f["object"]["namespace"] not in (None, namespace) and f["group"] not in cluster_groups
    ]
    assert not outside, outside
    errors = [
        f for f in doc["findings"] if f["severity"] == "error" and f["group"] not in cluster_groups
    ]
    assert code == (1 if errors else 0)
    assert {f["object"]["namespace"] for f in errors} <= {namespace}
    assert len(workload) >= len(errors)
    with_cluster = run_cli(
        "scan", "--snapshot", "fixtures/demo", "-n", namespace, "--include-cluster", "-o", "json"
    )
    any_error = any(f["severity"] == "error" for f in doc["findings"])
    assert with_cluster.returncode == (1 if any_error else 0)


def test_kube_system_no_longer_shows_aml_compute_jobs_as_healthy():
    _, doc = scan_json("-n", "kube-system")
    assert doc["jobs"] == []
    _, doc = scan_json("-n", "aml-compute")
    stuck = next(j for j in doc["jobs"] if j["id"].startswith("a3f81c2d"))
    assert stuck["severity"] == "error"


def test_a_selector_keeps_the_selected_pods_and_the_objects_around_them():
    _, doc = scan_json("-l", "job-name=tokenize-corpus")
    namespaced = {
        (f["object"]["kind"], f["object"]["name"])
        for f in doc["findings"]
        if f["object"]["kind"] not in CLUSTER_KINDS
        and not any(g["id"] == f["group"] and g["scope"] == "cluster" for g in doc["groups"])
    }
    assert namespaced == {
        ("Pod", "tokenize-corpus-rprhw"),
        ("PersistentVolumeClaim", "corpus-cache"),
    }


def test_a_selector_that_matches_nothing_leaves_only_the_cluster_section():
    result = run_cli("scan", "--snapshot", "fixtures/demo", "-l", "app=nothing-matches")
    assert result.returncode == 0, result.stdout
    assert "Top causes" not in result.stdout and "Cluster (" in result.stdout
