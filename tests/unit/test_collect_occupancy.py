"""A waiting pod's scan reads the other namespaces' node-bound pods one LIST per namespace.

Against the fake API server: which LISTs are made, that together they read what the one
cluster-wide LIST read, and that any failure falls back to that LIST, whose answer (items or
`missing` entry) is then the snapshot's, as before the split.
"""

from __future__ import annotations

import json

import pytest

from amldoctor.collect import LiveOptions
from amldoctor.collect.collector import collect, collect_for_pod, collect_live
from amldoctor.collect.kinds import BOUND_PODS, NOMINATED_PODS
from amldoctor.collect.occupancy import MAX_PARTS, bound_pod_parts
from tests.unit import test_collect
from tests.unit.test_collect import kubeconfig, pod, populate

# The fake API server and the no-retry-sleep guard of the collector's tests.
cluster = test_collect.cluster
no_sleep = test_collect.no_sleep

OTHERS = ("team-a", "team-b", "kube-system")


def _cluster_with_others(fake) -> None:
    """Namespace ml with a waiting pod, and three other namespaces with a bound pod each."""
    populate(fake)
    fake.lists["/api/v1/namespaces/ml/pods"].append(pod("w", node=None, phase="Pending"))
    everywhere = []
    for ns in OTHERS:
        fake.lists["/api/v1/namespaces"].append({"metadata": {"name": ns, "uid": f"ns-{ns}"}})
        fake.lists[f"/api/v1/namespaces/{ns}/pods"] = [pod(f"on-{ns}", ns)]
        everywhere.append(pod(f"on-{ns}", ns))
    fake.lists["/api/v1/pods"] = everywhere  # the fake ignores field selectors


def _scan(fake, tmp_path, **kw):
    opts = LiveOptions(kubeconfig=str(kubeconfig(tmp_path, fake.url)), request_timeout=2.0, **kw)
    opts.occupancy_when_needed = True
    return collect(opts)


def _bound_reads(fake) -> list[tuple[str, str]]:
    return sorted(
        (path, q["fieldSelector"])
        for path, q, _ in fake.requests
        if path.endswith("/pods") and q.get("fieldSelector", "").startswith(BOUND_PODS)
    )


def _others(snap) -> set[tuple[str, str]]:
    return {
        (p["metadata"]["namespace"], p["metadata"]["name"])
        for p in snap.pods
        if p["metadata"]["namespace"] != "ml"
    }


def test_one_list_per_other_namespace_and_one_for_the_rest(cluster, tmp_path):
    _cluster_with_others(cluster)
    snap = _scan(cluster, tmp_path)

    rest = ",".join(
        [
            BOUND_PODS,
            *(f"metadata.namespace!={n}" for n in sorted(OTHERS)),
            "metadata.namespace!=ml",
        ]
    )
    assert _bound_reads(cluster) == sorted(
        [(f"/api/v1/namespaces/{n}/pods", BOUND_PODS) for n in OTHERS] + [("/api/v1/pods", rest)]
    )
    # the fake's cluster-wide list answers the rest with every pod: one object per uid
    assert _others(snap) == {(n, f"on-{n}") for n in OTHERS}
    assert snap.all_pods_on_nodes_read()
    assert not [m for m in snap.missing if m.kind == "Pod"]
    nominated = [q for q in cluster.queries("/api/v1/pods") if q["fieldSelector"] == NOMINATED_PODS]
    assert len(nominated) == 1


@pytest.mark.parametrize("status", [403, 404, 500])
def test_a_failed_part_falls_back_to_the_cluster_wide_list(cluster, tmp_path, status):
    _cluster_with_others(cluster)
    cluster.forced["/api/v1/namespaces/team-b/pods"] = status
    cluster.lists["/api/v1/pods"] = [pod("on-team-a", "team-a"), pod("only-whole", "team-b")]
    snap = _scan(cluster, tmp_path)

    whole = [q for q in cluster.queries("/api/v1/pods") if q["fieldSelector"] == BOUND_PODS]
    assert len(whole) == 1
    # the parts' items are dropped: the snapshot holds what the cluster-wide list said
    assert _others(snap) == {("team-a", "on-team-a"), ("team-b", "only-whole")}
    assert not [m for m in snap.missing if m.kind == "Pod"]


def test_a_refused_fallback_is_missing_as_the_cluster_wide_list_was(cluster, tmp_path):
    _cluster_with_others(cluster)
    cluster.forced["/api/v1/namespaces/team-a/pods"] = 403
    cluster.forced["/api/v1/pods"] = 403
    snap = _scan(cluster, tmp_path)

    (missing,) = [m for m in snap.missing if m.kind == "Pod"]
    assert missing.namespace is None and missing.status == 403
    assert "/api/v1/pods is forbidden" in missing.reason
    assert _others(snap) == set()
    assert not snap.all_pods_on_nodes_read()


def test_namespaces_unreadable_reads_the_bound_pods_whole(cluster, tmp_path):
    _cluster_with_others(cluster)
    cluster.forced["/api/v1/namespaces"] = 403
    snap = _scan(cluster, tmp_path)

    assert _bound_reads(cluster) == [("/api/v1/pods", BOUND_PODS)]
    assert _others(snap) == {(n, f"on-{n}") for n in OTHERS}


def test_with_a_label_selector_the_namespace_itself_is_a_part(cluster, tmp_path):
    """Its pods were read through the selector: the bound ones outside it still occupy nodes."""
    _cluster_with_others(cluster)
    cluster.lists["/api/v1/namespaces/ml/pods"] = [pod("w", node=None, phase="Pending")]
    _scan(cluster, tmp_path, selector="app=x")

    paths = [path for path, _ in _bound_reads(cluster)]
    assert "/api/v1/namespaces/ml/pods" in paths
    (rest,) = [s for path, s in _bound_reads(cluster) if path == "/api/v1/pods"]
    assert "metadata.namespace!=ml" in rest


@pytest.mark.parametrize("count", [0, 1, MAX_PARTS - 1, MAX_PARTS, MAX_PARTS + 1, 3 * MAX_PARTS])
@pytest.mark.parametrize("skip", [None, "ns-0005"])
def test_parts_cover_every_namespace_once(count, skip):
    """Whatever the namespace count, every namespace (known or created later) is read by
    exactly one part, and the scanned namespace by none when it is skipped."""
    names = [f"ns-{i:04d}" for i in range(count)]
    parts = bound_pod_parts(list(reversed(names)), skip)
    assert len(parts) == min(len([n for n in names if n != skip]), MAX_PARTS) + 1
    assert all(dict(p.params)["fieldSelector"].startswith(BOUND_PODS) for p in parts)

    def readers(namespace: str) -> list[int]:
        found = []
        for i, part in enumerate(parts):
            if part.namespace is not None:
                if part.namespace == namespace:
                    found.append(i)
                continue
            terms = dict(part.params)["fieldSelector"].split(",")
            if f"metadata.namespace!={namespace}" not in terms:
                found.append(i)
        return found

    for namespace in [*names, "created-later"]:
        assert len(readers(namespace)) == (0 if namespace == skip else 1), namespace


# -- the scan command collects in a background thread (`sources.PendingSnapshot`) -------------


def test_scan_of_an_unreachable_cluster_is_one_line_and_exit_3(tmp_path, cli):
    server = f"http://127.0.0.1:{test_collect._closed_port()}"
    done = cli("scan", "--kubeconfig", str(kubeconfig(tmp_path, server)), "-n", "ml")
    assert done.returncode == 3, done.stderr
    assert done.stderr.startswith("amldoctor: error: cannot reach") and server in done.stderr
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr


def test_scan_of_a_missing_namespace_is_one_line_and_exit_2(cluster, tmp_path, cli):
    populate(cluster)
    done = cli("scan", "--kubeconfig", str(kubeconfig(tmp_path, cluster.url)), "-n", "nope")
    assert done.returncode == 2, done.stderr
    assert done.stderr == "amldoctor: error: namespace nope does not exist\n"


def test_scan_collected_in_the_background_reports_the_waiting_pod(cluster, tmp_path, cli):
    _cluster_with_others(cluster)
    args = ("scan", "--kubeconfig", str(kubeconfig(tmp_path, cluster.url)), "-n", "ml")
    done = cli(*args, "-o", "json")
    assert done.returncode in (0, 1), done.stderr
    report = json.loads(done.stdout)
    assert not [m for m in report["missing"] if m["kind"] == "Pod"]
    assert any(f["object"]["name"] == "w" for f in report["findings"]), report["findings"]


# -- why-pending and dump read the bound pods in parts too -------------------------------------


def _why_pending(fake, tmp_path):
    fake.objects["/api/v1/namespaces/ml/pods/w"] = pod("w", node=None, phase="Pending")
    opts = LiveOptions(kubeconfig=str(kubeconfig(tmp_path, fake.url)), request_timeout=2.0)
    return collect_for_pod(opts, "w")


def _dump(fake, tmp_path):
    opts = LiveOptions(kubeconfig=str(kubeconfig(tmp_path, fake.url)), request_timeout=2.0)
    opts.whole_objects = True
    return collect_live(opts).snapshot


# the collector, and whether it read the namespace's own pods whole (then not as a part)
READERS = {"why-pending": (_why_pending, False), "dump": (_dump, True), "scan": (_scan, True)}


@pytest.mark.parametrize("reader", READERS)
def test_every_reader_of_bound_pods_reads_them_in_parts(cluster, tmp_path, reader):
    collector_, own_whole = READERS[reader]
    _cluster_with_others(cluster)
    snap = collector_(cluster, tmp_path)

    apart = sorted([*OTHERS, *([] if own_whole else ["ml"])])
    rest = ",".join([BOUND_PODS, *(f"metadata.namespace!={n}" for n in apart)])
    rest += ",metadata.namespace!=ml" if own_whole else ""
    assert _bound_reads(cluster) == sorted(
        [(f"/api/v1/namespaces/{n}/pods", BOUND_PODS) for n in apart] + [("/api/v1/pods", rest)]
    )
    assert _others(snap) == {(n, f"on-{n}") for n in OTHERS}
    assert snap.all_pods_on_nodes_read()


@pytest.mark.parametrize("reader", READERS)
def test_every_reader_falls_back_to_the_one_list_when_a_part_fails(cluster, tmp_path, reader):
    collector_, _ = READERS[reader]
    _cluster_with_others(cluster)
    cluster.forced["/api/v1/namespaces/kube-system/pods"] = 403
    cluster.forced["/api/v1/pods"] = 403
    snap = collector_(cluster, tmp_path)

    (missing,) = [m for m in snap.missing if m.kind == "Pod" and m.namespace is None]
    assert missing.status == 403 and "/api/v1/pods is forbidden" in missing.reason
    assert _others(snap) == set()


def test_the_rest_list_url_fits_common_proxy_limits():
    """Longest namespace names (63 characters), more namespaces than listed apart: the rest's
    request line stays under 8 KB, encoded as the transport sends it."""
    from urllib.parse import urlencode

    names = [f"{i:03d}".ljust(63, "x") for i in range(2 * MAX_PARTS)]
    rest = bound_pod_parts(names, "y" * 63)[-1]
    query = urlencode([*rest.params, ("limit", "500"), ("continue", "x" * 200)])
    assert len(f"GET /api/v1/pods?{query} HTTP/1.1") < 8192
