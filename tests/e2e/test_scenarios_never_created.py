"""Workloads whose pods are never created, refused by the real admission plugins.

kube-controller-manager's Job, ReplicaSet and StatefulSet controllers try to create pods; the real
ResourceQuota, LimitRanger, PodSecurity and ValidatingAdmissionPolicy admission, and a validating
webhook served by the test itself (called by the real apiserver), refuse them, and
the controllers write the FailedCreate events (and ReplicaFailure conditions) amldoctor reads.
Each scenario checks that `scan` names the controller, the class, the numbers the API server
quoted, and the fix.
"""

from __future__ import annotations

import base64
import json
import ssl
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from cluster import Cluster, amldoctor_json
from objects import pod_manifest

pytestmark = pytest.mark.e2e


def _template(name: str, **kwargs: Any) -> dict[str, Any]:
    pod = pod_manifest(name, **kwargs)
    return {"metadata": {"labels": {"app": name}}, "spec": pod["spec"]}


def job(c: Cluster, name: str, parallelism: int = 1, **kwargs: Any) -> dict[str, Any]:
    template = _template(name, **kwargs)
    template["spec"]["restartPolicy"] = "Never"
    return c.kube.create(
        f"/apis/batch/v1/namespaces/{c.namespace}/jobs",
        {
            "metadata": {"name": name},
            "spec": {"parallelism": parallelism, "completions": parallelism, "backoffLimit": 0,
                     "template": template},
        },
    )  # fmt: skip


def deployment(c: Cluster, name: str, replicas: int = 1, **kwargs: Any) -> dict[str, Any]:
    return c.kube.create(
        f"/apis/apps/v1/namespaces/{c.namespace}/deployments",
        {
            "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": _template(name, **kwargs)},
        },
    )  # fmt: skip


def statefulset(c: Cluster, name: str, **kwargs: Any) -> dict[str, Any]:
    return c.kube.create(
        f"/apis/apps/v1/namespaces/{c.namespace}/statefulsets",
        {
            "metadata": {"name": name},
            "spec": {"replicas": 1, "serviceName": name, "selector": {"matchLabels": {"app": name}},
                     "template": _template(name, **kwargs)},
        },
    )  # fmt: skip


def wait_failed_create(c: Cluster, kind: str, name: str, timeout: float = 45) -> str:
    """The controller's FailedCreate message, as the real controller wrote it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        events = c.events_for(name, "FailedCreate", kind=kind)
        if events:
            return events[-1]["message"]
        time.sleep(0.3)
    raise AssertionError(f"no FailedCreate event on {kind} {name} within {timeout}s")


def wait_quota_ready(c: Cluster, name: str, timeout: float = 30) -> dict[str, Any]:
    """The resourcequota controller fills status.hard; admission enforces only from then on."""
    path = f"{c.ns_path}/resourcequotas/{name}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        quota = c.kube.get(path)
        if (quota.get("status") or {}).get("hard"):
            return quota
        time.sleep(0.2)
    raise AssertionError(f"ResourceQuota {name} has no status.hard after {timeout}s")


def findings(c: Cluster, rule: str) -> list[dict[str, Any]]:
    report = amldoctor_json("scan", kubeconfig=c.control_plane.kubeconfig(), namespace=c.namespace)
    return [f for f in report["findings"] if f["rule"] == rule]


def one_finding(c: Cluster, rule: str, kind: str, name: str) -> dict[str, Any]:
    found = [
        f for f in findings(c, rule) if f["object"]["kind"] == kind and f["object"]["name"] == name
    ]
    assert len(found) == 1, found
    return found[0]


def test_gpu_quota_refuses_second_job(controller_cluster: Cluster) -> None:
    c = controller_cluster
    c.kube.create(
        f"{c.ns_path}/resourcequotas",
        {"metadata": {"name": "gpu-quota"}, "spec": {"hard": {"requests.nvidia.com/gpu": "4"}}},
    )
    wait_quota_ready(c, "gpu-quota")
    job(c, "first", gpus=4)  # admitted: its pod holds the namespace's 4 GPUs while Pending
    job(c, "second", gpus=4)
    message = wait_failed_create(c, "Job", "second")
    assert "exceeded quota: gpu-quota" in message, message

    finding = one_finding(c, "AMD104", "Job", "second")
    ev = finding["evidence"]
    assert ev["class"] == "quota"
    assert ev["quota"] == "gpu-quota"
    assert ev["resources"] == [
        {"resource": "requests.nvidia.com/gpu", "requested": "4", "used": "4", "limited": "4"}
    ]
    assert ev["refusal"] in message
    assert "ResourceQuota " + c.namespace + "/gpu-quota" in finding["message"]
    assert "spec.hard[requests.nvidia.com/gpu]" in finding["remediation"]
    # The first Job made its pod: nothing to report about it.
    assert not [f for f in findings(c, "AMD104") if f["object"]["name"] == "first"]

    quota = one_finding(c, "AMD105", "ResourceQuota", "gpu-quota")
    assert quota["evidence"]["lines"] == [
        {"resource": "requests.nvidia.com/gpu", "used": "4", "hard": "4"}
    ]


def test_quota_requires_declared_limits(controller_cluster: Cluster) -> None:
    c = controller_cluster
    c.kube.create(
        f"{c.ns_path}/resourcequotas",
        {"metadata": {"name": "mem-quota"}, "spec": {"hard": {"limits.memory": "8Gi"}}},
    )
    wait_quota_ready(c, "mem-quota")
    job(c, "eval", requests={"cpu": "1"})
    message = wait_failed_create(c, "Job", "eval")
    finding = one_finding(c, "AMD104", "Job", "eval")
    assert finding["evidence"]["class"] == "quota-needs-requests", message
    assert finding["evidence"]["must"] == ["limits.memory"]
    assert "limits.memory" in finding["remediation"]


def test_pod_security_restricted_refuses_deployment(controller_cluster: Cluster) -> None:
    c = controller_cluster
    c.kube.merge_patch(
        c.ns_path, {"metadata": {"labels": {"pod-security.kubernetes.io/enforce": "restricted"}}}
    )
    deployment(c, "scorer", replicas=2, requests={"cpu": "100m"})
    # The Deployment controller makes the ReplicaSet; the ReplicaSet controller is refused.
    deadline = time.monotonic() + 45
    rs_name = None
    while time.monotonic() < deadline and rs_name is None:
        items = c.kube.list(f"/apis/apps/v1/namespaces/{c.namespace}/replicasets")
        rs_name = items[0]["metadata"]["name"] if items else None
        time.sleep(0.3)
    assert rs_name, "no ReplicaSet was created"
    message = wait_failed_create(c, "ReplicaSet", rs_name)
    assert 'violates PodSecurity "restricted:latest"' in message, message

    finding = one_finding(c, "AMD104", "ReplicaSet", rs_name)
    ev = finding["evidence"]
    assert ev["class"] == "pod-security"
    assert ev["level"] == "restricted"
    to_set = {check["set"] for check in ev["checks"]}
    assert "securityContext.allowPrivilegeEscalation=false" in to_set, ev["checks"]
    assert "securityContext.runAsNonRoot=true" in to_set, ev["checks"]
    assert "owned by Deployment scorer" in finding["message"]
    assert "securityContext.allowPrivilegeEscalation=false" in finding["remediation"]
    assert "(0 of 2 pods exist)" in finding["message"]


def test_limit_range_maximum_refuses_statefulset(controller_cluster: Cluster) -> None:
    c = controller_cluster
    c.kube.create(
        f"{c.ns_path}/limitranges",
        {
            "metadata": {"name": "per-container-max"},
            "spec": {"limits": [{"type": "Container", "max": {"memory": "1Gi"}}]},
        },
    )
    statefulset(c, "feature-store", limits={"memory": "2Gi"})
    message = wait_failed_create(c, "StatefulSet", "feature-store")
    finding = one_finding(c, "AMD104", "StatefulSet", "feature-store")
    ev = finding["evidence"]
    assert ev["class"] == "limit-range", message
    assert ev["violations"] == [
        {"bound": "maximum", "resource": "memory", "scope": "Container", "field": "limit",
         "allowed": "1Gi", "actual": "2Gi"}
    ]  # fmt: skip
    assert f"LimitRange {c.namespace}/per-container-max" in finding["message"]
    assert "resources.limits.memory to at most 1Gi" in finding["remediation"]


def test_admission_policy_denies_job(controller_cluster: Cluster) -> None:
    c = controller_cluster
    name = f"require-owner-{c.namespace}"[:60]
    c.kube.create(
        "/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicies",
        {
            "metadata": {"name": name},
            "spec": {
                "failurePolicy": "Fail",
                "matchConstraints": {
                    "resourceRules": [{"apiGroups": [""], "apiVersions": ["v1"],
                                       "operations": ["CREATE"], "resources": ["pods"]}]
                },
                "validations": [{"expression": "has(object.metadata.labels) && "
                                 "'owner' in object.metadata.labels",
                                 "message": "pods must carry an owner label"}],
            },
        },
    )  # fmt: skip
    c._cluster_scoped.append(
        f"/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicies/{name}"
    )
    c.kube.create(
        "/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicybindings",
        {
            "metadata": {"name": name},
            "spec": {
                "policyName": name,
                "validationActions": ["Deny"],
                "matchResources": {
                    "namespaceSelector": {
                        "matchLabels": {"kubernetes.io/metadata.name": c.namespace}
                    }
                },
            },
        },
    )
    c._cluster_scoped.append(
        f"/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicybindings/{name}"
    )
    # The policy takes effect once the apiserver's policy informer has it: retry the Job.
    deadline = time.monotonic() + 45
    message = ""
    attempt = 0
    while time.monotonic() < deadline:
        attempt += 1
        job(c, f"preprocess-{attempt}", requests={"cpu": "100m"})
        try:
            message = wait_failed_create(c, "Job", f"preprocess-{attempt}", timeout=5)
            break
        except AssertionError:
            continue
    assert "ValidatingAdmissionPolicy" in message, message
    finding = one_finding(c, "AMD104", "Job", f"preprocess-{attempt}")
    ev = finding["evidence"]
    assert ev["class"] == "admission-policy"
    assert ev["policy"] == name
    assert ev["reason"] == "pods must carry an owner label"
    assert name in finding["remediation"]


def _webhook_cert(c: Cluster, workdir: Path) -> tuple[Path, Path]:
    """A serving cert for 127.0.0.1 signed by the control plane's CA (which the apiserver's
    webhook client is told to trust through caBundle)."""
    pki = c.control_plane.pki
    key, csr, crt, ext = (workdir / n for n in ("hook.key", "hook.csr", "hook.crt", "hook.ext"))
    ext.write_text(
        "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n"
        "extendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1\n"
    )
    for args in (
        ["req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr, "-subj", "/CN=hook"],
        ["x509", "-req", "-in", csr, "-CA", pki / "ca.crt", "-CAkey", pki / "ca.key",
         "-CAcreateserial", "-out", crt, "-days", "1", "-extfile", ext],
    ):  # fmt: skip
        subprocess.run(["openssl", *map(str, args)], check=True, capture_output=True)
    return crt, key


class _Deny(BaseHTTPRequestHandler):
    """A validating webhook that refuses every pod without an `owner` label."""

    def do_POST(self) -> None:
        review = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        labels = review["request"]["object"]["metadata"].get("labels") or {}
        allowed = "owner" in labels
        body = json.dumps(
            {
                "apiVersion": "admission.k8s.io/v1",
                "kind": "AdmissionReview",
                "response": {
                    "uid": review["request"]["uid"],
                    "allowed": allowed,
                    "status": {"code": 403, "message": "pods must carry an owner label"},
                },
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:  # quiet
        pass


def test_webhook_denies_job(controller_cluster: Cluster, tmp_path: Path) -> None:
    c = controller_cluster
    crt, key = _webhook_cert(c, tmp_path)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Deny)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(crt, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    name = f"owner.{c.namespace}.amldoctor.test"[:63]
    path = "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations"
    ca = base64.b64encode((c.control_plane.pki / "ca.crt").read_bytes()).decode()
    try:
        c.kube.create(
            path,
            {
                "metadata": {"name": name},
                "webhooks": [
                    {
                        "name": name,
                        "clientConfig": {
                            "url": f"https://127.0.0.1:{server.server_address[1]}/validate",
                            "caBundle": ca,
                        },
                        "rules": [
                            {
                                "apiGroups": [""],
                                "apiVersions": ["v1"],
                                "operations": ["CREATE"],
                                "resources": ["pods"],
                            }
                        ],
                        "namespaceSelector": {
                            "matchLabels": {"kubernetes.io/metadata.name": c.namespace}
                        },
                        "sideEffects": "None",
                        "admissionReviewVersions": ["v1"],
                        "failurePolicy": "Fail",
                        "timeoutSeconds": 5,
                    }
                ],
            },
        )
        c._cluster_scoped.append(f"{path}/{name}")
        deadline = time.monotonic() + 45
        message, attempt = "", 0
        while time.monotonic() < deadline and not message:
            attempt += 1
            job(c, f"preprocess-{attempt}", requests={"cpu": "100m"})
            try:
                message = wait_failed_create(c, "Job", f"preprocess-{attempt}", timeout=5)
            except AssertionError:
                continue
        assert f'admission webhook "{name}" denied the request' in message, message
        finding = one_finding(c, "AMD104", "Job", f"preprocess-{attempt}")
        ev = finding["evidence"]
        assert ev["class"] == "webhook"
        assert ev["webhook"] == name
        assert ev["reason"] == "pods must carry an owner label"
        assert name in finding["remediation"]
    finally:
        server.shutdown()
