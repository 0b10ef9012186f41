"""The demo cluster (fixtures/demo, an AKS snapshot shaped like the API returns it): every AML
problem its README lists is found, at the AML layer, and the healthy AML workloads stay quiet."""

from __future__ import annotations

from pathlib import Path

import pytest

from amldoctor.commands.jobview import explain_job, group_by_job
from amldoctor.engine.runner import run_rules
from amldoctor.load import load_snapshot

DEMO = Path(__file__).resolve().parents[2] / "fixtures" / "demo"
QUEUED = "a3f81c2d4e5b6a7c8d9e0f1a2b3c4d5e"
RUNNING = "5d0c2e7f9a1b4c3d8e6f7a9b0c1d2e3f"

pytestmark = pytest.mark.skipif(
    not (DEMO / "manifest.json").exists(), reason="demo snapshot not present"
)


@pytest.fixture(scope="module")
def demo():
    snap = load_snapshot(DEMO)
    return snap, run_rules(snap, namespaces=["aml-compute"])


def test_aml_findings_match_the_readme(demo):
    _, report = demo
    found = {(f.rule, f.object.name) for f in report.findings if f.rule.startswith("AMD7")}
    assert found == {
        ("AMD702", "a100-spot"),
        ("AMD703", "bigmem"),
        ("AMD707", "gpu-a100"),
        ("AMD708", "llm-summarizer-blue-b9f598fd-deployment-5l2lffr5vx-8vlqv"),
        ("AMD710", f"aml-compute-{QUEUED}"),
        ("AMD720", "azureml-fe-v2"),
        ("AMD730", "fraud-scoring-green-f765a714-deployment"),
    }
    queued = next(f for f in report.findings if f.rule == "AMD710")
    assert "with sku=gpu:NoSchedule tolerated, 1 of 2 would fit" in queued.message


def test_jobs_view_of_the_demo(demo):
    snap, report = demo
    jobs = {j["id"]: j for j in group_by_job(snap, report.findings, report_pods(snap))}
    assert jobs[RUNNING]["severity"] is None
    assert jobs[RUNNING]["summary"] == f"job {RUNNING}: 1/1 workers Running"
    assert jobs[RUNNING]["instance_type"]["name"] == "cpu-large"
    assert jobs["credit-risk/blue"]["summary"] == "deployment credit-risk/blue: 2/2 replicas ready"
    assert jobs[QUEUED]["summary"].startswith(
        f"job {QUEUED}: queued, no pods yet: 0 of 2 pods fit at once"
    )
    assert jobs["doc-embeddings/green"]["instance_type"]["name"] == "bigmem"
    assert "AMD703" in jobs["doc-embeddings/green"]["rules"]


def test_explain_queued_demo_job(demo):
    snap, _ = demo
    result = explain_job(snap, QUEUED[:8])
    assert result["pods"] == [] and result["pods_missing"] == 2
    assert result["gang_fit"]["if_tolerated"]["placeable"] == 1
    assert result["instance_type"]["candidates"] == ["a100-spot", "gpu-a100"]


def report_pods(snap):
    return [p for p in snap.pods if p["metadata"]["namespace"] == "aml-compute"]
