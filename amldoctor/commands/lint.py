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

LINT_FORMATS = ("table", "json", "yaml", "markdown", "sarif", "junit")

PathsArg = Annotated[
    list[str] | None,
    typer.Argument(help="Manifest files or directories (YAML or JSON); '-' reads stdin."),
]
AgainstOpt = Annotated[
    str | None,
    typer.Option(
        "--against",
        help="Pre-flight: check scheduling and references against this snapshot (file, directory or .tar.gz).",
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
    request_timeout: float | None,
) -> int:
    from amldoctor.lint.config import load_config
    from amldoctor.lint.engine import run_lint
    from amldoctor.lint.source import read_manifests
    from amldoctor.render import check_format
    from amldoctor.rules.base import find_rule, load_all

    fmt = check_format(output, LINT_FORMATS)
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
        from amldoctor.snapshot import Snapshot

        snapshot = Snapshot.load(against)
    elif against_cluster:
        snapshot = _live_snapshot(manifests, namespace, kubeconfig, context, request_timeout, fmt)
    report = run_lint(
        manifests, snapshot=snapshot, namespace=namespace, ignore=ignore_codes, config=lint_config
    )
    emit_lint_report(report, fmt)
    return report.exit_code(fail_on)


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


def emit_lint_report(report, fmt: str) -> None:
    """Print a lint report in the chosen format to stdout; credentials are masked in all of them."""
    from amldoctor.redact import redact_object

    if fmt in ("json", "yaml"):
        from amldoctor.render.structured import to_json, to_yaml

        data = redact_object(report.to_dict())
        sys.stdout.write(to_json(data) + "\n" if fmt == "json" else to_yaml(data))
    elif fmt == "sarif":
        from amldoctor.render.sarif import report_sarif
        from amldoctor.render.structured import to_json

        sys.stdout.write(to_json(redact_object(report_sarif(report))) + "\n")
    elif fmt == "junit":
        from amldoctor.render.junit import report_junit

        sys.stdout.write(report_junit(report))
    elif fmt == "markdown":
        from amldoctor.render.lint import lint_markdown

        sys.stdout.write(lint_markdown(report))
    else:
        from amldoctor.render import make_console
        from amldoctor.render.lint import render_lint

        render_lint(make_console(), report)
