"""Every credential a kubeconfig can hold reaches the real API server through amldoctor's reader.

amldoctor reads kubeconfigs itself (`amldoctor/collect/kubeconfig.py`, without the `kubernetes`
client): a bearer token, client certificates as data and as files relative to the kubeconfig,
an exec credential plugin that returns a token or a client certificate, and a CA file. Each
is checked by scanning as that user and finding, in the audit log, the scan's requests made as
the user the credential names; a wrong CA is refused with one line, exit 3; `tls-server-name`
is the name checked; and a pod's service account (token and CA mounted, the server from the
environment) reaches the server with no kubeconfig.
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
from cluster import run_amldoctor
from harness import ADMIN, READER, ControlPlane

pytestmark = pytest.mark.e2e


def _config(plane: ControlPlane, cluster: dict, user: dict) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": "auth",
        "clusters": [{"name": "e2e", "cluster": {"server": plane.api_url, **cluster}}],
        "users": [{"name": "someone", "user": user}],
        "contexts": [{"name": "auth", "context": {"cluster": "e2e", "user": "someone"}}],
    }


def _plugin(where: Path, status: dict) -> dict:
    """An exec user whose plugin prints an ExecCredential with `status`."""
    credential = {"apiVersion": "client.authentication.k8s.io/v1", "kind": "ExecCredential"}
    script = where / "plugin.py"
    script.write_text(f"print({json.dumps(json.dumps({**credential, 'status': status}))})\n")
    return {
        "exec": {
            "apiVersion": "client.authentication.k8s.io/v1",
            "command": sys.executable,
            "args": ["plugin.py"],  # relative: the plugin runs in the kubeconfig's directory
            "interactiveMode": "Never",
        }
    }


def _users(plane: ControlPlane, where: Path) -> dict[str, tuple[str, dict, dict]]:
    """Credential kind -> (the user the server sees, cluster fields, user fields)."""
    pki = plane.pki
    ca_data = {"certificate-authority-data": base64.b64encode((pki / "ca.crt").read_bytes())}
    ca_data["certificate-authority-data"] = ca_data["certificate-authority-data"].decode()
    (where / "certs").mkdir(exist_ok=True)
    for name in ("ca.crt", f"{ADMIN}.crt", f"{ADMIN}.key"):
        (where / "certs" / name).write_bytes((pki / name).read_bytes())
    cert, key = ((pki / f"{ADMIN}.{ext}").read_text() for ext in ("crt", "key"))
    return {
        "token": (READER, ca_data, {"token": plane.tokens[READER]}),
        "client certificate data": (
            ADMIN,
            ca_data,
            {
                "client-certificate-data": base64.b64encode(cert.encode()).decode(),
                "client-key-data": base64.b64encode(key.encode()).decode(),
            },
        ),
        "client certificate files, CA file": (
            ADMIN,
            {"certificate-authority": "certs/ca.crt"},
            {"client-certificate": "certs/admin.crt", "client-key": "certs/admin.key"},
        ),
        "exec plugin token": (READER, ca_data, _plugin(where, {"token": plane.tokens[READER]})),
    }


@pytest.mark.parametrize(
    "kind",
    [
        "token",
        "client certificate data",
        "client certificate files, CA file",
        "exec plugin token",
        "exec plugin certificate",
    ],
)
def test_each_credential_kind_scans_as_its_user(
    control_plane: ControlPlane, tmp_path: Path, kind: str
) -> None:
    if kind == "exec plugin certificate":
        pki = control_plane.pki
        status = {
            "clientCertificateData": (pki / f"{ADMIN}.crt").read_text(),
            "clientKeyData": (pki / f"{ADMIN}.key").read_text(),
        }
        ca = base64.b64encode((pki / "ca.crt").read_bytes()).decode()
        user, cluster, fields = ADMIN, {"certificate-authority-data": ca}, _plugin(tmp_path, status)
    else:
        user, cluster, fields = _users(control_plane, tmp_path)[kind]
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(_config(control_plane, cluster, fields)))
    before = len(control_plane.audit_events(user))
    proc = run_amldoctor("scan", kubeconfig=path, namespace="default")
    assert proc.returncode in (0, 1), proc.stderr
    assert "Traceback" not in proc.stderr
    # The audit log is written as requests complete: wait for the scan's first request.
    deadline = time.monotonic() + 10
    while True:
        ours = [
            e
            for e in control_plane.audit_events(user)[before:]
            if e.get("userAgent", "").startswith("amldoctor/")
        ]
        if any(e["requestURI"] == "/version" for e in ours) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert any(e["requestURI"] == "/version" for e in ours), kind


def test_a_server_certificate_the_ca_does_not_sign_is_one_line_exit_3(
    control_plane: ControlPlane, tmp_path: Path
) -> None:
    other = tmp_path / "other"
    other.mkdir()
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-subj", "/CN=other-ca", "-keyout", str(other / "ca.key")),
            *("-out", str(other / "ca.crt")),
        ],
        check=True,
        capture_output=True,
    )
    fields = {"token": control_plane.tokens[READER]}
    path = tmp_path / "kubeconfig"
    cluster = {"certificate-authority": str(other / "ca.crt")}
    path.write_text(yaml.safe_dump(_config(control_plane, cluster, fields)))
    proc = run_amldoctor("scan", kubeconfig=path, namespace="default")
    assert proc.returncode == 3, proc.stderr
    line = proc.stderr.strip()
    assert "\n" not in line and "Traceback" not in line
    assert control_plane.api_url in line and "TLS failure" in line and "verify" in line


@pytest.mark.parametrize(("name", "verifies"), [("kubernetes", True), ("someone-else", False)])
def test_tls_server_name_is_the_name_the_certificate_is_checked_against(
    control_plane: ControlPlane, tmp_path: Path, name: str, verifies: bool
) -> None:
    """The server's certificate names 127.0.0.1 and `kubernetes`: `tls-server-name` is what
    is checked (and sent as SNI), not the address in the URL."""
    ca = base64.b64encode((control_plane.pki / "ca.crt").read_bytes()).decode()
    cluster = {"certificate-authority-data": ca, "tls-server-name": name}
    path = tmp_path / "kubeconfig"
    fields = {"token": control_plane.tokens[READER]}
    path.write_text(yaml.safe_dump(_config(control_plane, cluster, fields)))
    proc = run_amldoctor("scan", kubeconfig=path, namespace="default")
    if verifies:
        assert proc.returncode in (0, 1), proc.stderr
    else:
        assert proc.returncode == 3, proc.stderr
        assert "TLS failure" in proc.stderr and "someone-else" in proc.stderr


def test_in_cluster_service_account(
    control_plane: ControlPlane, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No kubeconfig, KUBERNETES_SERVICE_HOST/PORT set: the mounted token and CA are used
    (here the reader's token and the cluster CA, in place of a pod's mount)."""
    from urllib.parse import urlsplit

    from amldoctor.collect import LiveOptions, kubeconfig
    from amldoctor.collect.collector import collect_live

    mount = tmp_path / "serviceaccount"
    mount.mkdir()
    (mount / "token").write_text(control_plane.tokens[READER])
    (mount / "ca.crt").write_bytes((control_plane.pki / "ca.crt").read_bytes())
    (mount / "namespace").write_text("default\n")
    for name in ("token", "ca.crt", "namespace"):
        const = {"token": "SA_TOKEN_FILE", "ca.crt": "SA_CA_FILE"}.get(name, "SA_NAMESPACE_FILE")
        monkeypatch.setattr(kubeconfig, const, str(mount / name))
    url = urlsplit(control_plane.api_url)
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", str(url.hostname))
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", str(url.port))
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.kube/config
    before = len(control_plane.audit_events(READER))
    result = collect_live(LiveOptions(request_timeout=10))
    assert (result.snapshot.context, result.snapshot.namespace) == ("in-cluster", "default")
    assert result.server == control_plane.api_url
    # The audit log is written as requests complete: wait for the collection's requests.
    deadline = time.monotonic() + 10
    while len(control_plane.audit_events(READER)) <= before and time.monotonic() < deadline:
        time.sleep(0.2)
    assert len(control_plane.audit_events(READER)) > before
