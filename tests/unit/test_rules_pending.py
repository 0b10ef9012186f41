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
