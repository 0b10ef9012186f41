"""AMD4xx, continued: image names, runtime start errors, init containers, failed batch runs.

Split from `containers.py` to keep each module readable; the same conventions apply.
"""

from __future__ import annotations

from amldoctor.engine.registry import Context, rule
from amldoctor.k8s.containers import ContainerView, as_dict, containers, explain_exit, pod_label
from amldoctor.k8s.events import event_message
from amldoctor.rules._exits import (
    PULL_REASONS,
    START_FAILURES,
    exit_fix,
    explained_elsewhere,
    short_text,
    termination_clause,
    termination_evidence,
    termination_summary,
)
from amldoctor.rules._runtime import EVENTS_EXPIRE, container_events, when

RUN_REASONS = frozenset({"RunContainerError", "CreateContainerError", *START_FAILURES})
_START_HINTS = (
    (
        "executable file not found",
        "the command does not exist in the image (check command/args and PATH)",
    ),
    (
        "no such file or directory",
        "a path in command, args or workingDir does not exist in the image",
    ),
    ("permission denied", "the entrypoint is not executable or a mount is not writable"),
    ("exec format error", "the image was built for another CPU architecture"),
    (
        "nvidia-container-cli",
        "the NVIDIA container runtime failed (driver missing or mismatched on the node)",
    ),
    ("already in use", "a container with the same name is still being cleaned up by the runtime"),
)


@rule("AMD404", "invalid-image-name", severity="error", needs=("Pod",))
def invalid_image_name(ctx: Context):
    """
    ## What it does
    Finds containers waiting in `InvalidImageName`: the image reference cannot be parsed.

    ## Why is this bad?
    The kubelet will never try to pull it; the pod stays Pending until the spec is fixed.

    ## Example
    `container trainer in pod ml/train-0 has an invalid image reference "MyACR.azurecr.io/Train:1"`

    ## How to fix
    Use a lowercase repository name, no scheme (`https://`), no spaces and at most one tag:
    `registry/repository:tag` or `registry/repository@sha256:...`.
    """
    for pod in ctx.pods():
        for view in containers(pod):
            waiting = view.waiting or {}
            if waiting.get("reason") != "InvalidImageName":
                continue
            image = view.image
            hints = []
            if image != image.lower():
                hints.append("repository names must be lowercase")
            if "://" in image:
                hints.append("drop the URL scheme")
            if " " in image or image != image.strip():
                hints.append("remove whitespace")
            if image.endswith(":"):
                hints.append("the tag is empty")
            hint = "; ".join(hints) or "expected registry/repository:tag"
            yield ctx.finding(
                pod,
                message=f"{view.kind} {view.name} in pod {pod_label(pod)} has an invalid image "
                f'reference "{image}" ({hint})',
                evidence={
                    "container": view.name,
                    "image": image,
                    "status_message": short_text(waiting.get("message")) or None,
                },
                remediation=f"Fix containers[{view.name}].image: {hint}, e.g. "
                "myregistry.azurecr.io/trainer:1.0",
            )


@rule("AMD405", "run-container-error", severity="error", needs=("Pod",))
def run_container_error(ctx: Context):
    """
    ## What it does
    Finds containers the runtime could not create or start (`RunContainerError`,
    `CreateContainerError`, a `StartError` termination with exit code 128) and explains the
    runtime's message: missing executable, missing path, permissions, wrong architecture, NVIDIA
    runtime failure.

    ## Why is this bad?
    The process never ran, so there are no logs; the only explanation is the runtime's message
    in the status or the `Failed` event.

    ## Example
    `container trainer in pod ml/train-0 could not start: exec: "python3": executable file not
    found in $PATH (the command does not exist in the image)`

    ## How to fix
    Fix `command`/`args`/`workingDir`, use an image for the node's architecture, or repair the
    node's GPU runtime.
    """
    for pod in ctx.pods():
        for view in containers(pod):
            waiting = view.waiting or {}
            term = next(
                (
                    t
                    for t in (view.terminated, view.last_terminated)
                    if t and t.get("reason") in START_FAILURES
                ),
                None,
            )
            if waiting.get("reason") not in RUN_REASONS and term is None:
                continue
            events = container_events(ctx.snapshot, pod, view.name, {"Failed"})
            texts = [str(waiting.get("message") or ""), str((term or {}).get("message") or "")]
            texts += [event_message(e) for e in reversed(events)]
            text = next((t for t in texts if t), "")
            hint = next((h for needle, h in _START_HINTS if needle in text.lower()), None)
            reason = (
                waiting.get("reason")
                if waiting.get("reason") in RUN_REASONS
                else (term or {}).get("reason")
            )
            message = (
                f"{view.kind} {view.name} in pod {pod_label(pod)} could not start "
                f"({reason}): {short_text(text) or 'no message'}"
            )
            if hint:
                message += f" ({hint})"
            if not text and not events:
                message += f"; {EVENTS_EXPIRE}"
            command = view.spec.get("command") or []
            yield ctx.finding(
                pod,
                message=message,
                evidence={
                    "container": view.name,
                    "image": view.image,
                    "reason": reason,
                    "exit_code": (term or {}).get("exitCode"),
                    "runtime_message": short_text(text, 400) or None,
                    "command": command,
                    "restart_count": view.restart_count,
                },
                remediation=(
                    f"Check containers[{view.name}].command/args/workingDir against image "
                    f"{view.image} (`docker run --rm --entrypoint sh {view.image} -c 'which "
                    f"{command[0] if command else '<cmd>'}'`), "
                    "and for GPU pods the node's NVIDIA driver and container runtime."
                ),
            )


@rule("AMD406", "init-container-failing", severity="error", needs=("Pod",))
def init_container_failing(ctx: Context):
    """
    ## What it does
    Finds init containers that keep failing (`Init:CrashLoopBackOff`, or terminated with a
    non-zero exit before the pod's app containers could start), with the exit code meaning and
    the termination message. OOM kills, image pulls and config errors of init containers are
    reported by AMD201, AMD402 and AMD403.

    ## Why is this bad?
    App containers start only after every init container succeeds: a model download or data
    staging step that fails keeps the whole pod in `Init:` forever.

    ## Example
    `init container storageinitializer-modeldata in pod aml/blue-0 failed 5 times: last exit 1
    (application error ...); termination message: AuthorizationFailure`

    ## How to fix
    Read the init container's logs (`kubectl logs -c <init> --previous`); for AML model
    downloads check the endpoint identity's storage role and the identity proxy.
    """
    captured = ctx.snapshot.captured_at
    for pod in ctx.pods():
        for view in containers(pod):
            if not view.init:
                continue
            waiting_reason = (view.waiting or {}).get("reason")
            if waiting_reason in PULL_REASONS or waiting_reason in (
                "CreateContainerConfigError",
                "InvalidImageName",
            ):
                continue
            term = view.last_terminated if waiting_reason == "CrashLoopBackOff" else view.terminated
            if not term or (
                term.get("exitCode") in (0, None) and waiting_reason != "CrashLoopBackOff"
            ):
                continue
            if explained_elsewhere(term):
                continue
            code = term.get("exitCode")
            message = (
                f"init container {view.name} in pod {pod_label(pod)} failed"
                f"{f' {view.restart_count + 1} times' if view.restart_count else ''}: last exit "
                f"{explain_exit(code)}"
                f" {when(term.get('finishedAt'), captured)}; the app containers cannot start"
            )
            if term.get("message"):
                message += f"; termination message: {termination_summary(term.get('message'))}"
            yield ctx.finding(
                pod,
                message=message,
                evidence={
                    "container": view.name,
                    "image": view.image,
                    "restart_count": view.restart_count,
                    "exit_code": code,
                    "reason": term.get("reason"),
                    "termination_message": short_text(term.get("message"), 1000) or None,
                },
                remediation=_init_fix(term, view, pod),
            )


def _init_fix(term: dict, view: ContainerView, pod: dict) -> str:
    if view.name.startswith("storageinitializer"):
        return (
            "The AML model download failed: give the endpoint's identity Storage Blob Data Reader "
            "on the "
            "model's storage account, check that amlarc-identity-proxy in namespace azureml is "
            "healthy and "
            "reachable on port 9999, and read `az ml online-deployment get-logs --container "
            "storage-initializer`."
        )
    return exit_fix(term, view, pod)


@rule("AMD407", "container-failed", severity="error", needs=("Pod",))
def container_failed(ctx: Context):
    """
    ## What it does
    Finds app containers of run-to-completion pods (restartPolicy Never or OnFailure) that
    terminated with a non-zero exit code and are not being restarted, and explains the code.
    A CUDA out-of-memory error in the termination message is called out as a GPU memory problem,
    not a container OOM.

    ## Why is this bad?
    The training or batch run failed. A plain "Error" with exit code 1 hides whether the code,
    the data or the GPU memory is to blame.

    ## Example
    `container trainer in pod ml/train-0 failed with exit 1 (application error ...); termination
    message: torch.OutOfMemoryError: CUDA out of memory`

    ## How to fix
    Read the logs (`kubectl logs --previous` or the AML job's `user_logs/std_log.txt`) and act on
    the exit code; for CUDA OOM reduce the batch size or use a larger GPU.
    """
    captured = ctx.snapshot.captured_at
    for pod in ctx.pods():
        if as_dict(pod.get("spec")).get("restartPolicy") not in ("Never", "OnFailure"):
            continue
        for view in containers(pod):
            term = view.terminated
            if view.init or not term or term.get("exitCode") in (0, None) or view.waiting:
                continue
            if explained_elsewhere(term):
                continue
            code = term.get("exitCode")
            message = (
                f"container {view.name} in pod {pod_label(pod)} failed with exit "
                f"{explain_exit(code)} {when(term.get('finishedAt'), captured)}"
            )
            message += termination_clause(term)
            if "cuda out of memory" in str(term.get("message") or "").lower():
                message += " (GPU memory, not a container OOM)"
            yield ctx.finding(
                pod,
                message=message,
                evidence=termination_evidence(view, term),
                remediation=exit_fix(term, view, pod),
            )
