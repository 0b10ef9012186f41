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
from amldoctor.contract import WHY_PENDING_JOB, WHY_PENDING_POD, versioned
from amldoctor.errors import InputError
from amldoctor.hints import rewrite, source_flags
from amldoctor.k8s.objects import meta

if TYPE_CHECKING:
    from amldoctor.scheduling.profile import Profile
    from amldoctor.snapshot import Snapshot

PodArg = Annotated[
    str | None,
    typer.Argument(
        help="Pod name, NAMESPACE/NAME, pod/NAME, or job/NAME (an AML job, or a Kubernetes "
        "Job's pod), the way kubectl names objects. Omit it when using -f or --job."
    ),
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


JOB_KINDS = ("job", "jobs", "job.batch", "jobs.batch")


def split_kind(arg: str | None) -> tuple[str | None, str | None]:
    """kubectl's job/NAME: ('job', NAME). Anything else comes back unchanged, for
    `split_pod_ref` to read as NAME, NAMESPACE/NAME or pod/NAME."""
    if not arg or "/" not in arg:
        return None, arg
    head, rest = arg.split("/", 1)
    if head.lower() in JOB_KINDS:
        return "job", rest
    return None, arg


def job_pod(snap, name: str, namespace: str | None) -> dict | None:
    """The pod of Kubernetes Job NAME to explain: a Pending one first, else the newest."""
    namespace = namespace or snap.namespace
    pods = [
        p
        for p in snap.pods
        if (p.get("metadata") or {}).get("labels", {}).get("job-name") == name
        or any(
            r.get("kind") == "Job" and r.get("name") == name
            for r in (p.get("metadata") or {}).get("ownerReferences") or ()
        )
    ]
    if namespace:
        pods = [p for p in pods if (p.get("metadata") or {}).get("namespace") == namespace]
    if not pods:
        return None
    pending = [p for p in pods if (p.get("status") or {}).get("phase") == "Pending"]
    pool = pending or pods
    return max(pool, key=lambda p: (p.get("metadata") or {}).get("creationTimestamp") or "")


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
    from amldoctor.commands.output import checked_format, emit
    from amldoctor.commands.results import JobExplanation, PodExplanation
    from amldoctor.scheduling.profile import Profile
    from amldoctor.sources import Target, open_snapshot
    from amldoctor.whypending.manifest import pod_from_manifest

    fmt = checked_format(PodExplanation, output)
    fail_on = check_fail_on(fail_on)
    kind, pod = split_kind(pod)
    job_arg = kind == "job"
    if job_arg:
        job, pod = pod, None
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
    flags = source_flags(snapshot, context, kubeconfig)
    subject = None
    if job:
        from amldoctor.commands.jobview import explain_job

        try:
            explained = explain_job(snap, job)
        except InputError as exc:
            # `job/NAME` may name a Kubernetes Job rather than an AML job: explain its pod.
            subject = job_pod(snap, job, namespace) if job_arg else None
            if subject is None and job_arg:
                raise InputError(f"{exc}; no Kubernetes Job {job!r} with pods either") from None
            if subject is None:
                raise
        else:
            job_result = JobExplanation(versioned(WHY_PENDING_JOB, rewrite(explained, flags)))
            emit(job_result, fmt)
            raise typer.Exit(job_result.exit_code(fail_on))
    if subject is None:
        subject = what_if if what_if is not None else find_pod(snap, pod or "", namespace)
    profile = Profile.for_server(server_version or snap.server_version)
    doc = explain_pod(snap, subject, profile=profile, what_if=what_if is not None)
    result = PodExplanation(versioned(WHY_PENDING_POD, rewrite(doc, flags)), snap.source)
    emit(result, fmt)
    raise typer.Exit(result.exit_code(fail_on))


SEVERITY_RANK = {"error": 3, "warning": 2, "info": 1}


def explain_pod(
    snap: Snapshot, pod: Mapping, *, profile: Profile | None = None, what_if: bool = False
) -> dict:
    """why-pending's document for one pod: the scheduler's side (`whypending.analyze`) and, for
    a pod already bound to a node, the kubelet's side from the scan rules run on that pod."""
    from amldoctor.whypending import analyze
    from amldoctor.whypending.state import BOUND, NOT_PENDING

    doc = analyze(snap, pod, profile=profile, what_if=what_if)
    if doc["status"]["state"] == BOUND:
        doc["findings"] += kubelet_side_findings(snap, pod)
    elif doc["status"]["state"] == NOT_PENDING and not what_if:
        # Not Pending is not "fine": a Running pod may be crash-looping or OOMKilled, and that,
        # not the scheduler, is why the workload is not running.
        runtime = kubelet_side_findings(snap, pod)
        doc["findings"] += runtime
        if runtime:
            worst = max(runtime, key=lambda f: SEVERITY_RANK.get(f["severity"], 0))
            doc["status"]["summary"] += f"; but {worst['message']}"
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
