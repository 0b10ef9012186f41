"""AMD703 (scan: instance type bigger than its nodes) and AMD814 (lint, before deploying) suggest
the same size for the same instance type and nodes: 90% of the largest node's allocatable."""

from __future__ import annotations

import json
import re

import yaml

from amldoctor.load import load_snapshot
from tests.conftest import DEMO, run_cli


def _numbers(text: str) -> dict[str, str]:
    return dict(re.findall(r"^\s+(cpu|memory): (\S+)$", text, flags=re.M))


def test_scan_and_lint_suggest_the_same_instance_type_size(tmp_path):
    scan = json.loads(run_cli("scan", "--snapshot", "fixtures/demo", "-A", "-o", "json").stdout)
    amd703 = next(
        f for f in scan["findings"] if f["rule"] == "AMD703" and f["object"]["name"] == "bigmem"
    )
    bigmem = next(
        o
        for o in load_snapshot(DEMO).objects
        if o.get("kind") == "InstanceType" and o["metadata"]["name"] == "bigmem"
    )
    manifest = tmp_path / "bigmem.yaml"
    clean = {k: v for k, v in bigmem.items() if k != "status"}
    clean["metadata"] = {"name": "bigmem"}
    manifest.write_text(yaml.safe_dump(clean))
    lint = run_cli("lint", str(manifest), "--against", "fixtures/demo", "-o", "json")
    amd814 = next(f for f in json.loads(lint.stdout)["findings"] if f["rule"] == "AMD814")
    scan_sizes, lint_sizes = _numbers(amd703["remediation"]), _numbers(amd814["remediation"])
    assert lint_sizes, amd814["remediation"]
    for resource, value in lint_sizes.items():
        assert scan_sizes[resource] == value, (
            resource,
            amd703["remediation"],
            amd814["remediation"],
        )
