"""The demo cluster: every broken workload in the runtime families gets its finding, healthy pods
none.

The expected table is `fixtures/demo/README.md` ("Workloads and the findings amldoctor should
give"), rows in the AMD2xx-AMD6xx families.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from amldoctor.engine.registry import REGISTRY, load_all
from amldoctor.engine.runner import run_rules
from amldoctor.load import load_snapshot

DEMO = Path(__file__).resolve().parents[2] / "fixtures" / "demo"
RUNTIME_FAMILIES = ("AMD2", "AMD3", "AMD4", "AMD5", "AMD6")

EXPECTED = [
    ("AMD201", "Pod", "llm-summarizer-blue-b9f598fd-deployment-5l2lffr5vx-8vlqv"),
    ("AMD303", "Pod", "fraud-scoring-green-f765a714-deployment-rmk5knjmzx-48b4t"),
    ("AMD402", "Pod", "embedding-export-p42b7"),
    ("AMD403", "Pod", "feature-sync-mtdk2ht5w6-vhn4x"),
    ("AMD503", "PersistentVolumeClaim", "corpus-cache"),
    ("AMD401", "Pod", "drift-monitor-scb2r8dg9t-99k6d"),
    ("AMD606", "Node", "aks-gpupool-17403385-vmss000002"),
    ("AMD604", "Node", "aks-cpupool-38457219-vmss000002"),
]
HEALTHY_PREFIXES = (
    "aml-compute-5d0c2e7f9a1b4c3d8e6f7a9b0c1d2e3f-worker-0",
    "credit-risk-blue-",
    "llm-eval-nightly-",
)


@pytest.fixture(scope="module")
def demo_findings():
    if not (DEMO / "manifest.json").exists():
        pytest.skip("demo snapshot not present")
    load_all()
    rules = [
        r
        for code, r in sorted(REGISTRY.items())
        if code.startswith(RUNTIME_FAMILIES) and r.scope == "scan"
    ]
    report = run_rules(load_snapshot(DEMO), rules=rules)
    assert not [n for n in report.notes if "failed on this snapshot" in n]
    return report.findings


@pytest.mark.parametrize(
    ("code", "kind", "name"), EXPECTED, ids=[f"{c}-{n[:20]}" for c, _, n in EXPECTED]
)
def test_broken_workload_gets_its_finding(demo_findings, code, kind, name):
    hits = [
        f
        for f in demo_findings
        if f.rule == code and f.object.kind == kind and f.object.name == name
    ]
    assert hits, f"{code} did not report {kind} {name}"


def test_one_runtime_error_per_broken_pod(demo_findings):
    """Each broken pod is explained once at error level by these families, not by several rules."""
    errors = [f for f in demo_findings if f.severity.label == "error" and f.object.kind == "Pod"]
    names = [f.object.name for f in errors]
    assert len(names) == len(set(names)), sorted(names)


def test_healthy_pods_get_no_error_or_warning(demo_findings):
    noisy = [
        (f.rule, f.object.name)
        for f in demo_findings
        if f.object.kind == "Pod"
        and f.object.name.startswith(HEALTHY_PREFIXES)
        and f.severity.label != "info"
    ]
    assert noisy == []
    system = [
        (f.rule, f.object.name)
        for f in demo_findings
        if f.object.namespace in ("kube-system", "azureml") and f.severity.label == "error"
    ]
    assert system == []
