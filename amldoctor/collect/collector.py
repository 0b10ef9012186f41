"""One collection: what `scan`, `dump` and `why-pending` read from a live cluster, concurrently.

Kinds are listed concurrently; a kind the user may not read (403) or the cluster does not serve
(404) becomes a `Missing` entry and collection goes on. Pods are required: without them a
report would look healthy, so a refused pod list ends the command (exit 3).
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from amldoctor import selective
from amldoctor.collect import LiveOptions
from amldoctor.collect.kinds import (
    ARC_NAMESPACE,
    AUTOSCALER_STATUS,
    AZUREML_NAMESPACE,
    CLAIM_STORAGE,
    CLUSTER_SCOPED,
    CONFIG_MAP,
    DEPLOYMENT,
    EVENT,
    EXTENSION,
    NAMESPACE,
    NAMESPACED,
    NOMINATED_PODS,
    OPTIONAL_APIS,
    PDB,
    PLACEMENT_ONLY,
    POD,
    POD_GROUP,
    PVC,
    RESOURCE_CLAIM,
    ListRequest,
    Resource,
    normalize,
)
from amldoctor.collect.occupancy import (
    BOUND_PODS_REQUEST,
    NAMESPACES_REQUEST,
    BoundPods,
    InParts,
)
from amldoctor.collect.scope import needs_node_occupancy, occupancy_skipped_reason
from amldoctor.collect.transport import WORKERS, Api, ApiError, connect, list_all
from amldoctor.decodetypes import Repeats
from amldoctor.errors import ClusterError, InputError
from amldoctor.load import long_lived_objects
from amldoctor.snapshot import NOT_INSTALLED, Missing, Snapshot


@dataclass
class LiveResult:
    """A collected snapshot plus the connection facts a bundle manifest records."""

    snapshot: Snapshot
    server: str


# -- what a failed read means --------------------------------------------------------------


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


# Given a finished list (its items, None if it failed), the lists to add to the running ones.
FollowUp = Callable[[ListRequest, list[dict] | None], list[ListRequest]]
# Pods that preempted and wait for their victims: the scheduler keeps their room on the node.
NOMINATED_PODS_REQUEST = ListRequest(POD, None, (("fieldSelector", NOMINATED_PODS),), extra=True)
# Budgets of victims in any namespace decide which pods preemption would evict.
ALL_PDBS_REQUEST = ListRequest(PDB, None, extra=True)
# Devices allocated to claims of any namespace are taken, whoever waits for them (DRA).
ALL_CLAIMS_REQUEST = ListRequest(RESOURCE_CLAIM, None, extra=True)
# What other namespaces contribute to a waiting pod's scheduling question: the pods bound to the
# nodes, the pods nominated to them, the budgets preemption respects, and the claims holding
# devices.
OCCUPANCY_REQUESTS = (
    BOUND_PODS_REQUEST,
    NOMINATED_PODS_REQUEST,
    ALL_PDBS_REQUEST,
    ALL_CLAIMS_REQUEST,
)


# -- one collection --------------------------------------------------------------------------


class Collector:
    """One collection run: the API, what was read, what could not be, and progress."""

    def __init__(self, opts: LiveOptions) -> None:
        self.opts = opts
        self.conn = connect(opts)
        self.api = Api(self.conn, opts.request_timeout)
        self.objects: list[dict] = []
        # Objects a typed decoder built, held so their ids stay theirs until the snapshot is
        # made: its intake does not walk them again (`Snapshot(checked=...)`).
        self.typed: list[dict] = []
        self.collected: set[str] = set()
        # Set when the node-bound pods are read in parts (`occupancy`): a failed part is no
        # `Missing` entry of its own, and a part's items are dropped once they are read whole.
        self.bound: BoundPods | None = None
        self.missing: list[Missing] = []
        self.server_version: str | None = None
        self.captured_at = datetime.now(UTC)
        self.whole = opts.whole_objects
        # One table for the whole collection: node names in pods and events, and so on. Not for
        # a namespace's scan: sharing walks every decoded object again in Python, a tenth of
        # the scan's CPU when a waiting pod brings in the cluster's 10,000 node-bound pods,
        # for about 20 % more memory than shared strings would take. Repeated fields (a
        # Deployment's replicas' resources, tolerations...) are built once either way.
        share = not self.whole and (opts.all_namespaces or not opts.occupancy_when_needed)
        self.strings: selective.Strings | Repeats = selective.Strings() if share else Repeats()

    @property
    def namespace(self) -> str:
        return self.conn.namespace

    def probe(self) -> None:
        """GET /version: proves we can reach and authenticate, and dates the snapshot."""
        try:
            body, headers = self.api.get_with_headers("/version")
        except ApiError as exc:
            if exc.status == 404 or 200 <= exc.status < 300:  # 2xx here: not JSON
                self._require_api_server(f"/version answered {exc.message or exc.status}")
                return
            if exc.status not in (0, 401) and exc.status < 500:
                return  # reachable and authenticated; /version merely not allowed
            raise self.cluster_error(exc) from None
        if not isinstance(body, dict) or not isinstance(body.get("gitVersion"), str):
            self._require_api_server("/version is not a Kubernetes version document")
            return
        self.server_version = body.get("gitVersion")
        date = headers.get("Date")
        if date:
            with suppress(TypeError, ValueError):
                self.captured_at = parsedate_to_datetime(date).astimezone(UTC)

    def _require_api_server(self, why: str) -> None:
        """Every API server serves discovery at /api; a server that does not is something else.

        Without this check a web server or proxy that answers 404 to everything made every
        later request look like "namespace does not exist" (exit 2) instead of a wrong
        server address in the kubeconfig (exit 3).
        """
        where = f"{self.conn.server} (context {self.conn.context})"
        try:
            body = self.api.get("/api")
        except ApiError as exc:
            if exc.status in (0, 401) or exc.status >= 500:
                raise self.cluster_error(exc) from None
            if exc.status != 404 and not 200 <= exc.status < 300:
                return  # forbidden: an API server that will not say more
            body = None
        if isinstance(body, dict) and body.get("kind") == "APIVersions":
            return
        raise ClusterError(
            f"{where} is not a Kubernetes API server: {why} and /api serves no API "
            "discovery; check the server URL of the kubeconfig's cluster"
        )

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
        found = normalize(res, obj)
        if self.whole:
            return found
        pruned = selective.prune(found)
        if isinstance(self.strings, selective.Strings):
            self.strings.share(pruned)  # in place
        return pruned  # type: ignore[return-value]

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

    def run(
        self, requests: list[ListRequest], follow_up: FollowUp | None = None
    ) -> dict[ListRequest, list[dict]]:
        """All LISTs concurrently; each failure becomes a Missing entry.

        `follow_up`, called with each finished list (its items, or None when it failed), may
        return more requests: they join the lists still running, so a read that depends on
        another's answer costs no extra round of waiting.

        The responses become the snapshot's objects: they are parsed with the cyclic garbage
        collector paused and frozen afterwards when numerous, as `load.py` does for bundles
        (the collector would otherwise re-traverse the growing object graph again and again).
        """
        with long_lived_objects() as keep:
            results = self._run(requests, follow_up)
            keep(self.objects)
        return results

    def _run(
        self, requests: list[ListRequest], follow_up: FollowUp | None
    ) -> dict[ListRequest, list[dict]]:
        results: dict[ListRequest, list[dict]] = {}
        order = list(requests)
        progress = _Progress(len(requests)) if self.opts.progress and sys.stderr.isatty() else None
        with ThreadPoolExecutor(max_workers=min(WORKERS, len(requests) or 1)) as pool:

            def submit(req: ListRequest) -> Future:
                on_page = progress.add if progress else None
                return pool.submit(
                    list_all, self.api, req, on_page, self.strings, self.whole, self.typed
                )

            running = {submit(req): req for req in requests}
            try:
                while running:
                    done, _ = wait(running, return_when=FIRST_COMPLETED)
                    for future in done:
                        req = running.pop(future)
                        items: list[dict] | None = None
                        try:
                            items = results[req] = future.result()
                            if not req.extra:
                                self.collected.add(req.resource.name)
                        except ApiError as exc:
                            if exc.status == 401:
                                raise self.cluster_error(exc) from None
                            if self.bound is None or not self.bound.is_part(req):
                                self.add_missing(_missing(req, exc))
                        if progress:
                            progress.kind_done()
                        for more in follow_up(req, items) if follow_up else ():
                            order.append(more)
                            running[submit(more)] = more
                            if progress:
                                progress.total += 1
            finally:
                for future in running:
                    future.cancel()
                if progress:
                    progress.stop()
        for req in order:  # stable order whatever finished first
            if self.bound is None or self.bound.keeps(req):
                self.objects.extend(results.get(req, ()))
        return results

    def snapshot(self) -> Snapshot:
        return Snapshot(
            # A pod of the namespace comes back in the node-bound pods too: the snapshot's
            # intake keeps one object per uid (the newer resourceVersion).
            self.objects,
            source=f"context {self.conn.context} ({self.conn.server})",
            server_version=self.server_version,
            captured_at=self.captured_at,
            namespace=None if self.opts.all_namespaces else self.namespace,
            context=self.conn.context,
            missing=sorted(self.missing, key=lambda m: (m.kind, m.namespace or "")),
            collected_kinds=set(self.collected),
            checked={id(o) for o in self.typed},
        )


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


def collect_live(
    opts: LiveOptions,
    *,
    occupancy_when_needed: bool = False,
    settled: threading.Event | None = None,
) -> LiveResult:
    """Read everything amldoctor's rules look at, once (scan and dump).

    In a namespace, the pods other namespaces have bound to the nodes are what each node has
    left for a pod waiting here. With `occupancy_when_needed` (scan) they are listed only once
    the namespace's pods or PodGroups show something waiting for a node, alongside the lists
    still running; otherwise (dump: a bundle must answer any later question) always.

    `settled` is set once every LIST this collection will make is known (a namespace's scan:
    once it is known whether something waits), so a caller may do its own work meanwhile
    without slowing the reads the decision rests on.
    """
    c = Collector(opts)
    c.probe()
    ns = None if opts.all_namespaces else c.namespace
    exists = None if ns is None else c.check_namespace()
    if exists is False:
        raise InputError(f"namespace {ns} does not exist")

    own_pods = ListRequest(POD, ns, _selector_params(opts))
    follow_up: _PlacementWhenNeeded | InParts | None = None
    deferred: tuple[Resource, ...] = ()
    if ns is not None and occupancy_when_needed:
        deferred = (*PLACEMENT_ONLY, *CLAIM_STORAGE)
        follow_up = _PlacementWhenNeeded(
            c, own_pods, ListRequest(POD_GROUP, ns), ListRequest(PVC, ns), settled
        )
        c.bound = follow_up.bound
    requests = [
        own_pods if res is POD else ListRequest(res, ns)
        for res in NAMESPACED
        if res not in deferred
    ]
    requests += [ListRequest(res) for res in CLUSTER_SCOPED if res not in deferred]
    if ns is not None:
        if not occupancy_when_needed:
            requests += OCCUPANCY_REQUESTS
        if ns != AZUREML_NAMESPACE:
            requests += [ListRequest(res, AZUREML_NAMESPACE, extra=True) for res in EXTENSION]
        requests.append(ListRequest(DEPLOYMENT, ARC_NAMESPACE, extra=True))
        if ns != AUTOSCALER_STATUS.namespace:
            requests.append(AUTOSCALER_STATUS)
    if isinstance(follow_up, _PlacementWhenNeeded):
        if NAMESPACES_REQUEST not in requests:
            follow_up.namespaces_known = True  # no namespace list to split by: read them whole
        # What the decision rests on first: the other namespaces' pods wait for it.
        first = follow_up.first
        requests.sort(key=lambda req: req not in first)
    else:
        if ns is not None:  # the bound pods of every namespace, in parts (`occupancy`)
            follow_up = InParts(BoundPods(ns if not own_pods.params else None))
            c.bound = follow_up.bound
            requests = follow_up.start(requests)
        if settled is not None:
            settled.set()
    results = c.run(requests, follow_up)
    if isinstance(follow_up, _PlacementWhenNeeded):
        follow_up.finish(ns or "")

    if exists is None and ns is not None:
        _judge_unreadable_namespace(c, ns, results)
    _require_pods(c, ns, results)
    return LiveResult(c.snapshot(), c.conn.server)


class _PlacementWhenNeeded:
    """Adds what a placement question reads once the namespace shows something waiting.

    The namespace's pods and PodGroups are both awaited: a pod list with nothing pending still
    leaves a PodGroup that waits with no pod yet (Volcano creates the pods only once the gang
    is enqueued). Then the other namespaces' pods on the nodes (`OCCUPANCY_REQUESTS`, the bound
    pods one LIST per namespace once the namespace list is in: `occupancy`) and the
    placement-only kinds are listed, alongside the lists still running. PersistentVolumes and
    StorageClasses are also listed as soon as the namespace has claims (the PVC rules match
    claims to volumes and classes), or when its claims could not be read.
    """

    def __init__(
        self,
        c: Collector,
        pods: ListRequest,
        podgroups: ListRequest,
        claims: ListRequest,
        settled: threading.Event | None = None,
    ) -> None:
        self.c = c
        self.namespace = pods.namespace
        self.watched = {pods: "pods", podgroups: "podgroups"}
        self.first = frozenset({pods, podgroups, NAMESPACES_REQUEST})
        self.settled = settled
        self.claims = claims
        self.seen: dict[str, list[dict] | None] = {}
        self.placement = False
        self.storage = False
        # The scanned namespace's bound pods are among its pods when those were listed whole.
        self.bound = BoundPods(None if pods.params else pods.namespace)
        self.namespaces: list[dict] | None = None
        self.namespaces_known = False
        self.bound_listed = False

    def __call__(self, req: ListRequest, items: list[dict] | None) -> list[ListRequest]:
        if req == self.claims:
            return self._storage() if items != [] else []
        if req == NAMESPACES_REQUEST:
            self.namespaces, self.namespaces_known = items, True
            return self._bound_pods()
        if items is None and self.bound.is_part(req):
            return self.bound.failed(req)
        what = self.watched.get(req)
        if what is None or self.placement:
            return []
        self.seen[what] = items
        pods_known = "pods" in self.seen
        why = needs_node_occupancy(self.seen["pods"], None) if pods_known else None
        if why is None and len(self.seen) == len(self.watched):
            why = needs_node_occupancy(self.seen["pods"], self.seen["podgroups"])
            if why is None and self.settled is not None:
                self.settled.set()  # nothing waits: no more LISTs to come
        if why is None:
            return []
        self.placement = True
        if self.settled is not None:
            self.settled.set()
        placement = [
            ListRequest(res, self.namespace if res.namespaced else None) for res in PLACEMENT_ONLY
        ]
        occupancy = [r for r in OCCUPANCY_REQUESTS if r != BOUND_PODS_REQUEST]
        return [*self._bound_pods(), *occupancy, *placement, *self._storage()]

    def _bound_pods(self) -> list[ListRequest]:
        """The node-bound pods' LISTs, once something waits and the namespaces are known."""
        if not self.placement or not self.namespaces_known or self.bound_listed:
            return []
        self.bound_listed = True
        return self.bound.requests(self.namespaces)

    def _storage(self) -> list[ListRequest]:
        if self.storage:
            return []
        self.storage = True
        return [ListRequest(res) for res in CLAIM_STORAGE]

    def finish(self, namespace: str) -> None:
        """Say in the snapshot that the pods elsewhere were left out, and why.

        The placement-only kinds left unread are not reported: no rule would have read them.
        """
        if not self.placement:
            self.c.add_missing(Missing(POD.name, occupancy_skipped_reason(namespace)))


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


def collect(opts: LiveOptions, settled: threading.Event | None = None) -> Snapshot:
    """Read everything amldoctor's rules look at, once (scan, jobs, lint --against-cluster);
    `settled` as for `collect_live`."""
    live = collect_live(opts, occupancy_when_needed=opts.occupancy_when_needed, settled=settled)
    return live.snapshot


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
        *OCCUPANCY_REQUESTS,
        ListRequest(PVC, ns),
        ListRequest(POD_GROUP, ns),
        ListRequest(RESOURCE_CLAIM),  # the pod's own claims, and the devices others hold
        AUTOSCALER_STATUS,
        *(ListRequest(res) for res in CLUSTER_SCOPED),
    ]
    annotations = pod["metadata"].get("annotations") or {}
    group = annotations.get("scheduling.k8s.io/group-name")
    if group:
        requests.append(_events_about(ns, group))
    in_parts = InParts(BoundPods(None))  # the pod's namespace too: its pods were not listed
    c.bound = in_parts.bound
    c.run(in_parts.start(requests), in_parts)
    return c.snapshot()


def _events_about(namespace: str, name: str) -> ListRequest:
    return ListRequest(EVENT, namespace, (("fieldSelector", f"involvedObject.name={name}"),))
