"""`amldoctor lint PATH...`: manifest checks before they reach the cluster, and pre-flight.

`helm template ... | amldoctor lint -` and `amldoctor lint k8s/` check manifests on their own;
with `--against SNAPSHOT` or `--against-cluster` every pod template also goes through the
why-pending engine ("would stay Pending: ...", "fits on 3 of 12 nodes") and references to
PVCs, Secrets, ConfigMaps and InstanceTypes are checked against what the cluster has.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from amldoctor.commands.options import (
    ContextOpt,
    FailOnOpt,
    IgnoreOpt,
    KubeconfigOpt,
    NamespaceOpt,
    RequestTimeoutOpt,
    check_fail_on,
    split_codes,
)
from amldoctor.errors import InputError
from amldoctor.load import load_snapshot

PathsArg = Annotated[
    list[str] | None,
    typer.Argument(help="Manifest files or directories (YAML or JSON); '-' reads stdin."),
]
AgainstOpt = Annotated[
    str | None,
    typer.Option(
        "--against",
        help="Pre-flight: check scheduling and references against this snapshot (file, directory "
        "or .tar.gz).",
    ),
]
AgainstClusterOpt = Annotated[
    bool,
    typer.Option(
        "--against-cluster", help="Pre-flight against the live cluster of the kubeconfig context."
    ),
]
LintOutputOpt = Annotated[
    str,
    typer.Option(
        "--output", "-o", help="Output format: table, json, yaml, markdown, sarif or junit."
    ),
]
ConfigOpt = Annotated[
    str | None,
    typer.Option("--config", help="Suppression config (default: ./.amldoctor.yaml if present)."),
]


def lint(
    paths: PathsArg = None,
    against: AgainstOpt = None,
    against_cluster: AgainstClusterOpt = False,
    output: LintOutputOpt = "table",
    fail_on: FailOnOpt = "error",
    ignore: IgnoreOpt = None,
    config: ConfigOpt = None,
    namespace: NamespaceOpt = None,
    kubeconfig: KubeconfigOpt = None,
    context: ContextOpt = None,
    request_timeout: RequestTimeoutOpt = 5.0,
) -> None:
    """Check manifests (Helm output, kustomize builds, plain YAML) before they reach the cluster."""
    code = run_lint_command(
        paths=paths or [],
        against=against,
        against_cluster=against_cluster,
        output=output,
        fail_on=fail_on,
        ignore=ignore or [],
        config=config,
        namespace=namespace,
        kubeconfig=kubeconfig,
        context=context,
        request_timeout=request_timeout,
    )
    raise typer.Exit(code)


def run_lint_command(
    *,
    paths: list[str],
    against: str | None,
    against_cluster: bool,
    output: str,
    fail_on: str,
    ignore: list[str],
    config: str | None,
    namespace: str | None,
    kubeconfig: str | None,
    context: str | None,
    request_timeout: float,
) -> int:
    from amldoctor.commands.output import checked_format, emit
    from amldoctor.commands.results import LintResult
    from amldoctor.engine.registry import find_rule, load_all
    from amldoctor.lint.config import load_config
    from amldoctor.lint.engine import run_lint
    from amldoctor.lint.source import read_manifests

    fmt = checked_format(LintResult, output)
    fail_on = check_fail_on(fail_on)
    if not paths:
        raise InputError("give manifest files or directories to lint, or '-' to read stdin")
    if against and against_cluster:
        raise InputError(
            "--against and --against-cluster are exclusive: pick one cluster to check against"
        )
    load_all()
    ignore_codes = split_codes(ignore)
    unknown = [code for code in ignore_codes if find_rule(code) is None]
    if unknown:
        raise InputError(f"--ignore: unknown rule {', '.join(unknown)} (see `amldoctor rules`)")
    lint_config = load_config(config)
    manifests = read_manifests(paths)
    snapshot = None
    if against:
        snapshot = load_snapshot(against)
    elif against_cluster:
        snapshot = _live_snapshot(manifests, namespace, kubeconfig, context, request_timeout, fmt)
    report = run_lint(
        manifests, snapshot=snapshot, namespace=namespace, ignore=ignore_codes, config=lint_config
    )
    result = LintResult(report)
    emit(result, fmt)
    return result.exit_code(fail_on)


def _live_snapshot(manifests, namespace, kubeconfig, context, request_timeout, fmt):
    """Read the cluster once: the one namespace the manifests use, else every namespace."""
    from amldoctor.sources import Target, open_snapshot

    used = {d.namespace for d in manifests.documents if d.namespace}
    target_ns = namespace or (next(iter(used)) if len(used) == 1 else None)
    target = Target(
        kubeconfig=kubeconfig,
        context=context,
        namespace=target_ns,
        all_namespaces=len(used) > 1 and namespace is None,
        request_timeout=request_timeout,
        progress=fmt == "table" and sys.stderr.isatty(),
    )
    return open_snapshot(target)
