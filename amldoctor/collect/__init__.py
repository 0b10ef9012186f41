"""Live collection: read a cluster once, as raw JSON, into a Snapshot.

Five modules, one job each. `kubeconfig` resolves the context the way kubectl does (merged
files, tokens, client certificates, exec plugins, the pod's service account) without importing
the `kubernetes` client, whose loader costs a third of a second of imports; only a legacy
`auth-provider` user is handed to that client. `transport` sends paged, retried GETs over one
urllib3 pool. `kinds` is the catalogue of what is read and what a list item becomes.
`occupancy` reads the pods every namespace has bound to the nodes as one LIST per namespace.
`collector` decides what one collection reads and turns a kind the user may not read (403) or
the cluster does not serve (404: CRD or metrics-server absent) into a `Missing` entry, so a user
who cannot list nodes still gets a snapshot. Only failing to reach or authenticate to the server
at all is fatal (`ClusterError`).

This module holds only the options, so `sources` can name them without loading the collector.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class LiveOptions:
    """How to reach the cluster and what to read; mirrors kubectl's flags."""

    kubeconfig: str | None = None
    context: str | None = None
    namespace: str | None = None
    all_namespaces: bool = False
    selector: str | None = None
    request_timeout: float | None = 5.0  # seconds; None waits forever (--request-timeout 0)
    progress: bool = False
    # A namespace's scan: read other namespaces' node-bound pods, and the kinds only a
    # placement question reads (`kinds.PLACEMENT_ONLY`), only when something waits
    # (`collector.collect_live`); its decoded strings are not shared. Off for what simulates
    # pods the cluster does not hold yet (lint --against-cluster, why-pending --job) and for
    # dump.
    occupancy_when_needed: bool = False
    # Every field of every object (dump: a bundle must answer questions a later version asks);
    # otherwise only the fields amldoctor reads are decoded (`selective`).
    whole_objects: bool = False
