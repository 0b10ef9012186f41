"""The bundled demo cluster: every deliberate problem gets a specific finding from the right
family, healthy workloads get nothing at error level, and the whole report is pinned by a golden
file (`UPDATE_GOLDEN=1` regenerates it; review the diff)."""

from __future__ import annotations

import json
import os

import pytest

from amldoctor.engine.runner import run_rules
from amldoctor.load import load_snapshot
from tests.conftest import DEMO, ROOT, run_cli

GOLDEN = ROOT / "tests" / "golden" / "demo-scan.json"

# fixtures/demo/README.md: object name prefix -> the rule family that must explain it.
EXPECTED = {
    "llm-finetune-gpu-": "AMD1",  # GPU pod without the sku=gpu toleration
    "resnet50-train-": "AMD1",  # nodeSelector typo accelerator=nvidia-gpu
    "doc-embeddings-green-": "AMD1",  # bigger than any node
    "llm-summarizer-blue-": "AMD7",  # OOMKilled at the default instance type's 2Gi (AML layer)
    "fraud-scoring-green-": "AMD7",  # liveness probe kills the scoring server (AML layer)
    "embedding-export-": "AMD4",  # ImagePullBackOff, ACR 401
    "feature-sync-": "AMD4",  # missing Secret
    "tokenize-corpus-": "AMD1",  # unbound PVC (pod side)
    "corpus-cache": "AMD5",  # the PVC itself: StorageClass does not exist
    "drift-monitor-": "AMD4",  # crash loop, exit 1
    "aml-compute-a3f81c2d": "AMD7",  # Volcano gang queued with no pods
    "azureml-fe-v2": "AMD7",  # extension component Pending
    "aks-gpupool-17403385-vmss000002": "AMD6",  # GPU node without nvidia.com/gpu
    "aks-cpupool-38457219-vmss000002": "AMD6",  # cordoned
    "a100-spot": "AMD7",  # instance type selects no node
    "bigmem": "AMD7",  # instance type bigger than every node
    "gpu-a100": "AMD7",  # GPU pool tainted in a way AML pods do not tolerate
}
HEALTHY_PREFIXES = ("credit-risk-", "llm-eval-nightly", "azureml-ingress", "prom-", "volcano-")


@pytest.fixture(scope="module")
def report():
    return run_rules(load_snapshot(DEMO), namespaces=None)


@pytest.mark.parametrize(("prefix", "family"), sorted(EXPECTED.items()))
def test_each_deliberate_problem_is_explained_by_its_family(report, prefix, family):
    hits = [
        f for f in report.findings if f.object.name.startswith(prefix) and f.rule.startswith(family)
    ]
    assert hits, f"no {family}xx finding for {prefix}"
    for f in hits:
        assert f.message and f.remediation and f.evidence


def test_healthy_workloads_get_no_errors(report):
    snap = load_snapshot(DEMO)
    healthy = [
        p["metadata"]["name"]
        for p in snap.pods
        if (p.get("status") or {}).get("phase") == "Running"
        and all(cs.get("ready") for cs in (p["status"].get("containerStatuses") or []))
    ]
    assert len(healthy) >= 10
    errors = {f.object.name for f in report.findings if f.severity.label == "error"}
    assert not errors & set(healthy)


def test_no_rule_crashes_on_the_demo(report):
    assert not [n for n in report.notes if "failed on this snapshot" in n]


def test_demo_scan_json_matches_golden():
    result = run_cli(
        "scan", "--snapshot", "fixtures/demo", "-o", "json"
    )  # relative: origin is in the golden file
    assert result.returncode == 1, result.stderr
    data = json.loads(result.stdout)
    if os.environ.get("UPDATE_GOLDEN"):
        GOLDEN.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    assert data == json.loads(GOLDEN.read_text())


def test_pending_pods_agree_with_the_recorded_scheduler_messages(report):
    """The demo's FailedScheduling texts were derived by hand; the simulator must reproduce them."""
    pending = [f for f in report.findings if f.rule == "AMD101"]
    assert len(pending) == 5  # four in aml-compute, the third azureml-fe replica in azureml
    for f in pending:
        assert f.evidence["agrees_with_scheduler"] is True, (f.object.name, f.evidence)
