"""No AML extension, or odd AML objects: one note at most, and nothing ever crashes."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from amldoctor.commands.jobview import explain_job, group_by_job
from amldoctor.engine.registry import iter_rules
from amldoctor.engine.runner import run_rules
from amldoctor.snapshot import Missing, Snapshot

T = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
AML_CODES = {r.code for r in iter_rules() if r.code.startswith("AMD7")}


def node(name="n1"):
    return {
        "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.azure.com/agentpool": "cpu"}},
        "spec": {},
        "status": {
            "allocatable": {"cpu": "8", "memory": "32Gi", "pods": "110"},
            "conditions": [{"type": "Ready", "status": "True"}],
        },
    }


def plain_pod(name="web", labels=None):
    return {
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "apps", "labels": labels or {"app": "web"}},
        "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "nginx:1.27"}]},
        "status": {
            "phase": "Running",
            "containerStatuses": [
                {"name": "c", "ready": True, "restartCount": 0, "state": {"running": {}}}
            ],
        },
    }


def not_installed(kind, plural, group, version="v1alpha1", namespace=None):
    return Missing(
        kind,
        f"not installed: the cluster does not serve {plural}.{group} ({group}/{version})",
        namespace,
        404,
    )


CRDS_ABSENT = [
    not_installed("InstanceType", "instancetypes", "amlarc.azureml.com"),
    not_installed("AmlJob", "amljobs", "amlarc.azureml.com", namespace="apps"),
    not_installed("PodGroup", "podgroups", "scheduling.volcano.sh", "v1beta1", "apps"),
    not_installed("Queue", "queues", "scheduling.volcano.sh", "v1beta1"),
]


def aml_report(snap):
    report = run_rules(snap)
    crashed = [
        n for n in report.notes if "failed on this snapshot" in n and n.split()[1] in AML_CODES
    ]
    assert not crashed, crashed
    return report


def test_crds_absent_is_said_once_and_other_rules_run():
    snap = Snapshot(
        [node(), plain_pod()],
        captured_at=T,
        missing=CRDS_ABSENT,
        collected_kinds={"Pod", "Node", "Event"},
    )
    report = aml_report(snap)
    aml = [f for f in report.findings if f.rule in AML_CODES]
    assert [f.rule for f in aml] == ["AMD701"]
    assert aml[0].severity.label == "info"
    assert "AzureML extension not installed" in aml[0].message
    assert not [s for s in report.skipped if s.rule in AML_CODES]
    assert group_by_job(snap, report.findings, snap.pods) == []


def test_crds_absent_with_aml_pods_is_a_warning():
    pod = plain_pod("trainer", {"ml.azure.com/compute": "k8s", "jobId": "abc"})
    snap = Snapshot([node(), pod], captured_at=T, missing=CRDS_ABSENT)
    finding = next(f for f in aml_report(snap).findings if f.rule == "AMD701")
    assert finding.severity.label == "warning" and "1 pods carry AML labels" in finding.message


def test_cluster_without_aml_gets_no_aml_output():
    snap = Snapshot([node(), plain_pod()], captured_at=T)
    report = aml_report(snap)
    assert not [f for f in report.findings if f.rule in AML_CODES]
    assert not [s for s in report.skipped if s.rule in AML_CODES]


MALFORMED = [
    {
        "apiVersion": "amlarc.azureml.com/v1alpha1",
        "kind": "InstanceType",
        "metadata": {"name": "a"},
        "spec": None,
    },
    {
        "apiVersion": "amlarc.azureml.com/v1alpha1",
        "kind": "InstanceType",
        "metadata": {"name": "b"},
        "spec": {"nodeSelector": "gpu", "resources": {"requests": {"cpu": "x"}, "limits": ["1"]}},
    },
    {"apiVersion": "amlarc.azureml.com/v1alpha1", "kind": "InstanceType"},
    {
        "apiVersion": "scheduling.volcano.sh/v1beta1",
        "kind": "PodGroup",
        "metadata": {
            "name": "apps-abc",
            "namespace": "apps",
            "labels": {"jobId": "abc"},
            "creationTimestamp": "yesterday",
            "ownerReferences": "none",
        },
        "spec": {"minMember": -3, "queue": ["q"], "minResources": "lots"},
        "status": {"phase": "Pending", "conditions": ["x", {"status": "True", "message": 5}]},
    },
    {
        "apiVersion": "scheduling.volcano.sh/v1beta1",
        "kind": "PodGroup",
        "metadata": {"namespace": "apps"},
        "spec": "?",
        "status": None,
    },
    {
        "apiVersion": "batch.volcano.sh/v1alpha1",
        "kind": "Job",
        "metadata": {"name": "apps-abc", "namespace": "apps"},
        "spec": {"tasks": {"worker": 1}},
    },
    {
        "apiVersion": "amlarc.azureml.com/v1alpha1",
        "kind": "AmlJob",
        "metadata": {"name": "abc", "namespace": "apps"},
        "spec": {"job": {"options": {"envs": {"AZUREML_NODE_COUNT": "many"}}}},
    },
    {
        "apiVersion": "scheduling.volcano.sh/v1beta1",
        "kind": "Queue",
        "metadata": {"name": "default"},
        "spec": {"capability": {"cpu": "none"}},
        "status": {"state": 3},
    },
    {
        "kind": "Pod",
        "metadata": {
            "name": "apps-abc-worker-0",
            "namespace": "apps",
            "labels": {"jobId": "abc", "ml.azure.com/run-id": "r1"},
            "annotations": {"scheduling.k8s.io/group-name": "apps-abc"},
        },
        "spec": {
            "schedulerName": "volcano",
            "containers": [
                {
                    "name": "x-execution-wrapper",
                    "resources": {"limits": {"memory": "2Gi", "cpu": "two"}},
                }
            ],
        },
        "status": {"phase": "Pending", "containerStatuses": "none"},
    },
    {
        "kind": "Pod",
        "metadata": {
            "name": "ep-d-1",
            "namespace": "apps",
            "labels": {"isazuremlapp": "true", "ml.azure.com/endpoint-name": "ep"},
        },
        "spec": {
            "containers": [{"name": "inference-server", "livenessProbe": "yes"}],
            "initContainers": [None],
        },
        "status": {
            "phase": "Running",
            "initContainerStatuses": [{"name": "storageinitializer-x", "state": "bad"}],
        },
    },
    {
        "kind": "ConfigMap",
        "metadata": {"name": "arcml-healthcheck", "namespace": "azureml"},
        "data": None,
    },
]


def test_malformed_aml_objects_never_crash_rules_or_views():
    snap = Snapshot([node(), *MALFORMED], captured_at=T)
    report = aml_report(snap)
    invalid = {f.object.name for f in report.findings if f.rule == "AMD705"}
    assert {"a", "b", ""} <= invalid  # the nameless one is reported too
    jobs = group_by_job(snap, report.findings, None)
    json.dumps(jobs)
    assert {j["id"] for j in jobs} >= {"abc"}
    explained = explain_job(snap, "abc")
    json.dumps(explained)
    assert explained["job"]["id"] == "abc"
