"""The kube-scheduler's own test tables (shared/testdata/scheduler-vectors.json), run through
the same path `why-pending -o json` takes: a snapshot of the vector's nodes and pods, then
`amldoctor.whypending.analyze`.

Vectors that need feature gates or plugin args amldoctor does not model are skipped and counted
in the summary printed at the end of the session (none today). DRAExtendedResource vectors run
with their DeviceClasses in the snapshot.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from amldoctor.scheduling.message import fit_error_message
from amldoctor.scheduling.profile import Features, Profile
from amldoctor.snapshot import Snapshot
from amldoctor.whypending import analyze

VECTORS_FILE = Path(__file__).resolve().parents[2] / "testdata" / "scheduler-vectors.json"
VECTORS = json.loads(VECTORS_FILE.read_text())
PLUGIN_VECTORS = [v for v in VECTORS if "kind" not in v]
FIT_ERROR_VECTORS = [v for v in VECTORS if v.get("kind") == "fit_error_message"]
MODELLED_GATES = {"SidecarContainers", "PodLevelResources", "DRAExtendedResource"}
SUMMARY = {"passed": 0, "skipped": []}


def _unmodelled(vector: dict) -> str | None:
    gates = vector.get("feature_gates") or {}
    unknown = set(gates) - MODELLED_GATES
    if unknown:
        return f"feature gates {sorted(unknown)}"
    return None


def profile_for(vector: dict, server_version: str | None = None) -> Profile:
    """The scheduler configuration a vector asks for, on top of a release's defaults."""
    base = Profile.for_server(server_version)
    gates = vector.get("feature_gates") or {}
    args = vector.get("plugin_args") or {}
    fit = args.get("NodeResourcesFit") or {}
    return Profile(
        version=base.version,
        features=Features(
            sidecar_containers=gates.get("SidecarContainers", base.features.sidecar_containers),
            pod_level_resources=gates.get("PodLevelResources", base.features.pod_level_resources),
            # The vectors' derived messages leave out DynamicResources' PostFilter; its text
            # ("no new claims to deallocate, ..." / "not found") is pinned below and in e2e.
            dynamic_resources=False,
            dra_extended_resource=gates.get("DRAExtendedResource", False),
        ),
        ignored_resources=frozenset(fit.get("ignoredResources") or []),
        ignored_resource_groups=frozenset(fit.get("ignoredResourceGroups") or []),
        added_affinity=(args.get("NodeAffinity") or {}).get("addedAffinity"),
    )


def run_vector(vector: dict, server_version: str | None = None) -> dict:
    pod = copy.deepcopy(vector["pod"])
    objects = [
        *copy.deepcopy(vector["nodes"] + vector["existing_pods"]),
        *copy.deepcopy(vector.get("device_classes") or []),
        pod,
    ]
    snap = Snapshot(objects, source=vector["id"])
    return analyze(snap, pod, profile=profile_for(vector, server_version))


def assert_nodes(doc: dict, expected: dict) -> None:
    rows = {row["name"]: row for row in doc["nodes"]}
    for name, want in expected.items():
        row = rows[name]
        assert row["fits"] == want["fits"], name
        # Several `Insufficient <scalar>` reasons come out of a Go map: compare as a multiset.
        assert sorted(row["reasons"]) == sorted(want["reasons"]), name
        if "status_code" in want:
            assert row["code"] == want["status_code"], name


@pytest.mark.parametrize("vector", PLUGIN_VECTORS, ids=[v["id"] for v in PLUGIN_VECTORS])
def test_plugin_vector(vector: dict) -> None:
    why = _unmodelled(vector)
    if why:
        SUMMARY["skipped"].append(f"{vector['id']}: {why}")
        pytest.skip(why)
    doc = run_vector(vector)
    assert_nodes(doc, vector.get("expected_pipeline") or vector["expected"])
    if "derived_failed_scheduling_message" in vector:
        assert doc["scheduler_message"] == vector["derived_failed_scheduling_message"]
    if all(e["fits"] for e in vector["expected"].values()):
        assert doc["scheduler_message"] is None
    SUMMARY["passed"] += 1


LEGACY = [v for v in PLUGIN_VECTORS if "expected_legacy" in v]


@pytest.mark.parametrize("vector", LEGACY, ids=[v["id"] for v in LEGACY])
def test_legacy_taint_wording(vector: dict) -> None:
    """A v1.33 cluster still names the taint in the reason (before PR #134740)."""
    doc = run_vector(vector, server_version="v1.33.4")
    assert_nodes(doc, vector["expected_legacy"])
    assert doc["scheduler_message"] == vector["derived_failed_scheduling_message_legacy"]


@pytest.mark.parametrize("vector", FIT_ERROR_VECTORS, ids=[v["id"] for v in FIT_ERROR_VECTORS])
def test_fit_error_message(vector: dict) -> None:
    message = fit_error_message(
        vector["num_all_nodes"],
        vector["node_reasons"],
        absent_reasons=vector.get("absent_nodes_reasons", ()),
        prefilter_msg=vector.get("prefilter_msg", ""),
        postfilter_msg=vector.get("postfilter_msg", ""),
    )
    assert message == vector["expected_message"]


def test_vectors_present() -> None:
    """The vector file must be found: silently running zero vectors would prove nothing."""
    assert len(PLUGIN_VECTORS) >= 70
    assert len(FIT_ERROR_VECTORS) >= 25


@pytest.fixture(scope="session", autouse=True)
def _print_summary():
    yield
    if SUMMARY["passed"] or SUMMARY["skipped"]:
        print(
            f"\nscheduler vectors: {SUMMARY['passed']} passed, {len(SUMMARY['skipped'])} skipped"
            + "".join(f"\n  skipped {s}" for s in SUMMARY["skipped"])
        )


def _one_node_snapshot(pod_spec: dict, extra: tuple = ()) -> tuple[Snapshot, dict]:
    node = {
        "kind": "Node",
        "metadata": {"name": "cpu-1"},
        "status": {"allocatable": {"cpu": "4", "memory": "8Gi", "pods": "110"}},
    }
    pod = {
        "kind": "Pod",
        "metadata": {"name": "p", "namespace": "ns"},
        "spec": pod_spec,
        "status": {"phase": "Pending"},
    }
    return Snapshot([node, pod, *extra], server_version="v1.35.4"), pod


def test_dynamic_resources_postfilter_precedes_preemption_from_v1_34() -> None:
    """Seen verbatim from kube-scheduler v1.35.4 in the e2e suite."""
    snap, pod = _one_node_snapshot(
        {"containers": [{"name": "c", "resources": {"limits": {"nvidia.com/gpu": "1"}}}]}
    )
    assert analyze(snap, pod)["scheduler_message"] == (
        "0/1 nodes are available: 1 Insufficient nvidia.com/gpu. no new claims to deallocate, "
        "preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling."
    )
    old = analyze(snap, pod, profile=Profile.for_server("v1.33.5"))["scheduler_message"]
    assert "no new claims" not in old and "preemption: 0/1" in old


def test_prefilter_rejection_leaves_dynamic_resources_without_state() -> None:
    """An unresolvable PreFilter stops before DynamicResources' PreFilter writes its state: its
    PostFilter fails with "not found" and preemption never runs."""
    snap, pod = _one_node_snapshot(
        {
            "containers": [{"name": "c"}],
            "volumes": [{"name": "d", "persistentVolumeClaim": {"claimName": "missing"}}],
        }
    )
    assert analyze(snap, pod)["scheduler_message"] == (
        '0/1 nodes are available: persistentvolumeclaim "missing" not found. not found'
    )


@pytest.mark.parametrize("gate", [True, False])
def test_dra_extended_resource_is_left_to_dynamic_resources_only_with_the_gate(gate: bool) -> None:
    """The DeviceClass mapping matters: without the gate the node lacks the resource."""
    vector = next(v for v in PLUGIN_VECTORS if v["id"] == "noderesources-fit-enough-44")
    vector = {**vector, "feature_gates": {"DRAExtendedResource": gate}}
    row = run_vector(vector)["nodes"][0]
    assert row["fits"] is gate
    if not gate:
        assert row["reasons"] == ["Insufficient extended.resource.dra.io/something"]
