"""Lint rule details the fixtures do not pin down: thresholds, the cluster-aware GPU taint
check, credential detection by name and by shape, what is never demanded of batch workloads."""

from __future__ import annotations

import copy

import pytest

from amldoctor.lint.engine import run_lint
from amldoctor.lint.rules.pods import startup_budget
from amldoctor.lint.rules.secrets import credential_reason
from amldoctor.lint.source import ManifestSet, parse_text
from amldoctor.snapshot import Snapshot


def _lint(text: str, snapshot: Snapshot | None = None, only: str | None = None):
    out = ManifestSet()
    parse_text("m.yaml", text, out)
    report = run_lint(out, snapshot=snapshot)
    return [f for f in report.findings if only is None or f.rule == only]


def _node(name: str, gpus: int, taints: list[dict]) -> dict:
    alloc = {"cpu": "16", "memory": "64Gi", "pods": "110"}
    if gpus:
        alloc["nvidia.com/gpu"] = str(gpus)
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": {}},
        "spec": {"taints": taints},
        "status": {"allocatable": alloc},
    }


GPU_JOB = """\
apiVersion: batch/v1
kind: Job
metadata: {name: train, namespace: ml}
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: trainer
        image: img:1
        resources:
          limits: {cpu: "4", memory: 16Gi, nvidia.com/gpu: 1}
"""


def test_gpu_toleration_uses_the_clusters_taints_when_given():
    untainted = Snapshot([_node("gpu-0", 1, []), _node("cpu-0", 0, [])], source="t")
    assert _lint(GPU_JOB, untainted, "AMD810") == []
    tainted = Snapshot(
        [
            _node(
                "gpu-0", 1, [{"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}]
            )
        ],
        source="t",
    )
    found = _lint(GPU_JOB, tainted, "AMD810")
    assert len(found) == 1
    assert "nvidia.com/gpu=present:NoSchedule" in found[0].message
    assert "key: nvidia.com/gpu" in found[0].remediation
    # without a cluster, the usual taints
    assert "sku=gpu:NoSchedule" in _lint(GPU_JOB, None, "AMD810")[0].message


def test_wildcard_toleration_tolerates_every_gpu_pool():
    text = GPU_JOB.replace(
        "      containers:", "      tolerations: [{operator: Exists}]\n      containers:"
    )
    assert _lint(text, None, "AMD810") == []


@pytest.mark.parametrize(
    ("probe", "budget"),
    [
        ({}, 30),
        ({"initialDelaySeconds": 60}, 90),
        ({"periodSeconds": 5, "failureThreshold": 60}, 300),
    ],
)
def test_startup_budget(probe, budget):
    assert startup_budget(probe) == budget


def test_startup_budget_threshold_depends_on_the_workload():
    liveness = "        livenessProbe: {httpGet: {path: /, port: 80}, initialDelaySeconds: 60}\n"
    gpu = GPU_JOB.replace("        resources:", liveness + "        resources:")
    assert [f.evidence["needed_seconds"] for f in _lint(gpu, None, "AMD806")] == [300]
    cpu = gpu.replace(", nvidia.com/gpu: 1", "").replace("16Gi", "2Gi")
    assert _lint(cpu, None, "AMD806") == []  # 90s covers a small CPU container
    big = gpu.replace(", nvidia.com/gpu: 1", "")
    assert [f.evidence["needed_seconds"] for f in _lint(big, None, "AMD806")] == [120]


@pytest.mark.parametrize(
    ("name", "value", "flagged"),
    [
        ("DB_PASSWORD", "hunter2", True),
        ("mlflowTrackingToken", "abc", True),
        ("KEY_VAULT_NAME", "kv-prod", False),
        ("PASSWORD_FILE", "/run/secrets/pw", False),
        ("USE_AUTH", "true", False),
        ("DATA_URL", "https://acct.blob.core.windows.net/c?sv=1&sig=abcdef", True),
        ("CONN", "DefaultEndpointsProtocol=https;AccountName=a;AccountKey=abc123==", True),
        ("LOG_LEVEL", "debug", False),
        ("API_TOKEN", "$(TOKEN_FROM_SECRET)", False),
    ],
)
def test_credential_detection(name, value, flagged):
    assert (credential_reason(name, value) is not None) is flagged


def test_batch_workloads_are_never_asked_for_probes():
    service = (
        "apiVersion: v1\nkind: Service\nmetadata: {name: s, namespace: ml}\nspec:\n  "
        "selector: {app: x}\n  ports: [{port: 80}]\n---\n"
    )
    job = GPU_JOB.replace(
        "    spec:\n      restartPolicy",
        "    metadata: {labels: {app: x}}\n    spec:\n      restartPolicy",
    )
    job = job.replace(
        "        image: img:1\n", "        image: img:1\n        ports: [{containerPort: 80}]\n"
    )
    assert _lint(service + job, None, "AMD805") == []
    deployment = (
        job.replace("batch/v1", "apps/v1")
        .replace("kind: Job", "kind: Deployment")
        .replace("      restartPolicy: Never\n", "")
    )
    found = _lint(service + deployment, None, "AMD805")
    assert [f.evidence["missing"] for f in found] == [["readinessProbe", "livenessProbe"]]


def test_suppression_leaves_the_manifest_untouched():
    text = GPU_JOB.replace(
        "metadata: {name: train, namespace: ml}",
        "metadata: {name: train, namespace: ml, annotations: {amldoctor.io/ignore: all}}",
    )
    out = ManifestSet()
    parse_text("m.yaml", text, out)
    before = copy.deepcopy(out.documents[0].obj)
    report = run_lint(out)
    assert report.findings == [] and report.suppressed >= 1
    assert out.documents[0].obj == before


ODD_SPECS = [
    "containers: not-a-list",
    "containers: [just-a-string, 3, null]",
    "containers: [{name: c, env: {A: b}, envFrom: [x], ports: 80, resources: 5, image: 7}]",
    "containers: [{name: c, resources: {requests: [1], limits: {cpu: lots, memory: '', "
    "nvidia.com/gpu: x}}}]",
    "containers: [{name: c, livenessProbe: {periodSeconds: ten, failureThreshold: null}}]",
    "volumes: [x, {persistentVolumeClaim: y}, {projected: z}, {projected: {sources: [q, {secret: "
    "1}]}}]\n"
    "      containers: [{name: c, env: [x, {name: A, valueFrom: s}, {name: B, value: 3}]}]",
    "tolerations: yes\n      containers: [{name: c, resources: {limits: {nvidia.com/gpu: 1}}}]",
]


@pytest.mark.parametrize("spec", ODD_SPECS)
def test_odd_manifests_never_crash_a_rule(spec):
    text = (
        f"apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: d}}\nspec:\n  template:\n    "
        f"spec:\n      {spec}\n"
    )
    out = ManifestSet()
    parse_text("m.yaml", text, out)
    snapshot = Snapshot([_node("gpu-0", 1, [])], source="t")
    report = run_lint(out, snapshot=snapshot)
    assert not [n for n in report.notes if "failed on these manifests" in n]


def test_one_malformed_workload_does_not_hide_the_others_verdict():
    bad = (
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: bad}\nspec:\n  template:\n    "
        "spec:\n      affinity: {nodeAffinity: oops}\n      containers: [{name: c, image: "
        "i:1}]\n---\n"
    )
    out = ManifestSet()
    parse_text("m.yaml", bad + GPU_JOB, out)
    report = run_lint(out, snapshot=Snapshot([_node("gpu-0", 1, [])], source="t"))
    verdicts = {f.object.name: f.message for f in report.findings if f.rule == "AMD813"}
    assert verdicts["train"].endswith("fits on 1 of 1 nodes (gpu-0)")
    assert "bad" not in verdicts or "fits" in verdicts["bad"]
