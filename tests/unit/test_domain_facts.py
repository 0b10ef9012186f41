"""One home per domain fact: each is defined once and every reader agrees with it.

Which pods the AzureML extension made, which node pool a node is in, and where a workload keeps
its pod template were once defined two or three times with different answers. These tests pin
the single definitions and check, by scanning the package, that no second one appears.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import yaml

import amldoctor
from amldoctor.aml.model import is_aml_pod
from amldoctor.k8s.nodepools import POOL_LABELS, node_pool, pool_of_labels
from amldoctor.k8s.templates import POD_TEMPLATE_PATHS, is_volcano_job
from amldoctor.lint.workloads import _TEMPLATE_KINDS
from amldoctor.whypending.manifest import pod_from_manifest

PACKAGE = Path(amldoctor.__file__).parent
HOMES = {
    "is_aml_pod": "aml/model.py",
    "node_pool": "k8s/nodepools.py",
    "pool_of_labels": "k8s/nodepools.py",
}


def _definitions() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef) and node.name in HOMES:
                found.setdefault(node.name, []).append(str(path.relative_to(PACKAGE)))
    return found


@pytest.mark.parametrize("name", sorted(HOMES))
def test_each_fact_is_defined_once_in_its_home(name: str) -> None:
    assert _definitions()[name] == [HOMES[name]]


def test_only_the_template_table_spells_the_cronjob_template_path() -> None:
    """`jobTemplate` as a path step (a string constant, not prose) lives in one table."""
    holders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and node.value == "jobTemplate":
                holders.append(str(path.relative_to(PACKAGE)))
    assert holders == ["k8s/templates.py"]


def _node(labels: dict) -> dict:
    return {"kind": "Node", "metadata": {"name": "n1", "labels": labels}}


@pytest.mark.parametrize("key", POOL_LABELS)
def test_every_pool_label_names_the_pool(key: str) -> None:
    node = _node({key: "gpupool", "kubernetes.io/os": "linux"})
    assert node_pool(node) == "gpupool"
    assert pool_of_labels(node["metadata"]["labels"]) == "gpupool"


def test_the_first_pool_label_wins_and_odd_nodes_have_none() -> None:
    assert node_pool(_node(dict(zip(POOL_LABELS, ("a", "b", "c", "d"), strict=True)))) == "a"
    assert node_pool(_node({"agentpool": ""})) is None
    assert node_pool({"metadata": {"labels": None}}) is None
    assert node_pool({"metadata": "oops"}) is None


@pytest.mark.parametrize(
    "labels",
    [
        {"isazuremlapp": "true"},
        {"jobsource": "aml"},
        {"controller": "aml-operator"},
        {"ml.azure.com/compute": "gpu-cluster"},
    ],
)
def test_each_aml_marker_makes_an_aml_pod(labels: dict) -> None:
    assert is_aml_pod({"metadata": {"labels": labels}})


@pytest.mark.parametrize(
    "labels", [{}, {"isazuremlapp": "false"}, {"app": "ml.azure.com"}, {"jobsource": "other"}]
)
def test_other_pods_are_not_aml_pods(labels: dict) -> None:
    assert not is_aml_pod({"metadata": {"labels": labels}})


@pytest.mark.parametrize("kind", sorted(_TEMPLATE_KINDS))
def test_lint_reads_templates_where_the_table_says(kind: str) -> None:
    assert _TEMPLATE_KINDS[kind][1] == POD_TEMPLATE_PATHS[kind]


def _nest(path: tuple[str, ...], leaf: dict) -> dict:
    for key in reversed(path):
        leaf = {key: leaf}
    return leaf


@pytest.mark.parametrize("kind", sorted(k for k in POD_TEMPLATE_PATHS if k != "Pod"))
def test_what_if_finds_the_pod_of_every_template_kind(kind: str, tmp_path: Path) -> None:
    template = {"metadata": {"labels": {"app": "x"}}, "spec": {"containers": [{"name": "c"}]}}
    doc = {"apiVersion": "v1", "kind": kind, "metadata": {"name": "w", "namespace": "ml"}}
    doc.update(_nest(POD_TEMPLATE_PATHS[kind], template))
    path = tmp_path / "w.yaml"
    path.write_text(yaml.safe_dump(doc))
    pod = pod_from_manifest(str(path))
    assert pod["spec"]["containers"] == [{"name": "c"}]
    assert pod["metadata"]["namespace"] == "ml"


def test_a_volcano_job_is_told_from_a_batch_job_by_its_group() -> None:
    assert is_volcano_job({"kind": "Job", "apiVersion": "batch.volcano.sh/v1alpha1"})
    assert not is_volcano_job({"kind": "Job", "apiVersion": "batch/v1"})
