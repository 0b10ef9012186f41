"""Markdown for tickets: fixes paste whole (YAML and commands fenced), placeholders survive the
renderer (escaped), and tables are unpadded."""

from __future__ import annotations

import re

import pytest

from amldoctor.engine.runner import run_rules
from amldoctor.load import load_snapshot
from amldoctor.render.markdown import escape, fix_markdown
from tests.conftest import DEMO, run_cli


@pytest.fixture(scope="module")
def markdown() -> str:
    result = run_cli("scan", "--snapshot", "fixtures/demo", "-A", "-o", "markdown")
    assert result.returncode == 1, result.stderr
    return result.stdout


def prose_lines(text: str) -> list[str]:
    """Lines outside fenced blocks, with inline code spans removed."""
    out, fenced = [], False
    for line in text.splitlines():
        if line.startswith("```"):
            fenced = not fenced
            continue
        if not fenced:
            out.append(re.sub(r"`[^`]*`", "", line))
    return out


def test_placeholders_are_escaped_in_prose(markdown):
    # The demo's fixes hold placeholders: in commands (fenced, typed as is) or escaped in prose.
    assert "&lt;" in markdown or "<resource-group>" in markdown
    for line in prose_lines(markdown):
        assert not re.search(r"<[a-z][\w-]*>", line), line


def test_tables_are_not_padded(markdown):
    rows = [line for line in markdown.splitlines() if line.startswith("|")]
    assert rows
    for row in rows:
        assert "  |" not in row and "|  " not in row, row


def test_the_report_opens_with_the_causes(markdown):
    assert markdown.index("### Top causes") < markdown.index("### 1. error:")


REMEDIATIONS = sorted(
    {f.remediation for f in run_rules(load_snapshot(DEMO), namespaces=None).findings}
)


@pytest.mark.parametrize("remediation", REMEDIATIONS, ids=lambda r: r[:30])
def test_every_fix_keeps_yaml_and_commands_whole_in_fences(remediation):
    lines = fix_markdown(remediation)
    text = "\n".join(lines)
    assert text.count("```") % 2 == 0
    blocks = re.findall(r"```(yaml|sh)\n(.*?)\n```", text, flags=re.S)
    fenced = "\n".join(body for _, body in blocks)
    for line in remediation.splitlines():
        if line.startswith("  ") and line.strip():  # indented YAML
            assert line in fenced.splitlines(), line
        bare = re.search(r"(?:^|[ :(])((?:kubectl|az|amldoctor) .*)$", line)
        if bare and "`" not in line:
            assert bare.group(1).strip() in fenced.splitlines(), line


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("az aks update -n <cluster>", "az aks update -n &lt;cluster&gt;"),
        ("use `--name <pool>` here", "use `--name <pool>` here"),
        ("a | b", "a \\| b"),
        ("KeyError: 'DRIFT_BASELINE'", "KeyError: 'DRIFT_BASELINE'"),
    ],
)
def test_escape(text, expected):
    assert escape(text) == expected
