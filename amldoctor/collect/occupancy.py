"""The pods every namespace has bound to the nodes, read as one LIST per namespace, concurrently.

A waiting pod's simulation needs what every node holds: the non-finished pods of all
namespaces bound to it. One cluster-wide LIST of them is paged, and its pages come one after
the other (each page's continue token is in the page before), so on a 10,000-pod cluster the
API server encodes 16 MB of JSON page by page on one core while the scan waits. Listed per
namespace, the server encodes several lists at once and our decoding of one overlaps the
encoding of the next: on the 2-core benchmark the server's time for the same pods fell from
0.36 to 0.22 s, and a waiting pod's scan gained more than that (`docs/performance.md`).

The parts cover exactly what the one LIST covered, whatever happens meanwhile:

- one LIST per namespace of the namespace list (the field selector of `BOUND_PODS`), up to
  `MAX_PARTS`;
- one cluster-wide LIST of every other namespace (the same field selector ANDed with
  `metadata.namespace!=` each namespace listed on its own), which also catches a namespace
  created after the namespace list was read;
- the scanned namespace is left out when its pods were listed whole (no label selector): its
  bound pods are among them already (intake keeps one object per uid anyway).

When the namespaces cannot be listed, or a part fails (a user allowed to list pods in some
namespaces only), the cluster-wide LIST is made as before, so what is read, and the `missing`
entry a refusal leaves, are what they were.

A namespace's scan asks for the parts once something there waits (`collector`); why-pending,
dump, `lint --against-cluster` and `why-pending --job` as soon as the namespace list is in
(`InParts`).
"""

from __future__ import annotations

from amldoctor.collect.kinds import BOUND_PODS, NAMESPACE, POD, ListRequest

# The cluster-wide LIST of every pod bound to a node, with nothing known of the namespaces.
BOUND_PODS_REQUEST = ListRequest(POD, None, (("fieldSelector", BOUND_PODS),), extra=True)
# The namespace list the parts are made from (also read for namespace labels).
NAMESPACES_REQUEST = ListRequest(NAMESPACE)
# Namespaces listed on their own at most; the rest come in the complement's one LIST. A few
# concurrent lists are enough for the server's cores (8 connections); the complement's selector
# grows by one term per namespace listed apart (up to 83 characters): 32 keeps its URL under
# 8 KB, the request-line limit of common proxies (a refused URL falls back to the one LIST).
MAX_PARTS = 32


def bound_pod_parts(namespaces: list[str], skip: str | None) -> list[ListRequest]:
    """The LISTs that together read every node-bound pod outside `skip`, in namespace order.

    `namespaces` are the names the namespace list returned; `skip` is the scanned namespace
    when its pods were listed whole (None otherwise).
    """
    apart = sorted({n for n in namespaces if n and n != skip})[:MAX_PARTS]
    parts = [ListRequest(POD, ns, (("fieldSelector", BOUND_PODS),), extra=True) for ns in apart]
    excluded = [*apart, *([skip] if skip else [])]
    others = ",".join([BOUND_PODS, *(f"metadata.namespace!={ns}" for ns in excluded)])
    return [*parts, ListRequest(POD, None, (("fieldSelector", others),), extra=True)]


class BoundPods:
    """How one collection reads the node-bound pods: in parts, or whole when parts cannot be.

    `requests` chooses once the namespace list is known; `failed` answers a part's failure with
    the cluster-wide LIST (once), after which no part's items are kept (`keeps`).
    """

    def __init__(self, skip: str | None) -> None:
        self.skip = skip
        self.parts: frozenset[ListRequest] = frozenset()
        self.whole = False

    def requests(self, namespaces: list[dict] | None) -> list[ListRequest]:
        """The LISTs to make, given the namespace list's items (None: it could not be read)."""
        if namespaces is None:
            self.whole = True
            return [BOUND_PODS_REQUEST]
        names = [(o.get("metadata") or {}).get("name") for o in namespaces]
        parts = bound_pod_parts([n for n in names if isinstance(n, str)], self.skip)
        self.parts = frozenset(parts)
        return parts

    def is_part(self, req: ListRequest) -> bool:
        return req in self.parts

    def failed(self, req: ListRequest) -> list[ListRequest]:
        """A part failed: read the pods whole instead, and let that LIST's answer stand."""
        if req not in self.parts or self.whole:
            return []
        self.whole = True
        return [BOUND_PODS_REQUEST]

    def keeps(self, req: ListRequest) -> bool:
        """Are this LIST's items part of the snapshot? Not a part's, once read whole."""
        return not (self.whole and req in self.parts)


class InParts:
    """A `Collector.run` follow-up: the node-bound pods in parts once the namespace list is in.

    `start` takes the cluster-wide LIST out of a collection's requests (or leaves the parts'
    fallback in when the namespaces are not listed at all).
    """

    def __init__(self, bound: BoundPods) -> None:
        self.bound = bound
        self.asked = False

    def start(self, requests: list[ListRequest]) -> list[ListRequest]:
        kept = [r for r in requests if r != BOUND_PODS_REQUEST]
        if NAMESPACES_REQUEST not in kept:
            self.asked = True
            return [*kept, *self.bound.requests(None)]
        return [NAMESPACES_REQUEST, *(r for r in kept if r != NAMESPACES_REQUEST)]

    def __call__(self, req: ListRequest, items: list[dict] | None) -> list[ListRequest]:
        if req == NAMESPACES_REQUEST and not self.asked:
            self.asked = True
            return self.bound.requests(items)
        if items is None and self.bound.is_part(req):
            return self.bound.failed(req)
        return []
