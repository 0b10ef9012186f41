"""The versioned JSON contract: every document carries its schema version and kind, and
validates against the JSON Schema published in docs/schemas/ (what runbooks script against)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from jsonschema import Draft202012Validator
from referencing import Registry, Resource

from amldoctor.bundle import manifest
from amldoctor.contract import SCHEMA_VERSION
from amldoctor.load import load_snapshot
from tests.conftest import DEMO, ROOT, run_cli

SCHEMAS = ROOT / "docs" / "schemas"


def _registry() -> Registry:
    resources = []
    for path in SCHEMAS.glob("*.schema.json"):
        doc = json.loads(path.read_text())
        resources.append((doc["$id"], Resource.from_contents(doc)))
        resources.append((path.name, Resource.from_contents(doc)))
    return Registry().with_resources(resources)


def validator(name: str) -> Draft202012Validator:
    schema = json.loads((SCHEMAS / f"{name}.schema.json").read_text())
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, registry=_registry())


def check(name: str, doc: dict) -> None:
    errors = sorted(validator(name).iter_errors(doc), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors[:5])


DOCUMENTS = [
    ("scan", ["scan", "--snapshot", "fixtures/demo"], "scan"),
    ("scan", ["scan", "--snapshot", "fixtures/demo", "-A"], "scan"),
    ("scan", ["scan", "--snapshot", "fixtures/demo", "-n", "kube-system"], "scan"),
    (
        "why-pending",
        ["why-pending", "--snapshot", "fixtures/demo", "llm-finetune-gpu-jgczv"],
        "why-pending-pod",
    ),
    (
        "why-pending",
        ["why-pending", "--snapshot", "fixtures/demo", "tokenize-corpus-rprhw"],
        "why-pending-pod",
    ),
    (
        "why-pending",
        ["why-pending", "--snapshot", "fixtures/demo", "--job", "a3f81c2d"],
        "why-pending-job",
    ),
    ("lint", ["lint", "fixtures/lint"], "lint"),
]


@pytest.mark.parametrize("fmt", ["json", "yaml"])
@pytest.mark.parametrize(("schema", "args", "kind"), DOCUMENTS)
def test_every_document_validates_and_carries_version_and_kind(schema, args, kind, fmt):
    result = run_cli(*args, "-o", fmt)
    assert result.returncode in (0, 1), result.stderr
    doc = json.loads(result.stdout) if fmt == "json" else yaml.safe_load(result.stdout)
    assert doc["schema_version"] == SCHEMA_VERSION and doc["kind"] == kind
    assert list(doc)[:2] == ["schema_version", "kind"]
    check(schema, doc)


def test_the_why_pending_kinds_are_told_apart_by_the_schema():
    pod = json.loads(
        run_cli(
            "why-pending", "--snapshot", "fixtures/demo", "resnet50-train-rhvg9", "-o", "json"
        ).stdout
    )
    check("why-pending", pod)
    pod["kind"] = "why-pending-job"
    assert list(validator("why-pending").iter_errors(pod)), "a pod document passed as a job"


def test_a_scan_without_its_groups_fails_the_schema():
    doc = json.loads(run_cli("scan", "--snapshot", "fixtures/demo", "-o", "json").stdout)
    del doc["groups"]
    assert list(validator("scan").iter_errors(doc))


def test_dump_manifest_validates(tmp_path: Path):
    check("dump-manifest", manifest(load_snapshot(DEMO), server="https://example:443"))


def test_readme_contract_section_lists_every_top_level_key():
    readme = (ROOT / "README.md").read_text()
    for name in ("scan", "lint", "why-pending", "dump-manifest"):
        schema = json.loads((SCHEMAS / f"{name}.schema.json").read_text())
        keys = set(schema.get("required", ()))
        for part in schema.get("$defs", {}).values():
            keys |= set(part.get("required", ()))
        missing = [key for key in sorted(keys) if f"`{key}`" not in readme]
        assert not missing, f"README does not list {name} keys: {missing}"
