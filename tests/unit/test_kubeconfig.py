"""The kubeconfig read without the `kubernetes` client: every credential kind reaches the server.

Each case writes a kubeconfig, collects from the fake API server of `test_collect` (which
answers only `Bearer good-token`), and checks what the server was sent. A legacy auth-provider
goes to the client's own loader, which must still work.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from amldoctor.collect import LiveOptions, kubeconfig, transport
from amldoctor.collect.collector import collect_live
from amldoctor.errors import ClusterError
from tests.unit import test_collect
from tests.unit.test_collect import TOKEN, populate

# The fake API server and the no-retry-sleep guard of the collector's tests.
cluster = test_collect.cluster
no_sleep = test_collect.no_sleep


def write(tmp_path: Path, server: str, user: dict, *, name: str = "kc.yaml", **cluster_extra):
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": "ctx",
        "clusters": [{"name": "c", "cluster": {"server": server, **cluster_extra}}],
        "users": [{"name": "u", "user": user}],
        "contexts": [{"name": "ctx", "context": {"cluster": "c", "user": "u", "namespace": "ml"}}],
    }
    path = tmp_path / name
    path.write_text(yaml.safe_dump(doc))
    return path


def collect(path: Path):
    return collect_live(LiveOptions(kubeconfig=str(path), request_timeout=2.0)).snapshot


def plugin(tmp_path: Path, status: dict | None, *, code: int = 0, api: str | None = None) -> Path:
    """An exec credential plugin: records its environment, prints an ExecCredential."""
    script = tmp_path / "bin" / "plugin.py"
    script.parent.mkdir(exist_ok=True)
    out = {"apiVersion": api or "client.authentication.k8s.io/v1", "kind": "ExecCredential"}
    if status is not None:
        out["status"] = status
    script.write_text(
        "import json, os, sys\n"
        "open(os.path.join(os.getcwd(), 'seen.json'), 'w').write(json.dumps("
        "{'info': json.loads(os.environ['KUBERNETES_EXEC_INFO']), 'argv': sys.argv[1:], "
        "'extra': os.environ.get('EXTRA')}))\n"
        f"sys.stderr.write('plugin said no\\n')\nprint({json.dumps(json.dumps(out))})\n"
        f"sys.exit({code})\n"
    )
    return script


def exec_user(script: Path, **extra) -> dict:
    return {
        "exec": {
            "apiVersion": "client.authentication.k8s.io/v1",
            "command": sys.executable,
            "args": [str(script.relative_to(script.parent.parent)), "--flag"],
            "env": [{"name": "EXTRA", "value": "yes"}],
            **extra,
        }
    }


def test_a_token_reaches_the_server(cluster, tmp_path):
    populate(cluster)
    assert collect(write(tmp_path, cluster.url, {"token": TOKEN})).of_kind("Pod", "ml")


def test_a_token_file_is_relative_to_the_kubeconfig(cluster, tmp_path):
    populate(cluster)
    (tmp_path / "secret").mkdir()
    (tmp_path / "secret" / "token").write_text(TOKEN + "\n")
    assert collect(write(tmp_path, cluster.url, {"tokenFile": "secret/token"})).of_kind("Pod")


def test_a_user_name_and_password_are_sent_as_basic_auth(cluster, tmp_path):
    populate(cluster)
    path = write(tmp_path, cluster.url, {"username": "ada", "password": "pw"})
    with pytest.raises(ClusterError, match="401"):
        collect(path)
    sent = cluster.requests[-1][2]["authorization"]
    assert sent == "Basic " + base64.b64encode(b"ada:pw").decode()


def test_an_exec_plugin_gets_the_exec_info_and_its_token_is_sent(cluster, tmp_path):
    populate(cluster)
    script = plugin(tmp_path, {"token": TOKEN})
    user = exec_user(script, provideClusterInfo=True)
    extension = {"name": "client.authentication.k8s.io/exec", "extension": {"audience": "x"}}
    path = write(tmp_path, cluster.url, user, **{"tls-server-name": "k", "extensions": [extension]})
    assert collect(path).of_kind("Pod", "ml")
    seen = json.loads((tmp_path / "seen.json").read_text())  # the plugin ran in the file's dir
    assert seen["argv"] == ["--flag"] and seen["extra"] == "yes"
    info = seen["info"]
    assert (info["kind"], info["apiVersion"]) == ("ExecCredential", user["exec"]["apiVersion"])
    assert info["spec"]["interactive"] is False
    assert info["spec"]["cluster"] == {
        "server": cluster.url,
        "tlsServerName": "k",
        "config": {"audience": "x"},
    }


@pytest.mark.parametrize(
    ("status", "code", "api", "said"),
    [
        ({"token": TOKEN}, 3, None, "exec: process returned 3. plugin said no"),
        ({}, 0, None, "missing token or clientCertificateData"),
        (None, 0, None, "missing key 'status'"),
        ({"token": TOKEN}, 0, "client.authentication.k8s.io/v1beta1", "does not match"),
    ],
    ids=["exit code", "no credential", "no status", "other api version"],
)
def test_a_failing_exec_plugin_is_one_cluster_error(cluster, tmp_path, status, code, api, said):
    path = write(tmp_path, cluster.url, exec_user(plugin(tmp_path, status, code=code, api=api)))
    with pytest.raises(ClusterError) as err:
        collect(path)
    assert str(err.value).startswith("credential plugin for context ctx failed: ")
    assert said in str(err.value) and "\n" not in str(err.value)
    assert err.value.exit_code == 3


def test_an_exec_plugin_that_is_not_there_says_how_to_install_it(cluster, tmp_path):
    hint = "kubelogin is not installed:\n  az aks install-cli"
    exec_ = {"apiVersion": "client.authentication.k8s.io/v1", "command": "no-such-cmd"}
    with pytest.raises(ClusterError) as err:
        collect(write(tmp_path, cluster.url, {"exec": {**exec_, "installHint": hint}}))
    said = str(err.value)
    assert said.startswith("credential plugin for context ctx failed: exec: no-such-cmd: ")
    assert said.endswith("(kubelogin is not installed: az aks install-cli)") and "\n" not in said


def test_a_token_wins_over_an_exec_plugin(cluster, tmp_path):
    populate(cluster)
    script = plugin(tmp_path, {"token": "not-this-one"})
    path = write(tmp_path, cluster.url, {"token": TOKEN, **exec_user(script)})
    assert collect(path).of_kind("Pod", "ml")
    assert not (tmp_path / "seen.json").exists()


def test_files_merge_first_wins_and_paths_are_relative_to_their_file(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = write(tmp_path / "a", "https://first", {"tokenFile": "tok"}, name="kc")
    (tmp_path / "a" / "tok").write_text("from-a")
    second = yaml.safe_load(first.read_text())
    second["clusters"][0]["cluster"] = {"server": "https://second", "certificate-authority": "ca"}
    second["current-context"] = "other"
    (tmp_path / "b" / "kc").write_text(yaml.safe_dump(second))
    (tmp_path / "b" / "tok").write_text("from-b")
    merged = kubeconfig.read([str(first), str(tmp_path / "b" / "kc")])
    assert merged.current == "ctx"
    end = kubeconfig.resolve(merged, "ctx", None)
    assert (end.server, end.namespace, end.ca_file) == ("https://first", "ml", None)
    assert end.headers == {"Authorization": "Bearer from-a"}
    only_b = kubeconfig.resolve(kubeconfig.read([str(tmp_path / "b" / "kc")]), "ctx", "x")
    assert only_b.ca_file == str(tmp_path / "b" / "ca")
    assert (only_b.namespace, only_b.headers) == ("x", {"Authorization": "Bearer from-b"})


def test_a_context_naming_an_absent_cluster_is_a_cluster_error(tmp_path):
    path = write(tmp_path, "https://x", {"token": "t"})
    doc = yaml.safe_load(path.read_text())
    doc["contexts"][0]["context"]["cluster"] = "gone"
    path.write_text(yaml.safe_dump(doc))
    with pytest.raises(ClusterError, match="cluster 'gone' is not in the kubeconfig"):
        transport.connect(LiveOptions(kubeconfig=str(path)))


def _jwt(claims: dict) -> str:
    def part(value: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

    return f"{part({'alg': 'none'})}.{part(claims)}.sig"


def test_a_legacy_auth_provider_is_left_to_the_kubernetes_client(cluster, tmp_path):
    """OIDC with a still valid id-token: the client's loader sends it as is."""
    populate(cluster)
    token = _jwt({"exp": int(time.time()) + 3600, "iss": "https://idp"})
    user = {
        "auth-provider": {
            "name": "oidc",
            "config": {"id-token": token, "client-id": "x", "idp-issuer-url": "https://idp"},
        }
    }
    path = write(tmp_path, cluster.url, user)
    assert kubeconfig.needs_client(kubeconfig.read([str(path)]), "ctx")
    with pytest.raises(ClusterError, match="401"):
        collect(path)
    assert cluster.requests[-1][2]["authorization"] == f"Bearer {token}"


def test_the_common_kubeconfig_path_does_not_import_the_kubernetes_client(tmp_path):
    """What the reader exists for: a token kubeconfig connects with no `kubernetes` import."""
    path = write(tmp_path, "https://127.0.0.1:1", {"token": "t"}, **{"certificate-authority": ""})
    code = (
        "import sys; from amldoctor.collect import LiveOptions, transport; "
        f"transport.connect(LiveOptions(kubeconfig={str(path)!r})); "
        "print('kubernetes' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_proxies_from_the_kubeconfig_and_the_environment(tmp_path, monkeypatch):
    """proxy-url wins; else HTTPS_PROXY applies unless NO_PROXY names the server."""
    import urllib3

    monkeypatch.setenv("HTTPS_PROXY", "http://env-proxy:3128")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    conn = transport.connect(LiveOptions(kubeconfig=str(write(tmp_path, "https://api", {}))))
    assert isinstance(conn.pool, urllib3.ProxyManager)
    assert conn.pool.proxy.host == "env-proxy"
    own = write(tmp_path, "https://api", {}, name="own.yaml", **{"proxy-url": "http://mine:8080"})
    assert transport.connect(LiveOptions(kubeconfig=str(own))).pool.proxy.host == "mine"
    monkeypatch.setenv("NO_PROXY", "api")
    conn = transport.connect(LiveOptions(kubeconfig=str(write(tmp_path, "https://api", {}))))
    assert not isinstance(conn.pool, urllib3.ProxyManager)


def test_a_socks_proxy_without_pysocks_is_one_line_and_hides_its_password(tmp_path, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_socks(name, *args, **kwargs):
        if name == "urllib3.contrib.socks":
            raise ImportError("no socks")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_socks)
    proxy = {"proxy-url": "socks5://user:s3cret@proxy:1080"}
    path = write(tmp_path, "https://api", {}, **proxy)
    with pytest.raises(ClusterError) as err:
        transport.connect(LiveOptions(kubeconfig=str(path)))
    assert "PySocks" in str(err.value) and "s3cret" not in str(err.value)
    assert "socks5://user:***@proxy:1080" in str(err.value)
