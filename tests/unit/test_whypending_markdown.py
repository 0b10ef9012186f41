"""why-pending -o markdown pastes into a ticket: escaped prose, fenced commands, unpadded tables.

Checked on every Pending pod of the demo snapshot, so each kind of fix (tolerations YAML, a pool
command with its flags, an autoscaler note, a PVC cause) is covered by what amldoctor actually
prints rather than by one hand-picked example.
"""

from __future__ import annotations

import json
import re

import pytest

from tests.conftest import run_cli
from tests.unit.test_terminal import commands_in

DEMO = "fixtures/demo"


def _pending_pods() -> list[tuple[str, str]]:
    doc = json.loads(run_cli("scan", "--snapshot", DEMO, "-A", "-o", "json").stdout)
    return sorted(
        {
            (f["object"]["namespace"], f["object"]["name"])
            for f in doc["findings"]
            if f["rule"] == "AMD101" and f["object"]["kind"] == "Pod"
        }
    )


PODS = _pending_pods()


def _prose(markdown: str) -> list[str]:
    """Lines outside fenced blocks, with backtick spans removed."""
    out, fenced = [], False
    for line in markdown.splitlines():
        if line.strip().startswith("```"):
            fenced = not fenced
            continue
        if not fenced:
            out.append(re.sub(r"`[^`]*`", "", line))
    return out


def test_the_demo_has_several_pending_pods():
    assert len(PODS) >= 4


@pytest.mark.parametrize(("namespace", "name"), PODS)
def test_why_pending_markdown_is_escaped_fenced_and_unpadded(namespace, name):
    args = ("why-pending", "--snapshot", DEMO, name, "-n", namespace)
    doc = json.loads(run_cli(*args, "-o", "json").stdout)
    result = run_cli(*args, "-o", "markdown")
    assert result.returncode in (0, 1), result.stderr
    markdown = result.stdout
    lines = markdown.splitlines()
    for line in _prose(markdown):
        assert "<" not in line.replace("<br>", ""), line
        assert ">" not in line.replace("<br>", "").replace("→", ""), line
    commands = [c for f in doc["fixes"] for c in commands_in(f["text"])]
    commands += [p["fix"] for p in (doc.get("new_nodes") or {}).get("pools", []) if p.get("fix")]
    for command in commands:
        assert any(command in line for line in lines), f"command broken or missing: {command}"
    table = [line for line in lines if line.startswith("|")]
    assert table, "the node table"
    for line in table:
        assert "  |" not in line and "|  " not in line, line


FIX_TEXTS = [
    "raise the pool's maximum in <resource-group> & retry",
    "add nodes: az aks nodepool scale -g <resource-group> --cluster-name <cluster> -n <pool> -c 4",
    "read the events: `kubectl describe pod <pod> -n <namespace>` then fix the claim",
    "add it to the pod spec:\ntolerations:\n- key: sku\n  value: <value>\n  effect: NoSchedule",
]


@pytest.mark.parametrize("text", FIX_TEXTS)
def test_fix_texts_with_placeholders_commands_and_yaml(text):
    from amldoctor.whypending.render import render_markdown

    namespace, name = PODS[0]
    args = ("why-pending", "--snapshot", DEMO, name, "-n", namespace, "-o", "json")
    doc = json.loads(run_cli(*args).stdout)
    doc["fixes"] = [{"text": text}]
    doc["not_modelled"] = ["a <placeholder> note"]
    markdown = render_markdown(doc)
    for line in _prose(markdown):
        assert "<" not in line.replace("<br>", ""), line
    assert "&lt;placeholder&gt;" in markdown
    lines = markdown.splitlines()
    for command in commands_in(text):
        assert any(command in line for line in lines), command
    bare = re.search(r"\baz aks .*$", text)
    if bare:  # a command outside backticks goes in a fenced sh block, whole
        at = lines.index("  ```sh")
        assert lines[at + 1].strip() == bare.group(0)
    if "tolerations:" in text:
        at = lines.index("  ```yaml")
        snippet = ["  " + t for t in text.splitlines()[1:]]
        assert lines[at + 1 : at + 1 + len(snippet)] == snippet
        assert lines[at + 1 + len(snippet)] == "  ```"
