"""The things a new user tries first: --version, --no-color, completion, and a help screen whose
command descriptions are whole at 80 columns."""

from __future__ import annotations

import os

import pytest

from amldoctor import __version__
from amldoctor.cli import SHORT_HELP
from tests.conftest import run_cli
from tests.ptyrun import run_in_tty


def test_version_flag_and_command_agree():
    flag, command = run_cli("--version"), run_cli("version")
    assert flag.returncode == command.returncode == 0
    assert flag.stdout == command.stdout == f"amldoctor {__version__}\n"


def test_no_color_gives_plain_text_on_a_terminal():
    _, coloured = run_in_tty("scan", "--snapshot", "fixtures/demo", columns=100, raw=True)
    _, plain = run_in_tty(
        "--no-color", "scan", "--snapshot", "fixtures/demo", columns=100, raw=True
    )
    assert "\x1b[" in coloured
    assert "\x1b[3" not in plain and "\x1b[1;31" not in plain


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_shell_completion_script(shell):
    result = run_cli(
        "--show-completion",
        shell,
        env={**os.environ, "_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1"},
    )
    assert result.returncode == 0, result.stderr
    assert "amldoctor" in result.stdout.lower()


@pytest.mark.parametrize("columns", [80, 100])
def test_top_level_help_does_not_cut_descriptions(columns):
    result = run_cli("--help", env={**os.environ, "COLUMNS": str(columns)})
    assert result.returncode == 0
    flat = " ".join(result.stdout.split())
    for text in SHORT_HELP.values():
        assert text in flat, text
    commands = result.stdout.split("Commands:")[1]
    assert "..." not in commands
