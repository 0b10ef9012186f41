"""Commands that follow the user: hints carry the source flags of the command that printed
them, `why-pending` takes kubectl's TYPE/NAME, and a Running but failing pod gets its runtime
findings instead of a bare "not Pending"."""

from __future__ import annotations

import json
import re
import shlex

import pytest

from amldoctor.hints import source_flags, with_source
from tests.conftest import run_cli

FLAGS = source_flags("fixtures/demo", "aks-prod", "/tmp/kube config")

SHAPES = [
    ("node-by-node analysis: amldoctor why-pending {pod} -n {ns}", ""),
    ("amldoctor why-pending {pod} -n {ns} recomputes the verdict", " recomputes the verdict"),
    ("Look at the pods: `amldoctor why-pending -n {ns} {pod}`.", "`."),
    ("(amldoctor scan -n {ns})", ")"),
    ("run amldoctor why-pending --job {pod}, then", ", then"),
]


@pytest.mark.parametrize(("shape", "tail"), SHAPES)
@pytest.mark.parametrize(("pod", "ns"), [("p-1", "team-a"), ("train-7f9c-worker-0", "aml")])
def test_every_hint_shape_gets_the_flags_right_after_the_command(shape, tail, pod, ns):
    text = shape.format(pod=pod, ns=ns)
    out = with_source(text, FLAGS)
    assert out.count("--snapshot fixtures/demo --context aks-prod") == 1
    assert "--kubeconfig '/tmp/kube config'" in out
    assert out.endswith(FLAGS + tail)
    assert with_source(out, FLAGS) == out  # never twice


def test_text_without_a_hint_or_without_flags_is_unchanged():
    assert with_source("kubectl get pods -n x", FLAGS) == "kubectl get pods -n x"
    assert with_source("amldoctor why-pending p -n x", "") == "amldoctor why-pending p -n x"


def _hints(doc) -> list[str]:
    text = json.dumps(doc)
    return re.findall(r"amldoctor (?:why-pending|scan)[^\"`\\)]*", text)


def test_every_hint_printed_from_a_snapshot_reads_that_snapshot_and_runs():
    doc = json.loads(run_cli("scan", "--snapshot", "fixtures/demo", "-A", "-o", "json").stdout)
    hints = sorted(set(_hints(doc)))
    assert len(hints) >= 4
    for hint in hints:
        assert "--snapshot fixtures/demo" in hint, hint
    for hint in hints[:3]:  # pasted as printed, they work against the same snapshot
        args = shlex.split(hint.split(" recomputes")[0])[1:]
        result = run_cli(*args)
        assert result.returncode in (0, 1), (hint, result.stderr)


@pytest.mark.parametrize(
    ("arg", "kind", "name"),
    [
        ("pod/llm-finetune-gpu-jgczv", "why-pending-pod", "llm-finetune-gpu-jgczv"),
        ("po/resnet50-train-rhvg9", "why-pending-pod", "resnet50-train-rhvg9"),
        ("job/llm-finetune-gpu", "why-pending-pod", "llm-finetune-gpu-jgczv"),
        ("jobs.batch/embedding-export", "why-pending-pod", "embedding-export-p42b7"),
        ("job/a3f81c2d", "why-pending-job", None),
    ],
)
def test_why_pending_takes_kubectl_type_slash_name(arg, kind, name):
    result = run_cli("why-pending", "--snapshot", "fixtures/demo", arg, "-o", "json")
    assert result.returncode in (0, 1), result.stderr
    doc = json.loads(result.stdout)
    assert doc["kind"] == kind
    if name:
        assert doc["pod"]["name"] == name


def test_an_unknown_job_is_one_line_and_exit_2():
    result = run_cli("why-pending", "--snapshot", "fixtures/demo", "job/no-such-job")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "no Kubernetes Job 'no-such-job'" in result.stderr


@pytest.mark.parametrize(
    ("pod", "rule"),
    [
        ("drift-monitor-scb2r8dg9t-99k6d", "AMD401"),
        ("feature-sync-mtdk2ht5w6-vhn4x", "AMD403"),
    ],
)
def test_a_running_or_waiting_pod_gets_its_runtime_findings(pod, rule):
    result = run_cli("why-pending", "--snapshot", "fixtures/demo", pod, "-o", "json")
    doc = json.loads(result.stdout)
    assert result.returncode == 1
    assert rule in {f["rule"] for f in doc["findings"]}
    table = run_cli("why-pending", "--snapshot", "fixtures/demo", pod).stdout
    assert rule in table and "fix:" in table
