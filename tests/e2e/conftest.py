"""Fixtures for amldoctor's end-to-end tests against a real control plane.

`control_plane` (session): etcd + kube-apiserver + kube-scheduler, built on first use.
`cluster` (test): a unique namespace plus helpers; cleans up the test's pods and Nodes.
`scheduling_cluster` (test): `cluster` after deleting every Node and pod, for scenarios whose
outcome depends on the whole node set.
`controller_cluster` (test): `cluster` with kube-controller-manager running (started on first
use, then kept for the session); the test's workloads are deleted before its pods at the end.
`service_account_cluster` (test): like `controller_cluster`, but on a second, dedicated control
plane (`service_account_plane`, session, started only when a test asks for it) whose apiserver
runs the ServiceAccount admission plugin, which the shared plane turns off.
"""

from __future__ import annotations

import re
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from cluster import Cluster, clear_cluster, create_namespace
from harness import (
    DISABLED_ADMISSION_WITH_SERVICE_ACCOUNTS,
    ControlPlane,
    ControlPlaneError,
    binaries_dir,
)

_running: list[ControlPlane] = []
WORKLOADS = (
    "apps/v1/namespaces/{ns}/deployments",
    "apps/v1/namespaces/{ns}/replicasets",
    "apps/v1/namespaces/{ns}/statefulsets",
    "apps/v1/namespaces/{ns}/daemonsets",
    "batch/v1/namespaces/{ns}/jobs",
)


@pytest.fixture(scope="session")
def control_plane() -> Iterator[ControlPlane]:
    yield from _running_plane("control plane")


@pytest.fixture(scope="session")
def service_account_plane() -> Iterator[ControlPlane]:
    """A control plane of its own whose apiserver runs ServiceAccount admission, with the
    controller-manager (its serviceaccount controller makes each namespace's `default`)."""
    for plane in _running_plane(
        "service-account control plane", disabled_admission=DISABLED_ADMISSION_WITH_SERVICE_ACCOUNTS
    ):
        try:
            plane.start_controller_manager()
        except ControlPlaneError as err:
            pytest.fail(f"cannot start kube-controller-manager: {err}", pytrace=False)
        yield plane


def _running_plane(label: str, **options: Any) -> Iterator[ControlPlane]:
    """Start a control plane with these `ControlPlane` options, yield it, stop it."""
    plane, problem = _start(**options)
    if plane is None:
        pytest.fail(problem, pytrace=False)
    timings = ", ".join(f"{k} {v:.1f}s" for k, v in plane.startup_seconds.items())
    print(f"\n{label} {plane.version} at {plane.api_url} ready: {timings}")
    _running.append(plane)
    try:
        yield plane
    finally:
        _running.remove(plane)
        plane.stop()


def _start(**options: Any) -> tuple[ControlPlane | None, str]:
    """Build (if needed) and start a control plane, or say why not: e2e tests then fail."""
    try:
        plane = ControlPlane(binaries_dir(), **options)
    except ControlPlaneError as err:
        return None, f"cannot build the e2e control plane: {err}"
    try:
        plane.start()
    except (ControlPlaneError, OSError) as err:
        tails = plane.log_tails()
        plane.stop(keep_workdir=True)
        return None, f"cannot start the e2e control plane: {err}\n{tails}\n(kept {plane.workdir})"
    return plane, ""


def _test_id(request: pytest.FixtureRequest) -> str:
    slug = re.sub(r"[^a-z0-9-]+", "-", request.node.name.lower()).strip("-")[:40].strip("-")
    return f"e2e-{slug}-{uuid.uuid4().hex[:6]}"


@pytest.fixture
def cluster(control_plane: ControlPlane, request: pytest.FixtureRequest) -> Iterator[Cluster]:
    test_id = _test_id(request)
    create_namespace(control_plane.client(), test_id)
    c = Cluster(control_plane, namespace=test_id, owner=test_id)
    yield c
    c.cleanup()


@pytest.fixture
def scheduling_cluster(control_plane: ControlPlane, cluster: Cluster) -> Cluster:
    clear_cluster(cluster.kube)
    cluster.wait_scheduler_sees(nodes=0, pods=0)
    return cluster


@pytest.fixture
def controller_cluster(control_plane: ControlPlane, cluster: Cluster) -> Iterator[Cluster]:
    try:
        control_plane.start_controller_manager()
    except ControlPlaneError as err:
        pytest.fail(f"cannot start kube-controller-manager: {err}", pytrace=False)
    yield cluster
    _delete_workloads(cluster)


@pytest.fixture
def service_account_cluster(
    service_account_plane: ControlPlane, request: pytest.FixtureRequest
) -> Iterator[Cluster]:
    test_id = _test_id(request)
    create_namespace(service_account_plane.client(), test_id)
    c = Cluster(service_account_plane, namespace=test_id, owner=test_id)
    yield c
    _delete_workloads(c)
    c.cleanup()


def _delete_workloads(cluster: Cluster) -> None:
    # Controllers would re-create the pods `cluster` deletes, and no garbage collector runs:
    # remove the owners first, top-down.
    for path in WORKLOADS:
        cluster.kube.delete(f"/apis/{path.format(ns=cluster.namespace)}")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> pytest.TestReport:
    report = yield
    if report.failed:
        for plane in _running:
            report.sections.append((f"control plane logs ({plane.api_url})", plane.log_tails()))
    return report
