"""AMD101 without node access: the scheduler's own message is all there is, and it is enough."""

from __future__ import annotations

from amldoctor.engine.runner import run_rules
from amldoctor.snapshot import Missing, Snapshot

LEGACY = (
    "0/12 nodes are available: 3 Insufficient nvidia.com/gpu, 9 node(s) had untolerated taint "
    "{sku: gpu}. preemption: 0/12 nodes are available: 12 Preemption is not helpful for scheduling."
)


def _snapshot(message: str) -> Snapshot:
    pod = {
        "kind": "Pod",
        "metadata": {"name": "train-0", "namespace": "ml", "uid": "u1"},
        "spec": {"containers": [{"name": "t"}]},
        "status": {
            "phase": "Pending",
            "conditions": [
                {
                    "type": "PodScheduled",
                    "status": "False",
                    "reason": "Unschedulable",
                    "message": message,
                }
            ],
        },
    }
    return Snapshot(
        [pod],
        missing=[Missing("Node", "forbidden: nodes is forbidden", None, 403)],
        collected_kinds={"Pod", "Event"},
    )


def test_limited_view_parses_the_message_and_names_the_taint_from_legacy_wording():
    [finding] = run_rules(_snapshot(LEGACY), only=["AMD101"]).findings
    assert (
        "0/12 nodes fit (3 Insufficient nvidia.com/gpu; 9 node(s) had untolerated taint {sku: gpu})"
        in finding.message
    )
    assert finding.evidence["node_analysis"] == "skipped: forbidden: nodes is forbidden"
    assert "key: sku" in finding.remediation and "value: gpu" in finding.remediation
    assert "3 node(s) lack nvidia.com/gpu" in finding.remediation


def test_limited_view_of_a_prefilter_rejection():
    message = '0/4 nodes are available: persistentvolumeclaim "data" not found. not found'
    [finding] = run_rules(_snapshot(message), only=["AMD101"]).findings
    assert "0/4 nodes fit" in finding.message
    assert 'persistentvolumeclaim "data" not found' in finding.remediation


def test_a_prefilter_rejection_is_said_once_not_nested_in_the_count():
    """A pod turned away before any node (unbound claims, a missing claim, a PreFilter plugin)
    reads as the reason, not as the scheduler's whole message inside "0/N nodes fit (...)"."""
    for reason in (
        'persistentvolumeclaim "data" not found',
        "pod has unbound immediate PersistentVolumeClaims",
    ):
        message = f"0/4 nodes are available: {reason}. not found"
        [finding] = run_rules(_snapshot(message), only=["AMD101"]).findings
        assert f"0/4 nodes fit (rejected before any node was checked: {reason})" in finding.message
        assert "nodes are available" not in finding.message
        assert finding.evidence["scheduler_message"] == message


def test_with_nodes_a_prefilter_reason_is_not_called_the_closest_node():
    """With the nodes in the snapshot, the simulation's PreFilter reason follows the count;
    no node came closer than another, so none is named closest."""
    from pathlib import Path

    from amldoctor.load import load_snapshot

    snap = load_snapshot(Path(__file__).parents[2] / "fixtures" / "demo")
    report = run_rules(snap, only=["AMD101"])
    [finding] = [f for f in report.findings if f.object.name == "tokenize-corpus-rprhw"]
    assert "closest:" not in finding.message
    assert "rejected before any node was checked: pod has unbound immediate" in finding.message
    assert "PersistentVolumeClaim aml-compute/corpus-cache is not bound" in finding.message
