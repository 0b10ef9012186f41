"""What-if admission against the real API server: a manifest amldoctor says would be refused
is refused, with the same words; one it admits gets the priority amldoctor applied."""

from __future__ import annotations

from typing import Any

import pytest
from cluster import Cluster, what_if
from kube import ApiError
from objects import pod_manifest

pytestmark = pytest.mark.e2e


def refusal(c: Cluster, manifest: dict[str, Any]) -> str:
    with pytest.raises(ApiError) as err:
        c.create_pod(manifest)
    return str(err.value.body.get("message"))


def quota(c: Cluster, hard: dict[str, str], used: dict[str, str]) -> None:
    """A ResourceQuota with the status the quota controller would write (none runs here)."""
    path = f"{c.ns_path}/resourcequotas"
    c.kube.create(path, {"metadata": {"name": "team"}, "spec": {"hard": hard}})
    c.kube.merge_patch(f"{path}/team/status", {"status": {"hard": hard, "used": used}})


@pytest.mark.parametrize(
    ("hard", "used", "requests"),
    [
        ({"pods": "2"}, {"pods": "2"}, {"cpu": "1"}),
        ({"requests.cpu": "4"}, {"requests.cpu": "3500m"}, {"cpu": "1"}),
        ({"requests.cpu": "4", "pods": "5"}, {"requests.cpu": "1", "pods": "1"}, {"cpu": "1"}),
    ],
)
def test_resource_quota_refusal_matches_the_api_server(
    cluster: Cluster, hard: dict[str, str], used: dict[str, str], requests: dict[str, str]
) -> None:
    c = cluster
    c.node("cpu-0")
    quota(c, hard, used)
    manifest = pod_manifest("probe", requests=requests)
    doc = what_if(c, manifest)
    if doc["status"]["state"] != "admission-refused":
        c.create_pod(manifest)  # admitted by amldoctor: the API server must admit it too
        return
    expected = doc["status"]["refusals"][0]
    actual = refusal(c, manifest)
    print(f"\namldoctor: {expected}\napiserver: {actual}")
    assert actual == expected


def test_unknown_priority_class_refusal_matches_the_api_server(cluster: Cluster) -> None:
    c = cluster
    c.node("cpu-0")
    manifest = pod_manifest("probe", requests={"cpu": "1"}, priority_class_name="no-such-class")
    doc = what_if(c, manifest)
    assert doc["status"]["state"] == "admission-refused", doc["status"]
    assert refusal(c, manifest) == doc["status"]["refusals"][0]
