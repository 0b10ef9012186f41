"""Options shared by every command that reads a cluster, spelled the way kubectl spells them."""

from __future__ import annotations

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
RequestTimeoutOpt = Annotated[
    float,
    typer.Option(
        "--request-timeout", help="Seconds to wait for each API request before giving up."
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
