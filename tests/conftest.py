"""Shared test helpers: tiny object builders and a CLI runner that sees stdout, stderr and exit
codes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "fixtures" / "demo"


def run_cli(
    *args: str, input_text: str | None = None, env: dict | None = None
) -> subprocess.CompletedProcess:
    """Run the real console entry point in a subprocess (what users run)."""
    return subprocess.run(
        [sys.executable, "-c", "from amldoctor.cli import main; main()", *args],
        capture_output=True,
        text=True,
        input=input_text,
        env=env,
        cwd=ROOT,
        timeout=120,
    )


@pytest.fixture
def cli():
    return run_cli
