"""What a person sees on a real terminal at 80 and 100 columns.

Piped output is never wrapped, so these tests run amldoctor on a pseudo-terminal of that size:
commands in fixes must stay whole on one line (so they paste), wrapped text keeps its
indentation, and nothing is cut to an ellipsis where it matters.
"""

from __future__ import annotations

import json
import re

import pytest

from amldoctor.termtext import has_command
from tests.conftest import run_cli
from tests.ptyrun import run_in_tty

SPAN = re.compile(r"`([^`]*)`|\b((?:kubectl|az|amldoctor) \S.*)$")


def commands_in(remediation: str) -> list[str]:
    """Every command a fix asks the user to run: in backticks, or from the tool to line end."""
    found = []
    for line in remediation.splitlines():
        for quoted, bare in SPAN.findall(line):
            text = (quoted or bare).strip()
            if has_command(" " + text):
                found.append(text)
    return found


@pytest.fixture(scope="module")
def demo_commands() -> list[str]:
    doc = json.loads(run_cli("scan", "--snapshot", "fixtures/demo", "-o", "json").stdout)
    commands = [c for f in doc["findings"] for c in commands_in(f["remediation"])]
    assert len(commands) >= 8  # kubectl, az aks, az ml, amldoctor why-pending ...
    return commands


@pytest.mark.parametrize("columns", [80, 100])
@pytest.mark.parametrize("view", [[], ["--expand"]])
def test_commands_are_never_hard_wrapped(demo_commands, columns, view):
    code, screen = run_in_tty("scan", "--snapshot", "fixtures/demo", *view, columns=columns)
    assert code == 1, screen[-500:]
    lines = screen.splitlines()
    shown = demo_commands if view else [c for c in demo_commands if c.split()[0] in screen]
    for command in shown:
        if command in screen.replace("\n", " "):
            assert any(command in line for line in lines), f"command broken across lines: {command}"
    if view:  # --expand shows every finding's fix
        for command in demo_commands:
            assert any(command in line for line in lines), f"missing or broken: {command}"


@pytest.mark.parametrize("columns", [80, 100])
def test_wrapped_lines_keep_their_indentation(columns):
    _, screen = run_in_tty("scan", "--snapshot", "fixtures/demo", "--expand", columns=columns)
    lines = [line for line in screen.splitlines() if line.strip()]
    starts = (
        "amldoctor scan",
        "AML jobs",
        "Cluster (",
        "✖ ",
        "▲ ",
        "● ",
        "not checked",
        "note:",
        "skipped ",
    )
    flush = [line for line in lines if not line.startswith(" ")]
    for line in flush:
        assert line.startswith(starts) or re.match(r"\d+ errors?, ", line), line
    # Every line fits the terminal unless it holds a command or one name too long to fit.
    for line in lines:
        indent = len(line) - len(line.lstrip())
        too_long = indent + max(len(word) for word in line.split()) + 10 > columns
        assert len(line) <= columns or has_command(line) or too_long, line


def test_triage_lines_are_one_row_each_at_80_columns():
    _, screen = run_in_tty("scan", "--snapshot", "fixtures/demo", columns=80)
    lines = screen.splitlines()
    start = lines.index("Top causes")
    triage = lines[start + 1 : lines.index("", start)]
    assert triage and all(len(line) <= 80 for line in triage)
    assert all(re.match(r"\s+\d+\. [✖▲●] AMD\d{3} ", line) for line in triage[:-1])


@pytest.mark.parametrize("columns", [80, 100])
@pytest.mark.parametrize("pod", ["llm-finetune-gpu-jgczv", "resnet50-train-rhvg9"])
def test_why_pending_matrix_headers_are_whole(columns, pod):
    _, screen = run_in_tty("why-pending", "--snapshot", "fixtures/demo", pod, columns=columns)
    header = next(line for line in screen.splitlines() if line.startswith("node "))
    assert "…" not in header, header
    assert re.search(r"\bnode\b.*\btaints\b", header), header
    assert "scheduler's reason" in header or "\nscheduler's reason\n" in screen
    assert all(len(line) <= columns for line in screen.splitlines() if line.startswith("aks-"))
