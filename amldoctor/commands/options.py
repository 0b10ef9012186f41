"""Options shared by every command that reads a cluster, spelled the way kubectl spells them."""

from __future__ import annotations

import math
from typing import Annotated

import typer

SnapshotOpt = Annotated[
    str | None,
    typer.Option(
        "--snapshot",
        "-s",
        help="Read a captured snapshot (YAML/JSON file, directory, or .tar.gz bundle) instead of a "
        "live cluster.",
    ),
]
NamespaceOpt = Annotated[
    str | None,
    typer.Option(
        "--namespace",
        "-n",
        help="Namespace to examine (default: the context's, or the snapshot's).",
    ),
]
AllNamespacesOpt = Annotated[
    bool, typer.Option("--all-namespaces", "-A", help="Examine every namespace.")
]
SelectorOpt = Annotated[
    str | None,
    typer.Option(
        "--selector", "-l", help="Only pods matching this label selector (kubectl syntax)."
    ),
]
OutputOpt = Annotated[
    str, typer.Option("--output", "-o", help="Output format: table, json, yaml or markdown.")
]
FailOnOpt = Annotated[
    str,
    typer.Option(
        "--fail-on",
        help="Exit 1 when a finding is at or above this severity: error, warning, info or never.",
    ),
]
IgnoreOpt = Annotated[
    list[str] | None,
    typer.Option("--ignore", help="Rule code or name to ignore (repeatable, or comma-separated)."),
]
KubeconfigOpt = Annotated[
    str | None,
    typer.Option(
        "--kubeconfig", help="Path to the kubeconfig file (default: $KUBECONFIG or ~/.kube/config)."
    ),
]
ContextOpt = Annotated[str | None, typer.Option("--context", help="Kubeconfig context to use.")]


def parse_request_timeout(value: object) -> float | None:
    """kubectl's `--request-timeout`: seconds, or a duration (`30s`, `2m`, `1h`); 0 means none.

    Returns the seconds, or None for "no timeout". Negative, not-a-number and infinite values
    are an input error (exit 2), as kubectl rejects them, not a crash deep in the HTTP client.
    """
    from amldoctor.errors import InputError

    if value is None or (isinstance(value, float | int) and not isinstance(value, bool)):
        seconds = float(value) if value is not None else 5.0
    else:
        text = str(value).strip().lower()
        units = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
        unit = next((u for u in ("ms", "s", "m", "h") if text.endswith(u)), "")
        number = text[: len(text) - len(unit)] if unit else text
        try:
            seconds = float(number) * units.get(unit, 1.0)
        except ValueError:
            seconds = math.nan
    if not math.isfinite(seconds) or seconds < 0:
        raise InputError(
            f"invalid --request-timeout {value!r}: give seconds (5), a duration (30s, 2m, 1h) "
            "or 0 for no timeout"
        )
    return seconds or None


RequestTimeoutOpt = Annotated[
    float | None,
    typer.Option(
        "--request-timeout",
        parser=parse_request_timeout,
        help="How long to wait for each API request: seconds or a duration (30s, 2m); "
        "0 waits forever, as in kubectl.",
    ),
]


def split_codes(values: list[str] | None) -> list[str]:
    """`--ignore AMD201,AMD305 --ignore pod-unschedulable` -> a flat list."""
    return [part.strip() for value in values or () for part in value.split(",") if part.strip()]


def check_fail_on(value: str) -> str:
    from amldoctor.engine.report import FAIL_ON_CHOICES
    from amldoctor.errors import InputError

    value = value.lower()
    if value not in FAIL_ON_CHOICES:
        raise InputError(
            f"unknown --fail-on {value!r} (choose one of: {', '.join(FAIL_ON_CHOICES)})"
        )
    return value
