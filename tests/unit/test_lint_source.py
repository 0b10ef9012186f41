"""Reading manifests for lint: lines of fields, Lists, JSON, stdin, and bad input that never
stops the rest of the run."""

from __future__ import annotations

import json

import pytest

from amldoctor.errors import InputError
from amldoctor.lint.engine import run_lint
from amldoctor.lint.source import STDIN_NAME, ManifestSet, parse_text, read_manifests
from amldoctor.lint.workloads import extract_workloads

JOB = """\
apiVersion: batch/v1
kind: Job
metadata:
  name: train
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: trainer
        image: img:1
        resources:
          limits:
            memory: 16Gi
"""


def _parse(text: str, name: str = "m.yaml") -> ManifestSet:
    out = ManifestSet()
    parse_text(name, text, out)
    return out


def test_line_of_nested_field_is_the_line_of_its_key():
    doc = _parse(JOB).documents[0]
    path = ("spec", "template", "spec", "containers", 0, "resources", "limits", "memory")
    assert doc.line(path) == 14
    assert doc.line(("spec", "template", "spec", "containers", 0)) == 10
    # a field that is not written falls back to its nearest written parent
    assert (
        doc.line(("spec", "template", "spec", "containers", 0, "resources", "requests", "cpu"))
        == 12
    )


def test_list_items_keep_their_own_lines():
    items = "apiVersion: v1\nkind: List\nitems:\n" + "".join(
        "- " + JOB.replace("\n", "\n  ").rstrip() + "\n" for _ in range(2)
    )
    docs = _parse(items).documents
    assert [d.line(("kind",)) for d in docs] == [5, 19]
    assert (
        docs[1].line(("spec", "template", "spec", "containers", 0, "image")) == 11 + 17
    )  # the second item starts on line 18


def test_json_with_tabs_has_lines():
    obj = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]},
    }
    text = json.dumps(obj, indent="\t")
    doc = _parse(text, "p.json").documents[0]
    assert doc.obj == obj
    assert (
        text.splitlines()[doc.line(("spec", "containers", 0, "image")) - 1]
        .strip()
        .startswith('"image"')
    )


def test_syntax_error_names_file_and_line_and_keeps_earlier_documents():
    out = _parse(JOB + "---\nkind: Pod\nmetadata: {name: [\n")
    assert [d.name for d in out.documents] == ["train"]
    assert len(out.problems) == 1
    assert out.problems[0].file == "m.yaml" and out.problems[0].line >= 17
    assert "YAML syntax error" in out.problems[0].message


def test_bad_file_does_not_hide_findings_in_the_others(tmp_path):
    (tmp_path / "a-broken.yaml").write_text("a: [\n")
    (tmp_path / "b.yaml").write_text(JOB.replace("img:1", "img:latest"))
    (tmp_path / "c.bin.yaml").write_bytes(b"\x00\x01binary")
    report = run_lint(read_manifests([str(tmp_path)]))
    rules = sorted({f.rule for f in report.findings})
    assert "AMD816" in rules and "AMD811" in rules
    broken = [f for f in report.findings if f.rule == "AMD816"]
    assert {f.evidence["file"] for f in broken} == {
        str(tmp_path / "a-broken.yaml"),
        str(tmp_path / "c.bin.yaml"),
    }


def test_non_kubernetes_documents_and_unknown_kinds_are_noted():
    out = _parse(
        "just a string\n---\nfoo: bar\n---\napiVersion: example.com/v1\nkind: Widget\nmetadata: "
        "{name: w}\n" + "---\n" + JOB
    )
    report = run_lint(out)
    assert any("document 1 is a str" in n for n in report.notes)
    assert any("no apiVersion/kind" in n and "m.yaml:3" in n for n in report.notes)
    assert any("kind Widget" in n for n in report.notes)
    assert report.workloads_checked == 1


def test_empty_input_says_so():
    out = read_manifests(["-"], stdin_text="")
    assert out.files == [STDIN_NAME]
    report = run_lint(out)
    assert report.findings == []
    assert any("empty" in n for n in report.notes) and any(
        "nothing to lint" in n for n in report.notes
    )


def test_missing_path_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        read_manifests([str(tmp_path / "nope.yaml")])


def test_workload_kinds_and_templates():
    text = """\
apiVersion: batch/v1
kind: CronJob
metadata: {name: nightly}
spec:
  jobTemplate:
    spec:
      template:
        spec: {containers: [{name: c, image: i:1}]}
---
apiVersion: batch.volcano.sh/v1alpha1
kind: Job
metadata: {name: mpi}
spec:
  tasks:
  - name: master
    template: {spec: {containers: [{name: m, image: i:1}]}}
  - name: worker
    template: {spec: {containers: [{name: w, image: i:1}]}}
---
apiVersion: kubeflow.org/v1
kind: PyTorchJob
metadata: {name: ddp}
spec:
  pytorchReplicaSpecs:
    Worker: {replicas: 2, template: {spec: {containers: [{name: pytorch, image: i:1}]}}}
    Master: {replicas: 1, template: {spec: {containers: [{name: pytorch, image: i:1}]}}}
"""
    workloads, notes = extract_workloads(_parse(text).documents)
    assert notes == []
    assert [(w.kind, w.name, w.task, w.category) for w in workloads] == [
        ("CronJob", "nightly", None, "batch"),
        ("Job", "mpi", "master", "batch"),
        ("Job", "mpi", "worker", "batch"),
        ("PyTorchJob", "ddp", "Master", "batch"),
        ("PyTorchJob", "ddp", "Worker", "batch"),
    ]
    assert workloads[2].spec["containers"][0]["name"] == "w"


def test_directory_without_manifests_says_so(tmp_path):
    (tmp_path / "README.md").write_text("# chart\n")
    report = run_lint(read_manifests([str(tmp_path)]))
    assert report.files == [] and report.findings == []
    assert report.notes == [f"no YAML or JSON manifests found in {tmp_path}: nothing to lint"]
