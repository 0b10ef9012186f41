"""AMD5xx and AMD6xx: claim binding, condition polarity and the GPU inventory."""

from __future__ import annotations

from runtime_helpers import event, findings, pod


def _node(
    name: str, *, conditions=(), labels=None, allocatable=None, capacity=None, **spec
) -> dict:
    return {
        "kind": "Node",
        "metadata": {"name": name, "labels": labels or {}},
        "spec": spec,
        "status": {
            "conditions": [{"type": t, "status": s} for t, s in conditions],
            "allocatable": allocatable or {},
            "capacity": capacity or allocatable or {},
        },
    }


def test_condition_polarity():
    healthy = _node(
        "ok",
        conditions=[
            ("Ready", "True"),
            ("MemoryPressure", "False"),
            ("KernelDeadlock", "False"),
            ("UnhealthyNvidiaDevicePlugin", "False"),
            ("NvidiaGPUReady", "True"),
        ],
    )
    bad = _node(
        "bad",
        conditions=[
            ("Ready", "False"),
            ("MemoryPressure", "True"),
            ("KernelDeadlock", "True"),
            ("UnhealthyNvidiaDevicePlugin", "True"),
        ],
    )
    found = findings([healthy, bad], "AMD601", "AMD602", "AMD603", "AMD608")
    assert {f.object.name for f in found} == {"bad"}
    assert sorted(f.rule for f in found) == ["AMD601", "AMD602", "AMD603", "AMD608"]


def test_gpu_inventory_counts_running_pods_only():
    node = _node(
        "gpu",
        labels={"kubernetes.azure.com/accelerator": "nvidia"},
        capacity={"nvidia.com/gpu": "2"},
        allocatable={"nvidia.com/gpu": "2"},
    )
    running = pod(
        "a",
        node="gpu",
        containers=[{"name": "c", "resources": {"limits": {"nvidia.com/gpu": "1"}}}],
    )
    done = pod(
        "b",
        node="gpu",
        phase="Succeeded",
        containers=[{"name": "c", "resources": {"limits": {"nvidia.com/gpu": "1"}}}],
    )
    found = findings([node, running, done], "AMD605")
    assert found[0].evidence["requested_by"] == {"ml/a": {"nvidia.com/gpu": 1}}
    assert "free 1" in found[0].message and found[0].severity.label == "info"


def test_device_plugin_missing_versus_empty_pool():
    gpu_pod = pod(
        "train",
        node=None,
        phase="Pending",
        containers=[{"name": "c", "resources": {"limits": {"nvidia.com/gpu": "1"}}}],
    )
    cpu = _node("cpu", allocatable={"cpu": "8"})
    no_plugin = _node("gpu", labels={"kubernetes.azure.com/accelerator": "nvidia"})
    # a labelled GPU node without the plugin: the node rule explains it, not the pod rule
    found = findings([gpu_pod, cpu, no_plugin], "AMD606", "AMD607")
    assert [(f.rule, f.object.name) for f in found] == [("AMD606", "gpu")]
    # no GPU node at all: the pool is empty
    found = findings([gpu_pod, cpu], "AMD606", "AMD607")
    assert [(f.rule, f.object.name) for f in found] == [("AMD607", "train")]
    assert "scaled to zero" in found[0].message


def _pvc(name: str, *, phase="Pending", modes=("ReadWriteOnce",), sc=None) -> dict:
    spec = {"accessModes": list(modes), "resources": {"requests": {"storage": "10Gi"}}}
    if sc is not None:
        spec["storageClassName"] = sc
    return {
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": name, "namespace": "ml", "uid": f"pvc-{name}"},
        "spec": spec,
        "status": {"phase": phase},
    }


def test_wait_for_first_consumer_without_consumer_is_only_info():
    sc = {
        "kind": "StorageClass",
        "metadata": {"name": "disk"},
        "volumeBindingMode": "WaitForFirstConsumer",
    }
    found = findings([sc, _pvc("idle", sc="disk")], "AMD503")
    assert found[0].severity.label == "info"
    assert "expected" in found[0].message


def test_pending_claim_without_events_or_classes_is_honest():
    claim = _pvc("mystery", sc="fast")
    found = findings([claim], "AMD503")  # StorageClasses not collected: cannot say it is missing
    assert "events expire" in found[0].message


def test_multi_attach_names_the_holder():
    p = pod("w1", statuses=[{"name": "c", "state": {"waiting": {"reason": "ContainerCreating"}}}])
    ev = event(
        p,
        "FailedAttachVolume",
        'Multi-Attach error for volume "pvc-1" Volume is already used by pod(s) w0',
    )
    found = findings([p, ev], "AMD502", "AMD501")
    assert [f.rule for f in found] == ["AMD502"]
    assert found[0].evidence["used_by"] == "w0"


def test_rwo_claim_on_two_nodes():
    claim = _pvc("ckpt", phase="Bound")
    a = pod(
        "a",
        node="n1",
        containers=[{"name": "c"}],
        volumes=[{"name": "v", "persistentVolumeClaim": {"claimName": "ckpt"}}],
    )
    b = pod(
        "b",
        node="n2",
        containers=[{"name": "c"}],
        volumes=[{"name": "v", "persistentVolumeClaim": {"claimName": "ckpt"}}],
    )
    found = findings([claim, a, b], "AMD505")
    assert found[0].evidence["nodes"] == ["n1", "n2"]
    assert findings([claim, a], "AMD505") == []


def test_node_gpu_rules_do_not_claim_what_other_namespaces_pods_hide():
    """A namespace's live scan without a waiting pod did not read the other namespaces' pods:
    AMD605 states no free count and AMD606 no absent device plugin from what it could not see."""
    from runtime_helpers import CAPTURED, load_all

    from amldoctor.collect.scope import occupancy_skipped_reason
    from amldoctor.engine.registry import REGISTRY
    from amldoctor.engine.runner import run_rules
    from amldoctor.snapshot import Missing, Snapshot

    gpu = _node(
        "gpu",
        labels={"kubernetes.azure.com/accelerator": "nvidia"},
        capacity={"nvidia.com/gpu": "2"},
        allocatable={"nvidia.com/gpu": "2"},
    )
    bare = _node("bare", labels={"kubernetes.azure.com/accelerator": "nvidia"})
    mine = pod(
        "a",
        node="gpu",
        containers=[{"name": "c", "resources": {"limits": {"nvidia.com/gpu": "1"}}}],
    )
    load_all()
    for partial in (False, True):
        missing = [Missing("Pod", occupancy_skipped_reason("ml"))] if partial else []
        snap = Snapshot([gpu, bare, mine], source="t", captured_at=CAPTURED, missing=missing)
        assert snap.all_pods_on_nodes_read() is not partial
        report = run_rules(snap, rules=[REGISTRY["AMD605"], REGISTRY["AMD606"]])
        inventory = next(f for f in report.findings if f.rule == "AMD605")
        plugin = next(f for f in report.findings if f.rule == "AMD606")
        assert ("free 1" in inventory.message) is not partial
        assert ("free unknown" in inventory.message) is partial
        assert ("no NVIDIA device-plugin pod runs there" in plugin.message) is not partial
        assert ("was seen there" in plugin.message) is partial
