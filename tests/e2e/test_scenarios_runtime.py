"""Running pods that fail, as the kubelet reports them, explained by amldoctor's live scan.

No kubelet runs, so each scenario writes what one would: the pod is pre-bound to a Node, its
container statuses go through the status subresource and its events carry the kubelet's reasons
and wording. amldoctor then reads all of it back through the real API server.
"""

from __future__ import annotations

from typing import Any

import pytest
from cluster import Cluster, amldoctor_json
from objects import (
    DEFAULT_IMAGE,
    crash_loop_status,
    create_config_error_status,
    image_pull_backoff_status,
    oom_killed_status,
)

pytestmark = pytest.mark.e2e

ACR_IMAGE = "mlprodacr.azurecr.io/training/pytorch-ddp:2.3.1"


def node_for(c: Cluster) -> str:
    """A Node of this test's own (node names are cluster-wide) to pre-bind pods to."""
    name = f"node-{c.owner[-6:]}"
    c.gpu_node(name, gpus=8)
    return name


def findings(c: Cluster, pod: str) -> list[dict[str, Any]]:
    report = amldoctor_json("scan", kubeconfig=c.control_plane.kubeconfig(), namespace=c.namespace)
    return [
        f
        for f in report["findings"]
        if f["object"] == {"kind": "Pod", "namespace": c.namespace, "name": pod}
    ]


def only(found: list[dict[str, Any]], *rules: str) -> dict[str, Any]:
    hits = [f for f in found if f["rule"] in rules]
    assert len(hits) == 1, (
        f"expected one of {rules}, got {[(f['rule'], f['message']) for f in found]}"
    )
    return hits[0]


def test_oom_killed_quotes_the_memory_limit(cluster: Cluster) -> None:
    c = cluster
    node = node_for(c)
    c.pod(
        "trainer",
        node_name=node,
        requests={"cpu": "4", "memory": "12Gi"},
        limits={"memory": "12Gi"},
        gpus=1,
    )
    c.set_pod_status("trainer", [oom_killed_status(restarts=4)])
    c.event(
        c.get_pod("trainer"),
        "BackOff",
        "Back-off restarting failed container trainer in pod trainer",
        count=9,
        field_path="spec.containers{trainer}",
    )
    oom = only(findings(c, "trainer"), "AMD201")
    assert "12Gi" in oom["message"], oom["message"]
    assert oom["severity"] == "error"
    assert oom["evidence"]["container"] == "trainer", oom["evidence"]


def test_liveness_kill_loop_is_not_called_oom(cluster: Cluster) -> None:
    c = cluster
    node = node_for(c)
    probe = {
        "httpGet": {"path": "/healthz", "port": 8080},
        "initialDelaySeconds": 10,
        "periodSeconds": 10,
        "failureThreshold": 3,
        "timeoutSeconds": 1,
    }
    c.create_pod(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "scorer", "labels": {"app": "scorer"}},
            "spec": {
                "nodeName": node,
                "containers": [
                    {
                        "name": "scorer",
                        "image": DEFAULT_IMAGE,
                        "ports": [{"containerPort": 8080}],
                        "resources": {
                            "requests": {"cpu": "1", "memory": "4Gi"},
                            "limits": {"memory": "4Gi"},
                        },
                        "livenessProbe": probe,
                    }
                ],
            },
        }
    )
    c.set_pod_status(
        "scorer", [crash_loop_status("scorer", restarts=7, exit_code=137, reason="Error")]
    )
    pod = c.get_pod("scorer")
    c.event(
        pod,
        "Unhealthy",
        'Liveness probe failed: Get "http://10.244.1.17:8080/healthz": '
        "context deadline exceeded (Client.Timeout exceeded while awaiting headers)",
        count=21,
        field_path="spec.containers{scorer}",
    )
    c.event(
        pod,
        "Killing",
        "Container scorer failed liveness probe, will be restarted",
        type="Normal",
        count=7,
        field_path="spec.containers{scorer}",
    )
    found = findings(c, "scorer")
    kill = only(found, "AMD302", "AMD303")
    assert "liveness" in kill["message"].lower(), kill["message"]
    assert not [f for f in found if f["rule"] == "AMD201"], found
    assert "oomkilled" not in kill["message"].lower(), kill["message"]


def test_acr_image_pull_unauthorized(cluster: Cluster) -> None:
    c = cluster
    node = node_for(c)
    c.pod("trainer", node_name=node, image=ACR_IMAGE, requests={"cpu": "1"})
    pull_error = (
        f'failed to pull and unpack image "{ACR_IMAGE}": failed to resolve reference '
        f'"{ACR_IMAGE}": failed to authorize: failed to fetch anonymous token: '
        "unexpected status from GET request to https://mlprodacr.azurecr.io/oauth2/"
        "token?scope=repository%3Atraining%2Fpytorch-ddp%3Apull&service=mlprodacr."
        "azurecr.io: 401 Unauthorized"
    )
    c.set_pod_status(
        "trainer",
        [
            image_pull_backoff_status(
                image=ACR_IMAGE,
                message=f'Back-off pulling image "{ACR_IMAGE}": ErrImagePull: {pull_error}',
            )
        ],
        phase="Pending",
    )
    pod = c.get_pod("trainer")
    c.event(
        pod,
        "Failed",
        f'Failed to pull image "{ACR_IMAGE}": {pull_error}',
        count=4,
        field_path="spec.containers{trainer}",
    )
    c.event(
        pod,
        "BackOff",
        f'Back-off pulling image "{ACR_IMAGE}"',
        type="Normal",
        count=12,
        field_path="spec.containers{trainer}",
    )
    pull = only(findings(c, "trainer"), "AMD402")
    assert pull["evidence"]["category"] == "unauthorized", pull["evidence"]
    assert "mlprodacr" in pull["message"] + pull["remediation"], pull
    assert "acr" in pull["remediation"].lower(), pull["remediation"]


def test_missing_secret_create_container_config_error(cluster: Cluster) -> None:
    c = cluster
    node = node_for(c)
    c.create_pod(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "trainer"},
            "spec": {
                "nodeName": node,
                "containers": [
                    {
                        "name": "trainer",
                        "image": DEFAULT_IMAGE,
                        "env": [
                            {
                                "name": "WANDB_API_KEY",
                                "valueFrom": {
                                    "secretKeyRef": {"name": "azureml-secrets", "key": "wandb-key"}
                                },
                            }
                        ],
                    }
                ],
            },
        }
    )
    c.set_pod_status("trainer", [create_config_error_status()], phase="Pending")
    c.event(
        c.get_pod("trainer"),
        "Failed",
        'Error: secret "azureml-secrets" not found',
        count=6,
        field_path="spec.containers{trainer}",
    )
    config = only(findings(c, "trainer"), "AMD403")
    assert config["evidence"]["name"] == "azureml-secrets", config["evidence"]
    assert "azureml-secrets" in config["message"]
    assert "azureml-secrets" in config["remediation"]


def test_crash_loop_exit_1(cluster: Cluster) -> None:
    c = cluster
    node = node_for(c)
    c.pod(
        "trainer", node_name=node, requests={"cpu": "2", "memory": "8Gi"}, limits={"memory": "8Gi"}
    )
    c.set_pod_status("trainer", [crash_loop_status(restarts=6, exit_code=1)])
    c.event(
        c.get_pod("trainer"),
        "BackOff",
        "Back-off restarting failed container trainer in pod trainer",
        count=20,
        field_path="spec.containers{trainer}",
    )
    found = findings(c, "trainer")
    crash = only(found, "AMD401")
    assert (crash["evidence"]["exit_code"], crash["evidence"]["restart_count"]) == (1, 6), crash
    assert crash["evidence"]["container"] == "trainer"
    assert not [f for f in found if f["rule"] in ("AMD201", "AMD302", "AMD303")], found
