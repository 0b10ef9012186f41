"""The `amldoctor` command line (also installed as `kubectl-amldoctor`).

Commands stay thin: resolve the target, get a Snapshot, run pure analysis, render. Heavy modules
are imported inside the commands so `amldoctor --help` answers fast; errors become one line on
stderr with the documented exit code (2 input, 3 cluster), never a traceback unless `--debug`.
"""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from amldoctor import __version__
from amldoctor.commands.dump import dump
from amldoctor.commands.lint import lint
from amldoctor.commands.options import (
    AllNamespacesOpt,
    ContextOpt,
    FailOnOpt,
    IgnoreOpt,
    KubeconfigOpt,
    NamespaceOpt,
    OutputOpt,
    RequestTimeoutOpt,
    SelectorOpt,
    SnapshotOpt,
)
from amldoctor.commands.why_pending import why_pending
from amldoctor.errors import AmldoctorError

app = typer.Typer(
    name="amldoctor",
    help="Explains why ML workloads on Kubernetes (Azure ML compute above all) are not running, "
    "and what exactly to change.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"amldoctor {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks for errors.")] = False,
    no_color: Annotated[
        bool, typer.Option("--no-color", help="Plain text, no colours (as NO_COLOR=1 does).")
    ] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            help="Print amldoctor's version and exit.",
            callback=_print_version,
            is_eager=True,
        ),
    ] = False,
) -> None:
    if debug:
        os.environ["AMLDOCTOR_DEBUG"] = "1"
    if no_color:
        os.environ["NO_COLOR"] = "1"


# Short help for the command list: click would cut the docstrings' first lines with "...".
SHORT_HELP = {
    "scan": "Explain every pod in scope: causes worst first, with fixes.",
    "why-pending": "Why one pod (pod/NAME, job/NAME) is not running, node by node.",
    "dump": "Save what a scan reads into a bundle, credentials masked.",
    "lint": "Check manifests before they reach the cluster.",
    "rules": "List every rule: code, name, family, severity.",
    "explain": "Print a rule's documentation: what, why, example, fix.",
    "version": "Print amldoctor's version.",
}


@app.command(short_help=SHORT_HELP["scan"])
def scan(
    snapshot: SnapshotOpt = None,
    namespace: NamespaceOpt = None,
    all_namespaces: AllNamespacesOpt = False,
    selector: SelectorOpt = None,
    output: OutputOpt = "table",
    fail_on: FailOnOpt = "error",
    ignore: IgnoreOpt = None,
    kubeconfig: KubeconfigOpt = None,
    context: ContextOpt = None,
    request_timeout: RequestTimeoutOpt = 5.0,
    expand: Annotated[
        bool,
        typer.Option(
            "--expand", help="List every object with every finding instead of one entry per cause."
        ),
    ] = False,
    include_cluster: Annotated[
        bool,
        typer.Option(
            "--include-cluster",
            help="Let cluster findings (nodes, instance types, AML extension) set the exit code "
            "of a namespace-scoped scan too.",
        ),
    ] = False,
) -> None:
    """Explain every pod in a namespace: Pending, OOMKilled, probes, crashes, images, mounts, GPUs,
    AML."""
    from amldoctor.commands.scan import run_scan

    code = run_scan(
        snapshot=snapshot,
        namespace=namespace,
        all_namespaces=all_namespaces,
        selector=selector,
        output=output,
        fail_on=fail_on,
        ignore=ignore or [],
        kubeconfig=kubeconfig,
        context=context,
        request_timeout=request_timeout,
        expand=expand,
        include_cluster=include_cluster,
    )
    raise typer.Exit(code)


app.command("why-pending", short_help=SHORT_HELP["why-pending"])(why_pending)
app.command("dump", short_help=SHORT_HELP["dump"])(dump)
app.command("lint", short_help=SHORT_HELP["lint"])(lint)


@app.command("rules", short_help=SHORT_HELP["rules"])
def rules_cmd(
    output: OutputOpt = "table",
) -> None:
    """List every rule: code, name, family, severity and what it detects."""
    from amldoctor.commands.docs import list_rules

    list_rules(output)


@app.command("explain", short_help=SHORT_HELP["explain"])
def explain_cmd(
    rule: Annotated[str, typer.Argument(help="Rule code (AMD201) or name (container-oom-killed).")],
) -> None:
    """Print a rule's documentation: what it detects, why it matters, an example, how to fix it."""
    from amldoctor.commands.docs import explain

    explain(rule)


@app.command("version", short_help=SHORT_HELP["version"])
def version_cmd() -> None:
    """Print amldoctor's version."""
    typer.echo(f"amldoctor {__version__}")


def main() -> None:
    """Console-script entry point: run the app, turning our errors into one line and an exit
    code."""
    invoked_as = os.path.basename(sys.argv[0])
    prog = "kubectl amldoctor" if invoked_as.startswith("kubectl-") else "amldoctor"
    try:
        app(prog_name=prog)
    except AmldoctorError as exc:
        if os.environ.get("AMLDOCTOR_DEBUG"):
            raise
        print(f"amldoctor: error: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        print("amldoctor: interrupted", file=sys.stderr)
        sys.exit(130)


if __name__ == "__main__":
    main()
