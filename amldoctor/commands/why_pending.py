"""`amldoctor why-pending POD` / `why-pending -f manifest.yaml`: one pod's scheduling verdict."""

from __future__ import annotations

import difflib
import sys
from typing import Annotated

import typer

from amldoctor.commands.options import (
    ContextOpt,
    FailOnOpt,
    KubeconfigOpt,
    NamespaceOpt,
    OutputOpt,
    RequestTimeoutOpt,
    SnapshotOpt,
    check_fail_on,
)
from amldoctor.errors import InputError
from amldoctor.report import exit_code_for
from amldoctor.snapshot import meta

PodArg = Annotated[
    str | None,
    typer.Argument(help="Pod name, NAMESPACE/NAME or pod/NAME. Omit it when using -f."),
]
FilenameOpt = Annotated[
    str | None,
    typer.Option(
        "--filename",
        "-f",
        help="What-if: judge the pod this manifest would create (Pod, Deployment, Job, "
        "StatefulSet, "
        "ReplicaSet, DaemonSet, CronJob or Volcano Job) against the cluster. '-' reads stdin.",
    ),
]
JobOpt = Annotated[
    str | None,
    typer.Option(
        "--job",
        help="Explain a whole Azure ML job or online deployment (job id or a 4+ character "
        "prefix, run id, PodGroup name, or ENDPOINT/DEPLOYMENT), pods or no pods.",
    ),
]
ServerVersionOpt = Annotated[
    str | None,
    typer.Option(
        "--server-version",
        help="Word messages as this kube-scheduler release does (e.g. v1.29) instead of the "
        "cluster's version (default: the snapshot's, else the newest).",
    ),
]


_POD_RESOURCE_NAMES = frozenset({"pod", "pods", "po"})


def split_pod_ref(ref: str, namespace: str | None) -> tuple[str | None, str]:
    """(namespace, name) from what a user types: NAME, NAMESPACE/NAME, or `pod/NAME`.

    `kubectl get pods -o name` prints `pod/NAME` (also `pods/NAME`, `po/NAME`, `pod.v1/NAME`
    are accepted by kubectl): the part before the slash is the resource, not a namespace.
    """
    if "/" not in ref:
        return namespace, ref
    head, name = ref.split("/", 1)
    if head.lower() in _POD_RESOURCE_NAMES or head.lower().startswith(("pod.", "pods.")):
        return split_pod_ref(name, namespace) if "/" in name else (namespace, name)
    if "/" in name:
        raise InputError(f"pod {ref!r}: give NAME, NAMESPACE/NAME or pod/NAME")
    if namespace is not None and namespace != head:
        raise InputError(f"pod {ref!r} names namespace {head!r} but -n says {namespace!r}")
    return head, name


def find_pod(snap, name: str, namespace: str | None) -> dict:
    """The pod named `name` (or `ns/name`, `pod/name`); InputError with close names when absent."""
    namespace, name = split_pod_ref(name, namespace)
    namespace = namespace or snap.namespace
    pods = snap.pods
    if namespace:
        found = snap.get("Pod", namespace, name)
        if found is not None:
            return found
        pool = [p for p in pods if (p.get("metadata") or {}).get("namespace") == namespace]
        where = f"namespace {namespace!r}"
    else:
        matches = [p for p in pods if (p.get("metadata") or {}).get("name") == name]
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            spaces = ", ".join(sorted(str(meta(p).get("namespace") or "") for p in matches))
            raise InputError(
                f"pod {name!r} exists in several namespaces ({spaces}): add -n NAMESPACE"
            )
        pool = pods
        where = "the snapshot"
    names = sorted({(p.get("metadata") or {}).get("name") or "" for p in pool})
    close = difflib.get_close_matches(name, names, n=3, cutoff=0.5)
    hint = (
        f"; did you mean {', '.join(close)}?"
        if close
        else (f" ({len(names)} pods there)" if names else " (no pods there)")
    )
    raise InputError(f"pod {name!r} not found in {where}{hint}")


def why_pending(
    pod: PodArg = None,
    filename: FilenameOpt = None,
    job: JobOpt = None,
    snapshot: SnapshotOpt = None,
    namespace: NamespaceOpt = None,
    output: OutputOpt = "table",
    fail_on: FailOnOpt = "error",
    kubeconfig: KubeconfigOpt = None,
    context: ContextOpt = None,
    request_timeout: RequestTimeoutOpt = 5.0,
    server_version: ServerVersionOpt = None,
) -> None:
    """Explain why one pod is not running: the scheduler's verdict node by node, and the fix."""
    from amldoctor.render import check_format
    from amldoctor.scheduling.profile import Profile
    from amldoctor.sources import Target, open_snapshot
    from amldoctor.whypending import analyze
    from amldoctor.whypending.manifest import pod_from_manifest

    fmt = check_format(output)
    fail_on = check_fail_on(fail_on)
    if sum(bool(x) for x in (pod, filename, job)) != 1:
        raise InputError("give exactly one of: a pod name, -f MANIFEST, or --job ID")
    if pod:
        namespace, pod = split_pod_ref(pod, namespace)
    what_if = pod_from_manifest(filename, namespace) if filename else None
    target = Target(
        snapshot=snapshot,
        kubeconfig=kubeconfig,
        context=context,
        namespace=namespace,
        request_timeout=request_timeout,
        progress=fmt == "table" and sys.stderr.isatty(),
    )
    snap = open_snapshot(target, pod=pod) if pod else open_snapshot(target)
    if job:
        from amldoctor.aml.jobview import explain_job

        result = explain_job(snap, job)
        emit_job(result, fmt)
        raise typer.Exit(exit_code_for(result["findings"], fail_on))
    subject = what_if if what_if is not None else find_pod(snap, pod, namespace)
    profile = Profile.for_server(server_version or snap.server_version)
    doc = analyze(snap, subject, profile=profile, what_if=what_if is not None)
    emit(doc, fmt, source=snap.source)
    raise typer.Exit(exit_code_for(doc["findings"], fail_on))


def emit(doc: dict, fmt: str, source: str = "") -> None:
    if fmt == "json":
        from amldoctor.render.structured import to_json

        sys.stdout.write(to_json(doc) + "\n")
    elif fmt == "yaml":
        from amldoctor.render.structured import to_yaml

        sys.stdout.write(to_yaml(doc))
    elif fmt == "markdown":
        from amldoctor.whypending.render import render_markdown

        sys.stdout.write(render_markdown(doc))
    else:
        from amldoctor.render import make_console
        from amldoctor.whypending.render import render_console

        render_console(make_console(), doc, source)


def emit_job(result: dict, fmt: str) -> None:
    """Print a whole-job explanation (`--job`)."""
    if fmt in ("json", "yaml"):
        from amldoctor.render.structured import to_json, to_yaml

        sys.stdout.write(to_json(result) + "\n" if fmt == "json" else to_yaml(result))
    elif fmt == "markdown":
        from amldoctor.aml.render import explain_markdown

        sys.stdout.write(explain_markdown(result))
    else:
        from amldoctor.aml.render import render_explain
        from amldoctor.render import make_console

        render_explain(make_console(), result)
