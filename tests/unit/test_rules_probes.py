"""AMD3xx: batch pods are never asked for probes; kill loops and start-up budgets."""

from __future__ import annotations

import pytest
from runtime_helpers import event, findings, pod

from amldoctor.k8s.probes import settings
from amldoctor.rules._runtime import classify_probe_failure


def _serving_container(**extra) -> dict:
    return {"name": "srv", "image": "img:1", "ports": [{"containerPort": 8080}], **extra}


def _batch_pods() -> list[dict]:
    job = pod("job-pod", containers=[_serving_container()])
    job["metadata"]["ownerReferences"] = [
        {"kind": "Job", "name": "train", "uid": "j1", "controller": True, "apiVersion": "batch/v1"}
    ]
    volcano = pod("volcano-pod", containers=[_serving_container()], schedulerName="volcano")
    vj = pod("vcjob-pod", containers=[_serving_container()])
    vj["metadata"]["ownerReferences"] = [
        {
            "kind": "Job",
            "name": "x",
            "uid": "v1",
            "controller": True,
            "apiVersion": "batch.volcano.sh/v1alpha1",
        }
    ]
    aml = pod("aml-pod", containers=[_serving_container()])
    aml["metadata"]["labels"] = {"app": "web", "jobId": "3f2a"}
    never = pod("never-pod", containers=[_serving_container()], restartPolicy="Never")
    pytorch = pod("ptjob-pod", containers=[_serving_container()])
    pytorch["metadata"]["ownerReferences"] = [
        {
            "kind": "PyTorchJob",
            "name": "ddp",
            "uid": "k1",
            "controller": True,
            "apiVersion": "kubeflow.org/v1",
        }
    ]
    return [job, volcano, vj, aml, never, pytorch]


@pytest.mark.parametrize("batch_pod", _batch_pods(), ids=lambda p: p["metadata"]["name"])
def test_batch_pods_never_flagged_for_missing_readiness(batch_pod):
    batch_pod["metadata"].setdefault("labels", {})["app"] = "web"
    service = {
        "kind": "Service",
        "metadata": {"name": "web", "namespace": "ml"},
        "spec": {"selector": {"app": "web"}},
    }
    assert findings([batch_pod, service], "AMD305") == []


def test_serving_pod_without_readiness_is_flagged_and_with_it_is_not():
    bare = pod("web-1", containers=[_serving_container()])
    bare["metadata"]["labels"] = {"app": "web"}
    probed = pod(
        "web-2",
        containers=[_serving_container(readinessProbe={"httpGet": {"path": "/", "port": 8080}})],
    )
    probed["metadata"]["labels"] = {"app": "web"}
    service = {
        "kind": "Service",
        "metadata": {"name": "web", "namespace": "ml"},
        "spec": {"selector": {"app": "web"}},
    }
    found = findings([bare, probed, service], "AMD305")
    assert [f.object.name for f in found] == ["web-1"]
    assert "Service web" in found[0].message


def test_probe_defaults_and_budget():
    s = settings({"httpGet": {"path": "/health", "port": "http"}, "initialDelaySeconds": 30})
    assert (s.period, s.failure_threshold, s.timeout, s.budget) == (10, 3, 1, 60)
    assert s.target == ":http/health"


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("HTTP probe failed with statuscode: 503", "HTTP 503"),
        (
            'Get "http://10.0.0.1:80/": dial tcp 10.0.0.1:80: connect: connection refused',
            "connection refused",
        ),
        (
            'Get "http://x/": context deadline exceeded (Client.Timeout exceeded while awaiting '
            "headers)",
            "timeout",
        ),
        ("command timed out", "timeout"),
        ("", "other"),
    ],
)
def test_probe_failure_classification(text, label):
    assert classify_probe_failure(text) == label


def _model_pod(ran_seconds: int, *, startup: bool = False) -> dict:
    container = {
        "name": "model",
        "image": "img:1",
        "livenessProbe": {
            "httpGet": {"path": "/", "port": 8000},
            "initialDelaySeconds": 10,
            "periodSeconds": 10,
            "failureThreshold": 3,
        },
    }
    if startup:
        container["startupProbe"] = {"httpGet": {"path": "/", "port": 8000}, "failureThreshold": 60}
    return pod(
        "model",
        containers=[container],
        statuses=[
            {
                "name": "model",
                "restartCount": 3,
                "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                "lastState": {
                    "terminated": {
                        "reason": "Error",
                        "exitCode": 137,
                        "startedAt": "2026-11-28T08:00:00Z",
                        "finishedAt": (
                            f"2026-11-28T08:{ran_seconds // 60:02d}:{ran_seconds % 60:02d}Z"
                        ),
                    }
                },
            }
        ],
    )


@pytest.mark.parametrize(
    ("ran", "startup", "expected"),
    [(41, False, ["AMD303"]), (1500, False, ["AMD302"]), (41, True, ["AMD302"])],
)
def test_startup_budget_versus_kill_loop(ran, startup, expected):
    p = _model_pod(ran, startup=startup)
    kill = event(
        p,
        "Killing",
        "Container model failed liveness probe, will be restarted",
        count=3,
        container="model",
    )
    found = findings([p, kill], "AMD302", "AMD303", "AMD401", "AMD206")
    assert [f.rule for f in found] == expected


def test_startup_suggestion_is_computed():
    p = _model_pod(41)
    kill = event(
        p, "Killing", "Container model failed liveness probe, will be restarted", container="model"
    )
    found = findings([p, kill], "AMD303")
    assert found[0].evidence["budget_seconds"] == 40
    assert found[0].evidence["suggested_failure_threshold"] == 60
    assert "startupProbe:\n  httpGet:" in found[0].remediation


def test_unresolved_named_port_is_an_error():
    p = pod(
        "np",
        containers=[
            {
                "name": "c",
                "ports": [{"containerPort": 80, "name": "web"}],
                "readinessProbe": {"httpGet": {"port": "http"}},
                "livenessProbe": {"httpGet": {"port": "web"}},
            }
        ],
    )
    found = findings([p], "AMD304")
    assert [(f.severity.label, f.evidence["port"]) for f in found] == [("error", "http")]
