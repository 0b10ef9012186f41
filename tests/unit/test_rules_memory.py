"""AMD2xx: OOM kills, limit sources, suggestions, and who sent a non-OOM SIGKILL."""

from __future__ import annotations

import pytest
from runtime_helpers import event, findings, pod

from amldoctor.k8s.containers import containers
from amldoctor.rules._memfix import limit_source, round_up_memory, suggest_limit
from amldoctor.rules._runtime import sigkill_cause
from amldoctor.snapshot import Snapshot

GI = 1 << 30
MI = 1 << 20


def _killed(name="p", *, reason="Error", exit_code=137, probe=None, restarts=1, **kw) -> dict:
    container = {
        "name": "c",
        "image": "img:1",
        "resources": {"limits": {"memory": "2Gi"}, "requests": {"memory": "1Gi"}},
    }
    if probe:
        container["livenessProbe"] = probe
    return pod(
        name,
        containers=[container],
        statuses=[
            {
                "name": "c",
                "restartCount": restarts,
                "state": {"running": {}},
                "lastState": {
                    "terminated": {
                        "reason": reason,
                        "exitCode": exit_code,
                        "startedAt": "2026-11-28T08:00:00Z",
                        "finishedAt": "2026-11-28T08:30:00Z",
                    }
                },
            }
        ],
        **kw,
    )


def test_oom_names_limit_request_restarts_and_time():
    found = findings([_killed(reason="OOMKilled", restarts=4)], "AMD201")
    assert len(found) == 1
    msg = found[0].message
    assert "OOMKilled at its memory limit 2Gi (request 1Gi, set by the container spec)" in msg
    assert "4 restarts" in msg and "2026-11-28T08:30:00Z" in msg
    assert found[0].evidence["suggested_limit"] == "3Gi"
    assert "no PodMetrics" in found[0].evidence["suggestion_basis"]


def test_oom_suggestion_uses_pod_metrics_when_present():
    p = _killed(reason="OOMKilled")
    metrics = {
        "kind": "PodMetrics",
        "metadata": {"name": "p", "namespace": "ml"},
        "containers": [{"name": "c", "usage": {"memory": "3Gi"}}],
    }
    found = findings([p, metrics], "AMD201")
    assert found[0].evidence["usage_bytes"] == 3 * GI
    assert (
        found[0].evidence["suggested_limit"] == "5Gi"
    )  # 1.5 x 3Gi = 4.5Gi, rounded up to whole Gi


def test_oom_of_init_container_is_found():
    p = pod(
        "i",
        init=[{"name": "unpack", "resources": {"limits": {"memory": "256Mi"}}}],
        init_statuses=[
            {"name": "unpack", "state": {"terminated": {"reason": "OOMKilled", "exitCode": 137}}}
        ],
    )
    found = findings([p], "AMD201")
    assert [f.evidence["container"] for f in found] == ["unpack"]
    assert found[0].message.startswith("init container unpack")


def test_limit_source_limit_range_and_instance_type():
    lr_pod = _killed(reason="OOMKilled")
    lr_pod["metadata"]["annotations"] = {
        "kubernetes.io/limit-ranger": "LimitRanger plugin set: memory limit for container c"
    }
    limit_range = {
        "kind": "LimitRange",
        "metadata": {"name": "mem", "namespace": "ml"},
        "spec": {"limits": [{"type": "Container", "default": {"memory": "2Gi"}}]},
    }
    aml_pod = _killed("aml", reason="OOMKilled", nodeSelector={"pool": "big"})
    aml_pod["metadata"]["labels"] = {"ml.azure.com/compute": "k8s"}
    aml_pod["spec"]["containers"][0]["resources"]["limits"]["memory"] = "2048Mi"
    it = {
        "kind": "InstanceType",
        "metadata": {"name": "bigmem"},
        "spec": {"nodeSelector": {"pool": "big"}, "resources": {"limits": {"memory": "2Gi"}}},
    }
    snap = Snapshot([lr_pod, limit_range, aml_pod, it])
    assert limit_source(snap, lr_pod, containers(lr_pod)[0]).name == "mem"
    source = limit_source(snap, aml_pod, containers(aml_pod)[0])
    assert (source.kind, source.name) == ("aml-instance-type", "bigmem")


def test_rounding_and_suggestion():
    assert round_up_memory(300 * MI) == 512 * MI
    assert round_up_memory(int(1.5 * GI)) == 2 * GI
    assert suggest_limit(None, None) is None
    assert suggest_limit(512 * MI, None).limit == 768 * MI


@pytest.mark.parametrize(
    ("extra", "kw", "cause"),
    [
        ("preempted", {}, "preemption"),
        ("evicted", {}, "eviction"),
        ("liveness", {}, "liveness"),
        (
            None,
            {"probe": {"httpGet": {"port": 80}}},
            "liveness",
        ),  # no events left: the probe is the suspect
        (None, {"reason": "ContainerStatusUnknown"}, "status-unknown"),
        (None, {}, "external"),
    ],
)
def test_sigkill_attribution(extra, kw, cause):
    p = _killed(**kw)
    objects = [p]
    if extra == "preempted":
        objects.append(event(p, "Preempted", "Preempted by pod ml/urgent on node node-1"))
    elif extra == "evicted":
        objects.append(event(p, "Evicted", "The node was low on resource: memory."))
    elif extra == "liveness":
        p["spec"]["containers"][0]["livenessProbe"] = {"httpGet": {"port": 80}}
        objects.append(
            event(
                p, "Killing", "Container c failed liveness probe, will be restarted", container="c"
            )
        )
    snap = Snapshot(objects)
    assert sigkill_cause(snap, p, containers(p)[0]).cause == cause


def test_deleted_pod_that_ignored_sigterm_is_grace_period():
    p = _killed()
    p["metadata"]["deletionTimestamp"] = "2026-11-28T08:29:00Z"
    p["spec"]["terminationGracePeriodSeconds"] = 30
    found = findings([p], "AMD206")
    assert found[0].evidence["cause"] == "grace-period"
    assert "terminationGracePeriodSeconds (30s)" in found[0].message


def test_137_is_reported_once_by_the_right_rule():
    """OOMKilled -> AMD201 only; liveness kill -> not AMD206; plain SIGKILL -> AMD206."""
    oom = _killed("oom", reason="OOMKilled")
    live = _killed("live", probe={"httpGet": {"port": 80}})
    kill_ev = event(
        live, "Killing", "Container c failed liveness probe, will be restarted", container="c"
    )
    plain = _killed("plain")
    found = findings([oom, live, kill_ev, plain], "AMD201", "AMD206")
    assert sorted((f.rule, f.object.name) for f in found) == [
        ("AMD201", "oom"),
        ("AMD206", "plain"),
    ]
    assert "not an OOM kill" in next(f for f in found if f.rule == "AMD206").message


def test_request_below_limit_only_for_batch_pods():
    job_pod = _killed("job", restartPolicy="Never")
    job_pod["spec"]["containers"][0]["resources"] = {
        "requests": {"memory": "4Gi"},
        "limits": {"memory": "16Gi"},
    }
    serving = _killed("web")
    serving["spec"]["containers"][0]["resources"] = {
        "requests": {"memory": "4Gi"},
        "limits": {"memory": "16Gi"},
    }
    found = findings([job_pod, serving], "AMD202")
    assert [f.object.name for f in found] == ["job"]


def test_eviction_is_told_apart_from_oom():
    p = pod("ev", phase="Failed")
    p["status"].update(
        reason="Evicted",
        message=(
            "The node was low on resource: memory. Threshold quantity: 100Mi, available: 20Mi. "
            "Container c was using 5Gi, request is 1Gi, has larger consumption of memory."
        ),
    )
    found = findings([p], "AMD204", "AMD201")
    assert [f.rule for f in found] == ["AMD204"]
    assert "not a container OOM" in found[0].message
    assert found[0].evidence["containers_over_request"] == [
        {"container": "c", "usage": "5Gi", "request": "1Gi"}
    ]
