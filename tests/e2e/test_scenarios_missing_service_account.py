"""A Job and a ReplicaSet whose pods name a ServiceAccount that does not exist.

The shared e2e apiserver runs without ServiceAccount admission (its tests create pods in
namespaces with no `default` ServiceAccount), so this scenario runs on a dedicated control plane
whose apiserver does run it, with kube-controller-manager making each namespace's `default`
ServiceAccount. The real Job and ReplicaSet controllers get the real refusal; `scan` must name the
account and the fix, and leave alone a Job whose account exists.
"""

from __future__ import annotations

import time

import pytest
from cluster import Cluster, amldoctor_json
from test_scenarios_never_created import _template, job, wait_failed_create

pytestmark = pytest.mark.e2e


def wait_service_account(c: Cluster, name: str, timeout: float = 30) -> None:
    """The serviceaccount controller makes `default` shortly after the namespace appears."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(
            sa["metadata"]["name"] == name for sa in c.kube.list(f"{c.ns_path}/serviceaccounts")
        ):
            return
        time.sleep(0.2)
    raise AssertionError(f"no ServiceAccount {c.namespace}/{name} after {timeout}s")


def wait_job_pod(c: Cluster, job_name: str, timeout: float = 30) -> dict:
    """The pod the Job controller created (admitted with the namespace's `default` account)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pods = c.kube.list(f"{c.ns_path}/pods", labelSelector=f"job-name={job_name}")
        if pods:
            return pods[0]
        time.sleep(0.2)
    raise AssertionError(f"Job {job_name} made no pod within {timeout}s")


def test_missing_service_account_refuses_job_and_replicaset(
    service_account_cluster: Cluster,
) -> None:
    c = service_account_cluster
    wait_service_account(c, "default")
    job(c, "trainer", gpus=1, service_account="trainer-sa")
    template = _template("scorer", service_account="scorer-sa")
    c.kube.create(
        f"/apis/apps/v1/namespaces/{c.namespace}/replicasets",
        {
            "metadata": {"name": "scorer"},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "scorer"}},
                     "template": template},
        },
    )  # fmt: skip
    job(c, "control")  # the `default` account exists: its pod is created (and waits, no Node)

    assert wait_job_pod(c, "control")["spec"].get("serviceAccountName") == "default"
    messages = {
        ("Job", "trainer"): wait_failed_create(c, "Job", "trainer"),
        ("ReplicaSet", "scorer"): wait_failed_create(c, "ReplicaSet", "scorer"),
    }
    report = amldoctor_json("scan", kubeconfig=c.control_plane.kubeconfig(), namespace=c.namespace)
    amd104 = {
        (f["object"]["kind"], f["object"]["name"]): f
        for f in report["findings"]
        if f["rule"] == "AMD104"
    }
    assert set(amd104) == set(messages), amd104
    for (kind, name), message in messages.items():
        account = f"{name}-sa"
        finding = amd104[(kind, name)]
        ev = finding["evidence"]
        # The exact text the real ServiceAccount admission plugin gives (the shape the AMD104
        # fixtures and the classifier's unit tests use).
        assert message == (
            f'Error creating: pods "{name}-" is forbidden: error looking up service account '
            f'{c.namespace}/{account}: serviceaccount "{account}" not found'
        )
        assert ev["class"] == "service-account", (message, ev)
        assert (ev["namespace"], ev["name"]) == (c.namespace, account)
        assert ev["pods_existing"] == 0 and ev["pods_wanted"] == 1
        assert message.endswith(ev["refusal"])
        assert f"ServiceAccount {c.namespace}/{account} does not exist" in finding["message"]
        assert (
            f"kubectl create serviceaccount {account} -n {c.namespace}" in (finding["remediation"])
        )
        assert "serviceAccountName" in finding["remediation"]
