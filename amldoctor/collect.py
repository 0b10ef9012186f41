"""Live collection: read a cluster once, as raw JSON, into a Snapshot.

This is the only module that imports the `kubernetes` client, and it does so inside functions:
`--help` and snapshot scans must not pay for it. The client is used for what it does well and
kubectl users expect (kubeconfig merging, contexts, exec credential plugins such as kubelogin,
in-cluster service accounts, TLS and proxies); requests go through its urllib3 pool as plain GETs
whose JSON bodies are kept as dicts. The client's model objects are never built: they are slow on
large lists and choke on partial objects.

One paged LIST per kind (`limit`/`continue`, restarted when the continue token expires), kinds
fetched concurrently, bounded retries on 429/5xx honouring Retry-After, no per-pod calls. A kind
the user may not read (403) or the cluster does not serve (404: CRD or metrics-server absent)
becomes a `Missing` entry and collection goes on, so a user who cannot list nodes still gets a
snapshot. Only failing to reach or authenticate to the server at all is fatal (`ClusterError`).
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import yaml

from amldoctor import __version__
from amldoctor.errors import ClusterError, InputError
from amldoctor.load import long_lived_objects
from amldoctor.report import NOT_INSTALLED
from amldoctor.snapshot import Missing, Snapshot
from amldoctor.sources import LiveOptions

PAGE_SIZE = 500
MAX_RETRIES = 4  # per request, on 429 and 5xx
MAX_LIST_RESTARTS = 3  # per list, when the continue token expires (410)
MAX_RETRY_AFTER = 10.0  # seconds; a server asking for longer is treated as failing
WORKERS = 8
AZUREML_NAMESPACE = "azureml"
JSON = "application/json"
METADATA_ONLY = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"
# What the scheduler counts on each node: every non-terminal pod bound to one, any namespace.
BOUND_PODS = "spec.nodeName!=,status.phase!=Succeeded,status.phase!=Failed"
NOMINATED_PODS = "spec.nodeName=,status.nominatedNodeName!="
SA_NAMESPACE_FILE = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


@dataclass(frozen=True)
class Resource:
    """One API resource: where to list it and what to call it in the snapshot."""

    kind: str
    api_version: str
    plural: str
    namespaced: bool = True
    label: str | None = None  # name in collected/missing when `kind` alone is ambiguous
    metadata_only: bool = False  # list names only (Secrets: their data is never read)

    @property
    def name(self) -> str:
        return self.label or self.kind

    def path(self, namespace: str | None) -> str:
        base = "/api/v1" if self.api_version == "v1" else f"/apis/{self.api_version}"
        if self.namespaced and namespace:
            return f"{base}/namespaces/{namespace}/{self.plural}"
        return f"{base}/{self.plural}"


POD = Resource("Pod", "v1", "pods")
EVENT = Resource("Event", "v1", "events")
PVC = Resource("PersistentVolumeClaim", "v1", "persistentvolumeclaims")
RESOURCE_QUOTA = Resource("ResourceQuota", "v1", "resourcequotas")
LIMIT_RANGE = Resource("LimitRange", "v1", "limitranges")
SERVICE = Resource("Service", "v1", "services")
CONFIG_MAP = Resource("ConfigMap", "v1", "configmaps")
SECRET = Resource("Secret", "v1", "secrets", metadata_only=True)
REPLICA_SET = Resource("ReplicaSet", "apps/v1", "replicasets")
DEPLOYMENT = Resource("Deployment", "apps/v1", "deployments")
STATEFUL_SET = Resource("StatefulSet", "apps/v1", "statefulsets")
JOB = Resource("Job", "batch/v1", "jobs")
POD_GROUP = Resource("PodGroup", "scheduling.volcano.sh/v1beta1", "podgroups")
VOLCANO_JOB = Resource("Job", "batch.volcano.sh/v1alpha1", "jobs", label="Job.batch.volcano.sh")
AML_JOB = Resource("AmlJob", "amlarc.azureml.com/v1alpha1", "amljobs")
POD_METRICS = Resource("PodMetrics", "metrics.k8s.io/v1beta1", "pods")
NODE = Resource("Node", "v1", "nodes", namespaced=False)
PV = Resource("PersistentVolume", "v1", "persistentvolumes", namespaced=False)
STORAGE_CLASS = Resource("StorageClass", "storage.k8s.io/v1", "storageclasses", namespaced=False)
CSI_NODE = Resource("CSINode", "storage.k8s.io/v1", "csinodes", namespaced=False)
INSTANCE_TYPE = Resource(
    "InstanceType", "amlarc.azureml.com/v1alpha1", "instancetypes", namespaced=False
)
QUEUE = Resource("Queue", "scheduling.volcano.sh/v1beta1", "queues", namespaced=False)
NAMESPACE = Resource("Namespace", "v1", "namespaces", namespaced=False)
# Preemption respects PodDisruptionBudgets; what-if admission reads PriorityClasses and
# RuntimeClasses (why-pending -f, lint --against).
PDB = Resource("PodDisruptionBudget", "policy/v1", "poddisruptionbudgets")
PRIORITY_CLASS = Resource(
    "PriorityClass", "scheduling.k8s.io/v1", "priorityclasses", namespaced=False
)
RUNTIME_CLASS = Resource("RuntimeClass", "node.k8s.io/v1", "runtimeclasses", namespaced=False)

NAMESPACED = (
    POD, EVENT, PVC, RESOURCE_QUOTA, LIMIT_RANGE, SERVICE, CONFIG_MAP, SECRET, REPLICA_SET,
    DEPLOYMENT, STATEFUL_SET, JOB, POD_GROUP, VOLCANO_JOB, AML_JOB, POD_METRICS, PDB,
)  # fmt: skip
# Namespaces are listed for their labels (pod affinity namespaceSelector), not only our own.
CLUSTER_SCOPED = (
    NODE, PV, STORAGE_CLASS, CSI_NODE, NAMESPACE, INSTANCE_TYPE, QUEUE, PRIORITY_CLASS,
    RUNTIME_CLASS,
)  # fmt: skip
# Read in the azureml namespace for extension health (ConfigMaps: the health-check report).
EXTENSION = (POD, DEPLOYMENT, EVENT, CONFIG_MAP)
ARC_NAMESPACE = "azure-arc"  # Arc agents live here: their presence tells an Arc cluster from AKS
# Resources served only when an add-on is installed: a 404 means "not installed".
OPTIONAL_APIS = frozenset({"scheduling.volcano.sh", "batch.volcano.sh", "amlarc.azureml.com"})


@dataclass(frozen=True)
class ListRequest:
    """One LIST: a resource, a scope (namespace, or None for all / cluster-scoped), a query.

    `extra` marks reads outside the snapshot's own scope (pods of other namespaces on the nodes,
    the azureml extension's namespace): their failure is recorded as Missing, but their success
    does not make the kind count as collected, since the kind's own scope may have failed.
    """

    resource: Resource
    namespace: str | None = None
    params: tuple[tuple[str, str], ...] = ()
    extra: bool = False


@dataclass
class Connection:
    """Where requests go and as whom: the resolved kubeconfig context (or in-cluster account)."""

    server: str
    context: str | None
    namespace: str
    configuration: Any


class ApiError(Exception):
    """A request that failed: `status` is the HTTP status, 0 when no HTTP answer came back."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class LiveResult:
    """A collected snapshot plus the connection facts a bundle manifest records."""

    snapshot: Snapshot
    server: str


# -- connecting ------------------------------------------------------------------------------


def connect(opts: LiveOptions) -> Connection:
    """Resolve the connection the way kubectl does; ClusterError (exit 3) when impossible."""
    from kubernetes import config as kconfig
    from kubernetes.client import Configuration

    configuration = Configuration()
    paths = _kubeconfig_paths(opts.kubeconfig)
    existing = [p for p in paths if os.path.isfile(p)]
    if opts.kubeconfig and not existing:
        raise ClusterError(f"kubeconfig {opts.kubeconfig} does not exist")
    if not existing:
        if os.environ.get("KUBERNETES_SERVICE_HOST"):
            try:
                kconfig.load_incluster_config(client_configuration=configuration)
            except kconfig.ConfigException as exc:
                raise ClusterError(f"in-cluster configuration: {exc}") from None
            namespace = opts.namespace or _read_text(SA_NAMESPACE_FILE) or "default"
            return _finish(Connection(configuration.host, "in-cluster", namespace, configuration))
        raise ClusterError(
            f"no kubeconfig found (looked at {', '.join(paths)}); "
            "pass --kubeconfig or set KUBECONFIG"
        )

    joined = os.pathsep.join(existing)
    context_name = opts.context or _current_context(existing)
    if not context_name:
        raise ClusterError(f"kubeconfig {joined} sets no current-context; pass --context")
    try:
        contexts, _ = kconfig.list_kube_config_contexts(config_file=joined)
    except (kconfig.ConfigException, yaml.YAMLError, OSError) as exc:
        raise ClusterError(f"cannot read kubeconfig {joined}: {_first_line(exc)}") from None
    context = next((c for c in contexts or () if c.get("name") == context_name), None)
    if context is None:
        known = ", ".join(sorted(str(c.get("name")) for c in contexts or ())) or "none"
        raise ClusterError(f"context {context_name!r} not found in kubeconfig (contexts: {known})")

    auth_errors: list[str] = []
    with _capture_client_errors(auth_errors):
        try:
            kconfig.load_kube_config(
                config_file=joined,
                context=context_name,
                client_configuration=configuration,
                persist_config=False,  # never rewrite the user's kubeconfig
            )
        except (kconfig.ConfigException, OSError, ValueError) as exc:
            raise ClusterError(f"context {context_name}: {_first_line(exc)}") from None
    if auth_errors:
        raise ClusterError(
            f"credential plugin for context {context_name} failed: {auth_errors[-1]}"
        )
    namespace = opts.namespace or (context.get("context") or {}).get("namespace") or "default"
    return _finish(Connection(configuration.host, context_name, namespace, configuration))


def _finish(conn: Connection) -> Connection:
    # Our own retry loop decides; urllib3's silent retries would multiply the timeout.
    conn.configuration.retries = False
    conn.configuration.connection_pool_maxsize = WORKERS
    return conn


def _kubeconfig_paths(explicit: str | None) -> list[str]:
    """--kubeconfig is one file; KUBECONFIG may list several, merged first-wins like kubectl."""
    if explicit:
        return [os.path.expanduser(explicit)]
    env = os.environ.get("KUBECONFIG")
    if env:
        return [os.path.expanduser(p) for p in env.split(os.pathsep) if p]
    return [os.path.expanduser("~/.kube/config")]


def _current_context(paths: list[str]) -> str | None:
    """The first file that sets current-context wins (kubectl's rule for merged configs)."""
    for path in paths:
        try:
            data = yaml.safe_load(Path(path).read_text()) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ClusterError(f"cannot read kubeconfig {path}: {_first_line(exc)}") from None
        if isinstance(data, dict) and data.get("current-context"):
            return str(data["current-context"])
    return None


@contextmanager
def _capture_client_errors(sink: list[str]) -> Iterator[None]:
    """The client logs exec-plugin failures instead of raising: turn them into our error."""

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


def _read_text(path: str) -> str | None:
    try:
        return Path(path).read_text().strip() or None
    except OSError:
        return None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]


# -- HTTP ------------------------------------------------------------------------------------


class Api:
    """GETs of raw JSON over the client's connection pool, with retries on 429/5xx."""

    def __init__(self, conn: Connection, timeout: float) -> None:
        import urllib3
        from kubernetes.client.rest import RESTClientObject

        self.conn = conn
        self.timeout = timeout
        self._pool = RESTClientObject(conn.configuration).pool_manager
        if not conn.configuration.verify_ssl:
            # insecure-skip-tls-verify is the kubeconfig's choice; kubectl does not nag about it.
            urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
        self._timeout = urllib3.Timeout(connect=timeout, read=timeout)

    def get(self, path: str, params: Iterable[tuple[str, str]] = (), accept: str = JSON) -> dict:
        return self.get_with_headers(path, params, accept)[0]

    def get_with_headers(
        self, path: str, params: Iterable[tuple[str, str]] = (), accept: str = JSON
    ) -> tuple[dict, Any]:
        query = urlencode(list(params))
        url = self.conn.server + path + (f"?{query}" if query else "")
        attempt = 0
        while True:
            resp = self._send(url, accept)
            status = resp.status
            if 200 <= status < 300:
                try:
                    body = json.loads(resp.data)
                except ValueError:
                    raise ApiError(status, f"{path}: the server sent invalid JSON") from None
                return (body if isinstance(body, dict) else {}), resp.headers
            delay = _retry_delay(attempt, resp.headers.get("Retry-After"))
            retryable = status == 429 or status >= 500
            if not retryable or attempt >= MAX_RETRIES or delay is None:
                raise ApiError(status, _status_message(resp.data, status))
            time.sleep(delay)
            attempt += 1

    def _send(self, url: str, accept: str) -> Any:
        import urllib3

        headers = {"Accept": accept, "User-Agent": f"amldoctor/{__version__}"}
        for auth in self.conn.configuration.auth_settings().values():
            if auth.get("in") == "header" and auth.get("value"):
                headers[auth["key"]] = auth["value"]
        try:
            return self._pool.request(
                "GET", url, headers=headers, timeout=self._timeout, retries=False
            )
        except urllib3.exceptions.HTTPError as exc:
            raise ApiError(0, _transport_message(exc, self.timeout)) from None


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


def _transport_message(exc: Exception, timeout: float) -> str:
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
        return f"no answer within {timeout:g}s (--request-timeout)"
    if isinstance(exc, ue.SSLError):
        text = str(exc.args[0] if exc.args else exc)
        found = re.search(r"\]\s*(.*?)\s*\(_ssl\.c:\d+\)", text)
        return f"TLS failure: {found.group(1) if found else text}"
    if isinstance(exc, ue.ProtocolError):
        return f"connection broken: {_first_line(exc)}"
    return _first_line(exc)


# -- listing ---------------------------------------------------------------------------------


def list_all(
    api: Api, req: ListRequest, on_page: Callable[[int], None] | None = None
) -> list[dict]:
    """Every item of one LIST, page by page; restart from scratch when the token expires."""
    res = req.resource
    accept = METADATA_ONLY if res.metadata_only else JSON
    for _ in range(MAX_LIST_RESTARTS + 1):
        items: list[dict] = []
        token = ""
        while True:
            params = [*req.params, ("limit", str(PAGE_SIZE))]
            if token:
                params.append(("continue", token))
            try:
                body = api.get(res.path(req.namespace), params, accept)
            except ApiError as exc:
                if exc.status == 410 and token:
                    break  # the list's snapshot expired between pages: read it again
                raise
            raw = body.get("items") or ()
            page = [_normalize(res, item) for item in raw if isinstance(item, dict)]
            items.extend(page)
            if on_page:
                on_page(len(page))
            token = (body.get("metadata") or {}).get("continue") or ""
            if not token:
                return items
    raise ApiError(410, f"the {res.plural} list kept expiring while paging; try again")


def _normalize(res: Resource, item: dict) -> dict:
    """List items lack kind/apiVersion; managedFields are noise kubectl hides too."""
    meta = dict(item.get("metadata") or {})
    meta.pop("managedFields", None)
    if res.metadata_only:
        # Only names: last-applied-configuration on a Secret is a copy of its data.
        annotations = dict(meta.get("annotations") or {})
        annotations.pop(LAST_APPLIED, None)
        if annotations:
            meta["annotations"] = annotations
        else:
            meta.pop("annotations", None)
        return {"kind": res.kind, "apiVersion": res.api_version, "metadata": meta}
    return {**item, "kind": res.kind, "apiVersion": res.api_version, "metadata": meta}


def _missing(req: ListRequest, exc: ApiError) -> Missing:
    res = req.resource
    group = res.api_version.split("/")[0]
    if exc.status == 404 and group in OPTIONAL_APIS:
        served = f"{res.plural}.{group} ({res.api_version})"
        reason = f"{NOT_INSTALLED} the cluster does not serve {served}"
    elif exc.status in (404, 503) and group == "metrics.k8s.io":
        reason = f"metrics API not served (is metrics-server installed?): {exc.message}"
    elif exc.status == 403:
        reason = f"forbidden: {exc.message}"
    else:
        reason = exc.message
    return Missing(res.name, reason, req.namespace if res.namespaced else None, exc.status or None)


BOUND_PODS_REQUEST = ListRequest(POD, None, (("fieldSelector", BOUND_PODS),), extra=True)
# Pods that preempted and wait for their victims: the scheduler keeps their room on the node.
NOMINATED_PODS_REQUEST = ListRequest(POD, None, (("fieldSelector", NOMINATED_PODS),), extra=True)
# Budgets of victims in any namespace decide which pods preemption would evict.
ALL_PDBS_REQUEST = ListRequest(PDB, None, extra=True)


# -- one collection --------------------------------------------------------------------------


class Collector:
    """One collection run: the API, what was read, what could not be, and progress."""

    def __init__(self, opts: LiveOptions) -> None:
        self.opts = opts
        self.conn = connect(opts)
        self.api = Api(self.conn, opts.request_timeout)
        self.objects: list[dict] = []
        self.collected: set[str] = set()
        self.missing: list[Missing] = []
        self.server_version: str | None = None
        self.captured_at = datetime.now(UTC)

    @property
    def namespace(self) -> str:
        return self.conn.namespace

    def probe(self) -> None:
        """GET /version: proves we can reach and authenticate, and dates the snapshot."""
        try:
            body, headers = self.api.get_with_headers("/version")
        except ApiError as exc:
            if exc.status not in (0, 401) and exc.status < 500:
                return  # reachable and authenticated; /version merely not allowed
            raise self.cluster_error(exc) from None
        self.server_version = body.get("gitVersion")
        date = headers.get("Date")
        if date:
            with suppress(TypeError, ValueError):
                self.captured_at = parsedate_to_datetime(date).astimezone(UTC)

    def cluster_error(self, exc: ApiError) -> ClusterError:
        where = f"{self.conn.server} (context {self.conn.context})"
        if exc.status == 0:
            return ClusterError(f"cannot reach {where}: {exc.message}")
        if exc.status == 401:
            return ClusterError(
                f"{where} rejected the credentials (401 Unauthorized: expired or invalid; "
                "log in again)"
            )
        return ClusterError(f"{where} answered HTTP {exc.status}: {exc.message}")

    def get_object(self, res: Resource, namespace: str | None, name: str) -> dict:
        """One object; an ApiError other than 404 is also recorded as Missing."""
        try:
            obj = self.api.get(f"{res.path(namespace)}/{name}")
        except ApiError as exc:
            if exc.status in (0, 401):
                raise self.cluster_error(exc) from None
            if exc.status != 404:
                self.add_missing(_missing(ListRequest(res, namespace), exc))
            raise
        self.collected.add(res.name)
        return _normalize(res, obj)

    def add_missing(self, missing: Missing) -> None:
        """One entry per kind and scope: the first failure explains it."""
        scope = (missing.kind, missing.namespace)
        if all((m.kind, m.namespace) != scope for m in self.missing):
            self.missing.append(missing)

    def check_namespace(self) -> bool | None:
        """True/False when the namespace's existence is known; None when we may not look."""
        try:
            self.objects.append(self.get_object(NAMESPACE, None, self.namespace))
        except ApiError as exc:
            return False if exc.status == 404 else None
        return True

    def run(self, requests: list[ListRequest]) -> dict[ListRequest, list[dict]]:
        """All LISTs concurrently; each failure becomes a Missing entry.

        The responses become the snapshot's objects: they are parsed with the cyclic garbage
        collector paused and frozen afterwards when numerous, as `load.py` does for bundles
        (the collector would otherwise re-traverse the growing object graph again and again).
        """
        with long_lived_objects() as keep:
            results = self._run(requests)
            keep(self.objects)
        return results

    def _run(self, requests: list[ListRequest]) -> dict[ListRequest, list[dict]]:
        results: dict[ListRequest, list[dict]] = {}
        progress = _Progress(len(requests)) if self.opts.progress and sys.stderr.isatty() else None
        with ThreadPoolExecutor(max_workers=min(WORKERS, len(requests) or 1)) as pool:
            futures = {
                pool.submit(list_all, self.api, req, progress.add if progress else None): req
                for req in requests
            }
            try:
                for future in as_completed(futures):
                    req = futures[future]
                    try:
                        results[req] = future.result()
                        if not req.extra:
                            self.collected.add(req.resource.name)
                    except ApiError as exc:
                        if exc.status == 401:
                            raise self.cluster_error(exc) from None
                        self.add_missing(_missing(req, exc))
                    if progress:
                        progress.kind_done()
            finally:
                if progress:
                    progress.stop()
        for req in requests:  # stable order whatever finished first
            self.objects.extend(results.get(req, ()))
        return results

    def snapshot(self) -> Snapshot:
        return Snapshot(
            _dedupe(self.objects),
            source=f"context {self.conn.context} ({self.conn.server})",
            server_version=self.server_version,
            captured_at=self.captured_at,
            namespace=None if self.opts.all_namespaces else self.namespace,
            context=self.conn.context,
            missing=sorted(self.missing, key=lambda m: (m.kind, m.namespace or "")),
            collected_kinds=set(self.collected),
        )


def _dedupe(objects: list[dict]) -> list[dict]:
    """Pods come from the namespace list and the bound-pods list: keep one of each."""
    seen: set[tuple[str, str]] = set()
    out = []
    for obj in objects:
        meta = obj.get("metadata") or {}
        key = (
            f"{obj.get('apiVersion')}/{obj.get('kind')}",
            meta.get("uid") or f"{meta.get('namespace')}/{meta.get('name')}",
        )
        if key not in seen:
            seen.add(key)
            out.append(obj)
    return out


class _Progress:
    """A spinner on stderr with lists done and objects so far (only on a terminal)."""

    def __init__(self, total: int) -> None:
        from rich.console import Console

        self.total = total
        self.done = 0
        self.items = 0
        self.lock = threading.Lock()
        self.status = Console(stderr=True).status(self._text())
        self.status.start()

    def _text(self) -> str:
        return f"Reading the cluster: {self.done}/{self.total} lists, {self.items} objects"

    def add(self, count: int) -> None:
        with self.lock:
            self.items += count
            self.status.update(self._text())

    def kind_done(self) -> None:
        with self.lock:
            self.done += 1
            self.status.update(self._text())

    def stop(self) -> None:
        self.status.stop()


# -- public entry points ---------------------------------------------------------------------


def collect_live(opts: LiveOptions) -> LiveResult:
    """Read everything amldoctor's rules look at, once (scan and dump)."""
    c = Collector(opts)
    c.probe()
    ns = None if opts.all_namespaces else c.namespace
    exists = None if ns is None else c.check_namespace()
    if exists is False:
        raise InputError(f"namespace {ns} does not exist")

    requests = []
    for res in NAMESPACED:
        requests.append(ListRequest(res, ns, _selector_params(opts) if res is POD else ()))
    requests += [ListRequest(res) for res in CLUSTER_SCOPED]
    if ns is not None:
        requests += [BOUND_PODS_REQUEST, NOMINATED_PODS_REQUEST, ALL_PDBS_REQUEST]
        if ns != AZUREML_NAMESPACE:
            requests += [ListRequest(res, AZUREML_NAMESPACE, extra=True) for res in EXTENSION]
        requests.append(ListRequest(DEPLOYMENT, ARC_NAMESPACE, extra=True))
    results = c.run(requests)

    if exists is None and ns is not None:
        _judge_unreadable_namespace(c, ns, results)
    _require_pods(c, ns, results)
    return LiveResult(c.snapshot(), c.conn.server)


def _require_pods(c: Collector, ns: str | None, results: dict[ListRequest, list[dict]]) -> None:
    """Pods are what scan and dump are about: without them the report would look healthy.

    Every other kind degrades to a "not checked" note; a refused pod list ends the command
    (exit 3) with the API server's own reason.
    """
    if ListRequest(POD, ns, _selector_params(c.opts)) in results:
        return
    where = f"namespace {ns}" if ns else "any namespace"
    reason = next(
        (m.reason for m in c.missing if m.kind == POD.name and m.namespace == ns),
        "the request failed",
    )
    raise ClusterError(f"cannot list pods in {where} on {c.conn.server}: {reason}")


def _judge_unreadable_namespace(
    c: Collector, ns: str, results: dict[ListRequest, list[dict]]
) -> None:
    """Namespaces may not be read: tell from its content whether it exists.

    Every namespace holds the `kube-root-ca.crt` ConfigMap, so an empty, readable ConfigMap list
    with no pods and no events means the namespace is not there (an AML compute whose namespace
    was never created). With ConfigMaps unreadable too, say that it may not exist.
    """
    listed = results.get(ListRequest(NAMESPACE))
    if listed is not None:  # allowed to list namespaces, though not to get one
        if ns not in {(o.get("metadata") or {}).get("name") for o in listed}:
            raise InputError(f"namespace {ns} does not exist")
        return
    pods = results.get(ListRequest(POD, ns, _selector_params(c.opts)))
    events = results.get(ListRequest(EVENT, ns))
    config_maps = results.get(ListRequest(CONFIG_MAP, ns))
    if pods is None or pods or events:
        return
    if config_maps is not None and not config_maps:
        raise InputError(f"namespace {ns} does not exist")
    c.missing = [m for m in c.missing if m.kind != NAMESPACE.name]
    c.missing.append(
        Missing(
            NAMESPACE.name,
            f"cannot read namespace {ns} (forbidden) and it has no pods or events: "
            "it may not exist",
            None,
            403,
        )
    )


def _selector_params(opts: LiveOptions) -> tuple[tuple[str, str], ...]:
    return (("labelSelector", opts.selector),) if opts.selector else ()


def collect(opts: LiveOptions) -> Snapshot:
    """Read everything amldoctor's rules look at, once (scan and dump)."""
    return collect_live(opts).snapshot


def collect_for_pod(opts: LiveOptions, pod_name: str) -> Snapshot:
    """Only what one pod's scheduling analysis needs (why-pending).

    The pod, its events and its PodGroup's, every node with the pods bound to it (what the
    scheduler counts), volumes and their classes, namespaces (labels, for affinity), AML
    InstanceTypes and Volcano queues.
    """
    c = Collector(opts)
    c.probe()
    ns = c.namespace
    try:
        pod = c.get_object(POD, ns, pod_name)
    except ApiError as exc:
        if exc.status == 404:
            if c.check_namespace() is False:
                raise InputError(f"namespace {ns} does not exist") from None
            raise InputError(f"pod {pod_name} not found in namespace {ns}") from None
        raise ClusterError(f"cannot read pod {ns}/{pod_name}: {exc.message}") from None
    c.objects.append(pod)

    requests = [
        _events_about(ns, pod_name),
        BOUND_PODS_REQUEST,
        NOMINATED_PODS_REQUEST,
        ALL_PDBS_REQUEST,
        ListRequest(PVC, ns),
        ListRequest(POD_GROUP, ns),
        *(ListRequest(res) for res in CLUSTER_SCOPED),
    ]
    annotations = pod["metadata"].get("annotations") or {}
    group = annotations.get("scheduling.k8s.io/group-name")
    if group:
        requests.append(_events_about(ns, group))
    c.run(requests)
    return c.snapshot()


def _events_about(namespace: str, name: str) -> ListRequest:
    return ListRequest(EVENT, namespace, (("fieldSelector", f"involvedObject.name={name}"),))
