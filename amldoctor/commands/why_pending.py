"""`amldoctor why-pending POD` / `why-pending -f manifest.yaml`: one pod's scheduling verdict."""

from __future__ import annotations

import difflib
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated

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

if TYPE_CHECKING:
    from amldoctor.scheduling.profile import Profile
    from amldoctor.snapshot import Snapshot

PodArg = Annotated[
    str | None,
    typer.Argument(help="Pod name (or NAMESPACE/NAME). Omit it when using -f."),
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


def find_pod(snap, name: str, namespace: str | None) -> dict:
    """The pod named `name` (or `ns/name`); InputError with close names when it is not there."""
    if "/" in name and namespace is None:
        namespace, name = name.split("/", 1)
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
            spaces = ", ".join(sorted((p["metadata"].get("namespace") or "") for p in matches))
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
    from amldoctor.commands.output import checked_format, emit
    from amldoctor.commands.results import JobExplanation, PodExplanation
    from amldoctor.scheduling.profile import Profile
    from amldoctor.sources import Target, open_snapshot
    from amldoctor.whypending.manifest import pod_from_manifest

    fmt = checked_format(PodExplanation, output)
    fail_on = check_fail_on(fail_on)
    if sum(bool(x) for x in (pod, filename, job)) != 1:
        raise InputError("give exactly one of: a pod name, -f MANIFEST, or --job ID")
    if pod and "/" in pod and namespace is None:
        namespace, pod = pod.split("/", 1)
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
        from amldoctor.commands.jobview import explain_job

        job_result = JobExplanation(explain_job(snap, job))
        emit(job_result, fmt)
        raise typer.Exit(job_result.exit_code(fail_on))
    subject = what_if if what_if is not None else find_pod(snap, pod or "", namespace)
    profile = Profile.for_server(server_version or snap.server_version)
    doc = explain_pod(snap, subject, profile=profile, what_if=what_if is not None)
    result = PodExplanation(doc, snap.source)
    emit(result, fmt)
    raise typer.Exit(result.exit_code(fail_on))


def explain_pod(
    snap: Snapshot, pod: Mapping, *, profile: Profile | None = None, what_if: bool = False
) -> dict:
    """why-pending's document for one pod: the scheduler's side (`whypending.analyze`) and, for
    a pod already bound to a node, the kubelet's side from the scan rules run on that pod."""
    from amldoctor.whypending import analyze
    from amldoctor.whypending.state import BOUND

    doc = analyze(snap, pod, profile=profile, what_if=what_if)
    if doc["status"]["state"] == BOUND:
        doc["findings"] += kubelet_side_findings(snap, pod)
    return doc


def kubelet_side_findings(snap: Snapshot, pod: Mapping) -> list[dict]:
    """For a bound pod the answer is in the image, volume and config rules: run them on it."""
    from amldoctor.engine.runner import run_rules

    meta = pod.get("metadata") or {}
    key = (meta.get("namespace") or "default", meta.get("name"))

    def this_pod(obj: Mapping) -> bool:
        m = obj.get("metadata") or {}
        return (m.get("namespace") or "default", m.get("name")) == key

    report = run_rules(snap, namespaces=[key[0]], selector=this_pod)
    mine = [
        f
        for f in report.findings
        if f.object.kind == "Pod" and (f.object.namespace, f.object.name) == key
    ]
    return [f.to_dict() for f in mine]
