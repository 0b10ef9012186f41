"""Per-job view: grouping by AML job and online deployment, whole-job why-pending, rendering."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rich.console import Console

from amldoctor.aml.model import workload_of
from amldoctor.aml.render import explain_markdown, jobs_markdown, render_explain, render_jobs
from amldoctor.commands.jobview import explain_job, group_by_job
from amldoctor.engine.runner import run_rules
from amldoctor.errors import InputError
from amldoctor.load import load_snapshot
from amldoctor.snapshot import Snapshot

RULES = Path(__file__).resolve().parents[2] / "fixtures" / "rules"
JOB = "3f2a9c1e5b7d4e6f8a0b1c2d3e4f5a6b"


def load(code: str, which: str = "failing") -> Snapshot:
    path = RULES / code / which
    return load_snapshot(path if path.exists() else path.with_suffix(".yaml"))


def test_partial_gang_summary_line():
    snap = load("AMD711")
    report = run_rules(snap)
    jobs = group_by_job(snap, report.findings, snap.pods)
    job = next(j for j in jobs if j["id"] == JOB)
    assert job["kind"] == "job" and job["severity"] == "error"
    assert job["pods"]["total"] == 4 and job["pods"]["expected"] == 4
    assert job["pods"]["by_phase"] == {"Pending": 1, "Running": 3}
    assert job["summary"].startswith(
        f"job {JOB}: 3/4 workers Running, 1 Pending: 0 of 1 pods fit at once"
    )
    assert "no eligible node has 8 free nvidia.com/gpu" in job["summary"]
    assert "AMD711" in job["rules"] and job["top_finding"]["rule"] in job["rules"]
    json.dumps(jobs)


def test_queued_job_without_pods_is_listed_with_its_podgroup_finding():
    snap = load("AMD710")
    report = run_rules(snap)
    jobs = group_by_job(snap, report.findings, [])
    queued = next(j for j in jobs if j["id"] == JOB)
    assert queued["pods"] == {"total": 0, "expected": 4, "by_phase": {}, "names": []}
    assert queued["summary"].startswith(f"job {JOB}: queued, no pods yet: 2 of 4 pods fit at once")
    assert queued["top_finding"]["object"]["kind"] == "PodGroup"
    # worst first: the error job before the warning one
    assert [j["severity"] for j in jobs] == sorted(
        (j["severity"] for j in jobs), key=["error", "warning"].index
    )


def test_instance_type_findings_reach_the_workloads_that_use_it():
    snap = load("AMD708")
    report = run_rules(snap)
    jobs = {j["id"]: j for j in group_by_job(snap, report.findings, snap.pods)}
    deployment = jobs["llm-summarizer/blue"]
    assert deployment["kind"] == "deployment" and deployment["endpoint"] == "llm-summarizer"
    assert deployment["instance_type"]["name"] == "defaultinstancetype"
    assert "AMD708" in deployment["rules"]
    assert deployment["summary"].startswith("deployment llm-summarizer/blue: 0/1 replicas ready")


def test_findings_of_other_workloads_are_not_attached():
    snap = load("AMD731")
    report = run_rules(snap)
    jobs = group_by_job(snap, report.findings, snap.pods)
    assert [j["id"] for j in jobs] == ["doc-embeddings/blue"]
    assert (
        "AMD720" not in jobs[0]["rules"]
    )  # the identity proxy's own finding stays with the extension
    assert "AMD731" in jobs[0]["rules"]


def test_workload_identity_from_labels():
    snap = load("AMD711")
    pod = next(p for p in snap.pods if p["metadata"]["name"].endswith("worker-3"))
    workload = workload_of(pod)
    assert (workload.kind, workload.id, workload.run_id) == ("job", JOB, "sleepy_kite_7xq2m9p4")
    assert workload.podgroup == f"aml-compute-{JOB}"
    assert (
        workload_of({"kind": "Pod", "metadata": {"name": "web", "labels": {"app": "web"}}}) is None
    )


def test_explain_job_without_pods():
    snap = load("AMD710")
    result = explain_job(snap, JOB[:8])
    assert result["job"]["id"] == JOB
    assert result["pods"] == [] and result["pods_missing"] == 4
    assert (
        "Volcano creates the pods only after the PodGroup is enqueued (it is Pending)"
        in result["pods_missing_reason"]
    )
    assert result["podgroup"]["minMember"] == 4
    assert result["aml_job"]["node_count"] == 4
    assert result["gang_fit"]["placeable"] == 2
    assert result["findings"][0]["rule"] == "AMD710"
    json.dumps(result)


def test_explain_job_with_pods_by_run_id_and_pod_verdicts():
    snap = load("AMD711")
    result = explain_job(snap, "sleepy_kite_7xq2m9p4")
    assert len(result["pods"]) == 4 and result["pods_missing"] == 0
    pending = next(p for p in result["pods"] if p["phase"] == "Pending")
    assert pending["scheduler_message"].startswith("0/5 nodes are available")


def test_explain_job_unknown_or_ambiguous_id():
    snap = load("AMD710")
    with pytest.raises(InputError, match="no AML job or deployment 'nope'"):
        explain_job(snap, "nope")
    with pytest.raises(InputError, match="matches several"):
        explain_job(snap, "aml-compute-")


def test_renderers_print_the_summaries():
    snap = load("AMD711")
    jobs = group_by_job(snap, run_rules(snap).findings, snap.pods)
    console = Console(record=True, width=300)
    render_jobs(console, jobs)
    text = console.export_text()
    assert "AML jobs and online deployments" in text and f"job {JOB}: 3/4 workers Running" in text
    assert f"`{JOB}`" in jobs_markdown(jobs)
    assert jobs_markdown([]) == ""
    result = explain_job(snap, JOB)
    console = Console(record=True, width=300)
    render_explain(console, result)
    assert "gang fit: 0 of 1 pods fit at once" in console.export_text()
    assert explain_markdown(result).startswith(f"## job {JOB}: 3/4 workers Running")
