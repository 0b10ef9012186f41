"""AMD4xx: container start, crash, image and configuration failures.

Each rule reads the container's waiting or terminated state and, where the kubelet put the
detail only in an event, the `Failed` events of that container. OOM kills and probe kills are
left to AMD2xx and AMD3xx so that one failure gets one explanation.
"""

from __future__ import annotations

import re

from amldoctor.engine.registry import Context, rule
from amldoctor.k8s.containers import (
    ContainerView,
    as_dict,
    containers,
    describe_exit,
    dicts,
    explain_exit,
    pod_label,
)
from amldoctor.k8s.events import event_message
from amldoctor.k8s.images import CATEGORY_TEXT, classify_pull_failure, parse_image
from amldoctor.k8s.objects import meta
from amldoctor.rules._exits import (
    PULL_REASONS,
    exit_fix,
    explained_elsewhere,
    short_text,
    termination_clause,
    termination_evidence,
)
from amldoctor.rules._pullfix import pull_fix
from amldoctor.rules._runtime import EVENTS_EXPIRE, container_events, when


@rule("AMD401", "crash-loop-backoff", severity="error", needs=("Pod",))
def crash_loop_backoff(ctx: Context):
    """
    ## What it does
    Finds app containers in `CrashLoopBackOff` and explains the last exit: the exit code and
    what it means (1, 2, 126, 127, 128+N with the signal name: 134 SIGABRT, 137 SIGKILL,
    139 SIGSEGV, 143 SIGTERM), the termination message, the restart count and when.

    ## Why is this bad?
    The container starts and dies repeatedly; the kubelet waits longer between restarts (up to
    five minutes) and the workload never runs. The raw exit code is rarely understood.

    ## Example
    `container trainer in pod ml/train-abc is in CrashLoopBackOff after 7 restarts: last exit
    127 (command not found (check command/args ...)) at 2026-11-28T08:41:07Z`

    ## How to fix
    Read the previous run's logs (`kubectl logs --previous`), and act on the exit code: fix
    `command`/`args` for 126/127, the code or data for 1, native libraries for 139.
    """
    captured = ctx.snapshot.captured_at
    for pod in ctx.pods():
        for view in containers(pod):
            if view.init or (view.waiting or {}).get("reason") != "CrashLoopBackOff":
                continue
            term = view.last_terminated or {}
            if explained_elsewhere(term):
                continue
            code = term.get("exitCode")
            message = (
                f"container {view.name} in pod {pod_label(pod)} is in CrashLoopBackOff after "
                f"{view.restart_count} "
                f"restarts: last exit {explain_exit(code)} {when(term.get('finishedAt'), captured)}"
            )
            message += termination_clause(term) or (
                "" if term else "; the status keeps no last termination"
            )
            evidence = termination_evidence(view, term)
            evidence["restart_count"] = view.restart_count
            evidence["signal"] = (
                describe_exit(code) if isinstance(code, int) and code > 128 else None
            )
            yield ctx.finding(
                pod, message=message, evidence=evidence, remediation=exit_fix(term, view, pod)
            )


@rule("AMD402", "image-pull-failed", severity="error", needs=("Pod",))
def image_pull_failed(ctx: Context):
    """
    ## What it does
    Finds containers (app and init) waiting in `ImagePullBackOff`, `ErrImagePull` or
    `ErrImageNeverPull`, classifies the registry's answer from the `Failed` event text (not
    found, manifest unknown, unauthorized, network, rate limit, platform) and gives advice for
    the registry: ACR (AcrPull for the kubelet identity, `az aks check-acr`), Docker Hub, MCR.

    ## Why is this bad?
    The pod never starts. The status only says "back-off"; the cause is in an event that
    expires after about an hour.

    ## Example
    `container scorer in pod ml/scorer-0 cannot pull myacr.azurecr.io/scorer:1.4: the registry
    refused the credentials (unauthorized); 12 attempts`

    ## How to fix
    Fix the reference (name, tag), grant pull rights (for ACR: `az aks update --attach-acr`),
    open egress to the registry, or mirror throttled public images into your own registry.
    """
    for pod in ctx.pods():
        pull_secrets = [
            str(s.get("name"))
            for s in dicts(as_dict(pod.get("spec")).get("imagePullSecrets"))
            if isinstance(s, dict)
        ]
        ns = meta(pod).get("namespace")
        missing = []
        if ctx.snapshot.collected("Secret"):
            missing = [s for s in pull_secrets if ctx.snapshot.get("Secret", ns, s) is None]
        for view in containers(pod):
            reason = (view.waiting or {}).get("reason")
            if reason not in PULL_REASONS:
                continue
            events = container_events(
                ctx.snapshot, pod, view.name, {"Failed", "BackOff", "ErrImageNeverPull"}
            )
            failed = [
                e
                for e in events
                if "pull" in event_message(e).lower() or "image" in event_message(e).lower()
            ]
            texts = [event_message(e) for e in failed] + [
                str((view.waiting or {}).get("message") or "")
            ]
            category = "never-pull" if reason == "ErrImageNeverPull" else "unknown"
            for text in texts:
                if category != "unknown":
                    break
                category = classify_pull_failure(text)
            attempts = sum(
                int(e.get("count") or 1) for e in failed if "Failed to pull" in event_message(e)
            )
            image = view.image
            ref = parse_image(image)
            message = (
                f"{view.kind} {view.name} in pod {pod_label(pod)} cannot pull {image}: "
                f"{CATEGORY_TEXT[category]}"
            )
            if attempts:
                message += f"; {attempts} failed pulls"
            if not events:
                message += f"; {EVENTS_EXPIRE}"
            detail = next((t for t in texts if t), "")
            yield ctx.finding(
                pod,
                message=message,
                evidence={
                    "container": view.name,
                    "image": image,
                    "registry": ref.registry,
                    "repository": ref.repository,
                    "tag": ref.tag,
                    "reason": reason,
                    "category": category,
                    "registry_message": short_text(detail, 400) or None,
                    "image_pull_secrets": pull_secrets,
                    "missing_pull_secrets": missing,
                },
                remediation=pull_fix(ref, category, image, pull_secrets, missing),
            )


_CONFIG_REF = re.compile(r'(secret|configmap)s? "([^"]+)" not found', re.I)
_CONFIG_KEY = re.compile(r"couldn't find key (\S+) in (Secret|ConfigMap) ([\w.-]+)/([\w.-]+)", re.I)


@rule("AMD403", "create-container-config-error", severity="error", needs=("Pod",))
def create_container_config_error(ctx: Context):
    """
    ## What it does
    Finds containers stuck in `CreateContainerConfigError` and names the missing Secret,
    ConfigMap or key from the status message and events, and the env variable or volume that
    references it. Secret data is never read: only names from the pod spec and the messages.

    ## Why is this bad?
    The kubelet cannot build the container's environment or volumes, so the container is never
    created. The pod sits in `ContainerCreating`-like limbo with no logs to read.

    ## Example
    `container trainer in pod ml/train-0 cannot start: secret "wandb-api" not found (referenced by
    env WANDB_API_KEY)`

    ## How to fix
    Create the Secret or ConfigMap (or the key) in the pod's namespace, fix the name in the pod
    spec, or mark the reference `optional: true`.
    """
    for pod in ctx.pods():
        for view in containers(pod):
            waiting = view.waiting or {}
            if waiting.get("reason") != "CreateContainerConfigError":
                continue
            events = container_events(ctx.snapshot, pod, view.name, {"Failed"})
            texts = [str(waiting.get("message") or "")] + [
                event_message(e) for e in reversed(events)
            ]
            text = next((t for t in texts if t), "")
            ref_match = next((m for t in texts if (m := _CONFIG_REF.search(t))), None)
            key_match = next((m for t in texts if (m := _CONFIG_KEY.search(t))), None)
            kind = name = key = None
            if key_match:
                key, kind, name = key_match.group(1), key_match.group(2), key_match.group(4)
            elif ref_match:
                kind = "Secret" if ref_match.group(1).lower() == "secret" else "ConfigMap"
                name = ref_match.group(2)
            users = _references(view, kind, name, key) if kind and name else []
            problem = short_text(text) or "no message in the status"
            message = f"{view.kind} {view.name} in pod {pod_label(pod)} cannot start: {problem}"
            if users:
                message += f" (referenced by {', '.join(users)})"
            if not text and not events:
                message += f"; {EVENTS_EXPIRE}"
            ns = meta(pod).get("namespace")
            if kind and name and key:
                fix = (
                    f"Add key {key} to {kind} {ns}/{name}, or fix the key name in the pod spec "
                    "(or set optional: true)."
                )
            elif kind == "Secret":
                fix = (
                    f"Create Secret {name} in namespace {ns} (`kubectl create secret generic "
                    f"{name} -n {ns} --from-literal=...`), or fix the name."
                )
            elif kind == "ConfigMap":
                fix = (
                    f"Create ConfigMap {name} in namespace {ns} (`kubectl create configmap "
                    f"{name} -n {ns} --from-file=...`), or fix the name."
                )
            else:
                fix = (
                    "Fix the container configuration the message names (securityContext, env, "
                    "volume mounts)."
                )
            yield ctx.finding(
                pod,
                message=message,
                evidence={
                    "container": view.name,
                    "kind": kind,
                    "name": name,
                    "key": key,
                    "referenced_by": users,
                    "status_message": problem,
                },
                remediation=fix,
            )


def _references(view: ContainerView, kind: str, name: str, key: str | None) -> list[str]:
    """Where the container uses the object: env variables and envFrom (volumes need the pod)."""
    ref_key = "secretKeyRef" if kind == "Secret" else "configMapKeyRef"
    from_key = "secretRef" if kind == "Secret" else "configMapRef"
    found = []
    for env in dicts(view.spec.get("env")):
        ref = ((env or {}).get("valueFrom") or {}).get(ref_key) or {}
        if ref.get("name") == name and (key is None or ref.get("key") == key):
            found.append(f"env {env.get('name')}")
    for source in dicts(view.spec.get("envFrom")):
        if ((source or {}).get(from_key) or {}).get("name") == name:
            found.append("envFrom")
    return found
