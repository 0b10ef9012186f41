"""Input from the field, class by class: each once crashed amldoctor or gave a wrong answer.

Every input here is written for this test (no third-party manifests). Where a defect is a class,
the test generates its variants (every wrong type in every field, every command).
"""

from __future__ import annotations

import copy
import gzip
import json
import time
from pathlib import Path

import pytest
import yaml

from amldoctor.commands.options import parse_request_timeout
from amldoctor.commands.why_pending import split_pod_ref
from amldoctor.errors import InputError
from amldoctor.lint.rules.secrets import credential_reason
from tests.unit.inprocess import Result, invoke

NODE = {
    "apiVersion": "v1",
    "kind": "Node",
    "metadata": {"name": "n1", "uid": "n1", "labels": {"kubernetes.io/hostname": "n1"}},
    "status": {
        "allocatable": {"cpu": "4", "memory": "16Gi", "pods": "110"},
        "capacity": {"cpu": "4", "memory": "16Gi", "pods": "110"},
        "conditions": [{"type": "Ready", "status": "True"}],
    },
}
POD = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "train-0", "namespace": "ml", "uid": "p1"},
    "spec": {
        "containers": [
            {
                "name": "trainer",
                "image": "myacr.azurecr.io/train:1.0",
                "resources": {"requests": {"cpu": "1", "memory": "1Gi"}},
            }
        ],
        "nodeSelector": {"pool": "cpu"},
        "tolerations": [{"key": "sku", "operator": "Exists"}],
    },
    "status": {"phase": "Pending"},
}


def _cluster(tmp_path: Path, *objects: dict, name: str = "cluster.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": list(objects)}))
    return path


def _ok(result: Result, *codes: int) -> Result:
    assert "Traceback" not in result.stderr, result.stderr
    assert result.code in codes, (result.code, result.stderr)
    if result.code == 2:
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    return result


# --- tracebacks -----------------------------------------------------------------------------

STATUS = {
    "apiVersion": "v1",
    "kind": "Status",
    "metadata": {},
    "status": "Failure",
    "message": 'pods is forbidden: User "dev" cannot list resource "pods"',
    "reason": "Forbidden",
    "code": 403,
}


def test_status_object_alone_is_one_line_exit_2(tmp_path):
    result = _ok(invoke("scan", "--snapshot", str(_cluster(tmp_path, STATUS))), 2)
    assert "API errors" in result.stderr and "pods is forbidden" in result.stderr


def test_status_object_among_objects_is_set_aside(tmp_path):
    path = _cluster(tmp_path, STATUS, NODE, POD)
    _ok(invoke("scan", "-A", "--snapshot", str(path), "-o", "json"), 0, 1)
    _ok(invoke("why-pending", "train-0", "-n", "ml", "--snapshot", str(path), "-o", "json"), 0, 1)


WRONG_TYPES = [
    ("spec.containers", "x"),
    ("spec.containers", {"name": "c"}),
    ("spec.containers.0.resources.requests", ["cpu", "1"]),
    ("spec.containers.0.resources", "lots"),
    ("spec.containers.0.name", 7),
    ("spec.nodeSelector", ["pool=cpu"]),
    ("spec.tolerations", "sku=gpu:NoSchedule"),
    ("spec.tolerations.0", "sku"),
    ("spec", "x"),
    ("metadata", ["x"]),
    ("metadata.labels", "a=b"),
    ("status", "Failure"),
    ("status.conditions", {"type": "PodScheduled"}),
]


def _with(obj: dict, dotted: str, value: object) -> dict:
    obj = copy.deepcopy(obj)
    parts = [int(p) if p.isdigit() else p for p in dotted.split(".")]
    parent = obj
    for part in parts[:-1]:
        parent = parent[part]
    parent[parts[-1]] = value
    return obj


@pytest.mark.parametrize(("field", "value"), WRONG_TYPES, ids=[f for f, _ in WRONG_TYPES])
@pytest.mark.parametrize("command", ["scan", "why-pending", "why-pending -f", "lint"])
def test_wrong_typed_field_never_crashes(tmp_path, command, field, value):
    pod = _with(POD, field, value)
    cluster = _cluster(tmp_path, NODE, pod if command != "why-pending -f" else POD)
    manifest = _cluster(tmp_path, pod, name="pod.yaml")
    if command == "scan":
        result = invoke("scan", "-A", "--snapshot", str(cluster), "-o", "json")
    elif command == "why-pending":
        result = invoke("why-pending", "train-0", "-n", "ml", "--snapshot", str(cluster))
    elif command == "why-pending -f":
        result = invoke("why-pending", "-f", str(manifest), "--snapshot", str(cluster))
    else:
        result = invoke("lint", str(manifest), "-o", "json")
    _ok(result, 0, 1, 2)


def test_lint_reports_wrong_types_at_their_line(tmp_path):
    manifest = _cluster(
        tmp_path, _with(POD, "spec.tolerations", "sku=gpu:NoSchedule"), name="p.yaml"
    )
    report = json.loads(invoke("lint", str(manifest), "-o", "json").stdout)
    found = [f for f in report["findings"] if f["rule"] == "AMD817"]
    assert found and "spec.tolerations must be a list" in found[0]["message"]
    assert found[0]["evidence"]["line"] > 1


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("0", None), ("5", 5.0), ("2.5", 2.5), ("30s", 30.0), ("2m", 120.0), ("1h", 3600.0)],
)
def test_request_timeout_reads_like_kubectl(text, seconds):
    assert parse_request_timeout(text) == seconds


@pytest.mark.parametrize("text", ["-5", "nan", "inf", "-inf", "abc", "5x", ""])
@pytest.mark.parametrize(
    "command", [["scan"], ["why-pending", "p"], ["dump"], ["lint", "-", "--against-cluster"]]
)
def test_bad_request_timeout_is_exit_2_on_every_live_command(text, command):
    result = _ok(invoke(*command, f"--request-timeout={text}"), 2)
    assert "--request-timeout" in result.stderr


def test_table_sorts_objects_with_and_without_namespace(tmp_path):
    deploys = [
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": name, **({"namespace": "ml"} if ns else {})},
            "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "Bad Image"}]}}},
        }
        for name, ns in (("a", True), ("b", False), ("c", True))
    ]
    path = tmp_path / "m.yaml"
    path.write_text(yaml.safe_dump_all(deploys))
    _ok(invoke("lint", str(path)), 0, 1)
    nodes = [_with(NODE, "metadata.name", f"n{i}") for i in range(2)]
    _ok(invoke("scan", "-A", "--snapshot", str(_cluster(tmp_path, *nodes, POD))), 0, 1)


# --- wrong answers --------------------------------------------------------------------------


def test_missing_namespace_is_default_everywhere(tmp_path):
    pod = copy.deepcopy(POD)
    del pod["metadata"]["namespace"]
    pod["spec"]["volumes"] = [{"name": "data", "persistentVolumeClaim": {"claimName": "gone"}}]
    path = _cluster(tmp_path, NODE, pod)
    doc = json.loads(
        _ok(invoke("why-pending", "train-0", "--snapshot", str(path), "-o", "json"), 0, 1).stdout
    )
    assert doc["pod"]["namespace"] == "default"
    _ok(invoke("why-pending", "train-0", "-n", "default", "--snapshot", str(path)), 0, 1)
    report = json.loads(
        _ok(invoke("scan", "-n", "default", "--snapshot", str(path), "-o", "json"), 0, 1).stdout
    )
    assert report["summary"]["pods_checked"] == 1
    text = json.dumps(report)
    assert "None" not in text and "namespace null" not in text
    assert all(
        f["object"]["namespace"] == "default"
        for f in report["findings"]
        if f["object"]["kind"] == "Pod"
    )


def test_duplicated_objects_count_once(tmp_path):
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    _cluster(bundle, NODE, POD, name="all.yaml")
    _cluster(bundle, POD, name="pods.yaml")
    _cluster(bundle, NODE, name="nodes.yaml")
    report = json.loads(invoke("scan", "-A", "--snapshot", str(bundle), "-o", "json").stdout)
    assert report["summary"]["pods_checked"] == 1
    doc = json.loads(
        invoke("why-pending", "train-0", "-n", "ml", "--snapshot", str(bundle), "-o", "json").stdout
    )
    assert [n["name"] for n in doc["nodes"]] == ["n1"]


def test_duplicates_without_uid_count_once_by_name(tmp_path):
    pod = copy.deepcopy(POD)
    del pod["metadata"]["uid"]
    bundle = tmp_path / "b"
    bundle.mkdir()
    _cluster(bundle, NODE, pod, name="a.yaml")
    _cluster(bundle, pod, name="b.yaml")
    report = json.loads(invoke("scan", "-A", "--snapshot", str(bundle), "-o", "json").stdout)
    assert report["summary"]["pods_checked"] == 1


BARE_EQUALS = """apiVersion: v1
kind: ConfigMap
metadata:
  name: rules
  namespace: ml
data:
  operator: =
"""


def test_bare_equals_scalar_is_valid_yaml_everywhere(tmp_path):
    path = tmp_path / "cm.yaml"
    path.write_text(BARE_EQUALS + "---\n" + yaml.safe_dump(NODE) + "---\n" + yaml.safe_dump(POD))
    _ok(invoke("lint", str(path), "-o", "json"), 0, 1)
    _ok(invoke("scan", "-A", "--snapshot", str(path), "-o", "json"), 0, 1)
    _ok(invoke("why-pending", "-f", str(path), "--snapshot", str(path), "-o", "json"), 0, 1)


def _broken_stream() -> str:
    good = yaml.safe_dump(_with(POD, "metadata.name", "after"))
    return (
        yaml.safe_dump(POD)
        + "---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: broken\n   bad: indent\n---\n"
        + good
    )


def test_one_broken_document_does_not_hide_the_rest(tmp_path):
    stream = _broken_stream()
    result = invoke("lint", "-", "-o", "json", stdin=stream)
    report = json.loads(result.stdout)
    syntax = [f for f in report["findings"] if f["rule"] == "AMD816"]
    bad_line = stream.splitlines().index("   bad: indent") + 1
    assert len(syntax) == 1 and syntax[0]["evidence"]["line"] == bad_line
    assert "document 2" in syntax[0]["message"]
    assert report["summary"]["workloads_checked"] == 2


@pytest.mark.parametrize(
    "template",
    [
        "metadata:\n  name: {{ .Values.name }}\n",
        'metadata:\n  name: {{ include "chart.fullname" . }}\n',
        "{{- if .Values.enabled }}\nmetadata:\n  name: x\n{{- end }}\n",
        "spec:\n  replicas: {{ .Values.replicas }}\n  template:\n    spec:\n"
        "      containers:\n{{ toYaml .Values.containers | indent 6 }}\n",
    ],
)
def test_unrendered_templates_are_named_with_the_fix(tmp_path, template):
    text = "apiVersion: apps/v1\nkind: Deployment\n" + template
    report = json.loads(invoke("lint", "-", "-o", "json", stdin=text).stdout)
    found = [f for f in report["findings"] if f["rule"] == "AMD816"]
    if found:  # some templates happen to be valid YAML; those that are not must say why
        assert "unrendered template" in found[0]["message"]
        assert "helm template" in found[0]["remediation"]
    path = tmp_path / "t.yaml"
    path.write_text(text)
    result = invoke("why-pending", "-f", str(path), "--snapshot", str(_cluster(tmp_path, NODE)))
    _ok(result, 0, 1, 2)
    if result.code == 2 and "YAML" in result.stderr:
        assert "unrendered template" in result.stderr


ALIAS_BOMB = "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: ml}\n" + "\n".join(
    ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    + [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 10)]
)


@pytest.mark.parametrize("command", ["lint", "scan", "why-pending -f"])
def test_alias_bomb_is_refused_quickly(tmp_path, command):
    path = tmp_path / "bomb.yaml"
    path.write_text(ALIAS_BOMB)
    assert len(ALIAS_BOMB) < 1000
    start = time.perf_counter()
    if command == "lint":
        result = _ok(invoke("lint", str(path), "-o", "json"), 1)
        assert "alias" in result.stdout
    elif command == "scan":
        result = _ok(invoke("scan", "--snapshot", str(path)), 2)
        assert "alias" in result.stderr
    else:
        result = _ok(invoke("why-pending", "-f", str(path), "--snapshot", str(path)), 2)
        assert "alias" in result.stderr
    assert time.perf_counter() - start < 5


def test_aliases_in_real_manifests_still_work(tmp_path):
    text = (
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: ml}\nspec:\n  containers:\n"
        "  - &c {name: a, image: 'nginx:1.0', resources: {requests: {cpu: '1'}}}\n"
        "  - {<<: *c, name: b}\n"
    )
    report = json.loads(invoke("lint", "-", "-o", "json", stdin=text).stdout)
    assert not [f for f in report["findings"] if f["rule"] in ("AMD816", "AMD817")]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"apiVersion: v1\nkind: Pod\n", "plain YAML/JSON"),
        (b'{"kind": "List", "items": []}', "plain YAML/JSON"),
        (bytes(range(256)) * 2, "not gzip-compressed"),
        (b"\x1f\x8b\x08\x00garbage", "damaged or truncated"),
        (gzip.compress(b"not a tar archive at all" * 40), "damaged or truncated"),
    ],
)
@pytest.mark.parametrize("suffix", [".tar.gz", ".tgz"])
def test_bad_tarball_is_one_line(tmp_path, content, expected, suffix):
    path = tmp_path / f"bundle{suffix}"
    path.write_bytes(content)
    result = _ok(invoke("scan", "--snapshot", str(path)), 2)
    assert expected in result.stderr


@pytest.mark.parametrize(
    ("ref", "namespace", "expected"),
    [
        ("pod/train-0", None, (None, "train-0")),
        ("pods/train-0", "ml", ("ml", "train-0")),
        ("po/train-0", None, (None, "train-0")),
        ("pod.v1/train-0", None, (None, "train-0")),
        ("ml/train-0", None, ("ml", "train-0")),
        ("train-0", "ml", ("ml", "train-0")),
    ],
)
def test_pod_reference_forms(ref, namespace, expected):
    assert split_pod_ref(ref, namespace) == expected


def test_pod_slash_name_from_kubectl_get_o_name(tmp_path):
    path = _cluster(tmp_path, NODE, POD)
    result = _ok(invoke("why-pending", "pod/train-0", "--snapshot", str(path), "-o", "json"), 0, 1)
    assert json.loads(result.stdout)["pod"]["name"] == "train-0"


def test_conflicting_namespaces_are_an_input_error():
    with pytest.raises(InputError):
        split_pod_ref("ml/train-0", "other")


# --- false positives ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("TOKENS", "4096"),
        ("MAX_TOKENS", "4096"),
        ("MAX_NUM_BATCHED_TOKENS", "8192"),
        ("MAX_INPUT_TOKENS", "2048"),
        ("KEY_SIZE", "2048"),
        ("PARTITION_KEY", "user_id"),
        ("AUTH_DISABLED", "1"),
        ("PASS_THROUGH", "x-request-id"),
        ("MODEL_REVISION", "0123456789abcdef0123456789abcdef01234567"),
        ("HF_REVISION", "a" * 64),
        ("SECRET_NAME", "train-secrets"),
        ("TOKEN_URL", "https://login.example.com/token"),
    ],
)
def test_settings_are_not_credentials(name, value):
    assert credential_reason(name, value) is None


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DB_PASSWORD", "hunter2-prod"),
        ("HF_TOKEN", "hf_abcdefghijklmnopqrstuv"),
        ("API_KEY", "abc123def"),
        ("STORAGE", "DefaultEndpointsProtocol=https;AccountName=a;AccountKey=Zm9vYmFy=="),
    ],
)
def test_credentials_are_still_found(name, value):
    assert credential_reason(name, value) is not None


def _lint_rules(tmp_path: Path, docs: list[dict]) -> list[dict]:
    path = tmp_path / "m.yaml"
    path.write_text(yaml.safe_dump_all(docs))
    return json.loads(invoke("lint", str(path), "-o", "json").stdout)["findings"]


def test_pod_with_controller_owner_is_not_bare(tmp_path):
    owned = copy.deepcopy(POD)
    owned["metadata"]["ownerReferences"] = [
        {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "name": "web-1",
            "uid": "r",
            "controller": True,
        }
    ]
    assert not [f for f in _lint_rules(tmp_path, [owned]) if f["rule"] == "AMD808"]
    assert [f for f in _lint_rules(tmp_path, [POD]) if f["rule"] == "AMD808"]


def _served(image: str, extra: dict | None = None) -> list[dict]:
    container = {"name": "srv", "image": image, "ports": [{"containerPort": 6379}], **(extra or {})}
    return [
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "srv", "namespace": "ml"},
            "spec": {
                "selector": {"matchLabels": {"app": "srv"}},
                "template": {
                    "metadata": {"labels": {"app": "srv"}},
                    "spec": {"containers": [container]},
                },
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "srv", "namespace": "ml"},
            "spec": {"selector": {"app": "srv"}, "ports": [{"port": 6379}]},
        },
    ]


@pytest.mark.parametrize("image", ["redis:7.2", "postgres:16", "quay.io/coreos/etcd:v3.5.9"])
def test_probe_message_speaks_of_models_only_for_model_servers(tmp_path, image):
    found = [f for f in _lint_rules(tmp_path, _served(image)) if f["rule"] == "AMD805"]
    assert found and "model" not in found[0]["message"]
    gpu = {"resources": {"limits": {"nvidia.com/gpu": "1"}}}
    found = [
        f
        for f in _lint_rules(tmp_path, _served("nvcr.io/nvidia/tritonserver:24.01-py3", gpu))
        if f["rule"] == "AMD805"
    ]
    assert found and "model is loaded" in found[0]["message"]


@pytest.mark.parametrize("image", ["<your-image>", "IMAGE", "${IMAGE}", "REPLACE_ME", "$(IMAGE)"])
def test_placeholder_image_is_not_judged_as_an_image(tmp_path, image):
    pod = _with(POD, "spec.containers.0.image", image)
    assert not [f for f in _lint_rules(tmp_path, [pod]) if f["rule"] == "AMD811"]


def test_startup_budget_message_reads_as_english(tmp_path):
    pod = _with(
        POD, "spec.containers.0.livenessProbe", {"tcpSocket": {"port": 80}, "failureThreshold": 1}
    )
    found = [f for f in _lint_rules(tmp_path, [pod]) if f["rule"] == "AMD806"]
    assert found and "but it the" not in found[0]["message"]
    assert found[0]["message"].endswith("gets less than the kubelet's own default budget of 30s")


# --- ML workload kinds ----------------------------------------------------------------------

ML_KINDS = Path(__file__).resolve().parents[2] / "fixtures" / "input" / "valid-ml-kinds.yaml"
ML_DOCS = list(yaml.safe_load_all(ML_KINDS.read_text()))


@pytest.mark.parametrize("doc", ML_DOCS, ids=[d["kind"] for d in ML_DOCS])
def test_ml_kinds_are_linted(tmp_path, doc):
    path = tmp_path / "m.yaml"
    path.write_text(yaml.safe_dump(doc))
    report = json.loads(invoke("lint", str(path), "-o", "json").stdout)
    assert report["summary"]["workloads_checked"] >= 1
    assert not any("holds no pod template" in n for n in report.get("notes", []))


@pytest.mark.parametrize("doc", ML_DOCS, ids=[d["kind"] for d in ML_DOCS])
def test_ml_kinds_are_read_by_why_pending_f(tmp_path, doc):
    path = tmp_path / "m.yaml"
    path.write_text(yaml.safe_dump(doc))
    cluster = _cluster(tmp_path, NODE)
    result = _ok(
        invoke("why-pending", "-f", str(path), "--snapshot", str(cluster), "-o", "json"), 0, 1
    )
    out = json.loads(result.stdout)
    # every fixture's GPU template is the one judged: a CPU-only node cannot fit it
    assert not any(n["fits"] for n in out["nodes"]), out["nodes"]
    reasons = {r for n in out["nodes"] for r in n["reasons"]}
    if "nodeSelector" in json.dumps(doc):  # the template's (or workflow's) selector is read
        assert reasons == {"node(s) didn't match Pod's node affinity/selector"}, reasons
    else:
        assert "Insufficient nvidia.com/gpu" in reasons, reasons


def test_init_container_resources_are_checked(tmp_path):
    pod = copy.deepcopy(POD)
    pod["spec"]["initContainers"] = [
        {
            "name": "fetch",
            "image": "busybox:1.36",
            "resources": {"requests": {"memory": "1Gi"}, "limits": {"memory": "8Gi"}},
        }
    ]
    found = [f for f in _lint_rules(tmp_path, [pod]) if f["rule"] == "AMD802"]
    assert found and "fetch" in found[0]["message"]
