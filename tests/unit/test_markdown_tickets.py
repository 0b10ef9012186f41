"""`-o markdown` of `why-pending --job` and `lint`, parsed as a ticket system would parse it.

Every AML job of the demo and every lint rule's failing fixture (pre-flight rules against their
cluster) is rendered and parsed with markdown-it: no raw HTML reaches the ticket (a
`<placeholder>` would vanish as a tag), every command a fix names sits whole in a code block or
span (so it pastes), every YAML line of a fix is inside a ```yaml block, and tables are
unpadded. Cases come from what amldoctor prints, not from hand-picked strings.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

from tests.conftest import ROOT, run_cli
from tests.unit.test_terminal import commands_in

DEMO = "fixtures/demo"
LINT = ROOT / "fixtures" / "lint"
PLACEHOLDER = re.compile(r"<[a-z][a-z0-9-]*>")


def _jobs() -> list[list[str]]:
    doc = json.loads(run_cli("scan", "--snapshot", DEMO, "-A", "-o", "json").stdout)
    return [
        ["why-pending", "--snapshot", DEMO, "--job", j["id"], "-n", j["namespace"]]
        for j in doc["jobs"]
        if j["kind"] == "job"
    ]


def _lint_runs() -> list[list[str]]:
    runs = []
    for rule in sorted(p for p in LINT.iterdir() if p.is_dir()):
        failing = next(rule.glob("failing*"))
        own = rule / "cluster.yaml"
        against = own if own.exists() else LINT / "cluster.yaml"
        runs.append(["lint", str(failing.relative_to(ROOT)), "--against", str(against)])
    return runs


RUNS = _jobs() + _lint_runs()


def _tokens(markdown: str) -> list:
    """Block and inline tokens, flattened."""
    md = MarkdownIt("commonmark").enable("table")
    flat = []
    for token in md.parse(markdown):
        flat.append(token)
        flat.extend(token.children or [])
    return flat


def test_there_are_jobs_and_lint_rules_to_render():
    assert sum(1 for r in RUNS if r[0] == "why-pending") >= 2
    assert sum(1 for r in RUNS if r[0] == "lint") >= 15


@pytest.mark.parametrize("args", RUNS, ids=lambda a: a[4] if a[0] == "why-pending" else a[1])
def test_markdown_is_escaped_fenced_and_unpadded(args):
    doc = json.loads(run_cli(*args, "-o", "json").stdout)
    result = run_cli(*args, "-o", "markdown")
    assert result.returncode in (0, 1), result.stderr
    markdown = result.stdout
    findings = doc["findings"]
    assert findings or args[0] == "why-pending", "a failing lint fixture has findings"
    tokens = _tokens(markdown)

    html = [t.content for t in tokens if t.type in ("html_inline", "html_block")]
    assert all(h == "<br>" for h in html), html

    code = [t.content for t in tokens if t.type in ("fence", "code_inline")]
    fences = [(t.info, t.content) for t in tokens if t.type == "fence"]
    rendered = MarkdownIt("commonmark").enable("table").render(markdown)
    for f in findings:
        fix = f.get("remediation") or ""
        for command in commands_in(fix):
            command = command.rstrip(".")
            assert any(command in block for block in code), f"command not in code: {command}"
        for line in fix.splitlines()[1:]:
            if line.startswith(("  ", "- ")) and not commands_in(line):
                yaml = [c for info, c in fences if info == "yaml"]
                assert any(line in c for c in yaml), f"YAML line not fenced: {line!r}"
        prose = re.sub(r"`[^`]*`", "", f["message"])
        for placeholder in PLACEHOLDER.findall(prose):
            escaped = placeholder.replace("<", "&lt;").replace(">", "&gt;")
            assert escaped in rendered, placeholder
        assert f["rule"] in markdown

    for line in markdown.splitlines():
        if line.startswith("|"):
            assert "  |" not in line and "|  " not in line, line
    if args[0] == "lint":
        assert any(t.type == "table_open" for t in tokens), "lint's summary table"


def test_a_command_after_a_backtick_span_is_fenced_without_its_full_stop():
    from amldoctor.mdtext import fix_markdown

    fix = (
        "fewer workers (`instance_count`); or add nodes: az aks nodepool update "
        "--resource-group <resource-group> --name <pool> --max-count <m>."
    )
    lines = fix_markdown(fix)
    at = lines.index("```sh")
    assert lines[at + 1] == (
        "az aks nodepool update --resource-group <resource-group> --name <pool> --max-count <m>"
    )
    assert "&lt;" not in lines[at + 1] and lines[at - 1].endswith(
        "`instance_count`); or add nodes:"
    )


def test_lint_markdown_says_one_warning_not_one_warnings():
    path = next(Path(LINT / "AMD805").glob("failing*"))
    markdown = run_cli("lint", str(path), "-o", "markdown").stdout
    assert "1 warning," in markdown and "1 warnings" not in markdown
