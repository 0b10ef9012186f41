"""The command line as users run it: exit codes, one-line errors, formats, speed of --help."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest
import yaml
from typer.testing import CliRunner

from amldoctor.cli import app
from tests.conftest import ROOT, run_cli

PENDING_POD = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {
        "name": "train-0",
        "namespace": "ml",
        "uid": "p-1",
        "creationTimestamp": "2026-11-28T08:00:00Z",
        "annotations": {},
    },
    "spec": {
        "containers": [
            {"name": "trainer", "image": "img:1", "resources": {"limits": {"nvidia.com/gpu": "1"}}}
        ]
    },
    "status": {
        "phase": "Pending",
        "conditions": [
            {
                "type": "PodScheduled",
                "status": "False",
                "reason": "Unschedulable",
                "message": "0/2 nodes are available: 2 Insufficient nvidia.com/gpu. preemption: "
                "0/2 nodes are available: 2 Preemption is not helpful for scheduling.",
            }
        ],
    },
}


@pytest.fixture
def pending_snapshot(tmp_path):
    path = tmp_path / "cluster.yaml"
    path.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": [PENDING_POD]}))
    return path


def test_scan_json_contract_and_exit_code(pending_snapshot):
    result = run_cli("scan", "--snapshot", str(pending_snapshot), "-o", "json")
    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)
    assert set(report) >= {"source", "missing", "summary", "findings"}
    finding = next(f for f in report["findings"] if f["rule"] == "AMD101")
    assert finding["object"] == {"kind": "Pod", "namespace": "ml", "name": "train-0"}
    assert finding["severity"] == "error" and finding["name"] == "pod-unschedulable"
    assert {"count": 2, "reason": "Insufficient nvidia.com/gpu"}.items() <= finding["evidence"][
        "causes"
    ][0].items()
    assert "0/2 nodes fit" in finding["message"]


def test_fail_on_and_ignore(pending_snapshot):
    assert (
        run_cli(
            "scan", "--snapshot", str(pending_snapshot), "--fail-on", "never", "-o", "json"
        ).returncode
        == 0
    )
    ignored = run_cli(
        "scan", "--snapshot", str(pending_snapshot), "--ignore", "pod-unschedulable", "-o", "json"
    )
    assert all(f["rule"] != "AMD101" for f in json.loads(ignored.stdout)["findings"])
    assert (
        "unknown rule"
        in run_cli("scan", "--snapshot", str(pending_snapshot), "--ignore", "AMD999").stderr
    )


def test_ignore_annotation_suppresses(tmp_path):
    pod = json.loads(json.dumps(PENDING_POD))
    pod["metadata"]["annotations"]["amldoctor.io/ignore"] = "AMD101"
    path = tmp_path / "s.json"
    path.write_text(json.dumps(pod))
    report = json.loads(run_cli("scan", "--snapshot", str(path), "-o", "json").stdout)
    assert (
        all(f["rule"] != "AMD101" for f in report["findings"])
        and report["summary"]["suppressed"] >= 1
    )


@pytest.mark.parametrize("fmt", ["table", "yaml", "markdown"])
def test_every_format_renders(pending_snapshot, fmt):
    result = run_cli("scan", "--snapshot", str(pending_snapshot), "-o", fmt)
    assert result.returncode == 1 and "train-0" in result.stdout and result.stderr == ""


def test_no_color_and_piped_output_have_no_escape_codes(pending_snapshot):
    result = run_cli(
        "scan", "--snapshot", str(pending_snapshot), env={"NO_COLOR": "1", "PATH": "/usr/bin:/bin"}
    )
    assert "\x1b[" not in result.stdout


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["scan", "--snapshot", "does-not-exist.yaml"], "does not exist"),
        (["scan", "--snapshot", "PENDING", "-o", "xml"], "unknown output format 'xml'"),
        (["scan", "--snapshot", "PENDING", "--fail-on", "sometimes"], "unknown --fail-on"),
        (["scan", "--snapshot", "PENDING", "-n", "nope"], "namespace 'nope' is not in snapshot"),
        (["scan", "--snapshot", "PENDING", "-l", "a=(b"], "invalid label selector"),
        (["explain", "AMD999"], "unknown rule"),
    ],
)
def test_bad_input_is_one_line_exit_2(pending_snapshot, args, expected):
    args = [str(pending_snapshot) if a == "PENDING" else a for a in args]
    result = run_cli(*args)
    assert result.returncode == 2, result
    assert expected in result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr


def test_unknown_flag_is_usage_error_exit_2():
    result = run_cli("scan", "--bogus")
    assert result.returncode == 2 and "Traceback" not in result.stderr


def test_rules_and_explain():
    listed = json.loads(run_cli("rules", "-o", "json").stdout)["rules"]
    assert any(r["code"] == "AMD101" for r in listed)
    runner = CliRunner()
    for rule in listed:  # in-process: one subprocess per rule would dominate the suite's time
        text = runner.invoke(app, ["explain", rule["code"]]).stdout
        assert rule["name"] in text and "How to fix" in text and "Example" in text
    assert "AMD101" in run_cli("explain", "pod-unschedulable").stdout


def test_scan_of_a_snapshot_never_imports_the_kubernetes_client(pending_snapshot):
    result = subprocess.run(
        [
            sys.executable,
            "-X",
            "importtime",
            "-c",
            "from amldoctor.cli import main; main()",
            "scan",
            "--snapshot",
            str(pending_snapshot),
            "-o",
            "json",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    imported = [line.split("|")[-1].strip() for line in result.stderr.splitlines() if "|" in line]
    assert "amldoctor.engine.runner" in imported
    assert not [m for m in imported if m == "kubernetes" or m.startswith("kubernetes.")]


def test_help_is_fast():
    start = time.perf_counter()
    result = run_cli("--help")
    elapsed = time.perf_counter() - start
    assert result.returncode == 0 and "why-pending" in result.stdout
    print(
        f"amldoctor --help took {elapsed:.2f}s"
    )  # measured, not asserted: timing never fails tests


def test_scan_groups_findings_by_aml_job_and_deployment():
    report = json.loads(run_cli("scan", "--snapshot", "fixtures/demo", "-o", "json").stdout)
    jobs = {j["id"]: j for j in report["jobs"]}
    assert jobs["a3f81c2d4e5b6a7c8d9e0f1a2b3c4d5e"]["top_finding"]["rule"] == "AMD710"
    assert (
        jobs["credit-risk/blue"]["severity"] in (None, "ok", "none")
        or jobs["credit-risk/blue"]["findings"] == 0
    )
    table = run_cli("scan", "--snapshot", "fixtures/demo").stdout
    assert table.index("AML jobs and online deployments") < table.index("✖ Pod ")


def test_why_pending_job_explains_a_job_without_pods():
    result = run_cli(
        "why-pending", "--job", "a3f81c2d", "--snapshot", "fixtures/demo", "-o", "json"
    )
    assert result.returncode == 1, result.stderr
    doc = json.loads(result.stdout)
    assert doc["podgroup"]["name"].endswith("a3f81c2d4e5b6a7c8d9e0f1a2b3c4d5e")
    assert any(f["rule"] == "AMD710" for f in doc["findings"])
    unknown = run_cli("why-pending", "--job", "zzzz9999", "--snapshot", "fixtures/demo")
    assert unknown.returncode == 2 and unknown.stderr.count("\n") == 1
