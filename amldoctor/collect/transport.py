"""Talking to the API server: GETs of raw JSON over one urllib3 pool, retries and paging.

The context comes from `kubeconfig` (kubectl's rules, no `kubernetes` import); a legacy
auth-provider user alone goes through the `kubernetes` client's loader, imported only then.
Requests are plain GETs whose JSON bodies are decoded by us: the client's model objects are
slow on large lists and choke on partial objects. One paged LIST per kind (`limit`/`continue`,
restarted when the continue token expires), bounded retries on 429/5xx honouring Retry-After.
"""

from __future__ import annotations

import json
import logging
import os
import re
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlencode

import yaml

from amldoctor import __version__, selective
from amldoctor.collect import LiveOptions, kubeconfig
from amldoctor.collect.kinds import ListRequest, normalize
from amldoctor.decodetypes import Repeats
from amldoctor.errors import ClusterError

PAGE_SIZE = 500
MAX_RETRIES = 4  # per request, on 429 and 5xx
MAX_LIST_RESTARTS = 3  # per list, when the continue token expires (410)
MAX_RETRY_AFTER = 10.0  # seconds; a server asking for longer is treated as failing
WORKERS = 8
JSON = "application/json"
METADATA_ONLY = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"


@dataclass
class Connection:
    """Where requests go and as whom: the resolved kubeconfig context (or in-cluster account).

    `pool` is the urllib3 pool manager every GET goes through; `auth` gives the credential
    headers of a request (computed once for a kubeconfig we resolved ourselves, asked of the
    `kubernetes` client's configuration per request when it resolved the context).
    """

    server: str
    context: str | None
    namespace: str
    pool: Any
    auth: Callable[[], dict[str, str]]
    verify: bool = True


class ApiError(Exception):
    """A request that failed: `status` is the HTTP status, 0 when no HTTP answer came back."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def connect(opts: LiveOptions) -> Connection:
    """Resolve the connection the way kubectl does; ClusterError (exit 3) when impossible.

    The kubeconfig is read by `kubeconfig` (no `kubernetes` import); only a legacy
    `auth-provider` user is handed to the client's own loader.
    """
    files = kubeconfig.paths(opts.kubeconfig)
    existing = [p for p in files if os.path.isfile(p)]
    if opts.kubeconfig and not existing:
        raise ClusterError(f"kubeconfig {opts.kubeconfig} does not exist")
    if not existing:
        if os.environ.get("KUBERNETES_SERVICE_HOST"):
            return _finish(kubeconfig.in_cluster(opts.namespace))
        raise ClusterError(
            f"no kubeconfig found (looked at {', '.join(files)}); "
            "pass --kubeconfig or set KUBECONFIG"
        )

    joined = os.pathsep.join(existing)
    config = kubeconfig.read(existing)
    context_name = opts.context or config.current
    if not context_name:
        raise ClusterError(f"kubeconfig {joined} sets no current-context; pass --context")
    if context_name not in config.contexts:
        known = ", ".join(sorted(config.contexts)) or "none"
        raise ClusterError(f"context {context_name!r} not found in kubeconfig (contexts: {known})")
    if kubeconfig.needs_client(config, context_name):
        namespace = (
            opts.namespace or config.contexts[context_name].value.get("namespace") or "default"
        )
        return _connect_with_client(joined, context_name, str(namespace))
    return _finish(kubeconfig.resolve(config, context_name, opts.namespace))


def _finish(end: kubeconfig.Endpoint) -> Connection:
    """A pool for the endpoint: its trust and client certificate in one SSL context."""
    import urllib3

    headers = dict(end.headers)
    pool_args: dict[str, Any] = {"maxsize": WORKERS, "retries": False}
    if end.server.startswith("https"):
        pool_args["ssl_context"] = _ssl_context(end)
        pool_args["cert_reqs"] = "CERT_REQUIRED" if end.verify else "CERT_NONE"
        if end.tls_server_name:
            pool_args["server_hostname"] = end.tls_server_name
    if not end.verify:
        # insecure-skip-tls-verify is the kubeconfig's choice; kubectl does not nag about it.
        urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
    proxy = end.proxy or _environment_proxy(end.server)
    pool: urllib3.PoolManager
    if proxy and proxy.startswith("socks"):
        try:
            from urllib3.contrib.socks import SOCKSProxyManager
        except ImportError:
            raise ClusterError(
                f"context {end.context}: the SOCKS proxy {_without_password(proxy)} needs the "
                "PySocks package (pip install 'urllib3[socks]')"
            ) from None
        pool = SOCKSProxyManager(proxy, **pool_args)
    elif proxy:
        pool = urllib3.ProxyManager(proxy, **pool_args)
    else:
        pool = urllib3.PoolManager(**pool_args)
    return Connection(end.server, end.context, end.namespace, pool, lambda: headers, end.verify)


def _ssl_context(end: kubeconfig.Endpoint) -> Any:
    """Trust the kubeconfig's CA (else the system's) and present its client certificate.

    A certificate given as data is loaded through a private temporary file, removed at once:
    the key does not stay on disk (the client's loader keeps such files until exit).
    """
    import ssl

    from urllib3.util.ssl_ import create_urllib3_context

    ctx = create_urllib3_context(cert_reqs=ssl.CERT_REQUIRED if end.verify else ssl.CERT_NONE)
    where = f"context {end.context}"
    try:
        if end.verify:
            if end.ca_file or end.ca_data:
                ctx.load_verify_locations(cafile=end.ca_file, cadata=end.ca_data)
            else:
                ctx.load_default_certs()
        if end.client_cert is not None or end.client_cert_file:
            with tempfile.TemporaryDirectory(prefix="amldoctor-") as private:
                cert = end.client_cert_file or _private_file(private, "cert", end.client_cert)
                key = end.client_key_file or (
                    _private_file(private, "key", end.client_key) if end.client_key else None
                )
                ctx.load_cert_chain(cert, key)
    except (ssl.SSLError, OSError) as exc:
        raise ClusterError(f"{where}: cannot load its certificates: {_first_line(exc)}") from None
    return ctx


def _private_file(directory: str, name: str, data: bytes | None) -> str:
    path = os.path.join(directory, name)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data or b"")
    return path


def _without_password(url: str) -> str:
    """A proxy URL fit to print: its password, if any, masked."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.password is None:
        return url
    return url.replace(f":{parts.password}@", ":***@", 1)


def _environment_proxy(server: str) -> str | None:
    """HTTPS_PROXY / HTTP_PROXY / NO_PROXY, as kubectl and the client honour them."""
    from urllib.parse import urlsplit
    from urllib.request import getproxies, proxy_bypass

    proxies = getproxies()
    parts = urlsplit(server)
    proxy = proxies.get(parts.scheme) or proxies.get("all")
    if not proxy or (parts.hostname and proxy_bypass(parts.hostname)):
        return None
    return proxy


def _connect_with_client(joined: str, context_name: str, namespace: str) -> Connection:
    """A legacy auth-provider (OIDC refresh, GCP): the `kubernetes` client resolves it."""
    from kubernetes import config as kconfig
    from kubernetes.client import Configuration
    from kubernetes.client.rest import RESTClientObject

    configuration = Configuration()
    auth_errors: list[str] = []
    with _capture_client_errors(auth_errors):
        try:
            kconfig.load_kube_config(
                config_file=joined,
                context=context_name,
                client_configuration=configuration,
                persist_config=False,  # never rewrite the user's kubeconfig
            )
        except (kconfig.ConfigException, OSError, ValueError, yaml.YAMLError) as exc:
            raise ClusterError(f"context {context_name}: {_first_line(exc)}") from None
    if auth_errors:
        raise ClusterError(
            f"credential plugin for context {context_name} failed: {auth_errors[-1]}"
        )
    # Our own retry loop decides; urllib3's silent retries would multiply the timeout.
    configuration.retries = False
    configuration.connection_pool_maxsize = WORKERS
    if not configuration.verify_ssl:
        import urllib3

        urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)

    def auth() -> dict[str, str]:
        settings: dict[str, Any] = dict(configuration.auth_settings())
        return {
            a["key"]: a["value"]
            for a in settings.values()
            if a.get("in") == "header" and a.get("value")
        }

    pool = RESTClientObject(configuration).pool_manager
    return Connection(configuration.host, context_name, namespace, pool, auth)


@contextmanager
def _capture_client_errors(sink: list[str]) -> Iterator[None]:
    """The client logs auth-provider failures instead of raising: turn them into our error."""

    class Sink(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            sink.append(record.getMessage())

    root = logging.getLogger()
    saved = root.handlers[:]
    root.handlers = [Sink(logging.ERROR)]
    try:
        yield
    finally:
        root.handlers = saved


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]


# -- HTTP ------------------------------------------------------------------------------------


class Api:
    """GETs of raw JSON over the client's connection pool, with retries on 429/5xx."""

    def __init__(self, conn: Connection, timeout: float | None) -> None:
        import urllib3

        self.conn = conn
        self.timeout = timeout
        self._pool = conn.pool
        self._timeout = urllib3.Timeout(connect=timeout, read=timeout)

    def get(self, path: str, params: Iterable[tuple[str, str]] = (), accept: str = JSON) -> dict:
        return self.get_with_headers(path, params, accept)[0]

    def get_with_headers(
        self, path: str, params: Iterable[tuple[str, str]] = (), accept: str = JSON
    ) -> tuple[dict, Any]:
        data, headers = self.get_bytes(path, params, accept)
        return _json_object(path, data), headers

    def get_bytes(
        self, path: str, params: Iterable[tuple[str, str]] = (), accept: str = JSON
    ) -> tuple[bytes, Any]:
        """The body of a successful GET, undecoded (the caller picks the decoder), and headers."""
        query = urlencode(list(params))
        url = self.conn.server + path + (f"?{query}" if query else "")
        attempt = 0
        while True:
            resp = self._send(url, accept)
            status = resp.status
            if 200 <= status < 300:
                return resp.data, resp.headers
            delay = _retry_delay(attempt, resp.headers.get("Retry-After"))
            retryable = status == 429 or status >= 500
            if not retryable or attempt >= MAX_RETRIES or delay is None:
                raise ApiError(status, _status_message(resp.data, status))
            time.sleep(delay)
            attempt += 1

    def _send(self, url: str, accept: str) -> Any:
        import urllib3

        headers = {
            "Accept": accept,
            "User-Agent": f"amldoctor/{__version__}",
            **self.conn.auth(),
        }
        try:
            return self._pool.request(
                "GET", url, headers=headers, timeout=self._timeout, retries=False
            )
        except urllib3.exceptions.HTTPError as exc:
            raise ApiError(0, _transport_message(exc, self.timeout)) from None


def _json_object(path: str, data: bytes) -> dict:
    try:
        body = json.loads(data)
    except ValueError:
        raise ApiError(200, f"{path}: the server sent invalid JSON") from None
    return body if isinstance(body, dict) else {}


def _retry_delay(attempt: int, retry_after: str | None) -> float | None:
    """Exponential backoff, or the server's Retry-After; None when it asks for too long."""
    backoff = min(0.1 * (2**attempt), 1.0)
    if not retry_after:
        return backoff
    try:
        wait = float(retry_after)
    except ValueError:
        try:
            wait = (parsedate_to_datetime(retry_after) - datetime.now(UTC)).total_seconds()
        except (TypeError, ValueError):
            return backoff
    return None if wait > MAX_RETRY_AFTER else max(wait, 0.0)


def _status_message(data: bytes, status: int) -> str:
    """The API server's own Status message ('pods is forbidden: User ...') when it sent one."""
    try:
        body = json.loads(data)
    except (ValueError, TypeError):
        body = None
    if isinstance(body, dict) and body.get("message"):
        return str(body["message"]).splitlines()[0]
    text = (data or b"").decode("utf-8", "replace").strip().splitlines()
    return text[0][:200] if text else f"HTTP {status}"


def _transport_message(exc: Exception, timeout: float | None) -> str:
    import urllib3.exceptions as ue

    while isinstance(exc, ue.MaxRetryError) and exc.reason is not None:
        exc = exc.reason
    if isinstance(exc, ue.NameResolutionError):
        return "the server's host name does not resolve"
    if isinstance(exc, ue.NewConnectionError):
        text = str(exc)
        if "refused" in text.lower():
            return "connection refused"
        return text.rsplit(": ", 1)[-1]
    if isinstance(exc, ue.TimeoutError):
        return f"no answer within {timeout or 0:g}s (--request-timeout)"
    if isinstance(exc, ue.SSLError):
        text = str(exc.args[0] if exc.args else exc)
        found = re.search(r"\]\s*(.*?)\s*\(_ssl\.c:\d+\)", text)
        return f"TLS failure: {found.group(1) if found else text}"
    if isinstance(exc, ue.ProtocolError):
        return f"connection broken: {_first_line(exc)}"
    return _first_line(exc)


# -- listing ---------------------------------------------------------------------------------


def list_all(
    api: Api,
    req: ListRequest,
    on_page: Callable[[int], None] | None = None,
    strings: selective.Strings | Repeats | None = None,
    whole: bool = False,
    typed: list[dict] | None = None,
) -> list[dict]:
    """Every item of one LIST, page by page; restart from scratch when the token expires.

    Each page is decoded selectively (only the fields amldoctor reads are built, `selective`),
    with their repeated strings and fields shared through `strings` (`selective.decode_page`);
    `whole` (dump: a bundle
    must answer later questions too) keeps every field. `typed`, when given, receives the items
    a typed decoder built (they have their kind's shape: the snapshot's intake need not walk
    them again); holding them, not their ids, keeps an id from being reused.
    """
    res = req.resource
    accept = METADATA_ONLY if res.metadata_only else JSON
    path = res.path(req.namespace)
    for _ in range(MAX_LIST_RESTARTS + 1):
        items: list[dict] = []
        token = ""
        while True:
            params = [*req.params, ("limit", str(PAGE_SIZE))]
            if token:
                params.append(("continue", token))
            try:
                data, _ = api.get_bytes(path, params, accept)
            except ApiError as exc:
                if exc.status == 410 and token:
                    break  # the list's snapshot expired between pages: read it again
                raise
            body, shaped = (
                (_json_object(path, data), False) if whole else _page(path, res.kind, data, strings)
            )
            raw = body.get("items") or ()
            page = [normalize(res, item) for item in raw if isinstance(item, dict)]
            items.extend(page)
            if typed is not None and shaped and not res.metadata_only:
                typed.extend(page)  # completed in place by `normalize`: the objects decoded
            if on_page:
                on_page(len(page))
            token = (body.get("metadata") or {}).get("continue") or ""
            if not token:
                return items
    raise ApiError(410, f"the {res.plural} list kept expiring while paging; try again")


def _page(
    path: str, kind: str, data: bytes, strings: selective.Strings | Repeats | None
) -> tuple[dict, bool]:
    """One LIST response, selectively decoded; if refused, parsed as plain JSON and pruned.
    With it, whether a typed decoder built the items (`selective.is_typed_kind`)."""
    try:
        return selective.decode_page(kind, data, strings), selective.is_typed_kind(kind)
    except selective.Refused:
        body = _json_object(path, data)
        items = body.get("items")
        if isinstance(items, list):  # list items carry no kind: prune as that kind
            pruned = [selective.prune({**i, "kind": kind}) for i in items]
            if isinstance(strings, selective.Strings):
                body["items"] = [strings.share(i) for i in pruned]
            else:
                body["items"] = pruned
        return body, False
