"""Which server, and as whom: the kubeconfig (or the service account) resolved as kubectl does.

Why our own reader: the `kubernetes` client's loader imports, at module level, oauthlib,
requests-oauthlib, dateutil, multiprocessing and (through its API client) pydantic, about 0.3 s of
CPU on every live run, more than a third of what `kubectl get` costs in all. What a kubeconfig
says is small: a server, its CA, and one credential (a token or token file, a client
certificate, an exec plugin such as kubelogin, or a user name and password). Those are read here.
The legacy `auth-provider` entries (OIDC refresh, GCP) are left to the client
(`needs_client`): only then is it imported.

Rules followed, from kubectl (client-go's loading rules) and the Python client where they agree:
files named in `KUBECONFIG` are merged, the first file to name a cluster, user or context wins,
and so does the first `current-context`; relative file paths are relative to the file that
holds the entry; `*-data` fields are base64; a token wins over an exec plugin, which wins over a
user name and password.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from amldoctor.errors import ClusterError

SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
SA_TOKEN_FILE = f"{SA_DIR}/token"
SA_CA_FILE = f"{SA_DIR}/ca.crt"
SA_NAMESPACE_FILE = f"{SA_DIR}/namespace"


@dataclass
class Endpoint:
    """A resolved context: where to send requests, how to trust the server, who we are."""

    server: str
    context: str
    namespace: str
    ca_file: str | None = None
    ca_data: str | None = None  # PEM
    client_cert: bytes | None = None  # PEM
    client_key: bytes | None = None  # PEM
    client_cert_file: str | None = None
    client_key_file: str | None = None
    verify: bool = True
    tls_server_name: str | None = None
    proxy: str | None = None  # the cluster's proxy-url; else the environment's, as kubectl
    headers: dict[str, str] = field(default_factory=dict)  # Authorization


@dataclass
class _Entry:
    """A named cluster, user or context, and the directory its relative paths start from."""

    value: dict[str, Any]
    base: str


@dataclass
class Kubeconfig:
    """The merged files: entries by name (first file wins) and the current context."""

    paths: list[str]
    clusters: dict[str, _Entry] = field(default_factory=dict)
    users: dict[str, _Entry] = field(default_factory=dict)
    contexts: dict[str, _Entry] = field(default_factory=dict)
    current: str | None = None


def paths(explicit: str | None) -> list[str]:
    """--kubeconfig is one file; KUBECONFIG may list several, merged first-wins like kubectl."""
    if explicit:
        return [os.path.expanduser(explicit)]
    env = os.environ.get("KUBECONFIG")
    if env:
        return [os.path.expanduser(p) for p in env.split(os.pathsep) if p]
    return [os.path.expanduser("~/.kube/config")]


def read(files: list[str]) -> Kubeconfig:
    """Merge the files; ClusterError naming the file when one is not a readable kubeconfig."""
    merged = Kubeconfig(files)
    for path in files:
        try:
            doc = yaml.safe_load(Path(path).read_text())
        except (OSError, yaml.YAMLError) as exc:
            raise ClusterError(f"cannot read kubeconfig {path}: {_first_line(exc)}") from None
        if doc is None:
            continue
        if not isinstance(doc, dict):
            raise ClusterError(f"cannot read kubeconfig {path}: not a kubeconfig (a mapping)")
        base = os.path.dirname(os.path.abspath(path))
        for key, into in (
            ("clusters", merged.clusters),
            ("users", merged.users),
            ("contexts", merged.contexts),
        ):
            for item in doc.get(key) or ():
                if isinstance(item, dict) and isinstance(item.get("name"), str):
                    body = item.get(key[:-1])
                    into.setdefault(
                        item["name"], _Entry(body if isinstance(body, dict) else {}, base)
                    )
        if merged.current is None and doc.get("current-context"):
            merged.current = str(doc["current-context"])
    return merged


def needs_client(config: Kubeconfig, context: str) -> bool:
    """A legacy `auth-provider` user (OIDC refresh, GCP): left to the `kubernetes` client."""
    ctx = config.contexts[context].value
    user = config.users.get(str(ctx.get("user") or ""))
    return user is not None and bool(user.value.get("auth-provider"))


def resolve(config: Kubeconfig, context: str, namespace: str | None) -> Endpoint:
    """The endpoint of `context`: server, trust, and credentials (running an exec plugin)."""
    ctx = config.contexts[context].value
    cluster = config.clusters.get(str(ctx.get("cluster") or ""))
    if cluster is None:
        raise ClusterError(
            f"context {context}: cluster {ctx.get('cluster')!r} is not in the kubeconfig"
        )
    server = str(cluster.value.get("server") or "").rstrip("/")
    if not server:
        raise ClusterError(f"context {context}: cluster {ctx.get('cluster')} has no server")
    ns = namespace or ctx.get("namespace") or "default"
    end = Endpoint(server, context, str(ns))
    _trust(end, cluster, context)
    user = config.users.get(str(ctx.get("user") or ""))
    if user is not None:
        _credentials(end, user, cluster, context)
    return end


def _trust(end: Endpoint, cluster: _Entry, context: str) -> None:
    value = cluster.value
    end.verify = not value.get("insecure-skip-tls-verify")
    end.tls_server_name = value.get("tls-server-name") or None
    end.proxy = value.get("proxy-url") or None
    data = value.get("certificate-authority-data")
    if data:
        end.ca_data = _b64(data, "certificate-authority-data", context).decode("ascii", "replace")
    elif value.get("certificate-authority"):
        end.ca_file = _path(value["certificate-authority"], cluster.base)


def _credentials(end: Endpoint, user: _Entry, cluster: _Entry, context: str) -> None:
    value = user.value
    if value.get("client-certificate-data"):
        end.client_cert = _b64(value["client-certificate-data"], "client-certificate-data", context)
    elif value.get("client-certificate"):
        end.client_cert_file = _path(value["client-certificate"], user.base)
    if value.get("client-key-data"):
        end.client_key = _b64(value["client-key-data"], "client-key-data", context)
    elif value.get("client-key"):
        end.client_key_file = _path(value["client-key"], user.base)

    token = value.get("token")
    if not token and value.get("tokenFile"):
        token_file = _path(value["tokenFile"], user.base)
        try:
            token = Path(token_file).read_text().strip()
        except OSError as exc:
            raise ClusterError(f"context {context}: cannot read tokenFile: {exc}") from None
    if token:
        end.headers["Authorization"] = f"Bearer {token}"
    elif isinstance(value.get("exec"), dict):
        _exec_plugin(end, value["exec"], user.base, cluster.value, context)
    elif value.get("username") is not None and value.get("password") is not None:
        pair = f"{value['username']}:{value['password']}".encode()
        end.headers["Authorization"] = "Basic " + base64.b64encode(pair).decode("ascii")


def _exec_plugin(
    end: Endpoint, spec: dict[str, Any], base: str, cluster: dict[str, Any], context: str
) -> None:
    """Run a credential plugin (kubelogin, aws, gke-gcloud-auth-plugin) for an ExecCredential.

    The plugin learns the request from KUBERNETES_EXEC_INFO; it may talk to the user only when
    we run on a terminal (stdin passed, its stderr shown), as kubectl lets it.
    """
    failed = f"credential plugin for context {context} failed"
    command, api_version = spec.get("command"), spec.get("apiVersion")
    if not command or not api_version:
        missing = "command" if not command else "apiVersion"
        raise ClusterError(f"{failed}: exec: malformed request. missing key '{missing}'")
    interactive = (
        sys.stdin is not None and sys.stdin.isatty() and spec.get("interactiveMode") != "Never"
    )
    info: dict[str, Any] = {
        "apiVersion": api_version,
        "kind": "ExecCredential",
        "spec": {"interactive": interactive},
    }
    if spec.get("provideClusterInfo"):
        info["spec"]["cluster"] = _exec_cluster(cluster)
    env = dict(os.environ)
    for item in spec.get("env") or ():
        if isinstance(item, dict) and "name" in item:
            env[str(item["name"])] = str(item.get("value", ""))
    env["KUBERNETES_EXEC_INFO"] = json.dumps(info)
    argv = [str(command), *(str(a) for a in spec.get("args") or ())]
    try:
        proc = subprocess.run(
            argv,
            cwd=base or None,
            env=env,
            stdin=None if interactive else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=None if interactive else subprocess.PIPE,
            check=False,
        )
    except OSError as exc:
        hint = " ".join(str(spec.get("installHint") or "").split())
        why = f"{failed}: exec: {command}: {exc.strerror or exc}"
        raise ClusterError(f"{why} ({hint})" if hint else why) from None
    if proc.returncode != 0:
        said = (proc.stderr or b"").decode("utf-8", "replace").strip()
        tail = f". {said.splitlines()[-1]}" if said else ""
        raise ClusterError(f"{failed}: exec: process returned {proc.returncode}{tail}")
    try:
        out = json.loads(proc.stdout)
    except ValueError as exc:
        raise ClusterError(f"{failed}: exec: failed to decode process output: {exc}") from None
    status = out.get("status") if isinstance(out, dict) else None
    if not isinstance(status, dict):
        raise ClusterError(f"{failed}: exec: malformed response. missing key 'status'")
    if out.get("apiVersion") != api_version:
        raise ClusterError(
            f"{failed}: exec: plugin api version {out.get('apiVersion')} does not match "
            f"{api_version}"
        )
    if status.get("token"):
        end.headers["Authorization"] = f"Bearer {status['token']}"
    elif status.get("clientCertificateData") and status.get("clientKeyData"):
        end.client_cert = str(status["clientCertificateData"]).encode()
        end.client_key = str(status["clientKeyData"]).encode()
        end.client_cert_file = end.client_key_file = None
    else:
        raise ClusterError(
            f"{failed}: exec: missing token or clientCertificateData and clientKeyData in "
            "plugin output"
        )


# kubeconfig cluster fields -> the ExecCredential's `spec.cluster` fields (client.authentication).
_EXEC_CLUSTER_FIELDS = {
    "server": "server",
    "tls-server-name": "tlsServerName",
    "insecure-skip-tls-verify": "insecureSkipTLSVerify",
    "certificate-authority-data": "certificateAuthorityData",
    "proxy-url": "proxyURL",
    "disable-compression": "disableCompression",
}


def _exec_cluster(cluster: dict[str, Any]) -> dict[str, Any]:
    """The cluster as an exec plugin is told about it (`provideClusterInfo`), with the
    per-cluster plugin configuration kubeconfig keeps in the exec extension."""
    shown = {new: cluster[old] for old, new in _EXEC_CLUSTER_FIELDS.items() if old in cluster}
    for ext in cluster.get("extensions") or ():
        if isinstance(ext, dict) and ext.get("name") == "client.authentication.k8s.io/exec":
            shown["config"] = ext.get("extension")
    return shown


def in_cluster(namespace: str | None, env: dict[str, str] | None = None) -> Endpoint:
    """The pod's service account: the API server from the environment, the mounted token and CA."""
    env = dict(os.environ) if env is None else env
    host, port = env.get("KUBERNETES_SERVICE_HOST"), env.get("KUBERNETES_SERVICE_PORT")
    if not host or not port:
        raise ClusterError("in-cluster configuration: Service host/port is not set.")
    if ":" in host or "%" in host:
        host = f"[{host}]"
    try:
        token = Path(SA_TOKEN_FILE).read_text().strip()
    except OSError:
        raise ClusterError("in-cluster configuration: Service token file does not exist.") from None
    if not token:
        raise ClusterError("in-cluster configuration: Token file exists but empty.")
    if not os.path.isfile(SA_CA_FILE) or not Path(SA_CA_FILE).read_bytes().strip():
        raise ClusterError("in-cluster configuration: Service certification file does not exist.")
    ns = namespace or _read_text(SA_NAMESPACE_FILE) or "default"
    end = Endpoint(f"https://{host}:{port}", "in-cluster", ns, ca_file=SA_CA_FILE)
    end.headers["Authorization"] = f"Bearer {token}"
    return end


def _b64(data: object, key: str, context: str) -> bytes:
    try:
        return base64.b64decode(str(data), validate=False)
    except (binascii.Error, ValueError):
        raise ClusterError(f"context {context}: {key} is not base64") from None


def _path(value: object, base: str) -> str:
    path = os.path.expanduser(str(value))
    return path if os.path.isabs(path) or not base else os.path.join(base, path)


def _read_text(path: str) -> str | None:
    try:
        return Path(path).read_text().strip() or None
    except OSError:
        return None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]
