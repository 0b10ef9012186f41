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
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks for errors.")] = False,
) -> None:
    if debug:
        os.environ["AMLDOCTOR_DEBUG"] = "1"


@app.command()
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
    )
    raise typer.Exit(code)


app.command("why-pending")(why_pending)
app.command("dump")(dump)
app.command("lint")(lint)


@app.command("rules")
def rules_cmd(
    output: OutputOpt = "table",
) -> None:
    """List every rule: code, name, family, severity and what it detects."""
    from amldoctor.commands.docs import list_rules

    list_rules(output)


@app.command("explain")
def explain_cmd(
    rule: Annotated[str, typer.Argument(help="Rule code (AMD201) or name (container-oom-killed).")],
) -> None:
    """Print a rule's documentation: what it detects, why it matters, an example, how to fix it."""
    from amldoctor.commands.docs import explain

    explain(rule)


@app.command("version")
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
