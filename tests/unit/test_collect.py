"""Live collection against a fake API server on 127.0.0.1 (no real cluster, no network).

The fake serves JSON lists with limit/continue paging and can be told to expire a continue
token (410), throttle (429 with Retry-After), fail (5xx), forbid (403) or not serve (404) any
path; it records every request so tests can check what the collector asked for.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest
import yaml

from amldoctor.bundle import MANIFEST
from amldoctor.collect import LiveOptions, kinds, transport
from amldoctor.collect import kubeconfig as kubeconfig_module
from amldoctor.collect.collector import collect_for_pod, collect_live
from amldoctor.collect.kinds import BOUND_PODS, NOMINATED_PODS
from amldoctor.errors import ClusterError, InputError
from amldoctor.load import load_snapshot
from amldoctor.redact import MASK

TOKEN = "good-token"
SERVER_DATE = "Sat, 28 Nov 2026 09:00:00 GMT"
# Add-on APIs a plain cluster does not serve (no Volcano, no AML extension, no metrics-server).
PLURALS = {r.plural for r in (*kinds.NAMESPACED, *kinds.CLUSTER_SCOPED)}
UNSERVED_GROUPS = {
    "scheduling.volcano.sh",
    "batch.volcano.sh",
    "amlarc.azureml.com",
    "metrics.k8s.io",
}


class FakeCluster:
    """What the fake API server serves; tests edit it before collecting."""

    def __init__(self) -> None:
        self.lists: dict[str, list[dict]] = {}
        self.objects: dict[str, dict] = {}
        self.forced: dict[str, int] = {}  # path -> status returned every time
        self.script: dict[str, list[tuple[int, dict]]] = {}  # path -> (status, headers) first
        self.expire_continue: set[str] = set()  # paths whose next continue token is too old
        self.requests: list[tuple[str, dict[str, str], dict[str, str]]] = []
        self.lock = threading.Lock()

    def queries(self, path: str) -> list[dict[str, str]]:
        return [q for p, q, _ in self.requests if p == path]

    def respond(self, path: str, query: dict[str, str], headers: dict[str, str]):
        with self.lock:
            self.requests.append((path, query, headers))
            if headers.get("authorization") != f"Bearer {TOKEN}":
                return 401, {}, _status(401, "Unauthorized")
            if self.script.get(path):
                status, extra = self.script[path].pop(0)
                return status, extra, _status(status, f"scripted {status}")
            if path in self.forced:
                status = self.forced[path]
                return status, {}, _status(status, f'{path} is forbidden: User "u" cannot list')
            if path == "/version":
                return 200, {}, {"gitVersion": "v1.35.2"}
            if path in self.objects:
                return 200, {}, self.objects[path]
            if path not in self.lists:
                unserved = path.startswith("/apis/") and path.split("/")[2] in UNSERVED_GROUPS
                if unserved or path.rsplit("/", 1)[-1] not in PLURALS:  # an object GET
                    return 404, {}, _status(404, "the server could not find the requested resource")
                return 200, {}, {"kind": "List", "apiVersion": "v1", "metadata": {}, "items": []}
            token = query.get("continue")
            if token and path in self.expire_continue:
                self.expire_continue.discard(path)
                return 410, {}, _status(410, "The provided continue parameter is too old")
            return 200, {}, self._page(path, query, headers)

    def _page(self, path: str, query: dict[str, str], headers: dict[str, str]) -> dict:
        items = self.lists[path]
        start = int(query.get("continue", "0") or 0)
        limit = int(query.get("limit", "0") or 0) or len(items)
        # Like the API server: list items carry neither kind nor apiVersion.
        page = [
            {k: v for k, v in item.items() if k not in ("kind", "apiVersion")}
            for item in items[start : start + limit]
        ]
        if "PartialObjectMetadataList" in headers.get("accept", ""):
            page = [{"metadata": item["metadata"]} for item in page]
        more = start + limit < len(items)
        return {
            "kind": "List",
            "apiVersion": "v1",
            "metadata": {"continue": str(start + limit) if more else ""},
            "items": page,
        }


def _status(code: int, message: str) -> dict:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "status": "Failure",
        "message": message,
        "code": code,
    }


def _handler(cluster: FakeCluster):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            headers = {k.lower(): v for k, v in self.headers.items()}
            status, extra, body = cluster.respond(parts.path, dict(parse_qsl(parts.query)), headers)
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for key, value in extra.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

        def date_time_string(self, timestamp: float | None = None) -> str:
            return SERVER_DATE  # a server clock that differs from ours: the snapshot uses it

    return Handler


@pytest.fixture
def cluster():
    fake = FakeCluster()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield fake
    server.shutdown()
    server.server_close()


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch):
    """Retries sleep; record the delays instead of waiting them out."""
    delays: list[float] = []
    monkeypatch.setattr(transport.time, "sleep", delays.append)
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    return delays


def kubeconfig(
    tmp_path: Path,
    server: str,
    *,
    token: str = TOKEN,
    namespace: str | None = "ml",
    name: str = "kc.yaml",
    context: str = "fake",
    current: bool = True,
) -> Path:
    ctx = {"cluster": "fake-cluster", "user": "fake-user"}
    if namespace:
        ctx["namespace"] = namespace
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "fake-cluster", "cluster": {"server": server}}],
        "users": [{"name": "fake-user", "user": {"token": token}}],
        "contexts": [{"name": context, "context": ctx}],
    }
    if current:
        doc["current-context"] = context
    path = tmp_path / name
    path.write_text(yaml.safe_dump(doc))
    return path


def pod(name: str, ns: str = "ml", node: str | None = "n1", phase: str = "Running", **spec) -> dict:
    return {
        "kind": "Pod",
        "apiVersion": "v1",
        "metadata": {
            "name": name,
            "namespace": ns,
            "uid": f"uid-{ns}-{name}",
            "managedFields": [{"manager": "kubectl"}],
        },
        "spec": {"nodeName": node, "containers": [{"name": "c", "image": "i", **spec}]},
        "status": {"phase": phase},
    }


def populate(fake: FakeCluster, ns: str = "ml", pods: int = 3) -> None:
    namespace = {"kind": "Namespace", "metadata": {"name": ns, "uid": f"ns-{ns}"}}
    fake.objects[f"/api/v1/namespaces/{ns}"] = namespace
    fake.lists.setdefault("/api/v1/namespaces", []).append(namespace)
    fake.lists[f"/api/v1/namespaces/{ns}/pods"] = [pod(f"p{i:04d}", ns) for i in range(pods)]
    fake.lists["/api/v1/pods"] = [pod("p0000", ns), pod("other", "team-b")]
    fake.lists["/api/v1/nodes"] = [{"metadata": {"name": "n1", "uid": "node-1"}}]
    fake.lists[f"/api/v1/namespaces/{ns}/configmaps"] = [{"metadata": {"name": "kube-root-ca.crt"}}]


def options(path: Path, **kw) -> LiveOptions:
    return LiveOptions(kubeconfig=str(path), request_timeout=2.0, **kw)


# -- collecting --------------------------------------------------------------------------------


def test_pages_every_kind_and_stamps_kind_and_api_version(cluster, tmp_path):
    populate(cluster, pods=1203)
    snap = collect_live(options(kubeconfig(tmp_path, cluster.url))).snapshot

    pods = snap.of_kind("Pod", "ml")
    assert len(pods) == 1203
    assert {p["apiVersion"] for p in pods} == {"v1"}
    assert all("managedFields" not in p["metadata"] for p in pods)
    pages = cluster.queries("/api/v1/namespaces/ml/pods")
    assert [q.get("continue") for q in pages] == [None, "500", "1000"]
    assert {q["limit"] for q in pages} == {"500"}
    # p0000 came from both the namespace list and the bound-pods list: kept once.
    assert [p["metadata"]["name"] for p in snap.pods].count("p0000") == 1
    assert snap.get("Pod", "team-b", "other") is not None
    assert snap.node("n1")["kind"] == "Node"
    assert snap.namespace == "ml" and snap.context == "fake"
    assert snap.server_version == "v1.35.2"
    assert snap.captured_at.isoformat() == "2026-11-28T09:00:00+00:00"
    assert snap.collected("Pod") and snap.collected("Node") and snap.collected("Namespace")
    assert len(snap.of_kind("Namespace")) == 1, "read by GET and by LIST, kept once"


def test_absent_crds_and_metrics_are_missing_not_fatal(cluster, tmp_path):
    populate(cluster)
    snap = collect_live(options(kubeconfig(tmp_path, cluster.url))).snapshot
    missing = {(m.kind, m.namespace): m for m in snap.missing}
    assert missing[("InstanceType", None)].status == 404
    assert "not installed" in missing[("InstanceType", None)].reason
    assert ("PodGroup", "ml") in missing and ("Job.batch.volcano.sh", "ml") in missing
    assert ("AmlJob", "ml") in missing and ("Queue", None) in missing
    assert "metrics" in missing[("PodMetrics", "ml")].reason
    assert not snap.collected("InstanceType")
    assert not snap.collected("PodGroup")


def test_volcano_jobs_keep_their_group(cluster, tmp_path):
    populate(cluster)
    cluster.lists["/apis/batch.volcano.sh/v1alpha1/namespaces/ml/jobs"] = [
        {"metadata": {"name": "ml-0123", "namespace": "ml"}}
    ]
    snap = collect_live(options(kubeconfig(tmp_path, cluster.url))).snapshot
    (job,) = snap.of_kind("Job")
    assert job["apiVersion"] == "batch.volcano.sh/v1alpha1"
    assert "Job.batch.volcano.sh" in snap.collected_kinds


def test_forbidden_kind_is_recorded_and_collection_goes_on(cluster, tmp_path):
    populate(cluster)
    cluster.forced["/api/v1/nodes"] = 403
    cluster.forced["/api/v1/pods"] = 403
    snap = collect_live(options(kubeconfig(tmp_path, cluster.url))).snapshot
    node_missing = snap.missing_for("Node")
    assert node_missing is not None and node_missing.status == 403
    assert node_missing.reason.startswith("forbidden: ")
    assert not snap.collected("Node")
    assert snap.nodes == []
    assert len(snap.of_kind("Pod", "ml")) == 3
    bound = [m for m in snap.missing if m.kind == "Pod"]
    assert [(m.namespace, m.status) for m in bound] == [(None, 403)]
    assert "Pod" in snap.collected_kinds, "the namespace's own pods were read"


def test_reads_outside_the_scope_do_not_count_as_collected(cluster, tmp_path):
    populate(cluster)
    cluster.forced["/api/v1/namespaces/ml/configmaps"] = 403
    cluster.lists["/api/v1/namespaces/azureml/configmaps"] = [
        {"metadata": {"name": "arcml-healthcheck", "namespace": "azureml"}}
    ]
    snap = collect_live(options(kubeconfig(tmp_path, cluster.url))).snapshot
    assert "ConfigMap" not in snap.collected_kinds
    assert snap.get("ConfigMap", "azureml", "arcml-healthcheck") is not None
    assert not snap.collected("ConfigMap")


def test_a_refused_pod_list_in_scope_ends_the_command(cluster, tmp_path):
    """Without its pods a scan would look like a healthy, empty namespace: fail instead."""
    populate(cluster)
    cluster.forced["/api/v1/namespaces/ml/pods"] = 403
    with pytest.raises(ClusterError, match="cannot list pods in namespace ml"):
        collect_live(options(kubeconfig(tmp_path, cluster.url)))


def test_expired_continue_token_restarts_the_list(cluster, tmp_path):
    populate(cluster, pods=1100)
    cluster.expire_continue.add("/api/v1/namespaces/ml/pods")
    snap = collect_live(options(kubeconfig(tmp_path, cluster.url))).snapshot
    names = [p["metadata"]["name"] for p in snap.of_kind("Pod", "ml")]
    assert len(names) == 1100 == len(set(names))
    tokens = [q.get("continue") for q in cluster.queries("/api/v1/namespaces/ml/pods")]
    assert tokens == [None, "500", None, "500", "1000"]


def test_retries_on_429_and_5xx_honouring_retry_after(cluster, tmp_path, no_sleep):
    populate(cluster)
    cluster.script["/api/v1/nodes"] = [(429, {"Retry-After": "3"}), (500, {}), (503, {})]
    snap = collect_live(options(kubeconfig(tmp_path, cluster.url))).snapshot
    assert snap.node("n1") is not None
    assert len(cluster.queries("/api/v1/nodes")) == 4
    assert 3.0 in no_sleep
    assert snap.missing_for("Node") is None


def test_persistent_5xx_gives_up_after_bounded_retries(cluster, tmp_path):
    populate(cluster)
    cluster.forced["/api/v1/nodes"] = 500
    snap = collect_live(options(kubeconfig(tmp_path, cluster.url))).snapshot
    assert len(cluster.queries("/api/v1/nodes")) == transport.MAX_RETRIES + 1
    assert snap.missing_for("Node").status == 500


def test_retry_after_longer_than_allowed_is_not_waited(cluster, tmp_path, no_sleep):
    populate(cluster)
    cluster.script["/api/v1/nodes"] = [(429, {"Retry-After": "3600"})]
    snap = collect_live(options(kubeconfig(tmp_path, cluster.url))).snapshot
    assert len(cluster.queries("/api/v1/nodes")) == 1
    assert snap.missing_for("Node").status == 429
    assert 3600 not in no_sleep


def test_selectors_sent(cluster, tmp_path):
    populate(cluster)
    collect_live(options(kubeconfig(tmp_path, cluster.url), selector="app=train"))
    # the namespace's pods through the selector; its node-bound ones all (they occupy nodes)
    ns_pods, ns_bound = sorted(
        cluster.queries("/api/v1/namespaces/ml/pods"), key=lambda q: "labelSelector" not in q
    )
    assert ns_pods["labelSelector"] == "app=train"
    assert ns_bound["fieldSelector"] == BOUND_PODS and "labelSelector" not in ns_bound
    # listed concurrently: their order is the order the lists happened to finish in
    nominated, bound = sorted(
        cluster.queries("/api/v1/pods"), key=lambda q: "nominated" not in q["fieldSelector"]
    )
    assert BOUND_PODS == "spec.nodeName!=,status.phase!=Succeeded,status.phase!=Failed"
    # every namespace not listed apart
    assert bound["fieldSelector"] == f"{BOUND_PODS},metadata.namespace!=ml"
    # Pods that preempted keep their room on the node for the scheduler: read them too.
    assert nominated["fieldSelector"] == "spec.nodeName=,status.nominatedNodeName!="
    assert "labelSelector" not in bound and "labelSelector" not in nominated
    assert "labelSelector" not in cluster.queries("/api/v1/namespaces/ml/events")[0]
    assert cluster.queries("/api/v1/namespaces/azureml/pods"), "extension health is read"


def test_all_namespaces_lists_cluster_wide(cluster, tmp_path):
    populate(cluster)
    snap = collect_live(options(kubeconfig(tmp_path, cluster.url), all_namespaces=True)).snapshot
    assert snap.namespace is None
    (pods_query,) = cluster.queries("/api/v1/pods")
    assert "fieldSelector" not in pods_query
    assert not cluster.queries("/api/v1/namespaces/ml")
    assert not cluster.queries("/api/v1/namespaces/azureml/pods")


def test_secrets_are_listed_by_name_only(cluster, tmp_path):
    populate(cluster)
    applied = json.dumps({"kind": "Secret", "data": {"password": "aHVudGVyMg=="}})
    cluster.lists["/api/v1/namespaces/ml/secrets"] = [
        {
            "metadata": {
                "name": "db",
                "namespace": "ml",
                "annotations": {"kubectl.kubernetes.io/last-applied-configuration": applied},
            },
            "data": {"password": "aHVudGVyMg=="},
            "type": "Opaque",
        }
    ]
    snap = collect_live(options(kubeconfig(tmp_path, cluster.url))).snapshot
    (secret,) = snap.of_kind("Secret")
    assert secret == {
        "kind": "Secret",
        "apiVersion": "v1",
        "metadata": {"name": "db", "namespace": "ml"},
    }
    (headers,) = [h for p, _, h in cluster.requests if p == "/api/v1/namespaces/ml/secrets"]
    assert "as=PartialObjectMetadataList" in headers["accept"]


# -- namespaces --------------------------------------------------------------------------------


def test_unknown_namespace_is_an_input_error(cluster, tmp_path):
    populate(cluster)
    with pytest.raises(InputError, match="namespace nope does not exist") as err:
        collect_live(options(kubeconfig(tmp_path, cluster.url), namespace="nope"))
    assert err.value.exit_code == 2
    assert not cluster.queries("/api/v1/nodes"), "nothing else is read"


def test_namespace_listed_but_not_gettable_is_judged_from_the_list(cluster, tmp_path):
    populate(cluster)
    cluster.forced["/api/v1/namespaces/ghost"] = 403
    with pytest.raises(InputError, match="namespace ghost does not exist"):
        collect_live(options(kubeconfig(tmp_path, cluster.url), namespace="ghost"))


def test_namespace_not_readable_and_empty_is_an_input_error(cluster, tmp_path):
    populate(cluster)
    cluster.forced["/api/v1/namespaces/ghost"] = 403
    cluster.forced["/api/v1/namespaces"] = 403
    with pytest.raises(InputError, match="namespace ghost does not exist"):
        collect_live(options(kubeconfig(tmp_path, cluster.url), namespace="ghost"))


def test_namespace_not_readable_with_pods_is_fine(cluster, tmp_path):
    populate(cluster)
    cluster.forced["/api/v1/namespaces/ml"] = 403
    cluster.forced["/api/v1/namespaces"] = 403
    snap = collect_live(options(kubeconfig(tmp_path, cluster.url))).snapshot
    assert len(snap.of_kind("Pod", "ml")) == 3
    assert snap.missing_for("Namespace").status == 403


def test_namespace_unknowable_says_it_may_not_exist(cluster, tmp_path):
    populate(cluster)
    cluster.forced["/api/v1/namespaces/ghost"] = 403
    cluster.forced["/api/v1/namespaces"] = 403
    cluster.forced["/api/v1/namespaces/ghost/configmaps"] = 403
    snap = collect_live(options(kubeconfig(tmp_path, cluster.url), namespace="ghost")).snapshot
    assert "may not exist" in snap.missing_for("Namespace").reason


# -- connecting --------------------------------------------------------------------------------


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_server_is_a_cluster_error_naming_it(tmp_path):
    server = f"http://127.0.0.1:{_closed_port()}"
    start = time.monotonic()
    with pytest.raises(ClusterError) as err:
        collect_live(options(kubeconfig(tmp_path, server)))
    assert err.value.exit_code == 3
    assert server in str(err.value) and "connection refused" in str(err.value)
    assert "\n" not in str(err.value)
    assert time.monotonic() - start < 2.0


def test_silent_server_times_out_within_the_request_timeout(tmp_path):
    with socket.socket() as listener:  # accepts connections, never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        server = f"http://127.0.0.1:{listener.getsockname()[1]}"
        start = time.monotonic()
        with pytest.raises(ClusterError, match=r"no answer within 0\.5s"):
            opts = LiveOptions(kubeconfig=str(kubeconfig(tmp_path, server)), request_timeout=0.5)
            collect_live(opts)
        assert time.monotonic() - start < 1.5


def test_tls_failure_is_a_cluster_error(cluster, tmp_path):
    server = cluster.url.replace("http://", "https://")
    path = kubeconfig(tmp_path, server)
    doc = yaml.safe_load(path.read_text())
    doc["clusters"][0]["cluster"]["insecure-skip-tls-verify"] = True
    path.write_text(yaml.safe_dump(doc))
    with pytest.raises(ClusterError, match="TLS") as err:
        collect_live(options(path))
    assert server in str(err.value)


def test_rejected_credentials_are_a_cluster_error(cluster, tmp_path):
    populate(cluster)
    with pytest.raises(ClusterError, match="401") as err:
        collect_live(options(kubeconfig(tmp_path, cluster.url, token="expired")))
    assert "context fake" in str(err.value)


def test_unknown_context_is_a_cluster_error(cluster, tmp_path):
    with pytest.raises(ClusterError, match=r"context 'prod' not found .*contexts: fake"):
        collect_live(options(kubeconfig(tmp_path, cluster.url), context="prod"))


def test_missing_kubeconfig_is_a_cluster_error(tmp_path):
    with pytest.raises(ClusterError, match="does not exist"):
        collect_live(LiveOptions(kubeconfig=str(tmp_path / "absent")))


def test_kubeconfig_env_merges_files_and_first_current_context_wins(cluster, tmp_path, monkeypatch):
    populate(cluster)
    populate(cluster, ns="team-a")
    first = tmp_path / "first.yaml"
    first.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "Config", "current-context": "a"}))
    second = kubeconfig(tmp_path, cluster.url, name="second.yaml", context="b", namespace="ml")
    third = kubeconfig(tmp_path, cluster.url, name="third.yaml", context="a", namespace="team-a")
    monkeypatch.setenv("KUBECONFIG", f"{first}:{tmp_path / 'absent.yaml'}:{second}:{third}")
    snap = collect_live(LiveOptions(request_timeout=2.0)).snapshot
    assert snap.context == "a"
    assert snap.namespace == "team-a"
    assert len(snap.of_kind("Pod", "team-a")) == 3


def test_namespace_flag_overrides_the_context_default(cluster, tmp_path):
    populate(cluster, ns="team-a")
    snap = collect_live(options(kubeconfig(tmp_path, cluster.url), namespace="team-a")).snapshot
    assert snap.namespace == "team-a"


def test_in_cluster_configuration(tmp_path, monkeypatch):
    token, cert, ns = tmp_path / "token", tmp_path / "ca.crt", tmp_path / "namespace"
    token.write_text("sa-token\n")
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-subj", "/CN=test-ca", "-keyout", str(tmp_path / "ca.key"), "-out", str(cert)),
        ],
        check=True,
        capture_output=True,
    )
    ns.write_text("aml-compute\n")
    monkeypatch.setattr(kubeconfig_module, "SA_TOKEN_FILE", str(token))
    monkeypatch.setattr(kubeconfig_module, "SA_CA_FILE", str(cert))
    monkeypatch.setattr(kubeconfig_module, "SA_NAMESPACE_FILE", str(ns))
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "443")
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.kube/config
    conn = transport.connect(LiveOptions())
    assert conn.server == "https://10.0.0.1:443"
    assert (conn.context, conn.namespace) == ("in-cluster", "aml-compute")
    assert conn.auth() == {"Authorization": "Bearer sa-token"}


# -- one pod -----------------------------------------------------------------------------------


def test_collect_for_pod_reads_only_what_scheduling_needs(cluster, tmp_path):
    populate(cluster)
    target = pod("trainer", node=None, phase="Pending")
    target["metadata"]["annotations"] = {"scheduling.k8s.io/group-name": "ml-job1"}
    cluster.objects["/api/v1/namespaces/ml/pods/trainer"] = target
    snap = collect_for_pod(options(kubeconfig(tmp_path, cluster.url)), "trainer")
    assert snap.get("Pod", "ml", "trainer")["status"]["phase"] == "Pending"
    assert snap.node("n1") is not None
    assert {q["fieldSelector"] for q in cluster.queries("/api/v1/namespaces/ml/events")} == {
        "involvedObject.name=trainer",
        "involvedObject.name=ml-job1",
    }
    # bound pods per namespace (ml's too) and the rest, and the nominated pods, listed
    # concurrently: compared whatever order they finish in
    assert {q["fieldSelector"] for q in cluster.queries("/api/v1/pods")} == {
        f"{BOUND_PODS},metadata.namespace!=ml",
        NOMINATED_PODS,
    }
    ns_lists = cluster.queries("/api/v1/namespaces/ml/pods")
    assert [q.get("fieldSelector") for q in ns_lists] == [BOUND_PODS], "no namespace-wide list"
    assert not cluster.queries("/api/v1/namespaces/ml/configmaps")


def test_collect_for_pod_unknown_pod_and_namespace(cluster, tmp_path):
    populate(cluster)
    with pytest.raises(InputError, match="pod nope not found in namespace ml"):
        collect_for_pod(options(kubeconfig(tmp_path, cluster.url)), "nope")
    with pytest.raises(InputError, match="namespace ghost does not exist"):
        collect_for_pod(options(kubeconfig(tmp_path, cluster.url), namespace="ghost"), "p")


# -- dump --------------------------------------------------------------------------------------


def test_dump_writes_a_bundle_that_loads_back_masked(cluster, tmp_path, capsys):
    from amldoctor.commands.dump import dump

    populate(cluster)
    cluster.lists["/api/v1/namespaces/ml/pods"][0]["spec"]["containers"][0]["env"] = [
        {"name": "AZUREML_RUN_TOKEN", "value": "s3cr3t-value"},
        {"name": "EPOCHS", "value": "10"},
    ]
    cluster.forced["/api/v1/nodes"] = 403
    kc = kubeconfig(tmp_path, cluster.url)
    for out in (tmp_path / "b.tar.gz", tmp_path / "bundle-dir"):
        dump(
            namespace=None,
            all_namespaces=False,
            selector=None,
            output=str(out),
            kubeconfig=str(kc),
            context=None,
            request_timeout=2.0,
            debug=False,
        )
        said = capsys.readouterr().err.splitlines()
        assert said[0].startswith(f"wrote {out}: ")
        assert said[1] == (
            "  not installed in this cluster: "
            "AmlJob, InstanceType, Job.batch.volcano.sh, PodGroup, Queue"
        )
        assert said[2].startswith("  not read: Node: forbidden: ")
        live = collect_live(options(kc)).snapshot
        loaded = load_snapshot(out)
        assert loaded.namespace == "ml" and loaded.context == "fake"
        assert loaded.server_version == "v1.35.2"
        assert loaded.captured_at == live.captured_at
        assert loaded.collected_kinds == live.collected_kinds
        assert loaded.missing == live.missing
        assert not loaded.collected("Node")
        env = loaded.get("Pod", "ml", "p0000")["spec"]["containers"][0]["env"]
        assert env == [
            {"name": "AZUREML_RUN_TOKEN", "value": MASK},
            {"name": "EPOCHS", "value": "10"},
        ]
        assert len(loaded.of_kind("Pod")) == len(live.of_kind("Pod"))
    manifest = json.loads((tmp_path / "bundle-dir" / MANIFEST).read_text())
    assert manifest["server"] == cluster.url
    assert "s3cr3t" not in "".join(p.read_text() for p in (tmp_path / "bundle-dir").iterdir())


def test_importing_the_live_path_does_not_import_the_kubernetes_client():
    code = (
        "import sys, amldoctor.collect.collector, amldoctor.bundle, amldoctor.redact, "
        "amldoctor.commands.dump; print('kubernetes' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# -- a namespace's scan lists other namespaces' pods only when something waits for a node ------

PODGROUPS = "/apis/scheduling.volcano.sh/v1beta1/namespaces/ml/podgroups"


def _waiting_pod() -> dict:
    return pod("waiting", node=None, phase="Pending")


def _podgroup(phase: str | None) -> dict:
    return {
        "metadata": {"name": "pg", "namespace": "ml"},
        "status": {"phase": phase} if phase else {},
    }


# (the namespace's pods, its PodGroups or None when Volcano is not served, must list bound pods)
OCCUPANCY_CASES = {
    "all running": ([pod("a")], None, False),
    "pending unbound pod": ([pod("a"), _waiting_pod()], None, True),
    "pending pod already bound": ([pod("a", phase="Pending")], None, False),
    "failed unbound pod": ([pod("a", node=None, phase="Failed")], None, False),
    "succeeded unbound pod": ([pod("a", node=None, phase="Succeeded")], None, False),
    "terminating unbound pod": (
        [{**_waiting_pod(), "metadata": {**_waiting_pod()["metadata"], "deletionTimestamp": "x"}}],
        None,
        False,
    ),
    "no pods at all": ([], None, False),
    **{
        f"PodGroup {phase or 'without a phase'}, no pods": ([], [_podgroup(phase)], waits)
        for phase, waits in (
            ("Pending", True),
            ("Inqueue", True),
            (None, True),
            ("Running", False),
            ("Completed", False),
        )
    },
}


@pytest.mark.parametrize("case", OCCUPANCY_CASES)
def test_scan_in_a_namespace_reads_bound_pods_only_when_something_waits(cluster, tmp_path, case):
    from amldoctor.collect.collector import collect

    own, podgroups, needed = OCCUPANCY_CASES[case]
    populate(cluster)
    cluster.lists["/api/v1/namespaces/ml/pods"] = own
    cluster.lists["/api/v1/pods"] = [pod("other", "team-b")]
    if podgroups is not None:
        cluster.lists[PODGROUPS] = podgroups
    snap = collect(options(kubeconfig(tmp_path, cluster.url), occupancy_when_needed=True))

    bound = cluster.queries("/api/v1/pods")
    # bound and nominated pods elsewhere: what the scheduler counts on each node (the namespace
    # list names only ml, whose pods were read whole: the bound ones of every other namespace)
    occupancy = sorted([f"{BOUND_PODS},metadata.namespace!=ml", NOMINATED_PODS])
    assert sorted(q.get("fieldSelector") for q in bound) == (occupancy if needed else [])
    assert (snap.get("Pod", "team-b", "other") is not None) is needed
    assert snap.all_pods_on_nodes_read() is needed
    skipped = [m for m in snap.missing if m.kind == "Pod" and m.namespace is None]
    assert len(skipped) == (0 if needed else 1)
    if not needed:
        assert "nothing in namespace ml waits for a node" in skipped[0].reason
    assert snap.collected("Pod")
    assert {
        (p["metadata"]["namespace"], p["metadata"]["name"]) for p in snap.of_kind("Pod", "ml")
    } == {("ml", p["metadata"]["name"]) for p in own}


def test_dump_lint_and_all_namespaces_read_every_bound_pod_whatever_waits(cluster, tmp_path):
    """A bundle must answer any later why-pending question; lint --against-cluster and
    why-pending --job simulate pods the cluster does not hold; -A reads every pod anyway."""
    from amldoctor.collect.collector import collect

    populate(cluster)  # nothing waits
    # the namespace list names ml only, whose pods were read whole: every other namespace's
    occupancy = sorted([f"{BOUND_PODS},metadata.namespace!=ml", NOMINATED_PODS])
    collect_live(options(kubeconfig(tmp_path, cluster.url)))
    assert sorted(q.get("fieldSelector") for q in cluster.queries("/api/v1/pods")) == occupancy
    cluster.requests.clear()
    snap = collect(options(kubeconfig(tmp_path, cluster.url)))
    assert sorted(q.get("fieldSelector") for q in cluster.queries("/api/v1/pods")) == occupancy
    assert snap.all_pods_on_nodes_read()
    cluster.requests.clear()
    wanted = options(kubeconfig(tmp_path, cluster.url), all_namespaces=True)
    wanted.occupancy_when_needed = True
    snap = collect(wanted)
    assert [q.get("fieldSelector") for q in cluster.queries("/api/v1/pods")] == [None]
    assert snap.all_pods_on_nodes_read()


def test_forbidden_bound_pods_after_a_waiting_pod_is_reported(cluster, tmp_path):
    from amldoctor.collect.collector import collect

    populate(cluster)
    cluster.lists["/api/v1/namespaces/ml/pods"] = [_waiting_pod()]
    cluster.forced["/api/v1/pods"] = 403
    snap = collect(options(kubeconfig(tmp_path, cluster.url), occupancy_when_needed=True))
    (miss,) = [m for m in snap.missing if m.kind == "Pod"]
    assert miss.status == 403 and miss.namespace is None
    assert not snap.all_pods_on_nodes_read()
    assert snap.get("Pod", "ml", "waiting") is not None


def test_dra_kinds_are_collected_and_a_forbidden_one_degrades(cluster, tmp_path):
    populate(cluster)
    api = "/apis/resource.k8s.io/v1"
    held = {"metadata": {"name": "held", "namespace": "team-b", "uid": "c-b"}}
    cluster.lists[f"{api}/namespaces/ml/resourceclaims"] = [
        {"metadata": {"name": "mine", "namespace": "ml", "uid": "c-ml"}}
    ]
    cluster.lists[f"{api}/resourceclaims"] = [held]  # devices other namespaces hold
    cluster.lists[f"{api}/resourceslices"] = [{"metadata": {"name": "s1"}, "spec": {}}]
    cluster.forced[f"{api}/deviceclasses"] = 403
    snap = collect_live(options(kubeconfig(tmp_path, cluster.url))).snapshot
    assert snap.get("ResourceClaim", "ml", "mine")["apiVersion"] == "resource.k8s.io/v1"
    assert snap.get("ResourceClaim", "team-b", "held") is not None
    assert snap.collected("ResourceClaim") and snap.collected("ResourceSlice")
    assert snap.missing_for("DeviceClass").status == 403
    assert not snap.collected("DeviceClass")
    assert cluster.queries(f"{api}/namespaces/ml/resourceclaimtemplates")


def test_intake_walks_only_what_no_typed_decoder_built(cluster, tmp_path, monkeypatch):
    """Pods and nodes come from typed decoders: the snapshot's intake does not check them
    again. A page the typed decoder refuses (a wrong-typed value) is read the tolerant way, and
    intake sets the wrong value aside, exactly as for a loaded file."""
    import amldoctor.intake as intake_module

    populate(cluster, pods=5)
    bad = pod("bad", "ml")
    bad["spec"]["containers"][0]["image"] = 7  # a number where a string belongs
    cluster.lists["/api/v1/namespaces/ml/pods"].append(bad)
    walked: list[str] = []
    real = intake_module.conform

    def counting(obj, shape):
        walked.append(f"{obj.get('kind')}/{(obj.get('metadata') or {}).get('name')}")
        return real(obj, shape)

    monkeypatch.setattr(intake_module, "conform", counting)
    snap = collect_live(options(kubeconfig(tmp_path, cluster.url))).snapshot
    # The refused page (the namespace's pods) is walked; the cluster-wide pods and the nodes,
    # built typed, are not.
    assert snap.get("Pod", "team-b", "other") is not None and snap.node("n1") is not None
    assert "Pod/bad" in walked and "Node/n1" not in walked and "Pod/other" not in walked
    assert snap.intake.reshaped == 1
    image = snap.get("Pod", "ml", "bad")["spec"]["containers"][0].get("image")
    assert image is None  # set aside, as intake does for any source
