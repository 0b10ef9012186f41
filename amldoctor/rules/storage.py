"""AMD5xx: storage, part one: mount and attach failures seen by the kubelet.

A pod whose volume cannot be attached or mounted stays in `ContainerCreating` with no logs; the
only explanation is in `FailedMount`/`FailedAttachVolume` events, which expire after about an
hour. PVC binding problems are in `storage_claims.py`.
"""

from __future__ import annotations

import re

from amldoctor.engine.registry import Context, rule
from amldoctor.k8s.containers import as_dict, containers, dicts, is_terminal, pod_label
from amldoctor.k8s.events import event_count, event_last_time, event_message, event_reason
from amldoctor.k8s.objects import meta
from amldoctor.rules._exits import short_text
from amldoctor.rules._runtime import EVENTS_EXPIRE, when

MOUNT_REASONS = frozenset({"FailedMount", "FailedAttachVolume"})
_MULTI_ATTACH = "multi-attach error"
_VOLUME = re.compile(r'(?:for volume|volume) "([^"]+)"')
_USED_BY = re.compile(r"already used by pod\(s\) ([^\n]+?)(?:$|\.\s)")

# (needle in the lowered text, category, advice)
_MOUNT_CAUSES = (
    (
        "no volume plugin matched",
        "aml-download-mode",
        "AML inputs in download mode are not supported on Kubernetes compute: use `mode: ro_mount` "
        "(or mount) for the input.",
    ),
    (
        "not found in the list of registered csi drivers",
        "csi-driver-missing",
        "The CSI driver is not running on this node: enable it (`az aks update "
        "--enable-blob-driver` / `--enable-file-driver`) or check its DaemonSet pods.",
    ),
    (
        'secret "',
        "missing-secret",
        "Create the Secret the volume names in the pod's namespace (for Azure Files/Blob: the "
        "storage account key secret), or fix its name.",
    ),
    (
        'configmap "',
        "missing-configmap",
        "Create the ConfigMap the volume names in the pod's namespace, or fix its name.",
    ),
    (
        "403",
        "forbidden",
        "The storage refused the identity: give the kubelet or workload identity a data role on "
        "the storage account, or fix the key secret.",
    ),
    (
        "authorizationfailure",
        "forbidden",
        "The storage refused the identity: give the kubelet or workload identity a data role on "
        "the storage account, or fix the key secret.",
    ),
    (
        "permission denied",
        "permission-denied",
        "Check fsGroup/runAsUser against the volume's ownership, or the mount options.",
    ),
    (
        "timed out waiting for the condition",
        "timeout",
        "The volume was never attached or mounted in time: check the PVC is Bound (AMD503) and the "
        "attach/detach of the previous node.",
    ),
    (
        "could not be found",
        "volume-not-found",
        "The backing disk or share does not exist any more: restore it or recreate the PV.",
    ),
)


def _cause(text: str) -> tuple[str, str]:
    lowered = text.lower()
    for needle, category, advice in _MOUNT_CAUSES:
        if needle in lowered:
            return category, advice
    return (
        "other",
        "Run `kubectl describe pod` and check the node's kubelet and CSI driver logs for this "
        "volume.",
    )


def _stuck(pod: dict) -> bool:
    """The pod is waiting on its volumes: not terminal and some container not yet running."""
    if is_terminal(pod):
        return False
    views = [v for v in containers(pod) if not v.init]
    return not views or any(v.running is None for v in views)


@rule("AMD501", "volume-mount-failed", severity="error", needs=("Pod",))
def volume_mount_failed(ctx: Context):
    """
    ## What it does
    Finds pods held in `ContainerCreating` by `FailedMount` or `FailedAttachVolume` events and
    classifies the kubelet's text: missing Secret/ConfigMap, CSI driver not on the node, storage
    access refused, attach timeout, AML download-mode inputs. A pod stuck in `ContainerCreating`
    on a node with no events left is reported too, saying the events have expired.

    ## Why is this bad?
    No container starts until every volume is mounted, and there are no logs to read: the events
    are the only explanation, and they disappear after about an hour.

    ## Example
    `pod ml/train-0 cannot mount volume "data": MountVolume.SetUp failed for volume "data" :
    secret "azure-storage-key" not found (14 events, last at 2026-11-28T08:41:00Z)`

    ## How to fix
    Create the missing object, enable the CSI driver, grant the identity a data role on the
    storage account, or switch AML inputs to mount mode.
    """
    captured = ctx.snapshot.captured_at
    for pod in ctx.pods():
        if not _stuck(pod):
            continue
        events = ctx.snapshot.events_for(pod)
        failures = [
            e
            for e in events
            if event_reason(e) in MOUNT_REASONS and _MULTI_ATTACH not in event_message(e).lower()
        ]
        if failures:
            last = failures[-1]
            text = event_message(last)
            volume = _VOLUME.search(text)
            category, advice = _cause(text)
            count = sum(event_count(e) for e in failures)
            name = volume.group(1) if volume else None
            yield ctx.finding(
                pod,
                message=(
                    f"pod {pod_label(pod)} cannot mount volume{f' {name!r}' if name else 's'}: "
                    f"{short_text(text)} "
                    f"({count} events, last {when(event_last_time(last), captured)})"
                ),
                evidence={
                    "volume": name,
                    "category": category,
                    "events": count,
                    "reason": event_reason(last),
                    "event_message": short_text(text, 400),
                },
                remediation=advice,
            )
        elif (
            not events
            and as_dict(pod.get("spec")).get("nodeName")
            and _has_volumes(pod)
            and _creating(pod)
        ):
            yield ctx.finding(
                pod,
                message=(
                    f"pod {pod_label(pod)} is stuck in ContainerCreating on node "
                    f"{(pod.get('spec') or {}).get('nodeName')} "
                    f"with volumes to mount; {EVENTS_EXPIRE}"
                ),
                evidence={"events": 0, "node": as_dict(pod.get("spec")).get("nodeName")},
                remediation=(
                    f"Run `kubectl describe pod -n {meta(pod).get('namespace')} "
                    f"{meta(pod).get('name')}` now to see fresh "
                    "mount events, and check the PVCs it uses are Bound."
                ),
                severity="warning",
            )


def _has_volumes(pod: dict) -> bool:
    return any(
        isinstance(v, dict)
        and any(k in v for k in ("persistentVolumeClaim", "csi", "azureFile", "nfs", "ephemeral"))
        for v in dicts(as_dict(pod.get("spec")).get("volumes"))
    )


def _creating(pod: dict) -> bool:
    return any(
        (v.waiting or {}).get("reason") == "ContainerCreating"
        for v in containers(pod)
        if not v.init
    )


@rule("AMD502", "volume-multi-attach", severity="error", needs=("Pod",))
def volume_multi_attach(ctx: Context):
    """
    ## What it does
    Finds `Multi-Attach error` events: a ReadWriteOnce volume (an Azure Disk, for example) is
    still attached to another node, so this pod's node cannot attach it. Names the volume and
    the pods holding it.

    ## Why is this bad?
    A block volume attaches to one node at a time. The new pod waits until the old node lets
    go, which after a node failure or a rollout to another node can take minutes or never.

    ## Example
    `pod ml/train-1 cannot attach volume "pvc-5b1e": Multi-Attach error: already used by pod(s)
    train-0 on another node`

    ## How to fix
    Use a ReadWriteMany class (Azure Files, Azure Blob CSI) for data shared across nodes, give
    each replica its own claim (StatefulSet `volumeClaimTemplates`), use `strategy: Recreate`
    for single-replica Deployments, or pin the pods to one node.
    """
    captured = ctx.snapshot.captured_at
    for pod in ctx.pods():
        if not _stuck(pod):
            continue
        multi = [
            e
            for e in ctx.snapshot.events_for(pod)
            if event_reason(e) in MOUNT_REASONS and _MULTI_ATTACH in event_message(e).lower()
        ]
        if not multi:
            continue
        last = multi[-1]
        text = event_message(last)
        volume = _VOLUME.search(text)
        holders = _USED_BY.search(text)
        name = volume.group(1) if volume else None
        holder_text = holders.group(1).strip() if holders else None
        yield ctx.finding(
            pod,
            message=(
                f"pod {pod_label(pod)} cannot attach volume{f' {name!r}' if name else ''}: it is "
                "attached to another "
                f"node{f' (used by pod(s) {holder_text})' if holder_text else ''}; "
                f"{sum(event_count(e) for e in multi)} Multi-Attach events, last "
                f"{when(event_last_time(last), captured)}"
            ),
            evidence={
                "volume": name,
                "used_by": holder_text,
                "event_message": short_text(text, 400),
            },
            remediation=(
                "A ReadWriteOnce volume attaches to one node at a time: use a ReadWriteMany "
                "storage class "
                "(azurefile-csi, azureblob-fuse-premium) for shared data, one claim per replica "
                "(StatefulSet volumeClaimTemplates), or `strategy: {type: Recreate}` for a "
                "single-replica Deployment."
            ),
        )
