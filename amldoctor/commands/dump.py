"""`amldoctor dump`: capture what a scan reads into a bundle that `--snapshot` replays.

A support engineer rarely has the customer's cluster; the customer runs `dump` and sends one
file. The bundle is the collected snapshot, credentials masked, with a manifest that says what
could not be read so the analysis offline is as honest as it would have been live.
"""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from amldoctor.commands.options import (
    AllNamespacesOpt,
    ContextOpt,
    KubeconfigOpt,
    NamespaceOpt,
    RequestTimeoutOpt,
    SelectorOpt,
)

BundleOpt = Annotated[
    str | None,
    typer.Option(
        "--output",
        "-o",
        help="Where to write: a .tar.gz/.tgz file, or a directory "
        "(default: amldoctor-<namespace>-<time>.tar.gz here).",
    ),
]
DebugOpt = Annotated[bool, typer.Option("--debug", help="Show tracebacks for errors.")]


def dump(
    namespace: NamespaceOpt = None,
    all_namespaces: AllNamespacesOpt = False,
    selector: SelectorOpt = None,
    output: BundleOpt = None,
    kubeconfig: KubeconfigOpt = None,
    context: ContextOpt = None,
    request_timeout: RequestTimeoutOpt = 5.0,
    debug: DebugOpt = False,
    force: Annotated[
        bool, typer.Option("--force", help="Replace the output if it already exists.")
    ] = False,
) -> None:
    """Save the cluster state a scan reads (credentials masked) as a bundle for --snapshot."""
    from amldoctor.bundle import write_bundle
    from amldoctor.collect import LiveOptions
    from amldoctor.collect.collector import collect_live
    from amldoctor.commands.output import emit
    from amldoctor.commands.results import DumpResult
    from amldoctor.snapshot import NOT_INSTALLED

    if output and not force:
        refuse_overwrite(Path(output))

    if debug:
        os.environ["AMLDOCTOR_DEBUG"] = "1"
    opts = LiveOptions(
        kubeconfig=kubeconfig,
        context=context,
        namespace=namespace,
        all_namespaces=all_namespaces,
        selector=selector,
        request_timeout=request_timeout,
        progress=sys.stderr.isatty(),
        whole_objects=True,  # a bundle keeps every field, for questions asked of it later
    )
    result = collect_live(opts)
    snap = result.snapshot
    path = write_bundle(snap, output or _default_name(snap.namespace), server=result.server)
    absent = sorted({m.kind for m in snap.missing if m.reason.startswith(NOT_INSTALLED)})
    not_read = [
        f"{m.kind}{f' in {m.namespace}' if m.namespace else ''}: {m.reason}"
        for m in snap.missing
        if m.kind not in absent
    ]
    emit(
        DumpResult(str(path), len(snap.objects), len(snap.collected_kinds or ()), absent, not_read),
        "table",
    )


def refuse_overwrite(path: Path) -> None:
    """A bundle is evidence for a support case: never replace one without being asked."""
    from amldoctor.errors import InputError

    if path.is_dir() and not any(path.iterdir()):
        return
    if path.exists():
        raise InputError(f"{path} already exists: pass --force to replace it, or choose another -o")


def _default_name(namespace: str | None) -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"amldoctor-{namespace or 'all-namespaces'}-{stamp}.tar.gz"
