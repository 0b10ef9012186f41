"""The rule engine: superseding, skipping for missing inputs, crash isolation, suppression."""

from __future__ import annotations

from amldoctor.engine.registry import RuleMeta
from amldoctor.engine.report import Severity
from amldoctor.engine.runner import run_rules
from amldoctor.load import load_snapshot
from amldoctor.snapshot import Missing, Snapshot
from tests.conftest import DEMO

SUMMARIZER = "llm-summarizer-blue-b9f598fd-deployment-5l2lffr5vx-8vlqv"


def test_aml_rule_supersedes_the_generic_pod_rule_for_the_same_pod():
    snap = load_snapshot(DEMO)
    both = run_rules(snap, only=["AMD201", "AMD708"])
    assert [(f.rule, f.object.name) for f in both.findings] == [("AMD708", SUMMARIZER)]
    alone = run_rules(snap, only=["AMD201"])
    assert [(f.rule, f.object.name) for f in alone.findings] == [("AMD201", SUMMARIZER)]


def test_superseding_reaches_pods_through_their_owner():
    snap = load_snapshot(DEMO)
    codes = {f.rule for f in run_rules(snap, only=["AMD303", "AMD730"]).findings}
    assert codes == {"AMD730"}


def _meta(check, needs=("Pod",)) -> RuleMeta:
    return RuleMeta("AMD199", "test-rule", Severity.ERROR, needs, check, "", "scan")


def test_rule_is_skipped_with_the_reason_when_its_input_is_missing():
    snap = Snapshot(
        [{"kind": "Pod", "metadata": {"name": "p", "namespace": "ns"}}],
        missing=[Missing("Node", "forbidden: cannot list nodes", None, 403)],
    )
    report = run_rules(snap, rules=[_meta(lambda ctx: [], needs=("Pod", "Node"))])
    assert [(s.rule, s.reason) for s in report.skipped] == [
        ("AMD199", "Node: forbidden: cannot list nodes")
    ]
    assert report.to_dict()["missing"][0]["status"] == 403


def test_a_crashing_rule_becomes_a_note_not_a_traceback():
    def broken(ctx):
        raise KeyError("spec")
        yield  # pragma: no cover

    report = run_rules(
        Snapshot([{"kind": "Pod", "metadata": {"name": "p"}}]), rules=[_meta(broken)]
    )
    assert report.findings == [] and "AMD199" in report.notes[0]


def test_ignore_annotation_on_an_owner_silences_its_pods():
    snap = load_snapshot(DEMO)
    owner = next(
        o for o in snap.of_kind("Deployment") if o["metadata"]["name"].startswith("llm-summarizer")
    )
    owner["metadata"].setdefault("annotations", {})["amldoctor.io/ignore"] = "AMD708"
    report = run_rules(snap, only=["AMD708"])
    assert report.findings == [] and report.suppressed == 1


def test_add_ons_a_cluster_lacks_are_said_once():
    from amldoctor.engine.report import missing_notes

    missing = [
        Missing(
            "InstanceType",
            "not installed: the cluster does not serve instancetypes.amlarc.azureml.com (v1alpha1)",
            None,
            404,
        ),
        Missing(
            "PodGroup",
            "not installed: the cluster does not serve podgroups.scheduling.volcano.sh (v1beta1)",
            "ml",
            404,
        ),
        Missing("Event", "forbidden: events is forbidden", "ml", 403),
    ]
    assert missing_notes(missing) == [
        "could not read Event in namespace ml: forbidden: events is forbidden",
        "not installed on this cluster (its API is not served): InstanceType, PodGroup",
    ]


def test_findings_never_repeat_a_credential_from_a_termination_message():
    pod = {
        "kind": "Pod",
        "metadata": {"name": "etl-0", "namespace": "ml", "uid": "u1"},
        "spec": {"containers": [{"name": "etl", "image": "etl:1"}]},
        "status": {
            "phase": "Running",
            "containerStatuses": [
                {
                    "name": "etl",
                    "image": "etl:1",
                    "ready": False,
                    "restartCount": 5,
                    "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                    "lastState": {
                        "terminated": {
                            "exitCode": 1,
                            "reason": "Error",
                            "message": "connect failed: AccountKey=c2VjcmV0c2VjcmV0c2VjcmV0; retry",
                        }
                    },
                }
            ],
        },
    }
    report = run_rules(Snapshot([pod]), only=["AMD401"])
    [finding] = report.findings
    text = str(finding.to_dict())
    assert "AccountKey=***MASKED***" in text and "c2VjcmV0" not in text
