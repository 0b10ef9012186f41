"""A server that is not a Kubernetes API server is exit 3 with one line, on every live command.

A kubeconfig pointing at the wrong URL (a web server, a proxy, an ingress) answers 404, or an
HTML page, to everything. That used to read as "namespace does not exist" (exit 2).
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import yaml

from tests.unit.inprocess import invoke


def _handler(status: int, body: bytes, content_type: str) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # the http.server API names it
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    return Handler


@pytest.fixture(
    params=[
        (404, b"404 page not found\n", "text/plain"),
        (404, b'{"error": "not found"}', "application/json"),
        (200, b"<html><body>Welcome</body></html>", "text/html"),
        (200, b'{"status": "ok"}', "application/json"),
    ],
    ids=["404-text", "404-json", "200-html", "200-json"],
)
def kubeconfig(request, tmp_path):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(*request.param))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": "c", "cluster": {"server": f"http://127.0.0.1:{server.server_port}"}}
        ],
        "users": [{"name": "u", "user": {"token": "t"}}],
        "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u", "namespace": "ml"}}],
        "current-context": "x",
    }
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(config))
    yield str(path)
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(
    "args",
    [("scan",), ("why-pending", "p"), ("dump", "-o", "OUT"), ("lint", "M", "--against-cluster")],
    ids=["scan", "why-pending", "dump", "lint"],
)
def test_not_an_api_server_is_exit_3(kubeconfig, args, tmp_path):
    manifest = tmp_path / "m.yaml"
    manifest.write_text("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: []}\n")
    argv = [str(tmp_path / "b.tar.gz") if a == "OUT" else str(manifest) if a == "M" else a
            for a in args]  # fmt: skip
    result = invoke(*argv, "--kubeconfig", kubeconfig, "--request-timeout", "5")
    assert result.code == 3, result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "is not a Kubernetes API server" in lines[0], result.stderr
