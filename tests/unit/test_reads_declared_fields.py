"""Every field a rule reads is declared in `apishapes`: the selective decoder keeps nothing else.

Pods, nodes and events are decoded with only their declared fields (`selective`); a rule that
reads an undeclared field sees it on an object built by hand but never on a loaded cluster,
and says something else, silently. So every snapshot fixture is scanned twice, decoded
selectively and decoded whole: the reports must be the same, finding for finding.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from amldoctor import selective
from tests.unit.inprocess import invoke

ROOT = Path(__file__).resolve().parents[2]
SNAPSHOTS = sorted(
    [
        ROOT / "fixtures" / "demo",
        *(ROOT / "fixtures" / "rules").glob("*/*.yaml"),
        *(ROOT / "fixtures" / "whypending").glob("*.yaml"),
    ]
)


def _scan(path: Path) -> dict:
    result = invoke("scan", "--snapshot", str(path), "-A", "-o", "json", "--fail-on", "never")
    assert result.code == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.parametrize("path", SNAPSHOTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_scan_reads_only_declared_fields(path, monkeypatch):
    selected = _scan(path)
    monkeypatch.setattr(selective, "SELECTED_KINDS", frozenset())
    whole = _scan(path)
    assert selected == whole
