"""Shared test helpers: tiny object builders and a CLI runner that sees stdout, stderr and exit
codes."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "fixtures" / "demo"


def benchmark_module(name: str) -> ModuleType:
    """A generator from benchmarks/ (not a package: it never ships), loaded once per run."""
    found = sys.modules.get(name)
    if found is not None:
        return found
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = sys.modules[name] = importlib.util.module_from_spec(spec)  # dataclasses need it
    spec.loader.exec_module(module)
    return module


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
